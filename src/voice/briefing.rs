//! A notification's phone call (the escalation's `call` step, placed by `messaging::call`):
//! when the stream claims a session marked with a notification, the agent is told what the
//! call is about. It opens by reading the notification and gets the `notifications` tool
//! group, so "done", "ok", "snooze 10" — said, or pressed on the keypad (1 done, 2 ok,
//! 3 snooze; the stream turns a key into the caller's turn `(keypad) 1`) — complete,
//! acknowledge or snooze it.

use uuid::Uuid;

use crate::{agents::Agent, error::ApiResult, state::AppState};

/// The tool group a notification's call gets.
pub const TOOL_GROUP: &str = "notifications";

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
/// marked with `notification_id`).
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
