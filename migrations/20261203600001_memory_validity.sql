-- Memories learn: where a memory came from, and when it held. Extraction only adds rows; a
-- fact that contradicts a current one closes it (`valid_until`, `superseded_by`) instead of
-- deleting it, so what the assistant believed and when stays visible.
alter table memories
    add column source_reference text check (char_length(source_reference) <= 2000),
    add column valid_from       timestamptz not null default now(),
    add column valid_until      timestamptz,
    add column superseded_by    uuid;

-- Sources were free text; the known ones stay, the rest were written by hand or by an agent
-- on the user's behalf and count as manual.
update memories set valid_from = created_at,
    source = case when source in ('manual', 'chat', 'voice', 'document', 'extracted')
                  then source else 'manual' end;
alter table memories
    add constraint memories_source_check
        check (source in ('manual', 'chat', 'voice', 'document', 'extracted')),
    add constraint memories_validity_check
        check (valid_until is null or valid_until >= valid_from);

-- A memory is superseded only by another of the same user's (composite key); deleting the
-- newer one leaves the old one closed but without a successor.
create unique index memories_user_id_key on memories (user_id, id);
alter table memories
    add constraint memories_superseded_by_fkey foreign key (user_id, superseded_by)
        references memories (user_id, id) on delete set null (superseded_by);

-- Most reads want only what holds now.
create index memories_user_current_idx on memories (user_id, created_at, id)
    where valid_until is null;
