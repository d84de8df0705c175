-- Phone numbers a user owns, each routed to one agent: an inbound call to the number runs
-- that agent and is paid by the owner's wallet.
create table phone_numbers (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    agent_id uuid not null references agents (id) on delete cascade,
    number text not null constraint phone_numbers_number_key unique,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index phone_numbers_user_created_idx on phone_numbers (user_id, created_at desc, id desc);
select manage_updated_at('phone_numbers');

-- Twilio's CallSid, so status callbacks find their call.
alter table calls add column provider_call_sid text constraint calls_provider_call_sid_key unique;
