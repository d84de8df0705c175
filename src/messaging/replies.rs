//! What a person's answer to a notification means, whichever way it came: a WhatsApp/SMS
//! reply ("done", "ok", "snooze 10"), or on the notification's phone call a spoken reply or
//! the keypad (`(keypad) 1` = done). Acting on it touches the newest open notification of
//! the user.

use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
};

/// Default snooze when the reply names no minutes.
pub const DEFAULT_SNOOZE_MINUTES: i64 = 10;

/// An answer to a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Complete the notification's task (when it has one) and acknowledge it.
    Done,
    /// Acknowledge only.
    Ack,
    /// Snooze the notification's task this many minutes (1..=1440) and acknowledge.
    Snooze { minutes: i64 },
}

/// Read a short reply. Case, surrounding punctuation and a trailing "min"/"minutes" do
/// not matter; anything else is `None` (not an answer we act on).
pub fn parse(text: &str) -> Option<Reply> {
    let lower = text.trim().to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '(' && c != ')'))
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        ["done"] | ["(keypad)", "1"] | ["keypad", "1"] => Some(Reply::Done),
        ["ok"] | ["okay"] | ["ack"] | ["(keypad)", "2"] | ["keypad", "2"] => Some(Reply::Ack),
        ["snooze"] | ["(keypad)", "3"] | ["keypad", "3"] => Some(Reply::Snooze {
            minutes: DEFAULT_SNOOZE_MINUTES,
        }),
        ["snooze", n] | ["snooze", n, "min" | "mins" | "minute" | "minutes"] => {
            let minutes: i64 = n.parse().ok()?;
            (1..=1440)
                .contains(&minutes)
                .then_some(Reply::Snooze { minutes })
        }
        _ => None,
    }
}

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
                match crate::tasks::service::complete_task(&state.db, user_id, t).await {
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
                Some(t) => {
                    crate::notifications::reminders::snooze(state, &state.db, user_id, t, minutes)
                        .await
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_people_send() {
        assert_eq!(parse("done"), Some(Reply::Done));
        assert_eq!(parse("  Done! "), Some(Reply::Done));
        assert_eq!(parse("(keypad) 1"), Some(Reply::Done));
        assert_eq!(parse("OK"), Some(Reply::Ack));
        assert_eq!(parse("ok."), Some(Reply::Ack));
        assert_eq!(parse("snooze 10"), Some(Reply::Snooze { minutes: 10 }));
        assert_eq!(
            parse("Snooze 25 minutes"),
            Some(Reply::Snooze { minutes: 25 })
        );
        assert_eq!(parse("snooze"), Some(Reply::Snooze { minutes: 10 }));
        assert_eq!(parse("snooze 0"), None);
        assert_eq!(parse("snooze 99999"), None);
        assert_eq!(parse("done with it later maybe"), None);
        assert_eq!(parse(""), None);
    }
}
