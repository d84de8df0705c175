use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use uuid::Uuid;

use super::{
    model::{
        CreateMemory, MAX_TAG_CHARS, Memory, MemoryFilter, MemoryListParams, MemoryType,
        UpdateMemory,
    },
    service,
};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Problem},
    http::{KeysetPagination, Page, QueryParams, ValidJson, pagination::PageParams},
    records::MAX_QUERY_CHARS,
    state::AppState,
};

/// The user's current memories, newest first (best match first with `q`); with
/// `include_superseded=true` also those a newer memory replaced.
#[utoipa::path(get, path = "/", tag = "memories", security(("bearer" = [])),
    params(MemoryListParams, PageParams),
    responses((status = 200, body = Page<Memory>), (status = 422, body = Problem)))]
pub async fn list_memories(
    State(state): State<AppState>,
    auth: AuthUser,
    page: KeysetPagination,
    query: QueryParams,
) -> ApiResult<Json<Page<Memory>>> {
    let tags: Vec<String> = query.many("tag", "a tag")?;
    if tags.iter().any(|t| t.chars().count() > MAX_TAG_CHARS) {
        return Err(ApiError::validation(
            "tag",
            format!("must be at most {MAX_TAG_CHARS} characters"),
        ));
    }
    let filter = MemoryFilter {
        types: query.many("memory_type", &MemoryType::expected())?,
        tags,
        q: query.bounded_text("q", MAX_QUERY_CHARS)?,
        include_superseded: query.boolean("include_superseded")?.unwrap_or(false),
    };
    Ok(Json(
        service::list_memories(&state.db, auth.user_id, filter, page).await?,
    ))
}

/// Store a memory.
#[utoipa::path(post, path = "/", tag = "memories", security(("bearer" = [])),
    request_body = CreateMemory,
    responses((status = 201, body = Memory, headers(("Location" = String))),
              (status = 422, body = Problem)))]
pub async fn create_memory(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<CreateMemory>,
) -> ApiResult<impl IntoResponse> {
    let memory = service::remember(&state.db, auth.user_id, input).await?;
    let location = [(header::LOCATION, format!("/api/v1/memories/{}", memory.id))];
    Ok((StatusCode::CREATED, location, Json(memory)))
}

/// One memory.
#[utoipa::path(get, path = "/{id}", tag = "memories", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Memory), (status = 404, body = Problem)))]
pub async fn get_memory(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Memory>> {
    Ok(Json(
        service::get_memory(&state.db, auth.user_id, id).await?,
    ))
}

/// Update a memory (merge semantics).
#[utoipa::path(patch, path = "/{id}", tag = "memories", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateMemory,
    responses((status = 200, body = Memory), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn update_memory(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    ValidJson(input): ValidJson<UpdateMemory>,
) -> ApiResult<Json<Memory>> {
    Ok(Json(
        service::update_memory(&state.db, auth.user_id, id, input).await?,
    ))
}

/// Same as `PATCH /memories/{id}`, for clients of the older API.
#[utoipa::path(put, path = "/{id}", tag = "memories", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateMemory,
    responses((status = 200, body = Memory), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn put_memory(
    state: State<AppState>,
    auth: AuthUser,
    id: Path<Uuid>,
    input: ValidJson<UpdateMemory>,
) -> ApiResult<Json<Memory>> {
    update_memory(state, auth, id, input).await
}

/// Delete a memory.
#[utoipa::path(delete, path = "/{id}", tag = "memories", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_memory(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    service::delete_memory(&state.db, auth.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
