//! The rules for reflections. Every function takes any PostgreSQL connection source and the
//! acting user; REST handlers and the agents' tools call the same functions.

use sqlx::{Acquire, PgConnection, Postgres};
use uuid::Uuid;

use super::{
    model::{CreateReflection, Reflection, ReflectionFilter},
    repo,
};
use crate::{
    error::{ApiError, ApiResult, ResultExt},
    http::{Page, Pagination, Validate},
};

fn not_yours() -> ApiError {
    ApiError::validation("goal_id", "is not one of your goals")
}

/// Write a reflection (REST and the agents' "add reflection" tool).
///
/// Publishes `reflection.created` to the user's realtime stream when the change commits.
pub async fn add_reflection<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    input: CreateReflection,
) -> ApiResult<Reflection> {
    let mut tx = db.begin().await?;
    let out = add_reflection_inner(&mut tx, user_id, input).await?;
    crate::events::publish(&mut *tx, user_id, "reflection.created", &out).await?;
    tx.commit().await?;
    Ok(out)
}

async fn add_reflection_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    input: CreateReflection,
) -> ApiResult<Reflection> {
    input.validate().map_err(ApiError::Validation)?;
    let conn = db;
    if let Some(goal) = input.goal_id
        && !crate::goals::repo::exists(&mut *conn, user_id, goal).await?
    {
        return Err(not_yours());
    }
    repo::insert(
        &mut *conn,
        Uuid::now_v7(),
        user_id,
        input.content.trim(),
        input.reflection_type.as_str(),
        input.goal_id,
    )
    .await
    .on_constraint("reflections_goal_fk", not_yours)?
    .try_into()
}

pub async fn get_reflection<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
) -> ApiResult<Reflection> {
    let mut conn = db.acquire().await?;
    repo::find(&mut *conn, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?
        .try_into()
}

///
/// Publishes `reflection.deleted` to the user's realtime stream when the change commits.
pub async fn delete_reflection<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    delete_reflection_inner(&mut tx, user_id, id).await?;
    crate::events::publish(
        &mut *tx,
        user_id,
        "reflection.deleted",
        &serde_json::json!({"id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn delete_reflection_inner(db: &mut PgConnection, user_id: Uuid, id: Uuid) -> ApiResult<()> {
    let conn = db;
    if repo::delete(&mut *conn, user_id, id).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Newest first.
pub async fn list_reflections<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    filter: ReflectionFilter,
    page: Pagination,
) -> ApiResult<Page<Reflection>> {
    let mut conn = db.acquire().await?;
    let cursor = page.cursor.map(|c| (c.created_at, c.id));
    let rows = repo::list(&mut *conn, user_id, &filter, cursor, page.fetch()).await?;
    let items = rows
        .into_iter()
        .map(Reflection::try_from)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, &page, |r| (r.created_at, r.id)))
}
