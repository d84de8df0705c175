-- Vectors for hybrid retrieval, next to the rows they describe. No pgvector here (Debian's
-- PostgreSQL 15 has no package): a query scans the user's vectors exactly, which is correct
-- and fast enough at personal scale. Each vector keeps the model and dimensions that made
-- it; vectors are stored unit-length, so cosine similarity is their dot product.
create table embeddings (
    user_id      uuid not null references users (id) on delete cascade,
    source_type  text not null check (source_type in ('notes', 'memories', 'documents', 'tasks')),
    source_id    uuid not null,
    chunk_index  integer not null check (chunk_index >= 0),
    model        text not null,
    dims         integer not null check (dims > 0),
    -- The text of the chunk the vector was made from.
    content      text not null,
    vector       real[] not null check (cardinality(vector) = dims),
    created_at   timestamptz not null default now(),
    primary key (source_type, source_id, chunk_index)
);
create index embeddings_user_idx on embeddings (user_id, model, dims);

-- Whether this deployment embeds (written by the server at start from its settings), so
-- the triggers below queue work only when something will do it.
create table retrieval_settings (
    id                  boolean primary key default true check (id),
    embeddings_enabled  boolean not null default false
);
insert into retrieval_settings default values;

-- Every write path of a note, memory or task queues its (re-)embedding as a durable job,
-- one per version of the row; the job reads the row's text when it runs.
create function queue_embedding() returns trigger language plpgsql as $$
begin
    if (select embeddings_enabled from retrieval_settings) then
        insert into jobs (id, kind, key, payload, max_attempts)
        values (gen_random_uuid(), 'embeddings.index',
                tg_argv[0] || ':' || new.id || ':' ||
                    (extract(epoch from new.updated_at) * 1000000)::bigint,
                jsonb_build_object('source_type', tg_argv[0], 'source_id', new.id,
                                   'user_id', new.user_id),
                20)
        on conflict (kind, key) do nothing;
    end if;
    return null;
end
$$;

-- A deleted row takes its vectors with it.
create function drop_embeddings() returns trigger language plpgsql as $$
begin
    delete from embeddings where source_type = tg_argv[0] and source_id = old.id;
    return null;
end
$$;

create trigger memories_embed after insert or update of content on memories
    for each row execute function queue_embedding('memories');
create trigger notes_embed after insert or update of title, plain_text on notes
    for each row execute function queue_embedding('notes');
create trigger tasks_embed after insert or update of title, description on tasks
    for each row execute function queue_embedding('tasks');
create trigger memories_unembed after delete on memories
    for each row execute function drop_embeddings('memories');
create trigger notes_unembed after delete on notes
    for each row execute function drop_embeddings('notes');
create trigger tasks_unembed after delete on tasks
    for each row execute function drop_embeddings('tasks');
