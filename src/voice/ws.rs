//! `WS /api/v1/voice/sessions/{id}/ws`: the Cadence voice protocol over the session core.

use std::time::Duration;

use axum::{
    extract::{
        Path, State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    response::Response,
};
use futures::{SinkExt, StreamExt, stream::SplitSink};
use serde::Deserialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::session::{self, ClientIn, Generation, ServerOut, SessionCtx};
use crate::{
    agents::service as agents,
    auth::WsUser,
    calls::repo as calls_repo,
    error::{ApiError, ApiResult},
    metrics::WsGuard,
    state::AppState,
};

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientEvent {
    Start { sample_rate: u32 },
    Text { text: String },
    Mark { name: String },
    Interrupt,
    End,
}

/// A text frame of the voice protocol as session input; `None` for anything that is not a
/// known event (the session ignores it). Reads untrusted bytes: fuzzed (`fuzz/`).
pub fn parse_client_event(text: &str) -> Option<ClientIn> {
    Some(match serde_json::from_str::<ClientEvent>(text).ok()? {
        ClientEvent::Start { sample_rate } => ClientIn::Start { sample_rate },
        ClientEvent::Text { text } => ClientIn::Text(text),
        ClientEvent::Mark { name } => ClientIn::Mark(name),
        ClientEvent::Interrupt => ClientIn::Interrupt,
        ClientEvent::End => ClientIn::End,
    })
}

/// Claim a created session for this connection (once) and make its call live.
pub(crate) async fn claim(state: &AppState, id: Uuid, user_id: Uuid) -> ApiResult<SessionCtx> {
    let row = sqlx::query!(
        r#"update voice_sessions s set status = 'connected'
           from calls c
           where s.id = $1 and s.user_id = $2 and s.status = 'created' and s.expires_at > now()
             and c.id = s.call_id
           returning s.call_id, s.agent_id, c.hold_id, c.conversation_id, s.notification_id"#,
        id,
        user_id
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(row) = row else {
        let exists = sqlx::query_scalar!(
            "select status from voice_sessions where id = $1 and user_id = $2",
            id,
            user_id
        )
        .fetch_optional(&state.db)
        .await?;
        return Err(match exists {
            None => ApiError::NotFound,
            Some(_) => {
                ApiError::Conflict("this session is already connected, ended or expired".into())
            }
        });
    };
    // The call goes live once; `call.started` goes out with it, in the same transaction.
    let mut tx = state.db.begin().await?;
    if calls_repo::start(&mut *tx, row.call_id).await?
        && let Some(call) = calls_repo::find(&mut *tx, row.call_id, user_id).await?
    {
        crate::events::publish(&mut *tx, user_id, "call.started", &call).await?;
    }
    tx.commit().await?;
    let mut agent = agents::find(&state.db, row.agent_id, user_id).await?;
    if let Some(n) = row.notification_id {
        super::briefing::brief(state, &mut agent, n).await?;
    }
    let hold_id = row
        .hold_id
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("call without a hold")))?;
    let hold_amount = sqlx::query_scalar!("select amount from wallet_holds where id = $1", hold_id)
        .fetch_one(&state.db)
        .await?;
    Ok(SessionCtx {
        session_id: id,
        call_id: row.call_id,
        user_id,
        hold_id,
        hold_amount,
        agent,
        conversation_id: row.conversation_id,
        sample_rate: session::PIPELINE_RATE,
        output_rate: None,
        pacer_lead: session::PACER_LEAD,
        avatar: crate::voice::avatar::service::attach(state, id).await,
    })
}

/// The voice session (see API.md "Voice WebSocket protocol"). Authenticate with the
/// session's `ticket` (or `Authorization`).
#[utoipa::path(get, path = "/sessions/{id}/ws", tag = "voice",
    params(("ticket" = Option<String>, Query, description = "single-use ticket from POST /sessions")),
    responses((status = 101, description = "WebSocket voice session"),
              (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)))]
pub async fn session_socket(
    State(state): State<AppState>,
    WsUser(user): WsUser,
    Path(id): Path<Uuid>,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let ctx = claim(&state, id, user.user_id).await?;
    let tracker = state.tasks.clone();
    Ok(ws.on_upgrade(move |socket| tracker.track_future(serve(state, ctx, socket))))
}

async fn serve(state: AppState, ctx: SessionCtx, socket: WebSocket) {
    let _guard = WsGuard::new("voice");
    let (mut sink, mut stream) = socket.split();
    let (in_tx, in_rx) = mpsc::channel::<ClientIn>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<ServerOut>(64);
    let generation = Generation::default();

    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            let item = match msg {
                Message::Binary(b) => ClientIn::Audio(crate::audio::pcm16_from_le_bytes(&b)),
                Message::Text(t) => match parse_client_event(&t) {
                    Some(item) => item,
                    None => continue,
                },
                Message::Close(_) => break,
                _ => continue,
            };
            if in_tx.send(item).await.is_err() {
                break;
            }
        }
    });

    // A client that stops reading must not stall the session (its writes would block
    // once the socket's buffers fill): a frame that cannot be sent within the timeout
    // drops the connection, and stopping the reader ends the session as a disconnect.
    let send_timeout = Duration::from_secs(state.settings.events.send_timeout_secs.max(1));
    let reader_abort = reader.abort_handle();
    let gen_w = generation.clone();
    let writer = tokio::spawn(async move {
        while let Some(item) = out_rx.recv().await {
            let msg = match item {
                ServerOut::Event(v) => {
                    let last = v["type"] == "ended";
                    let ok =
                        send_within(&mut sink, Message::Text(v.to_string().into()), send_timeout)
                            .await;
                    if !ok {
                        reader_abort.abort();
                        return;
                    }
                    if last {
                        break;
                    }
                    continue;
                }
                ServerOut::Audio {
                    generation,
                    samples,
                } => {
                    if generation != gen_w.current() {
                        continue;
                    }
                    Message::Binary(crate::audio::pcm16_to_le_bytes(&samples).into())
                }
                ServerOut::Mark { generation, name } => {
                    if generation != gen_w.current() {
                        continue;
                    }
                    Message::Text(
                        serde_json::json!({"type": "mark", "name": name})
                            .to_string()
                            .into(),
                    )
                }
                ServerOut::Clear => Message::Text(r#"{"type":"clear"}"#.into()),
            };
            if !send_within(&mut sink, msg, send_timeout).await {
                reader_abort.abort();
                return;
            }
        }
        let _ = tokio::time::timeout(send_timeout, sink.send(Message::Close(None))).await;
    });

    session::run(state, ctx, in_rx, out_tx, generation).await;
    let _ = writer.await;
    reader.abort();
}

/// Send one frame; `false` when the connection failed or the client has not taken the
/// frame within `limit` (it stopped reading).
pub(crate) async fn send_within(
    sink: &mut SplitSink<WebSocket, Message>,
    msg: Message,
    limit: Duration,
) -> bool {
    match tokio::time::timeout(limit, sink.send(msg)).await {
        Ok(r) => r.is_ok(),
        Err(_) => {
            metrics::counter!("voice_slow_clients_closed_total").increment(1);
            tracing::warn!("voice client is not reading; closing its connection");
            false
        }
    }
}
