use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::{ReflectionFilter, ReflectionRow};
use crate::records::texts;

pub async fn insert(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    content: &str,
    reflection_type: &str,
    goal_id: Option<Uuid>,
) -> sqlx::Result<ReflectionRow> {
    sqlx::query_as!(
        ReflectionRow,
        r#"insert into reflections (id, user_id, content, reflection_type, goal_id)
           values ($1, $2, $3, $4, $5)
           returning id, content, reflection_type, goal_id, created_at, updated_at"#,
        id,
        user_id,
        content,
        reflection_type,
        goal_id
    )
    .fetch_one(db)
    .await
}

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ReflectionRow>> {
    sqlx::query_as!(
        ReflectionRow,
        r#"select id, content, reflection_type, goal_id, created_at, updated_at
           from reflections where id = $1 and user_id = $2"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

pub async fn delete(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "delete from reflections where id = $1 and user_id = $2",
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
    f: &ReflectionFilter,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> sqlx::Result<Vec<ReflectionRow>> {
    let (no_goal, goal_id) = f.goal.sql();
    let (ts, cid) = cursor.unzip();
    sqlx::query_as!(
        ReflectionRow,
        r#"select id, content, reflection_type, goal_id, created_at, updated_at
           from reflections
           where user_id = $1
             and (cardinality($2::text[]) = 0 or reflection_type = any($2))
             and (not $3::bool or goal_id is null)
             and ($4::uuid is null or goal_id = $4)
             and (created_at, id) < (coalesce($5, 'infinity'::timestamptz),
                                     coalesce($6, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
           order by created_at desc, id desc
           limit $7"#,
        user_id,
        &texts(&f.types),
        no_goal,
        goal_id,
        ts,
        cid,
        fetch
    )
    .fetch_all(db)
    .await
}
