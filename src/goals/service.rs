//! The rules for goals. Every function takes any PostgreSQL connection source (`&PgPool`,
//! a connection or an open transaction) and the acting user; REST handlers and the agents'
//! tools call the same functions, so validation and ownership are the same for both.

use serde_json::json;
use sqlx::{Acquire, PgConnection, Postgres};
use uuid::Uuid;

use super::{
    model::{CreateGoal, Goal, GoalFilter, GoalStatus, Timeframe, UpdateGoal},
    repo,
};
use crate::{
    error::{ApiError, ApiResult, ResultExt},
    http::{Page, Pagination, Patch, Validate},
    records::lock_hierarchy,
    tasks::model::Priority,
};

fn not_yours() -> ApiError {
    ApiError::validation("parent_goal_id", "is not one of your goals")
}

///
/// Publishes `goal.created` to the user's realtime stream when the change commits.
pub async fn create_goal<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    input: CreateGoal,
) -> ApiResult<Goal> {
    let mut tx = db.begin().await?;
    let out = create_goal_inner(&mut tx, user_id, input).await?;
    crate::events::publish(&mut *tx, user_id, "goal.created", &out).await?;
    tx.commit().await?;
    Ok(out)
}

async fn create_goal_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    input: CreateGoal,
) -> ApiResult<Goal> {
    input.validate().map_err(ApiError::Validation)?;
    let conn = db;
    if let Some(parent) = input.parent_goal_id
        && !repo::exists(&mut *conn, user_id, parent).await?
    {
        return Err(not_yours());
    }
    let id = Uuid::now_v7();
    let metadata = input.metadata.unwrap_or_else(|| json!({}));
    repo::insert(
        &mut *conn,
        repo::NewGoal {
            id,
            user_id,
            title: input.title.trim(),
            description: input.description.as_deref(),
            timeframe: input.timeframe.unwrap_or(Timeframe::LongTerm).as_str(),
            parent_goal_id: input.parent_goal_id,
            status: input.status.unwrap_or(GoalStatus::Active).as_str(),
            progress: input.progress.unwrap_or(0),
            priority: input.priority.unwrap_or(Priority::Medium).as_str(),
            due_date: input.due_date,
            metadata: &metadata,
        },
    )
    .await
    .on_constraint("goals_parent_fk", not_yours)?;
    repo::find(&mut *conn, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?
        .try_into()
}

pub async fn get_goal<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
) -> ApiResult<Goal> {
    let mut conn = db.acquire().await?;
    repo::find(&mut *conn, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?
        .try_into()
}

/// Apply a merge patch. `expected` is the version the caller read (`If-Match`); a
/// different current version answers 412 and writes nothing.
///
/// Publishes `goal.updated` to the user's realtime stream when the change commits.
pub async fn update_goal<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
    input: UpdateGoal,
    expected: Option<i32>,
) -> ApiResult<Goal> {
    let mut tx = db.begin().await?;
    let out = update_goal_inner(&mut tx, user_id, id, input, expected).await?;
    crate::events::publish(&mut *tx, user_id, "goal.updated", &out).await?;
    tx.commit().await?;
    Ok(out)
}

async fn update_goal_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    input: UpdateGoal,
    expected: Option<i32>,
) -> ApiResult<Goal> {
    input.validate().map_err(ApiError::Validation)?;
    let mut tx = db.begin().await?;
    if !input.parent_goal_id.is_missing() {
        lock_hierarchy(&mut *tx, "goals", user_id).await?;
    }
    let current: Goal = repo::find_for_update(&mut *tx, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?
        .try_into()?;
    if let Some(&parent) = input.parent_goal_id.as_value()
        && current.parent_goal_id != Some(parent)
    {
        if !repo::exists(&mut *tx, user_id, parent).await? {
            return Err(not_yours());
        }
        if repo::is_self_or_ancestor(&mut *tx, user_id, parent, id).await? {
            return Err(ApiError::validation(
                "parent_goal_id",
                "must not be the goal itself or one of its sub-goals",
            ));
        }
    }
    let title = match input.title {
        Patch::Value(t) => t.trim().to_string(),
        _ => current.title,
    };
    let description = input.description.apply(current.description);
    let timeframe = input
        .timeframe
        .apply(Some(current.timeframe))
        .unwrap_or(current.timeframe);
    let status = input
        .status
        .apply(Some(current.status))
        .unwrap_or(current.status);
    let priority = input
        .priority
        .apply(Some(current.priority))
        .unwrap_or(current.priority);
    let metadata = input
        .metadata
        .apply(Some(current.metadata))
        .unwrap_or_else(|| json!({}));
    let written = repo::update(
        &mut *tx,
        user_id,
        id,
        expected.unwrap_or(current.version),
        repo::GoalChanges {
            title: &title,
            description: description.as_deref(),
            timeframe: timeframe.as_str(),
            parent_goal_id: input.parent_goal_id.apply(current.parent_goal_id),
            status: status.as_str(),
            progress: input
                .progress
                .apply(Some(current.progress))
                .unwrap_or(current.progress),
            priority: priority.as_str(),
            due_date: input.due_date.apply(current.due_date),
            metadata: &metadata,
        },
    )
    .await
    .on_constraint("goals_parent_fk", not_yours)?;
    // The row is locked, so only a different version can make the update miss.
    if !written {
        return Err(ApiError::PreconditionFailed);
    }
    let goal = repo::find(&mut *tx, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?
        .try_into()?;
    tx.commit().await?;
    Ok(goal)
}

/// Set a goal's own progress (for the agents' tools). While the goal has tasks, the
/// progress reported is still the share of them that are done.
pub async fn update_goal_progress<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
    progress: i32,
) -> ApiResult<Goal> {
    let patch = UpdateGoal {
        progress: Patch::Value(progress),
        ..UpdateGoal::default()
    };
    update_goal(db, user_id, id, patch, None).await
}

///
/// Publishes `goal.deleted` to the user's realtime stream when the change commits.
pub async fn delete_goal<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
    expected: Option<i32>,
) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    delete_goal_inner(&mut tx, user_id, id, expected).await?;
    crate::events::publish(
        &mut *tx,
        user_id,
        "goal.deleted",
        &serde_json::json!({"id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn delete_goal_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    expected: Option<i32>,
) -> ApiResult<()> {
    let conn = db;
    if repo::delete(&mut *conn, user_id, id, expected).await? {
        return Ok(());
    }
    if expected.is_some() && repo::exists(&mut *conn, user_id, id).await? {
        return Err(ApiError::PreconditionFailed);
    }
    Err(ApiError::NotFound)
}

/// Newest first.
pub async fn list_goals<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    filter: GoalFilter,
    page: Pagination,
) -> ApiResult<Page<Goal>> {
    let mut conn = db.acquire().await?;
    let cursor = page.cursor.map(|c| (c.created_at, c.id));
    let rows = repo::list(&mut *conn, user_id, &filter, cursor, page.fetch()).await?;
    let goals = rows
        .into_iter()
        .map(Goal::try_from)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Page::from_rows(goals, &page, |g| (g.created_at, g.id)))
}
