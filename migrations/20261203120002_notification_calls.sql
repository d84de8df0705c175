-- The call step of an escalation: the voice session of an outbound call placed for a
-- notification names it, so the agent can read it and answer it ("done", keypad 1).
alter table voice_sessions
    add column notification_id uuid references notifications (id) on delete set null;
create index voice_sessions_notification on voice_sessions (notification_id)
    where notification_id is not null;
