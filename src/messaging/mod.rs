//! SMS and WhatsApp through Twilio's Messages API, and what a phone number may be used for:
//! - `twilio`: the Messages client (and the channel addresses `+…` / `whatsapp:+…`);
//! - `phone`: the user's verified number (`/api/v1/users/me/phone`, codes, rate limits); the
//!   only number anything messages or calls;
//! - `inbound`: Twilio's messaging webhook (`POST /api/v1/telephony/twilio/messages`); what
//!   a reply means and does is `tasks::replies`;
//! - `escalation`: the `whatsapp`, `sms` and `call` steps of a notification's escalation
//!   (wired into the `notification.step` job where the job registry is put together);
//! - `call`: the call step's outbound call (the agent's briefing is `voice::briefing`).
//!
//! It sits on top of `telephony`, `voice` and `tasks`, so only the assembly (`app`, the job
//! registry) names it. Small enough that handlers and rules share files; SQL stays next to
//! its one caller.

pub mod call;
pub mod escalation;
pub mod inbound;
pub mod phone;
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

/// `POST /messages`, nested beside Twilio's voice webhooks (`/api/v1/telephony/twilio`).
pub fn inbound_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(inbound::messages_webhook))
}
