//! The rules for tasks. Every function takes any PostgreSQL connection source (`&PgPool`,
//! a connection or an open transaction) and the acting user; REST handlers and the agents'
//! tools call the same functions, so validation and ownership are the same for both.

use serde_json::json;
use sqlx::{Acquire, PgConnection, Postgres};
use uuid::Uuid;

use super::{
    model::{
        CreateTask, MAX_SOURCE_REFERENCE_CHARS, Priority, Task, TaskFilter, TaskOrigin, TaskRow,
        TaskSort, TaskStatus, UpdateTask,
    },
    repo,
};
use crate::{
    error::{ApiError, ApiResult, ResultExt},
    http::{KeysetPagination, Page, SortCursor, Validate, pagination::Cursor},
    records::{MAX_QUERY_CHARS, lock_hierarchy, ranked_page},
};

fn not_your(field: &str, what: &str) -> ApiError {
    ApiError::validation(field, format!("is not one of your {what}"))
}

/// Map a lost race on a link (the linked row was deleted meanwhile) to the same 422.
fn on_link_violations<T>(r: Result<T, sqlx::Error>) -> ApiResult<T> {
    r.on_constraint("tasks_parent_fk", || not_your("parent_id", "tasks"))
        .on_constraint("tasks_goal_fk", || not_your("goal_id", "goals"))
        .on_constraint("tasks_note_fk", || not_your("note_id", "notes"))
}

/// Links must point at the user's own rows.
async fn check_links(
    conn: &mut PgConnection,
    user_id: Uuid,
    parent_id: Option<Uuid>,
    goal_id: Option<Uuid>,
    note_id: Option<Uuid>,
) -> ApiResult<()> {
    if let Some(id) = parent_id
        && !repo::exists(&mut *conn, user_id, id).await?
    {
        return Err(not_your("parent_id", "tasks"));
    }
    if let Some(id) = goal_id
        && !crate::records::goal_exists(&mut *conn, user_id, id).await?
    {
        return Err(not_your("goal_id", "goals"));
    }
    if let Some(id) = note_id
        && !crate::records::note_exists(&mut *conn, user_id, id).await?
    {
        return Err(not_your("note_id", "notes"));
    }
    Ok(())
}

fn to_tasks(rows: Vec<TaskRow>) -> ApiResult<Vec<Task>> {
    rows.into_iter().map(Task::try_from).collect()
}

/// Create a task. REST passes [`TaskOrigin::manual`]; chat, voice, planning and agents say
/// where the task came from.
///
/// Publishes `task.created` to the user's realtime stream when the change commits.
pub async fn create_task<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    input: CreateTask,
    origin: TaskOrigin,
) -> ApiResult<Task> {
    let mut tx = db.begin().await?;
    let out = create_task_inner(&mut tx, user_id, input, origin).await?;
    super::reminders::sync(&mut tx, user_id, None, Some(&out)).await?;
    crate::events::publish(&mut *tx, user_id, "task.created", &out).await?;
    tx.commit().await?;
    Ok(out)
}

async fn create_task_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    input: CreateTask,
    origin: TaskOrigin,
) -> ApiResult<Task> {
    input.validate().map_err(ApiError::Validation)?;
    if origin
        .reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_SOURCE_REFERENCE_CHARS)
    {
        return Err(ApiError::validation(
            "source_reference",
            format!("must be at most {MAX_SOURCE_REFERENCE_CHARS} characters"),
        ));
    }
    let conn = db;
    check_links(conn, user_id, input.parent_id, input.goal_id, input.note_id).await?;
    let metadata = input.metadata.unwrap_or_else(|| json!({}));
    let row = repo::insert(
        &mut *conn,
        repo::NewTask {
            id: Uuid::now_v7(),
            user_id,
            title: input.title.trim(),
            description: input.description.as_deref(),
            status: input.status.unwrap_or(TaskStatus::Todo).as_str(),
            priority: input.priority.unwrap_or(Priority::Medium).as_str(),
            due_date: input.due_date,
            due_time: input.due_time,
            parent_id: input.parent_id,
            goal_id: input.goal_id,
            note_id: input.note_id,
            source: origin.source.as_str(),
            source_reference: origin.reference.as_deref(),
            metadata: &metadata,
            remind_at: input.remind_at,
            estimate_minutes: input.estimate_minutes,
        },
    )
    .await;
    on_link_violations(row)?.try_into()
}

pub async fn get_task<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
) -> ApiResult<Task> {
    let mut conn = db.acquire().await?;
    repo::find(&mut *conn, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?
        .try_into()
}

/// Apply a merge patch. `expected` is the version the caller read (`If-Match`); a
/// different current version answers 412 and writes nothing.
///
/// Publishes `task.updated` to the user's realtime stream when the change commits.
pub async fn update_task<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
    input: UpdateTask,
    expected: Option<i32>,
) -> ApiResult<Task> {
    let mut tx = db.begin().await?;
    let (before, out) = update_task_inner(&mut tx, user_id, id, input, expected).await?;
    super::reminders::sync(&mut tx, user_id, Some(&before), Some(&out)).await?;
    crate::events::publish(&mut *tx, user_id, "task.updated", &out).await?;
    tx.commit().await?;
    Ok(out)
}

