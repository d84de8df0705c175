use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::{TaskFilter, TaskRow};
use crate::records::{Hit, texts};

pub struct NewTask<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub status: &'a str,
    pub priority: &'a str,
    pub due_date: Option<NaiveDate>,
    pub due_time: Option<NaiveTime>,
    pub parent_id: Option<Uuid>,
    pub goal_id: Option<Uuid>,
    pub note_id: Option<Uuid>,
    pub source: &'a str,
    pub source_reference: Option<&'a str>,
    pub metadata: &'a Value,
    pub remind_at: Option<DateTime<Utc>>,
    pub estimate_minutes: Option<i32>,
}

pub async fn insert(db: impl PgExecutor<'_>, t: NewTask<'_>) -> sqlx::Result<TaskRow> {
    sqlx::query_as!(
        TaskRow,
        r#"insert into tasks (id, user_id, title, description, status, priority, due_date, due_time,
                              parent_id, goal_id, note_id, source, source_reference, metadata,
                              completed_at, remind_at, estimate_minutes)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                   case when $5 = 'done' then now() end, $15, $16)
           returning id, title, description, status, priority, due_date, due_time, parent_id,
                     goal_id, note_id, source, source_reference, completed_at, metadata, version,
                     created_at, updated_at, remind_at, estimate_minutes, snoozed_until"#,
        t.id,
        t.user_id,
        t.title,
        t.description,
        t.status,
        t.priority,
        t.due_date,
        t.due_time,
        t.parent_id,
        t.goal_id,
        t.note_id,
        t.source,
        t.source_reference,
        t.metadata,
        t.remind_at,
        t.estimate_minutes
    )
    .fetch_one(db)
    .await
}

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<TaskRow>> {
    sqlx::query_as!(
        TaskRow,
        r#"select id, title, description, status, priority, due_date, due_time, parent_id,
                  goal_id, note_id, source, source_reference, completed_at, metadata, version,
                  created_at, updated_at, remind_at, estimate_minutes, snoozed_until
           from tasks where id = $1 and user_id = $2"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// The task, locked until the transaction ends (read-modify-write).
pub async fn find_for_update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<TaskRow>> {
    sqlx::query_as!(
        TaskRow,
        r#"select id, title, description, status, priority, due_date, due_time, parent_id,
                  goal_id, note_id, source, source_reference, completed_at, metadata, version,
                  created_at, updated_at, remind_at, estimate_minutes, snoozed_until
           from tasks where id = $1 and user_id = $2 for update"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// The user's tasks among `ids`, in no particular order.
pub async fn find_many(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<TaskRow>> {
    sqlx::query_as!(
        TaskRow,
        r#"select id, title, description, status, priority, due_date, due_time, parent_id,
                  goal_id, note_id, source, source_reference, completed_at, metadata, version,
                  created_at, updated_at, remind_at, estimate_minutes, snoozed_until
           from tasks where user_id = $1 and id = any($2)"#,
        user_id,
        ids
    )
    .fetch_all(db)
    .await
}

pub async fn exists(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from tasks where id = $1 and user_id = $2) as "exists!""#,
        id,
        user_id
    )
    .fetch_one(db)
    .await
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
               select id, parent_id from tasks where id = $1 and user_id = $2
               union
               select t.id, t.parent_id from tasks t join up on t.id = up.parent_id
               where t.user_id = $2
           )
           select exists(select 1 from up where id = $3) as "found!""#,
        id,
        user_id,
        ancestor
    )
    .fetch_one(db)
    .await
}

pub struct TaskChanges<'a> {
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub status: &'a str,
    pub priority: &'a str,
    pub due_date: Option<NaiveDate>,
    pub due_time: Option<NaiveTime>,
    pub parent_id: Option<Uuid>,
    pub goal_id: Option<Uuid>,
    pub note_id: Option<Uuid>,
    pub metadata: &'a Value,
    pub remind_at: Option<DateTime<Utc>>,
    pub estimate_minutes: Option<i32>,
}

