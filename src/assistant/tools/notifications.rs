//! The `notifications` group: answer a notification the way a reply on WhatsApp or the
//! keypad does ("done", "ok", "snooze 10"). On a notification's phone call it acts on that
//! call's notification; elsewhere on the user's newest open one. A notification's call
//! gets this group whatever its agent lists (`messaging::call::brief`).

use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ToolEnv, ToolError, parse, spec, unknown};
use crate::{
    error::ApiError,
    providers::llm::ToolSpec,
    tasks::model::TaskSource,
    tasks::replies::{self, Reply},
};

pub const TOOLS: &[&str] = &["answer_notification"];

pub fn specs() -> Vec<ToolSpec> {
    vec![spec(
        "answer_notification",
        "Answer the notification the user is responding to: done (completes its task and \
         acknowledges it), ok (acknowledges it) or snooze (moves its reminder by minutes).",
        json!({"type": "object", "properties": {
            "reply": {"type": "string", "enum": ["done", "ok", "snooze"]},
            "minutes": {"type": "integer", "minimum": 1, "maximum": 1440,
                        "description": "For snooze; default 10"}},
            "required": ["reply"], "additionalProperties": false}),
    )]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    reply: String,
    #[serde(default)]
    minutes: Option<i64>,
}

pub async fn run(env: &ToolEnv<'_>, name: &str, args: Value) -> Result<Value, ToolError> {
    match name {
        "answer_notification" => {
            let a: Answer = parse(&args)?;
            let reply = match a.reply.as_str() {
                "done" => Reply::Done,
                "ok" => Reply::Ack,
                "snooze" => {
                    let minutes = a.minutes.unwrap_or(replies::DEFAULT_SNOOZE_MINUTES);
                    if !(1..=1440).contains(&minutes) {
                        return Err(ApiError::validation("minutes", "must be 1..=1440").into());
                    }
                    Reply::Snooze { minutes }
                }
                _ => return Err(ApiError::validation("reply", "must be done, ok or snooze").into()),
            };
            // A notification's call answers for its own notification.
            let call_id = (env.ctx.source == TaskSource::Voice)
                .then(|| env.ctx.source_reference.as_deref()?.parse::<Uuid>().ok())
                .flatten();
            let only = match call_id {
                Some(c) => sqlx::query_scalar!(
                    "select notification_id from voice_sessions where call_id = $1 and user_id = $2",
                    c,
                    env.user()
                )
                .fetch_optional(env.db())
                .await
                .map_err(ApiError::from)?
                .flatten(),
                None => None,
            };
            let out = replies::apply(env.state, env.user(), only, reply).await?;
            Ok(json!({"notification_id": out.notification_id, "message": out.message}))
        }
        other => Err(unknown(other)),
    }
}
