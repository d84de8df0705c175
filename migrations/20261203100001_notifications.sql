-- v1.1 notifications: what the assistant raised on its own (reminders, schedule, agents…),
-- how far its escalation got, and every delivery attempt per channel.
create table notifications (
    id              uuid primary key,
    user_id         uuid not null references users (id) on delete cascade,
    kind            text not null
        constraint notifications_kind check (kind in ('reminder', 'schedule', 'agent', 'integration', 'system')),
    title           text not null,
    body            text not null default '',
    priority        text not null
        constraint notifications_priority check (priority in ('low', 'normal', 'high', 'urgent')),
    source_type     text,
    source_id       text,
    -- Who raised it and for what (e.g. `reminder:<task>:<remind_at>`): raising the same key
    -- again returns the existing notification, so a job that runs twice notifies once.
    dedupe_key      text not null,
    status          text not null default 'pending'
        constraint notifications_status check (status in ('pending', 'delivered', 'acknowledged', 'expired', 'failed')),
    -- The user's escalation preference as it was when the notification was raised, so a
    -- change of preferences cannot renumber the steps of one already under way.
    escalation      jsonb not null,
    acknowledged_at timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint notifications_dedupe unique (user_id, dedupe_key)
);
select manage_updated_at('notifications');

create index notifications_user_created on notifications (user_id, created_at desc, id desc);
create index notifications_open on notifications (user_id, source_type, source_id)
    where status in ('pending', 'delivered');

-- One row per attempt: `target` tells apart several push subscriptions of one step, so a step
-- that runs again after a crash skips the targets it already reached.
create table notification_deliveries (
    id              uuid primary key,
    notification_id uuid not null references notifications (id) on delete cascade,
    step_index      integer not null,
    channel         text not null
        constraint notification_deliveries_channel check (channel in ('in_app', 'web_push', 'whatsapp', 'sms', 'call')),
    target          text not null default '',
    status          text not null
        constraint notification_deliveries_status check (status in ('sent', 'delivered', 'failed', 'skipped')),
    detail          text,
    at              timestamptz not null default now(),
    constraint notification_deliveries_once unique (notification_id, step_index, target)
);
create index notification_deliveries_of on notification_deliveries (notification_id, at);

-- Web Push subscriptions (RFC 8030 endpoint + RFC 8291 keys) of a browser.
create table push_subscriptions (
    id         uuid primary key,
    user_id    uuid not null references users (id) on delete cascade,
    endpoint   text not null,
    p256dh     text not null,
    auth       text not null,
    created_at timestamptz not null default now(),
    constraint push_subscriptions_endpoint unique (user_id, endpoint)
);

-- The development VAPID key, generated once and shared by every instance (production sets
-- `notifications.vapid_private_key`).
create table vapid_keys (
    id          smallint primary key default 1 constraint vapid_keys_single check (id = 1),
    private_key text not null,
    created_at  timestamptz not null default now()
);
