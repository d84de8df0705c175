use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use uuid::Uuid;

use super::{
    model::{CreateReflection, Reflection, ReflectionFilter, ReflectionListParams, ReflectionType},
    service,
};
use crate::{
    auth::AuthUser,
    error::{ApiResult, Problem},
    http::{Page, Pagination, QueryParams, ValidJson, pagination::PageParams},
    state::AppState,
};

/// The user's reflections, newest first.
#[utoipa::path(get, path = "/", tag = "reflections", security(("bearer" = [])),
    params(ReflectionListParams, PageParams),
    responses((status = 200, body = Page<Reflection>), (status = 422, body = Problem)))]
pub async fn list_reflections(
    State(state): State<AppState>,
    auth: AuthUser,
    page: Pagination,
    query: QueryParams,
) -> ApiResult<Json<Page<Reflection>>> {
    let filter = ReflectionFilter {
        types: query.many("reflection_type", &ReflectionType::expected())?,
        goal: query.link("goal_id")?,
    };
    Ok(Json(
        service::list_reflections(&state.db, auth.user_id, filter, page).await?,
    ))
}

/// Write a reflection. `goal_id` must be one of the user's goals.
#[utoipa::path(post, path = "/", tag = "reflections", security(("bearer" = [])),
    request_body = CreateReflection,
    responses((status = 201, body = Reflection, headers(("Location" = String))),
              (status = 422, body = Problem)))]
pub async fn create_reflection(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<CreateReflection>,
) -> ApiResult<impl IntoResponse> {
    let reflection = service::add_reflection(&state.db, auth.user_id, input).await?;
    let location = [(
        header::LOCATION,
        format!("/api/v1/reflections/{}", reflection.id),
    )];
    Ok((StatusCode::CREATED, location, Json(reflection)))
}

/// One reflection.
#[utoipa::path(get, path = "/{id}", tag = "reflections", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Reflection), (status = 404, body = Problem)))]
pub async fn get_reflection(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Reflection>> {
    Ok(Json(
        service::get_reflection(&state.db, auth.user_id, id).await?,
    ))
}

/// Delete a reflection.
#[utoipa::path(delete, path = "/{id}", tag = "reflections", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_reflection(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    service::delete_reflection(&state.db, auth.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
