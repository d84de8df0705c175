-- Agents: a voice/chat persona with its STT, LLM and TTS choices. Built-in agents are
-- shared (user_id null) and read-only; everyone else's are private.
create table agents (
    id                      uuid primary key,
    user_id                 uuid references users (id) on delete cascade,
    name                    text not null,
    description             text,
    system_prompt           text not null default '',
    welcome_message         text,
    llm                     jsonb not null,
    stt                     jsonb not null,
    tts                     jsonb not null,
    tools                   text[] not null default '{}',
    interruption            jsonb not null default '{"enabled": true, "min_words": 2}'::jsonb,
    max_call_seconds        integer not null default 1800,
    silence_timeout_seconds integer not null default 60,
    recording               boolean not null default false,
    is_builtin              boolean not null default false,
    created_at              timestamptz not null default now(),
    updated_at              timestamptz not null default now(),
    constraint agents_builtin_owner check (is_builtin = (user_id is null)),
    constraint agents_stage_objects check (
        jsonb_typeof(llm) = 'object' and jsonb_typeof(stt) = 'object'
        and jsonb_typeof(tts) = 'object' and jsonb_typeof(interruption) = 'object')
);
create index agents_user_created_idx on agents (user_id, created_at desc, id desc);
create index agents_builtin_created_idx on agents (created_at desc, id desc) where user_id is null;
select manage_updated_at('agents');

-- Built-ins prefer the cloud vendors and fall back, at run time, to whatever is
-- configured, ending with the local engines (PocketSphinx, echo, eSpeak NG).
insert into agents (id, user_id, name, description, system_prompt, welcome_message, llm, stt, tts, tools,
                    interruption, max_call_seconds, silence_timeout_seconds, recording, is_builtin, created_at)
values
('019a0000-0000-7000-8000-000000000001', null, 'Assistant',
 'A general personal assistant that manages your tasks, notes, goals and memories.',
 'You are Cadence, a warm and concise personal assistant. You help the user capture tasks, notes, goals, reflections and things to remember, using your tools to act on their data. Keep spoken answers short: one or two sentences unless asked for more. Confirm what you changed.',
 'Hi, I''m your Cadence assistant. What can I do for you?',
 '{"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.7, "max_tokens": 512, "fallbacks": ["anthropic", "echo"]}',
 '{"provider": "deepgram", "model": "nova-3", "language": "en-US", "endpointing_ms": 300, "fallbacks": ["openai", "pocketsphinx"]}',
 '{"provider": "elevenlabs", "voice": "21m00Tcm4TlvDq8ikWAM", "model": "eleven_flash_v2_5", "speed": 1.0, "fallbacks": ["openai", "espeak"]}',
 '{tasks,notes,goals,memories,reflections}', '{"enabled": true, "min_words": 2}', 1800, 60, false, true,
 '2026-11-22 00:00:03+00'),
('019a0000-0000-7000-8000-000000000002', null, 'Planner',
 'Breaks goals into concrete, scheduled tasks.',
 'You are Cadence''s planner. Turn the user''s goals into small, concrete tasks with sensible due dates and priorities. Ask one clarifying question when a goal is vague. Create the tasks with your tools and link them to the goal.',
 'Let''s plan. Which goal should we break down?',
 '{"provider": "openai", "model": "gpt-4o", "temperature": 0.3, "max_tokens": 1024, "fallbacks": ["anthropic", "echo"]}',
 '{"provider": "deepgram", "model": "nova-3", "language": "en-US", "endpointing_ms": 400, "fallbacks": ["openai", "pocketsphinx"]}',
 '{"provider": "elevenlabs", "voice": "pNInz6obpgDQGcFmaJgB", "model": "eleven_flash_v2_5", "speed": 1.0, "fallbacks": ["openai", "espeak"]}',
 '{tasks,goals,notes}', '{"enabled": true, "min_words": 2}', 1800, 60, false, true,
 '2026-11-22 00:00:02+00'),
('019a0000-0000-7000-8000-000000000003', null, 'Reflection coach',
 'Guides a short daily or weekly reflection and records it.',
 'You are a gentle reflection coach. Ask one open question at a time about the user''s day or week: what went well, what was hard, what they learned, what they want to change. Summarise their answers as a reflection with your tools, and suggest at most one small next step.',
 'Hello. Shall we take a few minutes to reflect?',
 '{"provider": "anthropic", "model": "claude-3-5-haiku-latest", "temperature": 0.8, "max_tokens": 512, "fallbacks": ["openai", "echo"]}',
 '{"provider": "deepgram", "model": "nova-3", "language": "en-US", "endpointing_ms": 600, "fallbacks": ["openai", "pocketsphinx"]}',
 '{"provider": "elevenlabs", "voice": "EXAVITQu4vr4xnSDxMaL", "model": "eleven_flash_v2_5", "speed": 0.95, "fallbacks": ["openai", "espeak"]}',
 '{reflections,goals,memories}', '{"enabled": true, "min_words": 3}', 1800, 90, false, true,
 '2026-11-22 00:00:01+00');
