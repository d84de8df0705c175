//! The `call` step of an escalation: an outbound phone call through the same machinery as
//! `POST /api/v1/calls` (a call record, a wallet hold, Twilio dialing the verified number),
//! marked as the notification's call (`voice_sessions.notification_id`). When the media
//! stream claims the session, `voice::briefing` tells the agent what the call is about.

use uuid::Uuid;

use crate::{
    error::ApiResult,
    state::AppState,
    telephony::outbound::{self, CreateCall},
};

/// Call `to` (the user's verified number) about notification `notification_id` with
/// `agent_id`, or the built-in default assistant. Returns the call's id.
pub async fn place(
    state: &AppState,
    user_id: Uuid,
    notification_id: Uuid,
    agent_id: Option<Uuid>,
    to: &str,
) -> ApiResult<Uuid> {
    // The step's agent, else the user's default assistant.
    let agent_id = agent_id.unwrap_or(crate::chat::service::DEFAULT_AGENT_ID);
    let call = outbound::place_call(
        state,
        user_id,
        &CreateCall {
            agent_id,
            to_number: to.to_string(),
        },
        Some(notification_id),
    )
    .await?;
    Ok(call.id)
}
