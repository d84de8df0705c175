//! The phone steps of a notification's escalation (`whatsapp`, `sms`, `call`): the
//! [`channels::PhoneChannels`] the job registry hands to `notification.step`. Only the
//! user's verified number is ever messaged or called: without one the step is `skipped`. A delivery is claimed (recorded) before
//! anything is sent, so a step that runs again after a crash never messages or dials twice;
//! the claim then gets its outcome (`sent` with Twilio's id or the call, or `failed` with
//! why — a failing channel never blocks the next step).

use uuid::Uuid;

use super::{call, phone, twilio};
use crate::{
    jobs::{Job, JobError, JobResult},
    notifications::{
        channels,
        model::{Channel, Notification},
        service::{self, StepAt},
    },
    state::AppState,
};

/// The message a WhatsApp/SMS step sends.
pub fn message_text(n: &Notification) -> String {
    let body = n.body.trim();
    let mut text = format!("Cadence: {}", n.title.trim());
    if !body.is_empty() {
        text.push_str(&format!("\n{body}"));
    }
    text.push_str("\nReply DONE, OK or SNOOZE 10.");
    text
}

/// The phone channels as `notification.step` runs them.
pub struct Phone;

#[async_trait::async_trait]
impl channels::PhoneChannels for Phone {
    async fn deliver(
        &self,
        state: &AppState,
        notification: &Notification,
        step: &StepAt<'_>,
    ) -> Result<(), JobError> {
        deliver(state, notification, step).await
    }
}

/// `notification.step` jobs with these channels (what the server's job registry runs).
pub async fn run_step(state: AppState, job: Job) -> JobResult {
    service::run_step_with(state, job, &Phone).await
}

/// Run a `whatsapp`, `sms` or `call` step for `n`.
pub async fn deliver(
    state: &AppState,
    n: &Notification,
    step: &StepAt<'_>,
) -> Result<(), JobError> {
    let Some(verified) = phone::verified(&state.db, n.user_id).await? else {
        channels::record(
            state,
            n,
            step,
            "",
            "skipped",
            Some("no verified phone number"),
        )
        .await?;
        return Ok(());
    };
    if !channels::record(state, n, step, "", "sent", Some("sending")).await? {
        return Ok(()); // this step already ran
    }
    let (status, detail) = match step.step.channel {
        Channel::Whatsapp | Channel::Sms => {
            let channel = if step.step.channel == Channel::Whatsapp {
                twilio::Channel::Whatsapp
            } else {
                twilio::Channel::Sms
            };
            match twilio::send_message(state, channel, &verified.number, &message_text(n)).await {
                Ok(m) => ("sent", format!("Twilio message {}", m.sid)),
                Err(e) => ("failed", e.to_string()),
            }
        }
        Channel::Call => {
            match call::place(state, n.user_id, n.id, step.step.agent_id, &verified.number).await {
                Ok(call_id) => ("sent", format!("call {call_id}")),
                Err(e) => ("failed", e.to_string()),
            }
        }
        Channel::InApp | Channel::WebPush => ("skipped", "not a phone channel".to_string()),
    };
    if status == "failed" {
        tracing::warn!(notification_id = %n.id, channel = step.step.channel.as_str(), %detail, "a phone step failed");
    }
    settle(state, n.id, step.index, status, &detail).await?;
    Ok(())
}

async fn settle(
    state: &AppState,
    notification_id: Uuid,
    step_index: i32,
    status: &str,
    detail: &str,
) -> Result<(), JobError> {
    sqlx::query!(
        "update notification_deliveries set status = $3, detail = $4, at = now()
         where notification_id = $1 and step_index = $2 and target = ''",
        notification_id,
        step_index,
        status,
        detail
    )
    .execute(&state.db)
    .await?;
    Ok(())
}
