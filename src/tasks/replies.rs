//! Acting on a person's answer to a notification ([`Reply`]: "done", "ok", "snooze N", from a
//! WhatsApp/SMS reply, a spoken reply or the keypad on the notification's call). It lives
//! with the tasks because that is what "done" and "snooze" change; the notification is
//! acknowledged through `notifications`.

use uuid::Uuid;

pub use crate::providers::llm::commands::replies::{DEFAULT_SNOOZE_MINUTES, Reply, parse};
use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
};

/// What acting on a reply did, as said back to the person.
#[derive(Debug, Clone)]
pub struct Answered {
    pub notification_id: Option<Uuid>,
    pub message: String,
}

/// Act on `reply` for the user's newest open notification (or `only` that one, when it is
/// still open): "done" completes its task (when it is about a task) and acknowledges it,
/// "ok" acknowledges it, "snooze N" snoozes its task N minutes (which acknowledges it) or
/// acknowledges a notification that has no task.
pub async fn apply(
    state: &AppState,
    user_id: Uuid,
    only: Option<Uuid>,
    reply: Reply,
) -> ApiResult<Answered> {
    let Some(n) = sqlx::query!(
        "select id, title, source_type, source_id from notifications
         where user_id = $1 and ($2::uuid is null or id = $2)
           and status not in ('acknowledged', 'expired')
         order by created_at desc, id desc limit 1",
        user_id,
        only
    )
    .fetch_optional(&state.db)
    .await?
    else {
        return Ok(Answered {
            notification_id: None,
            message: "There is nothing waiting for an answer.".into(),
        });
    };
    let task_id = match (n.source_type.as_deref(), n.source_id.as_deref()) {
        (Some("task"), Some(id)) => id.parse::<Uuid>().ok(),
        _ => None,
    };
    let title = n.title;
    let message = match reply {
        Reply::Done => {
            if let Some(t) = task_id {
                match super::service::complete_task(&state.db, user_id, t).await {
                    Ok(_) | Err(ApiError::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
            crate::notifications::service::acknowledge(&state.db, user_id, n.id).await?;
            format!("Done: '{title}' is complete.")
        }
        Reply::Ack => {
            crate::notifications::service::acknowledge(&state.db, user_id, n.id).await?;
            format!("Okay, noted: '{title}'.")
        }
        Reply::Snooze { minutes } => {
            let snoozed = match task_id {
                Some(t) => super::reminders::snooze(state, &state.db, user_id, t, minutes).await,
                None => Err(ApiError::NotFound),
            };
            match snoozed {
                // A task that is gone or no longer open has nothing to snooze.
                Ok(_) | Err(ApiError::NotFound | ApiError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
            // Snoozing a task acknowledges its notification; one without a task is
            // acknowledged here.
            crate::notifications::service::acknowledge(&state.db, user_id, n.id).await?;
            format!("Snoozed '{title}' for {minutes} minutes.")
        }
    };
    Ok(Answered {
        notification_id: Some(n.id),
        message,
    })
}
