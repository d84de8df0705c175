use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use uuid::Uuid;

use super::{
    model::{AvatarSession, AvatarSessionCreated, CreateAvatarSession, Quota},
    repo, service,
};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Problem},
    http::{Page, Pagination, ValidJson, pagination::PageParams},
    state::AppState,
};

/// This month's avatar minutes: allowed, used, held by running sessions, and when they reset.
#[utoipa::path(get, path = "/quota", tag = "avatar", security(("bearer" = [])),
    responses((status = 200, body = Quota)))]
pub async fn get_quota(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Quota>> {
    Ok(Json(service::quota(&state, user.user_id).await?))
}

/// Start a voice session with a streaming avatar (LiveAvatar LITE): the avatar speaks the
/// agent's voice. Join `avatar.livekit_url` with `avatar.livekit_token` to watch it; connect
/// the microphone to `voice.ws_url` as for `POST /voice/sessions`.
#[utoipa::path(post, path = "/sessions", tag = "avatar", security(("bearer" = [])),
    request_body = CreateAvatarSession,
    responses((status = 201, body = AvatarSessionCreated),
              (status = 402, body = Problem, description = "`quota_exceeded` (no avatar minute left) or `insufficient_credits`"),
              (status = 422, body = Problem), (status = 502, body = Problem),
              (status = 503, body = Problem)))]
pub async fn create_session(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(input): ValidJson<CreateAvatarSession>,
) -> ApiResult<(StatusCode, Json<AvatarSessionCreated>)> {
    let created = service::start(&state, user, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The caller's avatar sessions, newest first.
#[utoipa::path(get, path = "/sessions", tag = "avatar", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<AvatarSession>), (status = 422, body = Problem)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    user: AuthUser,
    page: Pagination,
) -> ApiResult<Json<Page<AvatarSession>>> {
    let rows = repo::list(&state.db, user.user_id, &page).await?;
    let rows: Vec<AvatarSession> = rows.into_iter().map(AvatarSession::from).collect();
    Ok(Json(Page::from_rows(rows, &page, |s| (s.created_at, s.id))))
}

#[utoipa::path(get, path = "/sessions/{id}", tag = "avatar", security(("bearer" = [])),
    responses((status = 200, body = AvatarSession), (status = 404, body = Problem)))]
pub async fn get_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AvatarSession>> {
    repo::find(&state.db, id, user.user_id)
        .await?
        .map(|r| Json(r.into()))
        .ok_or(ApiError::NotFound)
}

/// End the avatar and its voice session; the minutes used are charged once.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "avatar", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    service::end(&state, id, user.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
