//! Liveness and readiness. A tiny domain: routes only, no service or repository.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{Problem, problem_response_ext},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
    service: &'static str,
    version: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    status: &'static str,
    checks: ReadinessChecks,
}

#[derive(Serialize, ToSchema)]
pub struct ReadinessChecks {
    database: &'static str,
}

/// Liveness: answers without touching anything.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        service: "cadence",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness: 200 when the database answers, else 503 naming what is down.
#[utoipa::path(get, path = "/health/ready", tag = "ops",
    responses((status = 200, body = Readiness), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn ready(State(state): State<AppState>) -> Response {
    if crate::db::ping(&state.db).await {
        (
            StatusCode::OK,
            Json(Readiness {
                status: "ok",
                checks: ReadinessChecks { database: "up" },
            }),
        )
            .into_response()
    } else {
        let mut ext = serde_json::Map::new();
        ext.insert("checks".into(), serde_json::json!({ "database": "down" }));
        problem_response_ext(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is not answering".into(),
            Vec::new(),
            ext,
        )
    }
}
