-- Notes, tasks, goals, reflections and memories: the user's own data.
--
-- Every row belongs to one user (deleted with the user). Links between rows (parent note,
-- subtask, task → goal/note, sub-goal, reflection → goal) are composite foreign keys on
-- (user_id, id), so the database itself refuses a link to another user's row.
-- Full-text search uses a generated tsvector column with a GIN index; only the first
-- 100 000 characters of long texts are indexed (a tsvector is limited to 1 MiB).

create table goals (
    id              uuid primary key,
    user_id         uuid not null references users (id) on delete cascade,
    title           text not null,
    description     text,
    timeframe       text not null default 'long_term'
                    check (timeframe in ('daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'long_term')),
    parent_goal_id  uuid,
    status          text not null default 'active'
                    check (status in ('active', 'completed', 'abandoned')),
    -- The progress set by hand; reads report the share of done tasks instead when the
    -- goal has tasks.
    progress        integer not null default 0 check (progress between 0 and 100),
    priority        text not null default 'medium'
                    check (priority in ('low', 'medium', 'high', 'urgent')),
    due_date        date,
    metadata        jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
    version         integer not null default 1,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint goals_user_id_key unique (user_id, id),
    constraint goals_no_self_parent check (parent_goal_id is distinct from id),
    -- A deleted goal's sub-goals become top-level goals.
    constraint goals_parent_fk foreign key (user_id, parent_goal_id)
        references goals (user_id, id) on delete set null (parent_goal_id)
);
create index goals_user_created_idx on goals (user_id, created_at, id);
create index goals_parent_idx on goals (parent_goal_id) where parent_goal_id is not null;
select manage_updated_at('goals');

create table notes (
    id              uuid primary key,
    user_id         uuid not null references users (id) on delete cascade,
    title           text not null,
    content         jsonb not null default '[]'::jsonb,
    plain_text      text not null default '',
    parent_id       uuid,
    is_pinned       boolean not null default false,
    is_archived     boolean not null default false,
    metadata        jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
    version         integer not null default 1,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    search          tsvector generated always as (
                        setweight(to_tsvector('english'::regconfig, title), 'A') ||
                        setweight(to_tsvector('english'::regconfig, left(plain_text, 100000)), 'B')
                    ) stored,
    constraint notes_user_id_key unique (user_id, id),
    constraint notes_no_self_parent check (parent_id is distinct from id),
    -- Deleting a note deletes its whole subtree.
    constraint notes_parent_fk foreign key (user_id, parent_id)
        references notes (user_id, id) on delete cascade
);
create index notes_user_created_idx on notes (user_id, created_at, id);
create index notes_parent_idx on notes (parent_id) where parent_id is not null;
create index notes_search_idx on notes using gin (search);
select manage_updated_at('notes');

create table tasks (
    id              uuid primary key,
    user_id         uuid not null references users (id) on delete cascade,
    title           text not null,
    description     text,
    status          text not null default 'todo'
                    check (status in ('todo', 'in_progress', 'done', 'cancelled')),
    priority        text not null default 'medium'
                    check (priority in ('low', 'medium', 'high', 'urgent')),
    due_date        date,
    due_time        time,
    parent_id       uuid,
    goal_id         uuid,
    note_id         uuid,
    source          text not null default 'manual'
                    check (source in ('manual', 'note', 'chat', 'voice', 'goal_plan', 'agent')),
    source_reference text,
    completed_at    timestamptz,
    metadata        jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
    version         integer not null default 1,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    search          tsvector generated always as (
                        setweight(to_tsvector('english'::regconfig, title), 'A') ||
                        setweight(to_tsvector('english'::regconfig, left(coalesce(description, ''), 100000)), 'B')
                    ) stored,
    constraint tasks_user_id_key unique (user_id, id),
    constraint tasks_no_self_parent check (parent_id is distinct from id),
    constraint tasks_completed_when_done check ((status = 'done') = (completed_at is not null)),
    constraint tasks_due_time_needs_date check (due_time is null or due_date is not null),
    -- Subtasks go with their parent; a deleted goal or note only unlinks its tasks.
    constraint tasks_parent_fk foreign key (user_id, parent_id)
        references tasks (user_id, id) on delete cascade,
    constraint tasks_goal_fk foreign key (user_id, goal_id)
        references goals (user_id, id) on delete set null (goal_id),
    constraint tasks_note_fk foreign key (user_id, note_id)
        references notes (user_id, id) on delete set null (note_id)
);
create index tasks_user_created_idx on tasks (user_id, created_at, id);
-- sort=due_date: soonest first, tasks without a due date (or time) last.
create index tasks_user_due_idx on tasks (user_id, coalesce(due_date, 'infinity'::date),
    coalesce(due_time, '24:00'::time), created_at, id);
create index tasks_parent_idx on tasks (parent_id) where parent_id is not null;
create index tasks_goal_idx on tasks (goal_id) where goal_id is not null;
create index tasks_note_idx on tasks (note_id) where note_id is not null;
create index tasks_search_idx on tasks using gin (search);
select manage_updated_at('tasks');

create table reflections (
    id              uuid primary key,
    user_id         uuid not null references users (id) on delete cascade,
    content         text not null,
    reflection_type text not null
                    check (reflection_type in ('daily', 'weekly', 'monthly', 'goal', 'freeform')),
    goal_id         uuid,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint reflections_goal_fk foreign key (user_id, goal_id)
        references goals (user_id, id) on delete set null (goal_id)
);
create index reflections_user_created_idx on reflections (user_id, created_at, id);
create index reflections_goal_idx on reflections (goal_id) where goal_id is not null;
select manage_updated_at('reflections');

create table memories (
    id              uuid primary key,
    user_id         uuid not null references users (id) on delete cascade,
    memory_type     text not null default 'other'
                    check (memory_type in ('fact', 'preference', 'event', 'person', 'other')),
    content         text not null,
    importance      smallint not null default 3 check (importance between 1 and 5),
    tags            text[] not null default '{}',
    source          text not null default 'manual',
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    search          tsvector generated always as (
                        to_tsvector('english'::regconfig, left(content, 100000))
                    ) stored
);
create index memories_user_created_idx on memories (user_id, created_at, id);
create index memories_tags_idx on memories using gin (tags);
create index memories_search_idx on memories using gin (search);
select manage_updated_at('memories');
