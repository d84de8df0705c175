use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::Response,
};
use uuid::Uuid;

use super::{
    model::{CreateGoal, Goal, GoalFilter, GoalListParams, GoalStatus, Timeframe, UpdateGoal},
    service,
};
use crate::{
    auth::AuthUser,
    error::{ApiResult, Problem},
    http::{
        IfMatch, KeysetPagination, LinkFilter, Page, Pagination, QueryParams, ValidJson,
        pagination::PageParams, with_etag,
    },
    state::AppState,
    tasks::{
        self,
        model::{Task, TaskListParams},
    },
};

fn filter(q: &QueryParams) -> ApiResult<GoalFilter> {
    Ok(GoalFilter {
        timeframes: q.many("timeframe", &Timeframe::expected())?,
        statuses: q.many("status", &GoalStatus::expected())?,
        parent: q.link("parent_goal_id")?,
    })
}

/// The user's goals, newest first.
#[utoipa::path(get, path = "/", tag = "goals", security(("bearer" = [])),
    params(GoalListParams, PageParams),
    responses((status = 200, body = Page<Goal>), (status = 422, body = Problem)))]
pub async fn list_goals(
    State(state): State<AppState>,
    auth: AuthUser,
    page: Pagination,
    query: QueryParams,
) -> ApiResult<Json<Page<Goal>>> {
    let filter = filter(&query)?;
    Ok(Json(
        service::list_goals(&state.db, auth.user_id, filter, page).await?,
    ))
}

/// Create a goal. `parent_goal_id` must be one of the user's goals.
#[utoipa::path(post, path = "/", tag = "goals", security(("bearer" = [])), request_body = CreateGoal,
    responses((status = 201, body = Goal, headers(("Location" = String), ("ETag" = String))),
              (status = 422, body = Problem)))]
pub async fn create_goal(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<CreateGoal>,
) -> ApiResult<Response> {
    let goal = service::create_goal(&state.db, auth.user_id, input).await?;
    let location = [(header::LOCATION, format!("/api/v1/goals/{}", goal.id))];
    Ok(with_etag(
        goal.version,
        (StatusCode::CREATED, location, Json(goal)),
    ))
}

/// One goal, with `ETag: "<version>"`.
#[utoipa::path(get, path = "/{id}", tag = "goals", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Goal, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get_goal(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let goal = service::get_goal(&state.db, auth.user_id, id).await?;
    Ok(with_etag(goal.version, Json(goal)))
}

/// Update a goal (merge semantics). With `If-Match: "<version>"`, a goal changed since
/// answers 412 and is left as it is.
#[utoipa::path(patch, path = "/{id}", tag = "goals", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), request_body = UpdateGoal,
    responses((status = 200, body = Goal, headers(("ETag" = String))), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update_goal(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
    ValidJson(input): ValidJson<UpdateGoal>,
) -> ApiResult<Response> {
    let goal = service::update_goal(&state.db, auth.user_id, id, input, if_match.0).await?;
    Ok(with_etag(goal.version, Json(goal)))
}

/// Same as `PATCH /goals/{id}`, for clients of the older API.
#[utoipa::path(put, path = "/{id}", tag = "goals", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), request_body = UpdateGoal,
    responses((status = 200, body = Goal, headers(("ETag" = String))), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn put_goal(
    state: State<AppState>,
    auth: AuthUser,
    id: Path<Uuid>,
    if_match: IfMatch,
    input: ValidJson<UpdateGoal>,
) -> ApiResult<Response> {
    update_goal(state, auth, id, if_match, input).await
}

/// Delete a goal. Its sub-goals become top-level goals; its tasks and reflections stay,
/// without the link.
#[utoipa::path(delete, path = "/{id}", tag = "goals", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_goal(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<StatusCode> {
    service::delete_goal(&state.db, auth.user_id, id, if_match.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tasks linked to the goal (the task list's filters and orderings apply).
#[utoipa::path(get, path = "/{id}/tasks", tag = "goals", security(("bearer" = [])),
    params(("id" = Uuid, Path), TaskListParams, PageParams),
    responses((status = 200, body = Page<Task>), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn list_goal_tasks(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    page: KeysetPagination,
    query: QueryParams,
) -> ApiResult<Json<Page<Task>>> {
    let mut filter = tasks::routes::filter(&query)?;
    service::get_goal(&state.db, auth.user_id, id).await?;
    filter.goal = LinkFilter::Is(id);
    Ok(Json(
        tasks::service::list_tasks(&state.db, auth.user_id, filter, page).await?,
    ))
}
