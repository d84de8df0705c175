//! Calls: one record per voice conversation (browser, Bolna-style client, phone), with its
//! usage, cost, per-turn metrics, transcript and optional recording. Voice sessions create
//! and finalize them (`crate::voice`); `POST /` places an outbound phone call
//! (`crate::telephony::outbound`).

pub mod model;
pub mod repo;
pub mod routes;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub use model::{Call, CallMetrics, CallUsage, TranscriptTurn};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            routes::list_calls,
            crate::telephony::outbound::create_call
        ))
        .routes(routes!(routes::get_call))
        .routes(routes!(routes::get_transcript))
        .routes(routes!(routes::get_recording))
}
