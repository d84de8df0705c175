-- Chat: a user's conversations with their agents and the messages in them. Assistant
-- messages carry the tool calls they made (with results) and the usage they were billed for.
create table conversations (
    id              uuid primary key,
    user_id         uuid not null references users (id) on delete cascade,
    title           text,
    agent_id        uuid references agents (id) on delete set null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    last_message_at timestamptz
);
create index conversations_user_created_idx on conversations (user_id, created_at desc, id desc);
select manage_updated_at('conversations');

create table messages (
    id              uuid primary key,
    conversation_id uuid not null references conversations (id) on delete cascade,
    user_id         uuid not null references users (id) on delete cascade,
    role            text not null check (role in ('user', 'assistant', 'tool', 'system')),
    content         text not null default '',
    agent_id        uuid references agents (id) on delete set null,
    tool_calls      jsonb not null default '[]'::jsonb check (jsonb_typeof(tool_calls) = 'array'),
    usage           jsonb,
    created_at      timestamptz not null default clock_timestamp()
);
create index messages_conversation_created_idx on messages (conversation_id, created_at, id);
