use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::NaiveDate;
use uuid::Uuid;

use super::{
    model::{Block, Plan, PlanDay, UpdateBlock, parse_date},
    service,
};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Problem},
    http::{QueryParams, ValidJson},
    state::AppState,
};

/// `GET /schedule?date=`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ScheduleParams {
    /// The day (`YYYY-MM-DD`).
    pub date: NaiveDate,
}

/// Plan a day: open tasks (due on or before the day first, then by priority, then oldest
/// first) go into free time between `work_start` and `cutoff` in the user's time zone,
/// around busy time and locked blocks, `buffer_minutes` apart, each as long as its
/// `estimate_minutes` (default 30). What does not fit is in `unscheduled` with the reason;
/// a busy-time source that failed is in `warnings`. A task block gets a reminder at its
/// start unless the task has its own.
#[utoipa::path(post, path = "/plan", tag = "schedule", security(("bearer" = [])),
    request_body = PlanDay,
    responses((status = 201, body = Plan, headers(("Location" = String))),
              (status = 422, body = Problem)))]
pub async fn plan_day(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<PlanDay>,
) -> ApiResult<Response> {
    let (plan, _) = service::plan_day(&state, auth.user_id, input).await?;
    let location = [(
        header::LOCATION,
        format!("/api/v1/schedule?date={}", plan.date),
    )];
    Ok((StatusCode::CREATED, location, Json(plan)).into_response())
}

/// The stored plan of a day; `404` when the day was never planned.
#[utoipa::path(get, path = "/", tag = "schedule", security(("bearer" = [])),
    params(ScheduleParams),
    responses((status = 200, body = Plan), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn get_schedule(
    State(state): State<AppState>,
    auth: AuthUser,
    query: QueryParams,
) -> ApiResult<Json<Plan>> {
    let date: NaiveDate = match query.text("date") {
        None => return Err(ApiError::validation("date", "is required (YYYY-MM-DD)")),
        Some(d) => parse_date(d).ok_or_else(|| {
            ApiError::validation("date", "must be a date (YYYY-MM-DD) from 1970 to 9999")
        })?,
    };
    Ok(Json(
        service::get_plan(&state.db, auth.user_id, date).await?,
    ))
}

/// Move (`start` alone keeps the length), resize (`end`) or lock a block; a locked block
/// stays when the day is planned again. A task block's start reminder moves with it.
#[utoipa::path(patch, path = "/blocks/{id}", tag = "schedule", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateBlock,
    responses((status = 200, body = Block), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn update_block(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    ValidJson(input): ValidJson<UpdateBlock>,
) -> ApiResult<Json<Block>> {
    Ok(Json(
        service::update_block(&state.db, auth.user_id, id, input).await?,
    ))
}

/// Remove a block (and its start reminder).
#[utoipa::path(delete, path = "/blocks/{id}", tag = "schedule", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_block(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    service::delete_block(&state.db, auth.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
