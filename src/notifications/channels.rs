//! The delivery channels of an escalation step. Each one records every attempt in
//! `notification_deliveries` (once per step and target, so a step that runs again after a
//! crash does not deliver twice to a target it already reached) and never fails the step for
//! a channel's own failure: that is a `failed` delivery, and the next step still runs. Only
//! database errors are returned (the job retries).

use serde_json::json;

use super::{
    model::Notification,
    repo,
    service::StepAt,
    webpush::{self, PushOutcome},
};
use crate::{jobs::JobError, state::AppState};

/// Record one attempt of `step` at `target` (`""` for single-target channels). Whether it
/// was new.
pub async fn record(
    state: &AppState,
    n: &Notification,
    step: &StepAt<'_>,
    target: &str,
    status: &str,
    detail: Option<&str>,
) -> Result<bool, JobError> {
    Ok(repo::record_delivery(
        &state.db,
        n.id,
        step.index,
        step.step.channel.as_str(),
        target,
        status,
        detail,
    )
    .await?)
}

/// A push record carries about 4 KB: bodies are cut to this many bytes (the whole text is in
/// the app).
const MAX_PUSH_BODY_BYTES: usize = 1500;

fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// In-app: the notification is in the list and the bell; `notification.created` went out
/// when it was raised, and the step's `notification.updated` carries this delivery.
pub async fn in_app(state: &AppState, n: &Notification, step: &StepAt<'_>) -> Result<(), JobError> {
    record(state, n, step, "", "delivered", None).await?;
    Ok(())
}

/// Web Push to every subscription of the user (RFC 8030 + RFC 8291 + RFC 8292). A push
/// service answering 404/410 means the subscription is gone: it is deleted.
pub async fn web_push(
    state: &AppState,
    n: &Notification,
    step: &StepAt<'_>,
) -> Result<(), JobError> {
    let subs = repo::subscriptions(&state.db, n.user_id).await?;
    if subs.is_empty() {
        record(state, n, step, "", "skipped", Some("no push subscriptions")).await?;
        return Ok(());
    }
    let payload = json!({
        "id": n.id, "kind": n.kind, "title": n.title, "body": clip(&n.body, MAX_PUSH_BODY_BYTES),
        "priority": n.priority, "source_type": n.source_type, "source_id": n.source_id,
    })
    .to_string();
    for sub in subs {
        let target = sub.id.to_string();
        if repo::delivery_exists(&state.db, n.id, step.index, &target).await? {
            continue;
        }
        let (status, detail) =
            match webpush::send(state, &sub, payload.as_bytes(), n.priority).await {
                PushOutcome::Sent => ("sent", None),
                PushOutcome::Gone(code) => {
                    repo::delete_subscription(&state.db, n.user_id, sub.id).await?;
                    (
                        "failed",
                        Some(format!(
                            "push service answered {code}: subscription removed"
                        )),
                    )
                }
                PushOutcome::Failed(why) => ("failed", Some(why)),
            };
        record(state, n, step, &target, status, detail.as_deref()).await?;
    }
    Ok(())
}

/// The WhatsApp, SMS and call channels. They live above this module (`messaging`, on top of
/// `telephony`), so the job registry hands them in: `notification.step` runs with
/// [`service::run_step_with`]. An implementation sends only to the user's verified number and
/// records the outcome like every channel (once per step, a failure is a `failed` delivery).
///
/// [`service::run_step_with`]: super::service::run_step_with
#[async_trait::async_trait]
pub trait PhoneChannels: Send + Sync {
    async fn deliver(
        &self,
        state: &AppState,
        notification: &Notification,
        step: &StepAt<'_>,
    ) -> Result<(), JobError>;
}

/// No phone channels wired in (plain [`super::service::run_step`]): such a step is recorded
/// `skipped` and the escalation goes on.
pub struct NoPhoneChannels;

#[async_trait::async_trait]
impl PhoneChannels for NoPhoneChannels {
    async fn deliver(
        &self,
        state: &AppState,
        notification: &Notification,
        step: &StepAt<'_>,
    ) -> Result<(), JobError> {
        record(
            state,
            notification,
            step,
            "",
            "skipped",
            Some("channel not available"),
        )
        .await?;
        Ok(())
    }
}
