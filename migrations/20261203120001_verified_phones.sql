-- v1.1 verified phone numbers: the only numbers Cadence ever messages or calls for a user
-- (WhatsApp/SMS notifications, the call step of an escalation).

-- A user's verified number. A number has one owner, so an inbound reply names one user;
-- whoever proves they hold the phone last owns it.
create table user_phones (
    user_id     uuid primary key references users (id) on delete cascade,
    number      text not null,
    channel     text not null constraint user_phones_channel check (channel in ('sms', 'whatsapp')),
    verified_at timestamptz not null default now()
);
create unique index user_phones_number on user_phones (number);

-- A code sent to prove a number: only its keyed hash is kept. Rows are also the rate
-- limiter's memory (codes sent per user and per number in the last hour), shared by every
-- instance.
create table phone_verifications (
    id          uuid primary key,
    user_id     uuid not null references users (id) on delete cascade,
    number      text not null,
    channel     text not null constraint phone_verifications_channel check (channel in ('sms', 'whatsapp')),
    code_hash   bytea not null,
    attempts    integer not null default 0,
    expires_at  timestamptz not null,
    verified_at timestamptz,
    created_at  timestamptz not null default now()
);
create index phone_verifications_user on phone_verifications (user_id, created_at desc);
create index phone_verifications_number on phone_verifications (number, created_at);
