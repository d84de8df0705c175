-- Durable background jobs shared by every instance. A job is claimed with
-- `for update skip locked` under a lease (locked_by, locked_until): a worker that dies
-- mid-job stops renewing its lease and another instance re-runs the job once it expires.
-- (kind, key) is unique, so the same job is never queued twice; finished rows stay for a
-- while so a late duplicate enqueue is still refused.
create table jobs (
    id uuid primary key,
    kind text not null,
    key text not null,
    payload jsonb not null default '{}'::jsonb,
    run_at timestamptz not null default now(),
    status text not null default 'queued'
        constraint jobs_status check (status in ('queued', 'running', 'done', 'failed')),
    attempts integer not null default 0,
    max_attempts integer not null default 10 constraint jobs_max_attempts check (max_attempts >= 1),
    locked_by text,
    locked_until timestamptz,
    last_error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    finished_at timestamptz,
    constraint jobs_kind_key unique (kind, key)
);
select manage_updated_at('jobs');

create index jobs_ready on jobs (run_at) where status = 'queued';
create index jobs_leases on jobs (locked_until) where status = 'running';
create index jobs_finished on jobs (finished_at) where status in ('done', 'failed');

-- Wake the workers when a job becomes ready to queue. Notifications with the same payload
-- in one transaction are delivered once, so a bulk insert wakes each worker once per kind.
create function jobs_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('cadence_jobs', new.kind);
    return null;
end
$$;
create trigger jobs_notify after insert or update of run_at, status on jobs
    for each row when (new.status = 'queued') execute function jobs_notify();
