use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use uuid::Uuid;

use super::{
    model::{ChangePassword, Login, Logout, Refresh, Register, SessionList, TokenPair, WsTicket},
    service::{self, ClientInfo},
};
use crate::{
    auth::AuthUser,
    error::{ApiResult, Problem},
    http::{ValidJson, client_ip::ClientIp},
    state::AppState,
};

fn client(ip: ClientIp, headers: &HeaderMap) -> ClientInfo {
    ClientInfo {
        ip: ip.0.to_string(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(String::from),
    }
}

/// Create an account and sign in. An email already registered answers 409.
#[utoipa::path(post, path = "/register", tag = "auth", request_body = Register,
    responses((status = 201, body = TokenPair), (status = 409, body = Problem),
              (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn register(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ValidJson(input): ValidJson<Register>,
) -> ApiResult<impl IntoResponse> {
    let pair = service::register(&state, input, &client(ip, &headers)).await?;
    let location = [(header::LOCATION, "/api/v1/users/me".to_string())];
    Ok((StatusCode::CREATED, location, Json(pair)))
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/login", tag = "auth", request_body = Login,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ValidJson(input): ValidJson<Login>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(
        service::login(&state, input, &client(ip, &headers)).await?,
    ))
}

/// Exchange a refresh token for a new token pair (the old refresh token is spent).
#[utoipa::path(post, path = "/refresh", tag = "auth", request_body = Refresh,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ValidJson(input): ValidJson<Refresh>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(
        service::refresh(&state, &input.refresh_token, &client(ip, &headers)).await?,
    ))
}

/// End this session (`local`, the default), every other session (`others`) or all (`global`).
#[utoipa::path(post, path = "/logout", tag = "auth", request_body(content = Option<Logout>),
    security(("bearer" = [])), responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    auth: AuthUser,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    // The body is optional: an empty one means the default scope.
    let scope = if body.iter().all(u8::is_ascii_whitespace) {
        Default::default()
    } else {
        crate::http::json::parse_json::<Logout>(&body)?.scope
    };
    service::logout(&state, auth, scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's active sessions.
#[utoipa::path(get, path = "/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = Problem)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<SessionList>> {
    Ok(Json(SessionList {
        data: service::list_sessions(&state, auth).await?,
    }))
}

/// Revoke one of the caller's sessions.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    service::revoke_session(&state, auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password; other sessions are revoked.
#[utoipa::path(post, path = "/password", tag = "auth", request_body = ChangePassword,
    security(("bearer" = [])), responses((status = 204), (status = 422, body = Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<ChangePassword>,
) -> ApiResult<StatusCode> {
    service::change_password(&state, auth, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A single-use ticket (60 s) for opening a WebSocket from a browser: `?ticket=…`.
#[utoipa::path(post, path = "/ws-ticket", tag = "auth", security(("bearer" = [])),
    responses((status = 201, body = WsTicket), (status = 401, body = Problem)))]
pub async fn create_ws_ticket(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(service::create_ws_ticket(&state, auth).await?),
    ))
}
