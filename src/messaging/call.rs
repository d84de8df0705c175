//! The `call` step of an escalation: an outbound phone call through the same machinery as
//! `POST /api/v1/calls` (a call record, a wallet hold, Twilio dialing the verified number),
//! marked as the notification's call. When the media stream claims the session
//! ([`brief`]), the agent is told what the call is about: it opens by reading the
//! notification, and gets the `notifications` tool group, so "done", "ok", "snooze 10" —
//! said or pressed on the keypad (1 done, 2 ok, 3 snooze; the stream turns a key into the
//! user turn `(keypad) 1`) — complete, acknowledge or snooze it.

use uuid::Uuid;

use crate::{
    agents::Agent,
    error::ApiResult,
    state::AppState,
    telephony::outbound::{self, CreateCall},
};

/// The tool group a notification's call gets.
pub const TOOL_GROUP: &str = "notifications";

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

/// The words the call opens with.
pub fn opening(title: &str, body: &str) -> String {
    let body = body.trim();
    let about = if body.is_empty() {
        format!("'{title}'.")
    } else {
        format!("'{title}'. {body}")
    };
    format!(
        "Hi, it's your assistant with a reminder: {about} Say done, okay, or snooze ten minutes. Or press 1 if it's done."
    )
}

/// Turn the call's agent into the notification's messenger (the stream claimed a session
/// that [`place`] marked).
pub async fn brief(state: &AppState, agent: &mut Agent, notification_id: Uuid) -> ApiResult<()> {
    let Some(n) = sqlx::query!(
        "select title, body, priority from notifications where id = $1",
        notification_id
    )
    .fetch_optional(&state.db)
    .await?
    else {
        return Ok(());
    };
    agent.welcome_message = Some(opening(&n.title, &n.body));
    agent.system_prompt.push_str(&format!(
        "\n\nThis is a phone call you placed to tell the user about a notification \
         ({} priority): '{}'. {}\nWhen they answer it — says it is done or presses 1 (you \
         read that as \"(keypad) 1\"), says okay or presses 2, or asks to snooze (3) — call \
         answer_notification once with reply done, ok or snooze (and minutes), then say \
         goodbye briefly.",
        n.priority, n.title, n.body
    ));
    if !agent.tools.iter().any(|t| t == TOOL_GROUP) {
        agent.tools.push(TOOL_GROUP.to_string());
    }
    Ok(())
}
