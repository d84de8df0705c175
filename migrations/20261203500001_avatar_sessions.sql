-- Avatar sessions (LiveAvatar LITE) and the monthly avatar-minute quota.

-- One row per user and calendar month (UTC): minutes charged and minutes held by running
-- sessions. A start or an extension takes minutes only while used + reserved stays within
-- the allowance (checked in the same statement), so concurrent starts cannot overspend.
create table avatar_usage (
    user_id uuid not null references users (id) on delete cascade,
    -- First day of the month.
    period date not null,
    minutes_used integer not null default 0 check (minutes_used >= 0),
    minutes_reserved integer not null default 0 check (minutes_reserved >= 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (user_id, period)
);
select manage_updated_at('avatar_usage');

create table avatar_sessions (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    -- Set once the voice session is open (a failed start never gets one).
    voice_session_id uuid unique references voice_sessions (id) on delete set null,
    call_id uuid unique references calls (id) on delete set null,
    agent_id uuid not null,
    avatar_id text not null,
    -- starting (quota reserved, vendor not answered yet) → active → ended.
    status text not null check (status in ('starting', 'active', 'ended')),
    -- LiveAvatar's session: its id, the browser's LiveKit room, and the command WebSocket.
    -- The URL/token are session-scoped, short-lived credentials: cleared when the session ends.
    provider_session_id text,
    livekit_url text,
    ws_url text,
    period date not null,
    minutes_reserved integer not null default 0 check (minutes_reserved >= 0),
    minutes_charged integer check (minutes_charged >= 0),
    end_reason text,
    started_at timestamptz not null default now(),
    ended_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index avatar_sessions_user_idx on avatar_sessions (user_id, created_at desc);
select manage_updated_at('avatar_sessions');
