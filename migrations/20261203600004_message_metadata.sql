-- What an assistant message was built from: `citations` lists the retrieved items (notes,
-- memories, tasks) its context carried.
alter table messages
    add column metadata jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object');
