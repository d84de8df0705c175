use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    model::{Agent, AgentInput, ProviderCatalog, UpdateAgent},
    service,
};
use crate::{
    auth::AuthUser,
    error::{ApiResult, Problem},
    http::{Page, Pagination, ValidJson, pagination::PageParams},
    state::AppState,
};

/// Every STT, LLM and TTS provider: local or cloud, configured (key present or engine
/// installed), models, voices and unit price in credits.
#[utoipa::path(get, path = "/providers", tag = "agents", security(("bearer" = [])),
    responses((status = 200, body = ProviderCatalog), (status = 401, body = Problem)))]
pub async fn list_providers(
    State(state): State<AppState>,
    _auth: AuthUser,
) -> Json<ProviderCatalog> {
    Json(ProviderCatalog {
        data: state.providers.catalog().to_vec(),
    })
}

/// Built-in agents (shared, read-only) and the user's own, newest first.
#[utoipa::path(get, path = "/", tag = "agents", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<Agent>), (status = 401, body = Problem)))]
pub async fn list_agents(
    State(state): State<AppState>,
    auth: AuthUser,
    page: Pagination,
) -> ApiResult<Json<Page<Agent>>> {
    Ok(Json(service::list(&state.db, auth.user_id, &page).await?))
}

/// Create an agent. Providers, models and voices must be in the catalog (422 names the field).
#[utoipa::path(post, path = "/", tag = "agents", security(("bearer" = [])), request_body = AgentInput,
    responses((status = 201, body = Agent, headers(("location" = String))), (status = 422, body = Problem)))]
pub async fn create_agent(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<AgentInput>,
) -> ApiResult<impl IntoResponse> {
    let agent = service::create(&state.db, &state.providers, auth.user_id, input).await?;
    let location = format!("/api/v1/agents/{}", agent.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(agent),
    ))
}

/// One agent: a built-in or your own.
#[utoipa::path(get, path = "/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Agent), (status = 404, body = Problem)))]
pub async fn get_agent(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Agent>> {
    Ok(Json(service::find(&state.db, id, auth.user_id).await?))
}

/// Update your agent (JSON merge patch; nested `llm`/`stt`/`tts` objects merge). Built-ins answer 403.
#[utoipa::path(patch, path = "/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateAgent,
    responses((status = 200, body = Agent), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn update_agent(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    ValidJson(patch): ValidJson<Value>,
) -> ApiResult<Json<Agent>> {
    Ok(Json(
        service::update(&state.db, &state.providers, id, auth.user_id, patch).await?,
    ))
}

/// Same as `PATCH /{id}`, for clients of the older API.
#[utoipa::path(put, path = "/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateAgent,
    responses((status = 200, body = Agent), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn put_agent(
    state: State<AppState>,
    auth: AuthUser,
    id: Path<Uuid>,
    patch: ValidJson<Value>,
) -> ApiResult<Json<Agent>> {
    update_agent(state, auth, id, patch).await
}

/// Delete your agent. Built-ins answer 403.
#[utoipa::path(delete, path = "/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_agent(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    service::delete(&state.db, id, auth.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
