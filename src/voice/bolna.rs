//! `WS /chat/v1/{agent_id}`: the Bolna default-handler protocol (base64 PCM16 16 kHz in
//! JSON, marks around audio, `clear`, `ack`) over the same session core.
//!
//! Bolna-style clients play what they get the way Bolna's server sends it: 24 kHz, each
//! synthesized piece whole, queued into a player that pulls big blocks (8,192 samples in
//! Bolna's quick-start client). So the reply goes out at [`OUTPUT_RATE`] in packets of a
//! whole clause, or of at least [`PACKET_MS`] when a clause is longer, with a mark before a
//! clause's first packet and after its last, and the session sends [`LEAD`] ahead of real
//! time so the client's queue never runs dry between packets.

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

/// The rate of the audio this endpoint sends (Bolna's default output).
pub const OUTPUT_RATE: u32 = 24000;
/// A clause longer than this goes out in packets of at least this much audio.
pub const PACKET_MS: u64 = 400;
/// How far ahead of real time the reply is sent.
const LEAD: std::time::Duration = std::time::Duration::from_millis(1000);

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
    let mut ctx = super::ws::claim(&state, opened.session_id, user.user_id).await?;
    ctx.output_rate = Some(OUTPUT_RATE);
    ctx.pacer_lead = LEAD;
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
        // The packet being filled: samples of one clause, of generation `packet_gen`.
        let mut packet: Vec<i16> = Vec::new();
        let mut packet_gen = 0u64;
        let packet_len = crate::audio::samples_for_ms(OUTPUT_RATE, PACKET_MS);
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
                    if packet_gen != generation {
                        packet.clear();
                        packet_gen = generation;
                    }
                    packet.extend_from_slice(&samples);
                    if packet.len() < packet_len {
                        continue;
                    }
                    audio_packet(&mut packet, &mut opened_chunk)
                }
                ServerOut::Mark { generation, name } => {
                    if generation != gen_w.current() {
                        packet.clear();
                        continue;
                    }
                    // The clause ends: the rest of its audio, then its mark.
                    let mut f = audio_packet(&mut packet, &mut opened_chunk);
                    opened_chunk = false;
                    f.push(json!({"type": "mark", "name": name}));
                    f
                }
                ServerOut::Clear => {
                    opened_chunk = false;
                    packet.clear();
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

/// The filled packet as frames (a mark first when it opens a clause); empty when there is no
/// audio.
fn audio_packet(packet: &mut Vec<i16>, opened_chunk: &mut bool) -> Vec<serde_json::Value> {
    let mut f = Vec::new();
    if packet.is_empty() {
        return f;
    }
    if !*opened_chunk {
        f.push(json!({"type": "mark", "name": Uuid::now_v7().to_string()}));
        *opened_chunk = true;
    }
    f.push(json!({"type": "audio",
        "data": b64.encode(crate::audio::pcm16_to_le_bytes(packet))}));
    packet.clear();
    f
}
