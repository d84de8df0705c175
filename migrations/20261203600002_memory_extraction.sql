-- How far memory extraction has read each conversation: messages created after this are
-- new to it. Advanced in the same transaction that stores what was extracted, so a job that
-- runs twice reads nothing the second time.
alter table conversations add column memory_extracted_until timestamptz;