/// Write the task if its version is still `expected`; `None` when it is not (or the task
/// is gone). `completed_at` follows the status: kept while `done`, stamped on entering
/// `done`, cleared on leaving it.
pub async fn update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    expected: i32,
    c: TaskChanges<'_>,
) -> sqlx::Result<Option<TaskRow>> {
    sqlx::query_as!(
        TaskRow,
        r#"update tasks
           set title = $4, description = $5, status = $6, priority = $7, due_date = $8,
               due_time = $9, parent_id = $10, goal_id = $11, note_id = $12, metadata = $13,
               remind_at = $14, estimate_minutes = $15,
               snoozed_until = case when remind_at is distinct from $14 then null
                                    else snoozed_until end,
               completed_at = case when $6 = 'done' then coalesce(completed_at, now()) end,
               version = version + 1
           where id = $1 and user_id = $2 and version = $3
           returning id, title, description, status, priority, due_date, due_time, parent_id,
                     goal_id, note_id, source, source_reference, completed_at, metadata, version,
                     created_at, updated_at, remind_at, estimate_minutes, snoozed_until"#,
        id,
        user_id,
        expected,
        c.title,
        c.description,
        c.status,
        c.priority,
        c.due_date,
        c.due_time,
        c.parent_id,
        c.goal_id,
        c.note_id,
        c.metadata,
        c.remind_at,
        c.estimate_minutes
    )
    .fetch_optional(db)
    .await
}

/// Set the status if the version matches `expected` (any version when `None`).
pub async fn set_status(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    expected: Option<i32>,
    status: &str,
) -> sqlx::Result<Option<TaskRow>> {
    sqlx::query_as!(
        TaskRow,
        r#"update tasks
           set status = $4,
               completed_at = case when $4 = 'done' then coalesce(completed_at, now()) end,
               version = version + 1
           where id = $1 and user_id = $2 and ($3::int is null or version = $3)
           returning id, title, description, status, priority, due_date, due_time, parent_id,
                     goal_id, note_id, source, source_reference, completed_at, metadata, version,
                     created_at, updated_at, remind_at, estimate_minutes, snoozed_until"#,
        id,
        user_id,
        expected,
        status
    )
    .fetch_optional(db)
    .await
}

