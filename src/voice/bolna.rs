//! `WS /chat/v1/{agent_id}`: the Bolna default-handler protocol (base64 PCM16 16 kHz in
//! JSON, marks around audio, `clear`, `ack`) over the same session core.

use axum::{
    extract::{
        Path, State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    response::Response,
};
use base64::{Engine, engine::general_purpose::STANDARD as b64};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    session::{self, ClientIn, Generation, ServerOut},
    ws::send_within,
};
use crate::{auth::WsUser, error::ApiResult, metrics::WsGuard, state::AppState};

/// A client frame of the Bolna protocol.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BolnaIn {
    Audio { data: String },
    Text { data: String },
    Mark { name: String },
    Init {},
}

/// Parse a text frame (`None` when it is not a known frame: ignored). Reads untrusted
/// bytes: fuzzed (`fuzz/`).
pub fn parse_frame(text: &str) -> Option<BolnaIn> {
    serde_json::from_str(text).ok()
}

/// The PCM16 samples of an `audio` frame's base64 `data` (`None` when it is not base64).
pub fn decode_audio(data: &str) -> Option<Vec<i16>> {
    b64.decode(data.as_bytes())
        .ok()
        .map(|bytes| crate::audio::pcm16_from_le_bytes(&bytes))
}

/// Bolna-compatible voice WebSocket for an agent (auth by `Authorization` or `?ticket=`).
/// Each connection is a call on channel `bolna_ws`.
#[utoipa::path(get, path = "/chat/v1/{agent_id}", tag = "voice",
    params(("ticket" = Option<String>, Query, description = "single-use ticket from POST /api/v1/auth/ws-ticket")),
    responses((status = 101, description = "WebSocket, Bolna protocol"),
              (status = 401, body = crate::error::Problem), (status = 402, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn bolna_socket(
    State(state): State<AppState>,
    WsUser(user): WsUser,
    Path(agent_id): Path<Uuid>,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let opened = super::routes::open(&state, user.user_id, agent_id, None, "bolna_ws").await?;
    let ctx = super::ws::claim(&state, opened.session_id, user.user_id).await?;
    let tracker = state.tasks.clone();
    Ok(ws.on_upgrade(move |socket| tracker.track_future(serve(state, ctx, socket))))
}

async fn serve(state: AppState, ctx: session::SessionCtx, socket: WebSocket) {
    let _guard = WsGuard::new("bolna");
    let (mut sink, mut stream) = socket.split();
    let (in_tx, in_rx) = mpsc::channel::<ClientIn>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<ServerOut>(64);
    let generation = Generation::default();
    let (ack_tx, mut ack_rx) = mpsc::channel::<()>(4);

    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            let item = match msg {
                Message::Text(t) => match parse_frame(&t) {
                    Some(BolnaIn::Audio { data }) => match decode_audio(&data) {
                        Some(samples) => ClientIn::Audio(samples),
                        None => continue,
                    },
                    Some(BolnaIn::Text { data }) => ClientIn::Text(data),
                    Some(BolnaIn::Mark { name }) => ClientIn::Mark(name),
                    Some(BolnaIn::Init {}) => {
                        let _ = ack_tx.send(()).await;
                        continue;
                    }
                    None => continue,
                },
                Message::Binary(b) => ClientIn::Audio(crate::audio::pcm16_from_le_bytes(&b)),
                Message::Close(_) => break,
                _ => continue,
            };
            if in_tx.send(item).await.is_err() {
                break;
            }
        }
    });

    // A client that stops reading is dropped (see ws.rs `send_within`).
    let send_timeout =
        std::time::Duration::from_secs(state.settings.events.send_timeout_secs.max(1));
    let reader_abort = reader.abort_handle();
    let gen_w = generation.clone();
    let writer = tokio::spawn(async move {
        let mut opened_chunk = false;
        loop {
            let item = tokio::select! {
                Some(()) = ack_rx.recv() => {
                    if !send_within(&mut sink, Message::Text(r#"{"type":"ack"}"#.into()), send_timeout).await {
                        reader_abort.abort();
                        return;
                    }
                    continue;
                }
                item = out_rx.recv() => match item { Some(i) => i, None => break },
            };
            let frames: Vec<serde_json::Value> = match item {
                ServerOut::Event(v) => match v["type"].as_str() {
                    Some("response") if v["final"] == true => {
                        vec![json!({"type": "text", "data": v["text"]})]
                    }
                    Some("ended") => {
                        let _ = send_within(
                            &mut sink,
                            Message::Text(v.to_string().into()),
                            send_timeout,
                        )
                        .await;
                        break;
                    }
                    Some("error") => vec![v],
                    _ => vec![],
                },
                ServerOut::Audio {
                    generation,
                    samples,
                } => {
                    if generation != gen_w.current() {
                        continue;
                    }
                    let mut f = Vec::new();
                    if !opened_chunk {
                        f.push(json!({"type": "mark", "name": Uuid::now_v7().to_string()}));
                        opened_chunk = true;
                    }
                    f.push(json!({"type": "audio",
                        "data": b64.encode(crate::audio::pcm16_to_le_bytes(&samples))}));
                    f
                }
                ServerOut::Mark { generation, name } => {
                    if generation != gen_w.current() {
                        continue;
                    }
                    opened_chunk = false;
                    vec![json!({"type": "mark", "name": name})]
                }
                ServerOut::Clear => {
                    opened_chunk = false;
                    vec![json!({"type": "clear", "data": null})]
                }
            };
            for f in frames {
                if !send_within(&mut sink, Message::Text(f.to_string().into()), send_timeout).await
                {
                    reader_abort.abort();
                    return;
                }
            }
        }
        let _ = tokio::time::timeout(send_timeout, sink.send(Message::Close(None))).await;
    });

    session::run(state, ctx, in_rx, out_tx, generation).await;
    let _ = writer.await;
    reader.abort();
}
