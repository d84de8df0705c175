create table users (
    id              uuid primary key,
    email           text not null,
    password_hash   text not null,
    full_name       text,
    avatar_url      text,
    timezone        text not null default 'UTC',
    locale          text not null default 'en',
    is_superuser    boolean not null default false,
    preferences     jsonb not null default '{}'::jsonb,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint users_preferences_object check (jsonb_typeof(preferences) = 'object')
);
-- Email is case-insensitive and unique.
create unique index users_email_key on users (lower(email));
select manage_updated_at('users');

create table sessions (
    id              uuid primary key,
    user_id         uuid not null references users (id) on delete cascade,
    user_agent      text,
    ip              text,
    created_at      timestamptz not null default now(),
    last_used_at    timestamptz not null default now(),
    expires_at      timestamptz not null,
    revoked_at      timestamptz,
    revoke_reason   text
);
create index sessions_user_idx on sessions (user_id) where revoked_at is null;

-- Refresh tokens are stored only as SHA-256 hashes; each is spent on use.
create table refresh_tokens (
    token_hash      bytea primary key,
    session_id      uuid not null references sessions (id) on delete cascade,
    created_at      timestamptz not null default now(),
    used_at         timestamptz
);
create index refresh_tokens_session_idx on refresh_tokens (session_id);

-- Single-use WebSocket tickets (hashed), shared by every instance.
create table ws_tickets (
    ticket_hash     bytea primary key,
    user_id         uuid not null references users (id) on delete cascade,
    session_id      uuid not null references sessions (id) on delete cascade,
    created_at      timestamptz not null default now(),
    expires_at      timestamptz not null,
    used_at         timestamptz
);

-- Fixed-window rate limit counters, shared by every instance.
create table rate_limits (
    key             text not null,
    window_start    timestamptz not null,
    count           integer not null,
    primary key (key, window_start)
);
