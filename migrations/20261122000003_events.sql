-- Per-user change events. Services insert them inside their own transaction and NOTIFY
-- `cadence_events` with "<id>:<user_id>"; PostgreSQL delivers the notification at commit,
-- to every instance, and each instance loads the row for its connected clients.
-- Bounded: rows older than the retention window are swept.
create table events (
    id          bigserial primary key,
    user_id     uuid not null references users (id) on delete cascade,
    type        text not null,
    data        jsonb not null,
    created_at  timestamptz not null default now()
);
create index events_user_id_idx on events (user_id, id);
create index events_created_at_idx on events (created_at);
