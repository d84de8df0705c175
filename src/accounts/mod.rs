//! Accounts: registration, login, sessions with rotating refresh tokens, logout, password
//! change and WebSocket tickets (`/api/v1/auth/*`). Authenticating a request (JWT, session
//! liveness, the `AuthUser` extractor) is the lower `auth` module.

pub mod model;
pub mod repo;
pub mod routes;
pub mod service;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::register))
        .routes(routes!(routes::login))
        .routes(routes!(routes::refresh))
        .routes(routes!(routes::logout))
        .routes(routes!(routes::list_sessions))
        .routes(routes!(routes::revoke_session))
        .routes(routes!(routes::change_password))
        .routes(routes!(routes::create_ws_ticket))
}