/// Delete the task (and, by the foreign key, its subtasks) if its version matches
/// `expected` (any version when `None`). Whether a row was deleted.
pub async fn delete(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    expected: Option<i32>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "delete from tasks where id = $1 and user_id = $2 and ($3::int is null or version = $3)",
        id,
        user_id,
        expected
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// The filter as SQL parameters.
struct Params {
    statuses: Vec<String>,
    priorities: Vec<String>,
    sources: Vec<String>,
    parent_none: bool,
    parent_id: Option<Uuid>,
    goal_none: bool,
    goal_id: Option<Uuid>,
    note_none: bool,
    note_id: Option<Uuid>,
}

impl Params {
    fn of(f: &TaskFilter) -> Self {
        let (parent_none, parent_id) = f.parent.sql();
        let (goal_none, goal_id) = f.goal.sql();
        let (note_none, note_id) = f.note.sql();
        Self {
            statuses: texts(&f.statuses),
            priorities: texts(&f.priorities),
            sources: texts(&f.sources),
            parent_none,
            parent_id,
            goal_none,
            goal_id,
            note_none,
            note_id,
        }
    }
}

/// Newest first, strictly after `cursor` (`(created_at, id)`).
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    f: &TaskFilter,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> sqlx::Result<Vec<TaskRow>> {
    let p = Params::of(f);
    let (ts, cid) = cursor.unzip();
    sqlx::query_as!(
        TaskRow,
        r#"select id, title, description, status, priority, due_date, due_time, parent_id,
                  goal_id, note_id, source, source_reference, completed_at, metadata, version,
                  created_at, updated_at, remind_at, estimate_minutes, snoozed_until
           from tasks
           where user_id = $1
             and (cardinality($2::text[]) = 0 or status = any($2))
             and (cardinality($3::text[]) = 0 or priority = any($3))
             and (cardinality($4::text[]) = 0 or source = any($4))
             and ($5::date is null or due_date <= $5)
             and ($6::date is null or due_date >= $6)
             and (not $7::bool or parent_id is null) and ($8::uuid is null or parent_id = $8)
             and (not $9::bool or goal_id is null) and ($10::uuid is null or goal_id = $10)
             and (not $11::bool or note_id is null) and ($12::uuid is null or note_id = $12)
             and ($13::text is null or search @@ websearch_to_tsquery('english', $13))
             and (created_at, id) < (coalesce($14, 'infinity'::timestamptz),
                                     coalesce($15, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
           order by created_at desc, id desc
           limit $16"#,
        user_id,
        &p.statuses,
        &p.priorities,
        &p.sources,
        f.due_before,
        f.due_after,
        p.parent_none,
        p.parent_id,
        p.goal_none,
        p.goal_id,
        p.note_none,
        p.note_id,
        f.q.as_deref(),
        ts,
        cid,
        fetch
    )
    .fetch_all(db)
    .await
}

/// A position in the due-date ordering.
pub type DueKey = (Option<NaiveDate>, Option<NaiveTime>, DateTime<Utc>, Uuid);

/// Soonest due first (undated, then untimed, last; ties oldest first), strictly after
/// `cursor`.
pub async fn list_by_due(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    f: &TaskFilter,
    cursor: Option<DueKey>,
    fetch: i64,
) -> sqlx::Result<Vec<TaskRow>> {
    let p = Params::of(f);
    let (date, time, ts, cid) = match cursor {
        Some((d, t, ts, id)) => (d, t, Some(ts), Some(id)),
        None => (None, None, None, None),
    };
    sqlx::query_as!(
        TaskRow,
        r#"select id, title, description, status, priority, due_date, due_time, parent_id,
                  goal_id, note_id, source, source_reference, completed_at, metadata, version,
                  created_at, updated_at, remind_at, estimate_minutes, snoozed_until
           from tasks
           where user_id = $1
             and (cardinality($2::text[]) = 0 or status = any($2))
             and (cardinality($3::text[]) = 0 or priority = any($3))
             and (cardinality($4::text[]) = 0 or source = any($4))
             and ($5::date is null or due_date <= $5)
             and ($6::date is null or due_date >= $6)
             and (not $7::bool or parent_id is null) and ($8::uuid is null or parent_id = $8)
             and (not $9::bool or goal_id is null) and ($10::uuid is null or goal_id = $10)
             and (not $11::bool or note_id is null) and ($12::uuid is null or note_id = $12)
             and ($13::text is null or search @@ websearch_to_tsquery('english', $13))
             and ($16::timestamptz is null
                  or (coalesce(due_date, 'infinity'::date), coalesce(due_time, '24:00'::time),
                      created_at, id)
                     > (coalesce($14::date, 'infinity'::date), coalesce($15::time, '24:00'::time),
                        $16, $17::uuid))
           order by coalesce(due_date, 'infinity'::date), coalesce(due_time, '24:00'::time),
                    created_at, id
           limit $18"#,
        user_id,
        &p.statuses,
        &p.priorities,
        &p.sources,
        f.due_before,
        f.due_after,
        p.parent_none,
        p.parent_id,
        p.goal_none,
        p.goal_id,
        p.note_none,
        p.note_id,
        f.q.as_deref(),
        date,
        time,
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
    f: &TaskFilter,
    q: &str,
    cursor: Option<(f32, DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> sqlx::Result<Vec<Hit>> {
    let p = Params::of(f);
    let (rank, ts, cid) = match cursor {
        Some((r, t, i)) => (Some(r), Some(t), Some(i)),
        None => (None, None, None),
    };
    sqlx::query_as!(
        Hit,
        r#"select id, rank as "rank!", created_at
           from (select id, created_at,
                        ts_rank_cd(search, websearch_to_tsquery('english', $13)) as rank
                 from tasks
                 where user_id = $1
                   and (cardinality($2::text[]) = 0 or status = any($2))
                   and (cardinality($3::text[]) = 0 or priority = any($3))
                   and (cardinality($4::text[]) = 0 or source = any($4))
                   and ($5::date is null or due_date <= $5)
                   and ($6::date is null or due_date >= $6)
                   and (not $7::bool or parent_id is null) and ($8::uuid is null or parent_id = $8)
                   and (not $9::bool or goal_id is null) and ($10::uuid is null or goal_id = $10)
                   and (not $11::bool or note_id is null) and ($12::uuid is null or note_id = $12)
                   and search @@ websearch_to_tsquery('english', $13)) hits
           where (rank, created_at, id) < (coalesce($14, 'infinity'::real),
                                           coalesce($15, 'infinity'::timestamptz),
                                           coalesce($16, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
           order by rank desc, created_at desc, id desc
           limit $17"#,
        user_id,
        &p.statuses,
        &p.priorities,
        &p.sources,
        f.due_before,
        f.due_after,
        p.parent_none,
        p.parent_id,
        p.goal_none,
        p.goal_id,
        p.note_none,
        p.note_id,
        q,
        rank,
        ts,
        cid,
        fetch
    )
    .fetch_all(db)
    .await
}

/// Move the task's reminder to `until` (`POST /tasks/{id}/snooze`).
pub async fn snooze(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    until: DateTime<Utc>,
) -> sqlx::Result<Option<TaskRow>> {
    sqlx::query_as!(
        TaskRow,
        r#"update tasks set snoozed_until = $3, version = version + 1
           where id = $1 and user_id = $2
           returning id, title, description, status, priority, due_date, due_time, parent_id,
                     goal_id, note_id, source, source_reference, completed_at, metadata, version,
                     created_at, updated_at, remind_at, estimate_minutes, snoozed_until"#,
        id,
        user_id,
        until
    )
    .fetch_optional(db)
    .await
}