async fn update_task_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    input: UpdateTask,
    expected: Option<i32>,
) -> ApiResult<(Task, Task)> {
    input.validate().map_err(ApiError::Validation)?;
    let mut tx = db.begin().await?;
    if !input.parent_id.is_missing() {
        lock_hierarchy(&mut *tx, "tasks", user_id).await?;
    }
    let current: Task = repo::find_for_update(&mut *tx, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?
        .try_into()?;
    let before = current.clone();
    let parent_id = input.parent_id.apply(current.parent_id);
    let goal_id = input.goal_id.apply(current.goal_id);
    let note_id = input.note_id.apply(current.note_id);
    // Only links that change need checking; unchanged ones are already the user's.
    let changed = |new: Option<Uuid>, old: Option<Uuid>| new.filter(|_| new != old);
    check_links(
        &mut tx,
        user_id,
        changed(parent_id, current.parent_id),
        changed(goal_id, current.goal_id),
        changed(note_id, current.note_id),
    )
    .await?;
    if let Some(parent) = changed(parent_id, current.parent_id)
        && repo::is_self_or_ancestor(&mut *tx, user_id, parent, id).await?
    {
        return Err(ApiError::validation(
            "parent_id",
            "must not be the task itself or one of its subtasks",
        ));
    }
    let due_date = input.due_date.apply(current.due_date);
    let due_time = input.due_time.apply(current.due_time);
    if due_time.is_some() && due_date.is_none() {
        return Err(ApiError::validation("due_time", "requires a due_date"));
    }
    let title = input
        .title
        .apply(Some(current.title))
        .unwrap_or_default()
        .trim()
        .to_string();
    let description = input.description.apply(current.description);
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
    let row = repo::update(
        &mut *tx,
        user_id,
        id,
        expected.unwrap_or(current.version),
        repo::TaskChanges {
            title: &title,
            description: description.as_deref(),
            status: status.as_str(),
            priority: priority.as_str(),
            due_date,
            due_time,
            parent_id,
            goal_id,
            note_id,
            metadata: &metadata,
            remind_at: input.remind_at.apply(current.remind_at),
            estimate_minutes: input.estimate_minutes.apply(current.estimate_minutes),
        },
    )
    .await;
    // The row is locked, so only a different version can make the update miss.
    let task = on_link_violations(row)?
        .ok_or(ApiError::PreconditionFailed)?
        .try_into()?;
    tx.commit().await?;
    Ok((before, task))
}

/// Move a task to `status` (`done` stamps `completed_at`, leaving `done` clears it).
///
/// Publishes `task.updated` to the user's realtime stream when the change commits.
pub async fn set_task_status<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
    status: TaskStatus,
    expected: Option<i32>,
) -> ApiResult<Task> {
    let mut tx = db.begin().await?;
    let out = set_task_status_inner(&mut tx, user_id, id, status, expected).await?;
    // The status alone changed: same arming, cancelled when closed, queued again if reopened.
    super::reminders::sync(&mut tx, user_id, Some(&out), Some(&out)).await?;
    crate::events::publish(&mut *tx, user_id, "task.updated", &out).await?;
    tx.commit().await?;
    Ok(out)
}

async fn set_task_status_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    status: TaskStatus,
    expected: Option<i32>,
) -> ApiResult<Task> {
    let conn = db;
    match repo::set_status(&mut *conn, user_id, id, expected, status.as_str()).await? {
        Some(row) => row.try_into(),
        None if expected.is_some() && repo::exists(&mut *conn, user_id, id).await? => {
            Err(ApiError::PreconditionFailed)
        }
        None => Err(ApiError::NotFound),
    }
}

/// Mark a task done (for the agents' tools).
pub async fn complete_task<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
) -> ApiResult<Task> {
    set_task_status(db, user_id, id, TaskStatus::Done, None).await
}

/// Delete a task and its subtasks.
///
/// Publishes `task.deleted` to the user's realtime stream when the change commits.
pub async fn delete_task<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
    expected: Option<i32>,
) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    let before: Option<Task> = repo::find(&mut *tx, user_id, id)
        .await?
        .map(Task::try_from)
        .transpose()?;
    delete_task_inner(&mut tx, user_id, id, expected).await?;
    super::reminders::sync(&mut tx, user_id, before.as_ref(), None).await?;
    crate::events::publish(
        &mut *tx,
        user_id,
        "task.deleted",
        &serde_json::json!({"id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn delete_task_inner(
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

/// Newest first; soonest due first with `sort: DueDate`; best match first when `q` is given
/// without a `sort`.
pub async fn list_tasks<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    filter: TaskFilter,
    page: KeysetPagination,
) -> ApiResult<Page<Task>> {
    if filter
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS)
    {
        return Err(ApiError::validation(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let mut conn = db.acquire().await?;
    match (filter.sort, filter.q.clone()) {
        (Some(TaskSort::DueDate), _) => {
            let rows =
                repo::list_by_due(&mut *conn, user_id, &filter, page.due()?, page.fetch()).await?;
            Ok(page.page(to_tasks(rows)?, |t| SortCursor::Due {
                due_date: t.due_date,
                due_time: t.due_time,
                created_at: t.created_at,
                id: t.id,
            }))
        }
        (None, Some(q)) => {
            let hits =
                repo::search(&mut *conn, user_id, &filter, &q, page.rank()?, page.fetch()).await?;
            let ids: Vec<Uuid> = hits.iter().map(|h| h.id).collect();
            let tasks = to_tasks(repo::find_many(&mut *conn, user_id, &ids).await?)?;
            Ok(ranked_page(&page, hits, tasks, |t| t.id))
        }
        _ => {
            let cursor = page.created()?.map(|c| (c.created_at, c.id));
            let rows = repo::list(&mut *conn, user_id, &filter, cursor, page.fetch()).await?;
            Ok(page.page(to_tasks(rows)?, |t| {
                SortCursor::Created(Cursor {
                    created_at: t.created_at,
                    id: t.id,
                })
            }))
        }
    }
}
