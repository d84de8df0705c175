//! Telephony: phone numbers routed to agents, and Twilio (voice webhook answering TwiML,
//! status callbacks, the Media Streams WebSocket), all webhooks verified with
//! `X-Twilio-Signature`; outbound calls placed through Twilio's REST API (`rest`, `outbound`).
//! Telephony is on top of the voice pipeline and the call records: it uses `voice` and
//! `calls`, and neither of them names it.

pub mod numbers;
pub mod outbound;
pub mod rest;
pub mod signature;
pub mod stream;
pub mod twilio;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// `/api/v1/phone-numbers`.
pub fn numbers_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(numbers::list_numbers, numbers::create_number))
        .routes(routes!(numbers::delete_number))
}

/// Telephony's routes under `/api/v1/calls` (merged with [`crate::calls::router`]):
/// `POST /` places an outbound phone call.
pub fn calls_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(outbound::create_call))
}

/// `/api/v1/telephony/twilio`.
pub fn twilio_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(twilio::voice_webhook))
        .routes(routes!(twilio::status_callback))
        .routes(routes!(stream::media_stream))
}
