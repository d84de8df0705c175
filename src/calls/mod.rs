//! Calls: one record per voice conversation (browser, Bolna-style client, phone), with its
//! usage, cost, per-turn metrics, transcript and optional recording, and the routes that
//! read them. This module sits below the voice pipeline and telephony: they create,
//! finalize and place calls through it, and it names neither (placing an outbound phone
//! call, `POST /api/v1/calls`, is telephony's route, merged into this prefix in `app.rs`).

pub mod model;
pub mod repo;
pub mod routes;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub use model::{Call, CallMetrics, CallUsage, TranscriptTurn};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_calls))
        .routes(routes!(routes::get_call))
        .routes(routes!(routes::get_transcript))
        .routes(routes!(routes::get_recording))
}
