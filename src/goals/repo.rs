//! Goals' SQL. Reads compute the effective progress: the rounded share of the goal's tasks
//! that are done when it has any, else the stored value. Computing it on read keeps it right
//! after every task change without writing the goal.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::{GoalFilter, GoalRow};
use crate::records::texts;

pub struct NewGoal<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub timeframe: &'a str,
    pub parent_goal_id: Option<Uuid>,
    pub status: &'a str,
    pub progress: i32,
    pub priority: &'a str,
    pub due_date: Option<NaiveDate>,
    pub metadata: &'a Value,
}

pub async fn insert(db: impl PgExecutor<'_>, g: NewGoal<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"insert into goals (id, user_id, title, description, timeframe, parent_goal_id, status,
                              progress, priority, due_date, metadata)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
        g.id,
        g.user_id,
        g.title,
        g.description,
        g.timeframe,
        g.parent_goal_id,
        g.status,
        g.progress,
        g.priority,
        g.due_date,
        g.metadata
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<GoalRow>> {
    sqlx::query_as!(
        GoalRow,
        r#"select g.id, g.title, g.description, g.timeframe, g.parent_goal_id, g.status,
                  coalesce(p.done_pct, g.progress) as "progress!", g.priority, g.due_date,
                  g.metadata, g.version, g.created_at, g.updated_at
           from goals g
           left join lateral (
               select round(100.0 * count(*) filter (where t.status = 'done') / count(*))::int
                      as done_pct
               from tasks t where t.goal_id = g.id
               having count(*) > 0
           ) p on true
           where g.id = $1 and g.user_id = $2"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// The goal's stored fields, locked until the transaction ends (read-modify-write).
/// `progress` here is the stored value, not the effective one.
pub async fn find_for_update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<GoalRow>> {
    sqlx::query_as!(
        GoalRow,
        r#"select id, title, description, timeframe, parent_goal_id, status, progress, priority,
                  due_date, metadata, version, created_at, updated_at
           from goals where id = $1 and user_id = $2 for update"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

pub async fn exists(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    crate::records::goal_exists(db, user_id, id).await
}

/// Whether `ancestor` is `id` itself or one of its ancestors (walking up from `id`).
pub async fn is_self_or_ancestor(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    ancestor: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"with recursive up (id, parent_goal_id) as (
               select id, parent_goal_id from goals where id = $1 and user_id = $2
               union
               select g.id, g.parent_goal_id from goals g join up on g.id = up.parent_goal_id
               where g.user_id = $2
           )
           select exists(select 1 from up where id = $3) as "found!""#,
        id,
        user_id,
        ancestor
    )
    .fetch_one(db)
    .await
}

pub struct GoalChanges<'a> {
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub timeframe: &'a str,
    pub parent_goal_id: Option<Uuid>,
    pub status: &'a str,
    pub progress: i32,
    pub priority: &'a str,
    pub due_date: Option<NaiveDate>,
    pub metadata: &'a Value,
}

/// Write the goal if its version is still `expected`. Whether it was written.
pub async fn update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    expected: i32,
    c: GoalChanges<'_>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"update goals
           set title = $4, description = $5, timeframe = $6, parent_goal_id = $7, status = $8,
               progress = $9, priority = $10, due_date = $11, metadata = $12,
               version = version + 1
           where id = $1 and user_id = $2 and version = $3"#,
        id,
        user_id,
        expected,
        c.title,
        c.description,
        c.timeframe,
        c.parent_goal_id,
        c.status,
        c.progress,
        c.priority,
        c.due_date,
        c.metadata
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Delete the goal if its version matches `expected` (any version when `None`); its
/// sub-goals become top-level and its tasks and reflections lose the link.
pub async fn delete(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    expected: Option<i32>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "delete from goals where id = $1 and user_id = $2 and ($3::int is null or version = $3)",
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
    f: &GoalFilter,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> sqlx::Result<Vec<GoalRow>> {
    let (root_only, parent_id) = f.parent.sql();
    let (ts, cid) = cursor.unzip();
    sqlx::query_as!(
        GoalRow,
        r#"select g.id, g.title, g.description, g.timeframe, g.parent_goal_id, g.status,
                  coalesce(p.done_pct, g.progress) as "progress!", g.priority, g.due_date,
                  g.metadata, g.version, g.created_at, g.updated_at
           from goals g
           left join lateral (
               select round(100.0 * count(*) filter (where t.status = 'done') / count(*))::int
                      as done_pct
               from tasks t where t.goal_id = g.id
               having count(*) > 0
           ) p on true
           where g.user_id = $1
             and (cardinality($2::text[]) = 0 or g.timeframe = any($2))
             and (cardinality($3::text[]) = 0 or g.status = any($3))
             and (not $4::bool or g.parent_goal_id is null)
             and ($5::uuid is null or g.parent_goal_id = $5)
             and (g.created_at, g.id) < (coalesce($6, 'infinity'::timestamptz),
                                         coalesce($7, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
           order by g.created_at desc, g.id desc
           limit $8"#,
        user_id,
        &texts(&f.timeframes),
        &texts(&f.statuses),
        root_only,
        parent_id,
        ts,
        cid,
        fetch
    )
    .fetch_all(db)
    .await
}
