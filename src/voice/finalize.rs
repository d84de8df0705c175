//! The one finalizer every ending goes through: the call is completed (guarded in the
//! database, so only the first caller does anything), its transcript is already stored,
//! usage is priced with `wallet::pricing::cost`, and the wallet hold is settled — all in
//! one transaction.

use uuid::Uuid;

use crate::{
    calls::{CallMetrics, CallUsage, repo},
    chat::repo as chat,
    error::{ApiError, ApiResult},
    state::AppState,
    wallet::{
        pricing::{LlmUsage, Usage, cost},
        service as wallet,
    },
};

/// What a session measured.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub stt_seconds: f64,
    pub llm: Vec<LlmUsage>,
    pub tts_characters: u64,
    pub metrics: CallMetrics,
    pub recording: Option<Vec<u8>>,
    /// The call's final status when it is not `completed` (`busy`, `no_answer`, `failed`:
    /// a phone call that never connected).
    pub status: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Finalized {
    pub duration_ms: i64,
    pub cost_credits: i64,
}

/// Complete the call and settle its hold. `Ok(None)`: it was already finalized.
pub async fn finalize(
    state: &AppState,
    call_id: Uuid,
    reason: &str,
    outcome: Outcome,
) -> ApiResult<Option<Finalized>> {
    let mut tx = state.db.begin().await?;
    let Some(started) = sqlx::query!(
        r#"select (extract(epoch from (now() - coalesce(started_at, now()))) * 1000)::bigint as "elapsed_ms!",
                  user_id, agent_id, conversation_id
           from calls where id = $1 and status in ('queued', 'active') for update"#,
        call_id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let usage = CallUsage {
        stt_seconds: (outcome.stt_seconds * 1000.0).round() / 1000.0,
        llm_input_tokens: outcome.llm.iter().map(|u| u.input_tokens).sum(),
        llm_output_tokens: outcome.llm.iter().map(|u| u.output_tokens).sum(),
        tts_characters: outcome.tts_characters,
    };
    let mut bill = cost(
        &state.settings.pricing,
        &Usage {
            stt_seconds: outcome.stt_seconds,
            llm: outcome.llm.clone(),
            tts_characters: outcome.tts_characters,
            call_seconds: started.elapsed_ms as f64 / 1000.0,
        },
    );
    // The call's avatar (if any) ends with it: its minutes are charged to the quota here,
    // under the call's lock, and priced into the call's bill.
    let avatar = crate::voice::avatar::service::settle(state, &mut tx, call_id, reason).await?;
    let avatar_credits = avatar.as_ref().map_or(0, |a| {
        a.minutes as i64 * state.settings.pricing.avatar_per_minute.max(0)
    });
    bill.total_credits += avatar_credits;
    bill.total_millicredits += avatar_credits * 1000;
    let mut breakdown = serde_json::to_value(&bill).map_err(ApiError::internal)?;
    if let (Some(a), Some(obj)) = (&avatar, breakdown.as_object_mut()) {
        obj.insert("avatar_minutes".into(), a.minutes.into());
        obj.insert("avatar_credits".into(), avatar_credits.into());
    }
    let Some(done) = repo::complete(
        &mut *tx,
        call_id,
        &repo::Completion {
            end_reason: reason,
            usage: &usage,
            cost_credits: bill.total_credits,
            cost_breakdown: breakdown,
            metrics: &outcome.metrics,
            recording: outcome.recording,
        },
    )
    .await?
    else {
        return Ok(None);
    };
    if let Some(status) = &outcome.status {
        sqlx::query!(
            "update calls set status = $2 where id = $1",
            call_id,
            status
        )
        .execute(&mut *tx)
        .await?;
    }
    let mut charged = bill.total_credits;
    if let Some(hold) = done.hold_id {
        let s = wallet::settle(&mut tx, hold, bill.total_credits).await?;
        charged = s.charged;
        if s.charged != bill.total_credits {
            sqlx::query!(
                "update calls set cost_credits = $2 where id = $1",
                call_id,
                s.charged
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    let stored = store_conversation(
        &mut tx,
        call_id,
        started.user_id,
        started.agent_id,
        started.conversation_id,
    )
    .await?;
    if let Some((conversation, last_message)) = stored {
        crate::chat::extract::enqueue(
            state,
            &mut tx,
            started.user_id,
            conversation,
            last_message,
            started.agent_id,
        )
        .await?;
    }
    sqlx::query!(
        "update voice_sessions set status = 'ended' where call_id = $1",
        call_id
    )
    .execute(&mut *tx)
    .await?;
    if let Some(call) = repo::find(&mut *tx, call_id, done.user_id).await? {
        crate::events::publish(&mut *tx, done.user_id, "call.ended", &call).await?;
    }
    // `wallet.updated` comes from the ledger trigger when the hold is settled.
    tx.commit().await?;
    tracing::info!(%call_id, reason, cost = charged, "call finalized");
    if let Some(a) = &avatar {
        crate::voice::avatar::service::stop_remote(state, a).await;
    }
    Ok(Some(Finalized {
        duration_ms: done.duration_ms,
        cost_credits: charged,
    }))
}

/// The transcript becomes a conversation (the one the session was opened for, else a new
/// one) so chat can continue where the call left off. The conversation and its last
/// message, when there was anything to store.
async fn store_conversation(
    tx: &mut sqlx::PgConnection,
    call_id: Uuid,
    user_id: Uuid,
    agent_id: Option<Uuid>,
    conversation_id: Option<Uuid>,
) -> ApiResult<Option<(Uuid, Uuid)>> {
    let turns = sqlx::query!(
        "select role, content from call_turns where call_id = $1 and content <> '' order by created_at, id",
        call_id
    )
    .fetch_all(&mut *tx)
    .await?;
    if turns.is_empty() {
        return Ok(None);
    }
    let existing = match conversation_id {
        Some(id) => chat::find_conversation(&mut *tx, user_id, id)
            .await?
            .map(|c| c.id),
        None => None,
    };
    let conversation = match existing {
        Some(id) => id,
        None => {
            let title = format!("Voice call {}", chrono::Utc::now().format("%Y-%m-%d %H:%M"));
            chat::insert_conversation(&mut *tx, Uuid::now_v7(), user_id, Some(&title), agent_id)
                .await?
                .id
        }
    };
    let no_calls = serde_json::json!([]);
    let mut last = None;
    for t in &turns {
        let id = Uuid::now_v7();
        last = Some(id);
        chat::insert_message(
            &mut *tx,
            chat::NewMessage {
                id,
                conversation_id: conversation,
                user_id,
                role: &t.role,
                content: &t.content,
                agent_id,
                tool_calls: &no_calls,
                usage: None,
                metadata: None,
            },
        )
        .await?;
    }
    sqlx::query!(
        "update conversations set last_message_at = now() where id = $1",
        conversation
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update calls set conversation_id = $2 where id = $1",
        call_id,
        conversation
    )
    .execute(&mut *tx)
    .await?;
    Ok(last.map(|m| (conversation, m)))
}
