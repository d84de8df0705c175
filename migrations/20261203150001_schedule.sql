-- The day planner: one stored plan per user and day (the settings it was planned with and
-- what did not fit), and its blocks. A block is a task placed in free time, busy time from a
-- calendar, or a break; a locked block survives planning the day again.
create table schedule_plans (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    date date not null,
    timezone text not null,
    work_start time not null,
    cutoff time not null,
    buffer_minutes integer not null constraint schedule_plans_buffer check (buffer_minutes between 0 and 240),
    -- [{task_id, title, code, reason}] from the last planning.
    unscheduled jsonb not null default '[]'::jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint schedule_plans_user_date unique (user_id, date),
    constraint schedule_plans_user_id_key unique (user_id, id)
);
select manage_updated_at('schedule_plans');

create table schedule_blocks (
    id uuid primary key,
    user_id uuid not null,
    plan_id uuid not null,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    kind text not null constraint schedule_blocks_kind check (kind in ('task', 'busy', 'break')),
    task_id uuid,
    title text not null,
    locked boolean not null default false,
    source text not null constraint schedule_blocks_source check (source in ('plan', 'calendar', 'user')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint schedule_blocks_order check (ends_at > starts_at),
    constraint schedule_blocks_task_kind check (task_id is null or kind = 'task'),
    constraint schedule_blocks_plan_fk foreign key (user_id, plan_id)
        references schedule_plans (user_id, id) on delete cascade,
    -- A deleted task takes its blocks with it.
    constraint schedule_blocks_task_fk foreign key (user_id, task_id)
        references tasks (user_id, id) on delete cascade
);
select manage_updated_at('schedule_blocks');
create index schedule_blocks_plan on schedule_blocks (plan_id, starts_at);
create index schedule_blocks_task on schedule_blocks (task_id) where task_id is not null;

-- A block that goes away by cascade (its task or its user deleted) takes its queued
-- block-start reminder with it; the service cancels them itself for its own deletes.
create function schedule_blocks_cancel_reminder() returns trigger language plpgsql as $$
begin
    delete from jobs
    where kind = 'notification.raise' and status = 'queued'
      and key like 'block:' || old.id::text || ':%';
    return null;
end
$$;
create trigger schedule_blocks_cancel_reminder after delete on schedule_blocks
    for each row execute function schedule_blocks_cancel_reminder();

-- A task that is closed (done, cancelled) or gets its own reminder no longer needs the
-- start reminders of its blocks. (Reopening does not re-arm them: planning again does.)
create function schedule_task_changed() returns trigger language plpgsql as $$
begin
    delete from jobs j
    using schedule_blocks b
    where b.task_id = new.id and j.kind = 'notification.raise' and j.status = 'queued'
      and j.key like 'block:' || b.id::text || ':%';
    return null;
end
$$;
create trigger schedule_task_changed after update of status, remind_at on tasks
    for each row
    when ((new.status in ('done', 'cancelled') and old.status not in ('done', 'cancelled'))
          or (new.remind_at is not null and old.remind_at is null))
    execute function schedule_task_changed();

-- The built-in agents get the day planner tools.
update agents set tools = array_append(tools, 'schedule')
where is_builtin and not ('schedule' = any (tools));
