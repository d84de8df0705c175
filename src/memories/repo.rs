use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::{MemoryFilter, MemoryRow};
use crate::records::{Hit, texts};

pub struct NewMemory<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub memory_type: &'a str,
    pub content: &'a str,
    pub importance: i16,
    pub tags: &'a [String],
    pub source: &'a str,
    pub source_reference: Option<&'a str>,
}

pub async fn insert(db: impl PgExecutor<'_>, m: NewMemory<'_>) -> sqlx::Result<MemoryRow> {
    sqlx::query_as!(
        MemoryRow,
        r#"insert into memories (id, user_id, memory_type, content, importance, tags, source,
                                 source_reference)
           values ($1, $2, $3, $4, $5, $6, $7, $8)
           returning id, memory_type, content, importance, tags, source, source_reference, valid_from,
                     valid_until, superseded_by, created_at, updated_at"#,
        m.id,
        m.user_id,
        m.memory_type,
        m.content,
        m.importance,
        m.tags,
        m.source,
        m.source_reference
    )
    .fetch_one(db)
    .await
}

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<MemoryRow>> {
    sqlx::query_as!(
        MemoryRow,
        r#"select id, memory_type, content, importance, tags, source, source_reference, valid_from,
                  valid_until, superseded_by, created_at, updated_at
           from memories where id = $1 and user_id = $2"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// The memory, locked until the transaction ends (read-modify-write).
pub async fn find_for_update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<MemoryRow>> {
    sqlx::query_as!(
        MemoryRow,
        r#"select id, memory_type, content, importance, tags, source, source_reference, valid_from,
                  valid_until, superseded_by, created_at, updated_at
           from memories where id = $1 and user_id = $2 for update"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// The user's memories among `ids`, in no particular order.
pub async fn find_many(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<MemoryRow>> {
    sqlx::query_as!(
        MemoryRow,
        r#"select id, memory_type, content, importance, tags, source, source_reference, valid_from,
                  valid_until, superseded_by, created_at, updated_at
           from memories where user_id = $1 and id = any($2)"#,
        user_id,
        ids
    )
    .fetch_all(db)
    .await
}

pub async fn update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    memory_type: &str,
    content: &str,
    importance: i16,
    tags: &[String],
) -> sqlx::Result<Option<MemoryRow>> {
    sqlx::query_as!(
        MemoryRow,
        r#"update memories set memory_type = $3, content = $4, importance = $5, tags = $6
           where id = $1 and user_id = $2
           returning id, memory_type, content, importance, tags, source, source_reference, valid_from,
                     valid_until, superseded_by, created_at, updated_at"#,
        id,
        user_id,
        memory_type,
        content,
        importance,
        tags
    )
    .fetch_optional(db)
    .await
}

pub async fn delete(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "delete from memories where id = $1 and user_id = $2",
        id,
        user_id
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Newest first, strictly after `cursor` (`(created_at, id)`).
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    f: &MemoryFilter,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> sqlx::Result<Vec<MemoryRow>> {
    let (ts, cid) = cursor.unzip();
    sqlx::query_as!(
        MemoryRow,
        r#"select id, memory_type, content, importance, tags, source, source_reference, valid_from,
                  valid_until, superseded_by, created_at, updated_at
           from memories
           where user_id = $1
             and (cardinality($2::text[]) = 0 or memory_type = any($2))
             and tags @> $3::text[]
             and ($4::text is null or search @@ websearch_to_tsquery('english', $4))
             and ($8 or valid_until is null)
             and (created_at, id) < (coalesce($5, 'infinity'::timestamptz),
                                     coalesce($6, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
           order by created_at desc, id desc
           limit $7"#,
        user_id,
        &texts(&f.types),
        &f.tags,
        f.q.as_deref(),
        ts,
        cid,
        fetch,
        f.include_superseded
    )
    .fetch_all(db)
    .await
}

/// Best match first (`(rank, created_at, id)` descending), strictly after `cursor`.
pub async fn search(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    f: &MemoryFilter,
    q: &str,
    cursor: Option<(f32, DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> sqlx::Result<Vec<Hit>> {
    let (rank, ts, cid) = match cursor {
        Some((r, t, i)) => (Some(r), Some(t), Some(i)),
        None => (None, None, None),
    };
    sqlx::query_as!(
        Hit,
        r#"select id, rank as "rank!", created_at
           from (select id, created_at,
                        ts_rank_cd(search, websearch_to_tsquery('english', $4)) as rank
                 from memories
                 where user_id = $1
                   and (cardinality($2::text[]) = 0 or memory_type = any($2))
                   and tags @> $3::text[]
                   and search @@ websearch_to_tsquery('english', $4)
                   and ($9 or valid_until is null)) hits
           where (rank, created_at, id) < (coalesce($5, 'infinity'::real),
                                           coalesce($6, 'infinity'::timestamptz),
                                           coalesce($7, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
           order by rank desc, created_at desc, id desc
           limit $8"#,
        user_id,
        &texts(&f.types),
        &f.tags,
        q,
        rank,
        ts,
        cid,
        fetch,
        f.include_superseded
    )
    .fetch_all(db)
    .await
}

/// Close a current memory (it no longer holds) and point it at its successor `by`. Whether
/// it was current.
pub async fn supersede(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    by: Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"update memories set valid_until = greatest(now(), valid_from), superseded_by = $3
           where id = $1 and user_id = $2 and valid_until is null"#,
        id,
        user_id,
        by
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// The user's current memories, newest first (at most `limit`).
pub async fn current(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<MemoryRow>> {
    sqlx::query_as!(
        MemoryRow,
        r#"select id, memory_type, content, importance, tags, source, source_reference, valid_from,
                  valid_until, superseded_by, created_at, updated_at
           from memories where user_id = $1 and valid_until is null
           order by created_at desc, id desc
           limit $2"#,
        user_id,
        limit
    )
    .fetch_all(db)
    .await
}
