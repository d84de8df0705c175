-- Calls (one per voice conversation, whatever the channel) and voice sessions (the
-- control-plane handle a client connects its WebSocket to). Sessions live in the
-- database so any instance can answer for them and end them.
create table calls (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    agent_id uuid references agents (id) on delete set null,
    conversation_id uuid,
    channel text not null check (channel in ('web', 'bolna_ws', 'twilio')),
    direction text not null default 'inbound' check (direction in ('inbound', 'outbound')),
    status text not null check (status in ('queued', 'ringing', 'active', 'completed', 'failed', 'no_answer', 'busy')),
    from_number text,
    to_number text,
    started_at timestamptz,
    ended_at timestamptz,
    duration_ms bigint,
    end_reason text,
    usage jsonb not null default '{"stt_seconds": 0, "llm_input_tokens": 0, "llm_output_tokens": 0, "tts_characters": 0}',
    cost_credits bigint not null default 0,
    cost_breakdown jsonb,
    metrics jsonb not null default '{"turns": 0, "response_latency_ms_p50": null, "response_latency_ms_p95": null, "interruptions": 0}',
    hold_id uuid,
    recording bytea,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index calls_user_created_idx on calls (user_id, created_at desc, id desc);
select manage_updated_at('calls');

-- Transcript turns of a call, in order.
create table call_turns (
    id uuid primary key,
    call_id uuid not null references calls (id) on delete cascade,
    role text not null check (role in ('user', 'assistant', 'tool', 'system')),
    content text not null,
    interrupted boolean not null default false,
    created_at timestamptz not null default now()
);
create index call_turns_call_idx on call_turns (call_id, created_at, id);

create table voice_sessions (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    call_id uuid not null references calls (id) on delete cascade,
    agent_id uuid not null,
    -- created → connected → ended; `end_requested` asks the instance running it to end it.
    status text not null check (status in ('created', 'connected', 'ended')),
    end_requested text,
    expires_at timestamptz not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index voice_sessions_user_idx on voice_sessions (user_id, created_at desc);
select manage_updated_at('voice_sessions');
