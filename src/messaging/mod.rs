//! SMS and WhatsApp through Twilio's Messages API, and what a phone number may be used for:
//! - `twilio`: the Messages client (and the channel addresses `+…` / `whatsapp:+…`);
//! - `phone`: the user's verified number (`/api/v1/users/me/phone`, codes, rate limits); the
//!   only number anything messages or calls;
//! - `replies`: what a reply means ("done", "ok", "snooze 10", keypad 1) and acting on it;
//! - `inbound`: Twilio's messaging webhook (`POST /api/v1/telephony/twilio/messages`);
//! - `escalation`: the `whatsapp`, `sms` and `call` steps of a notification's escalation;
//! - `call`: the call step's outbound call and how its agent is briefed.
//!
//! Small enough that handlers and rules share files; SQL stays next to its one caller.

pub mod call;
pub mod escalation;
pub mod inbound;
pub mod phone;
pub mod replies;
pub mod twilio;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// `/api/v1/users/me/phone` (full paths: merged beside the users router).
pub fn phone_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            phone::start_phone_verification,
            phone::get_phone,
            phone::delete_phone
        ))
        .routes(routes!(phone::verify_phone))
}
