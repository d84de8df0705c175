-- v1.1 tasks and reminders: when to remind, how long a task takes (the day planner's
-- block length), and until when a reminder was snoozed (read-only for clients).
alter table tasks
    add column remind_at timestamptz,
    add column estimate_minutes integer
        constraint tasks_estimate_minutes_range check (estimate_minutes between 1 and 1440),
    add column snoozed_until timestamptz;

-- The reminder sweep looks for armed reminders of open tasks.
create index tasks_remind_at on tasks (remind_at)
    where remind_at is not null and status in ('todo', 'in_progress');
