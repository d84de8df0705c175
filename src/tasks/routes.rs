use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::Response,
};
use uuid::Uuid;

use super::{
    model::{
        CreateTask, Priority, SetTaskStatus, SnoozeTask, Task, TaskFilter, TaskListParams,
        TaskOrigin, TaskSort, TaskSource, TaskStatus, UpdateTask,
    },
    service,
};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Problem},
    http::{
        IfMatch, KeysetPagination, Page, QueryParams, ValidJson, pagination::PageParams, with_etag,
    },
    records::MAX_QUERY_CHARS,
    state::AppState,
};

/// The task list's filters from the query string (shared by the tasks of a note or goal).
pub fn filter(q: &QueryParams) -> ApiResult<TaskFilter> {
    let sort = match q.text("sort") {
        None => None,
        Some("created_at") => Some(TaskSort::Created),
        Some("due_date") => Some(TaskSort::DueDate),
        Some(_) => {
            return Err(ApiError::validation(
                "sort",
                "must be created_at or due_date",
            ));
        }
    };
    Ok(TaskFilter {
        statuses: q.many("status", &TaskStatus::expected())?,
        priorities: q.many("priority", &Priority::expected())?,
        due_before: q.one("due_before", "a date (YYYY-MM-DD)")?,
        due_after: q.one("due_after", "a date (YYYY-MM-DD)")?,
        parent: q.link("parent_id")?,
        goal: q.link("goal_id")?,
        note: q.link("note_id")?,
        sources: q.many("source", &TaskSource::expected())?,
        q: q.bounded_text("q", MAX_QUERY_CHARS)?,
        sort,
    })
}

/// The user's tasks: newest first, soonest due first with `sort=due_date`, best match first
/// with `q`.
#[utoipa::path(get, path = "/", tag = "tasks", security(("bearer" = [])),
    params(TaskListParams, PageParams),
    responses((status = 200, body = Page<Task>), (status = 422, body = Problem)))]
pub async fn list_tasks(
    State(state): State<AppState>,
    auth: AuthUser,
    page: KeysetPagination,
    query: QueryParams,
) -> ApiResult<Json<Page<Task>>> {
    let filter = filter(&query)?;
    Ok(Json(
        service::list_tasks(&state.db, auth.user_id, filter, page).await?,
    ))
}

/// Create a task (`source: manual`). `parent_id`, `goal_id` and `note_id` must be the
/// user's own task, goal and note.
#[utoipa::path(post, path = "/", tag = "tasks", security(("bearer" = [])), request_body = CreateTask,
    responses((status = 201, body = Task, headers(("Location" = String), ("ETag" = String))),
              (status = 422, body = Problem)))]
pub async fn create_task(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<CreateTask>,
) -> ApiResult<Response> {
    let task = service::create_task(&state.db, auth.user_id, input, TaskOrigin::manual()).await?;
    let location = [(header::LOCATION, format!("/api/v1/tasks/{}", task.id))];
    Ok(with_etag(
        task.version,
        (StatusCode::CREATED, location, Json(task)),
    ))
}

/// One task, with `ETag: "<version>"`.
#[utoipa::path(get, path = "/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Task, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let task = service::get_task(&state.db, auth.user_id, id).await?;
    Ok(with_etag(task.version, Json(task)))
}

/// Update a task (merge semantics). With `If-Match: "<version>"`, a task changed since
/// answers 412 and is left as it is.
#[utoipa::path(patch, path = "/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), request_body = UpdateTask,
    responses((status = 200, body = Task, headers(("ETag" = String))), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
    ValidJson(input): ValidJson<UpdateTask>,
) -> ApiResult<Response> {
    let task = service::update_task(&state.db, auth.user_id, id, input, if_match.0).await?;
    Ok(with_etag(task.version, Json(task)))
}

/// Same as `PATCH /tasks/{id}`, for clients of the older API.
#[utoipa::path(put, path = "/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), request_body = UpdateTask,
    responses((status = 200, body = Task, headers(("ETag" = String))), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn put_task(
    state: State<AppState>,
    auth: AuthUser,
    id: Path<Uuid>,
    if_match: IfMatch,
    input: ValidJson<UpdateTask>,
) -> ApiResult<Response> {
    update_task(state, auth, id, if_match, input).await
}

/// Delete a task and its subtasks.
#[utoipa::path(delete, path = "/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<StatusCode> {
    service::delete_task(&state.db, auth.user_id, id, if_match.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a task's status; `done` stamps `completed_at`, any other status clears it.
#[utoipa::path(put, path = "/{id}/status", tag = "tasks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), request_body = SetTaskStatus,
    responses((status = 200, body = Task, headers(("ETag" = String))), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn set_task_status(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
    ValidJson(input): ValidJson<SetTaskStatus>,
) -> ApiResult<Response> {
    let task =
        service::set_task_status(&state.db, auth.user_id, id, input.status, if_match.0).await?;
    Ok(with_etag(task.version, Json(task)))
}

/// Snooze a task's reminder for `minutes` (1..=1440): it fires again then, and the current
/// reminder notification is acknowledged.
#[utoipa::path(post, path = "/{id}/snooze", tag = "tasks", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SnoozeTask,
    responses((status = 200, body = Task, headers(("ETag" = String))), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn snooze_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    ValidJson(input): ValidJson<SnoozeTask>,
) -> ApiResult<Response> {
    let task = super::reminders::snooze(&state, &state.db, auth.user_id, id, input.minutes).await?;
    Ok(with_etag(task.version, Json(task)))
}
