use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::{Note, NoteFilter};
use crate::records::Hit;

pub struct NewNote<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: &'a str,
    pub content: &'a Value,
    pub plain_text: &'a str,
    pub parent_id: Option<Uuid>,
    pub is_pinned: bool,
    pub metadata: &'a Value,
}

pub async fn insert(db: impl PgExecutor<'_>, n: NewNote<'_>) -> sqlx::Result<Note> {
    sqlx::query_as!(
        Note,
        r#"insert into notes (id, user_id, title, content, plain_text, parent_id, is_pinned, metadata)
           values ($1, $2, $3, $4, $5, $6, $7, $8)
           returning id, title, content, plain_text, parent_id, is_pinned, is_archived, metadata,
                     version, created_at, updated_at"#,
        n.id,
        n.user_id,
        n.title,
        n.content,
        n.plain_text,
        n.parent_id,
        n.is_pinned,
        n.metadata
    )
    .fetch_one(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<Option<Note>> {
    sqlx::query_as!(
        Note,
        r#"select id, title, content, plain_text, parent_id, is_pinned, is_archived, metadata,
                  version, created_at, updated_at
           from notes where id = $1 and user_id = $2"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// The note, locked until the transaction ends (read-modify-write).
pub async fn find_for_update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Note>> {
    sqlx::query_as!(
        Note,
        r#"select id, title, content, plain_text, parent_id, is_pinned, is_archived, metadata,
                  version, created_at, updated_at
           from notes where id = $1 and user_id = $2 for update"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// The user's notes among `ids`, in no particular order.
pub async fn find_many(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<Note>> {
    sqlx::query_as!(
        Note,
        r#"select id, title, content, plain_text, parent_id, is_pinned, is_archived, metadata,
                  version, created_at, updated_at
           from notes where user_id = $1 and id = any($2)"#,
        user_id,
        ids
    )
    .fetch_all(db)
    .await
}

pub async fn exists(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    crate::records::note_exists(db, user_id, id).await
}

/// Whether `ancestor` is `id` itself or one of its ancestors (walking up from `id`).
pub async fn is_self_or_ancestor(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    ancestor: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"with recursive up (id, parent_id) as (
               select id, parent_id from notes where id = $1 and user_id = $2
               union
               select n.id, n.parent_id from notes n join up on n.id = up.parent_id
               where n.user_id = $2
           )
           select exists(select 1 from up where id = $3) as "found!""#,
        id,
        user_id,
        ancestor
    )
    .fetch_one(db)
    .await
}

pub struct NoteChanges<'a> {
    pub title: &'a str,
    pub content: &'a Value,
    pub plain_text: &'a str,
    pub parent_id: Option<Uuid>,
    pub is_pinned: bool,
    pub is_archived: bool,
    pub metadata: &'a Value,
}

/// Write the note if its version is still `expected`; `None` when it is not (or the note
/// is gone).
pub async fn update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    expected: i32,
    c: NoteChanges<'_>,
) -> sqlx::Result<Option<Note>> {
    sqlx::query_as!(
        Note,
        r#"update notes
           set title = $4, content = $5, plain_text = $6, parent_id = $7, is_pinned = $8,
               is_archived = $9, metadata = $10, version = version + 1
           where id = $1 and user_id = $2 and version = $3
           returning id, title, content, plain_text, parent_id, is_pinned, is_archived, metadata,
                     version, created_at, updated_at"#,
        id,
        user_id,
        expected,
        c.title,
        c.content,
        c.plain_text,
        c.parent_id,
        c.is_pinned,
        c.is_archived,
        c.metadata
    )
    .fetch_optional(db)
    .await
}

/// Delete the note (and, by the foreign key, its subtree) if its version matches
/// `expected` (any version when `None`). Whether a row was deleted.
pub async fn delete(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    expected: Option<i32>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "delete from notes where id = $1 and user_id = $2 and ($3::int is null or version = $3)",
        id,
        user_id,
        expected
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Newest first, strictly after `cursor` (`(created_at, id)`).
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    f: &NoteFilter,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> sqlx::Result<Vec<Note>> {
    let (root_only, parent_id) = f.parent.sql();
    let (ts, cid) = cursor.unzip();
    sqlx::query_as!(
        Note,
        r#"select id, title, content, plain_text, parent_id, is_pinned, is_archived, metadata,
                  version, created_at, updated_at
           from notes
           where user_id = $1
             and (not $2::bool or parent_id is null)
             and ($3::uuid is null or parent_id = $3)
             and ($4::bool is null or is_pinned = $4)
             and is_archived = $5
             and ($6::text is null or search @@ websearch_to_tsquery('english', $6))
             and (created_at, id) < (coalesce($7, 'infinity'::timestamptz),
                                     coalesce($8, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
           order by created_at desc, id desc
           limit $9"#,
        user_id,
        root_only,
        parent_id,
        f.is_pinned,
        f.is_archived,
        f.q.as_deref(),
        ts,
        cid,
        fetch
    )
    .fetch_all(db)
    .await
}

/// Best match first (`(rank, created_at, id)` descending), strictly after `cursor`.
pub async fn search(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    f: &NoteFilter,
    q: &str,
    cursor: Option<(f32, DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> sqlx::Result<Vec<Hit>> {
    let (root_only, parent_id) = f.parent.sql();
    let (rank, ts, cid) = match cursor {
        Some((r, t, i)) => (Some(r), Some(t), Some(i)),
        None => (None, None, None),
    };
    sqlx::query_as!(
        Hit,
        r#"select id, rank as "rank!", created_at
           from (select id, created_at,
                        ts_rank_cd(search, websearch_to_tsquery('english', $6)) as rank
                 from notes
                 where user_id = $1
                   and (not $2::bool or parent_id is null)
                   and ($3::uuid is null or parent_id = $3)
                   and ($4::bool is null or is_pinned = $4)
                   and is_archived = $5
                   and search @@ websearch_to_tsquery('english', $6)) hits
           where (rank, created_at, id) < (coalesce($7, 'infinity'::real),
                                           coalesce($8, 'infinity'::timestamptz),
                                           coalesce($9, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
           order by rank desc, created_at desc, id desc
           limit $10"#,
        user_id,
        root_only,
        parent_id,
        f.is_pinned,
        f.is_archived,
        q,
        rank,
        ts,
        cid,
        fetch
    )
    .fetch_all(db)
    .await
}
