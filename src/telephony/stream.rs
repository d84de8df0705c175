//! `WS /api/v1/telephony/twilio/stream`: Twilio Media Streams into the voice session core.
//! Twilio connects with no credentials of ours; the `start` event's custom parameter
//! `token` (signed by the voice webhook, short-lived) names the call it may run. In:
//! μ-law 8 kHz `media`, `mark` echoes, `dtmf`, `stop`. Out: paced `media` frames with the
//! stream's `streamSid`, a `mark` after each spoken chunk, `clear` on barge-in. When the
//! call ends on our side (goodbye, credits, timeouts, shutdown) the phone call is hung
//! up through Twilio's REST API.

use std::time::Duration;

use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    response::Response,
};
use base64::{Engine, engine::general_purpose::STANDARD as b64};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::{
    audio::mulaw,
    metrics::WsGuard,
    state::AppState,
    voice::{
        session::{self, ClientIn, Generation, ServerOut},
        ws::send_within,
    },
};

/// How long Twilio has to send `start` after connecting.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Twilio Media Streams audio: μ-law, 8 kHz, mono.
const RATE: u32 = 8000;

/// One message from Twilio (unknown events and fields are ignored).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TwilioIn {
    Connected {},
    Start {
        #[serde(rename = "streamSid")]
        stream_sid: String,
        start: StartInfo,
    },
    Media {
        media: MediaPayload,
    },
    Mark {
        mark: MarkName,
    },
    Dtmf {
        dtmf: Dtmf,
    },
    Stop {},
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct StartInfo {
    #[serde(rename = "callSid", default)]
    pub call_sid: Option<String>,
    #[serde(rename = "customParameters", default)]
    pub custom_parameters: std::collections::HashMap<String, String>,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct MediaPayload {
    #[serde(default)]
    pub track: Option<String>,
    pub payload: String,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct MarkName {
    pub name: String,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct Dtmf {
    pub digit: String,
}

/// Parse one text frame from Twilio; `None` for anything malformed or unknown.
pub fn parse_frame(text: &str) -> Option<TwilioIn> {
    serde_json::from_str(text).ok()
}

/// Decode a `media` payload (base64 μ-law) to PCM16; `None` when it is not base64.
pub fn decode_media(payload: &str) -> Option<Vec<i16>> {
    b64.decode(payload.as_bytes())
        .ok()
        .map(|b| mulaw::decode(&b))
}

/// Twilio's Media Streams WebSocket (the URL the voice webhook's TwiML names). The
/// stream is authorized by the signed `token` custom parameter of its `start` event.
#[utoipa::path(get, path = "/stream", tag = "telephony",
    responses((status = 101, description = "WebSocket, Twilio Media Streams protocol")))]
pub async fn media_stream(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let tracker = state.tasks.clone();
    ws.on_upgrade(move |socket| tracker.track_future(serve(state, socket)))
}

/// What the `start` event told us, once its token checked out.
struct Started {
    stream_sid: String,
    call_sid: Option<String>,
    ctx: session::SessionCtx,
}

/// Wait for `start` and claim the call its token names.
async fn handshake(
    state: &AppState,
    stream: &mut futures::stream::SplitStream<WebSocket>,
) -> Result<Started, &'static str> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        let msg = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => return Err("no start event"),
            Ok(None | Some(Err(_))) => return Err("closed before start"),
            Ok(Some(Ok(m))) => m,
        };
        let Message::Text(text) = msg else {
            if matches!(msg, Message::Close(_)) {
                return Err("closed before start");
            }
            continue;
        };
        match parse_frame(&text) {
            Some(TwilioIn::Start { stream_sid, start }) => {
                let token = start
                    .custom_parameters
                    .get("token")
                    .ok_or("missing stream token")?;
                let (call_id, agent_id) = super::twilio::check_stream_token(state, token)
                    .ok_or("invalid stream token")?;
                let session = sqlx::query!(
                    "select id, user_id from voice_sessions where call_id = $1 and agent_id = $2",
                    call_id,
                    agent_id
                )
                .fetch_optional(&state.db)
                .await
                .map_err(|_| "database unavailable")?
                .ok_or("no such call")?;
                let mut ctx = crate::voice::ws::claim(state, session.id, session.user_id)
                    .await
                    .map_err(|_| "call already connected, ended or expired")?;
                ctx.sample_rate = RATE;
                if let Some(sid) = &start.call_sid {
                    let _ = sqlx::query!(
                        "update calls set provider_call_sid = coalesce(provider_call_sid, $2) where id = $1",
                        call_id,
                        sid
                    )
                    .execute(&state.db)
                    .await;
                }
                return Ok(Started {
                    stream_sid,
                    call_sid: start.call_sid,
                    ctx,
                });
            }
            Some(TwilioIn::Connected {}) | None => continue,
            Some(TwilioIn::Stop {}) => return Err("stopped before start"),
            Some(_) => continue,
        }
    }
}

async fn serve(state: AppState, socket: WebSocket) {
    let _guard = WsGuard::new("twilio");
    let (mut sink, mut stream) = socket.split();
    let started = match handshake(&state, &mut stream).await {
        Ok(s) => s,
        Err(reason) => {
            tracing::warn!(reason, "refused a Twilio media stream");
            let _ = sink
                .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                    code: 1008,
                    reason: reason.into(),
                })))
                .await;
            return;
        }
    };
    let Started {
        stream_sid,
        call_sid,
        ctx,
    } = started;
    let call_id = ctx.call_id;
    tracing::info!(%call_id, "Twilio media stream started");

    let (in_tx, in_rx) = mpsc::channel::<ClientIn>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<ServerOut>(64);
    let generation = Generation::default();

    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            let item = match msg {
                Message::Text(t) => match parse_frame(&t) {
                    Some(TwilioIn::Media { media }) => {
                        if media.track.as_deref().is_some_and(|t| t != "inbound") {
                            continue;
                        }
                        match decode_media(&media.payload) {
                            Some(pcm) => ClientIn::Audio(pcm),
                            None => continue,
                        }
                    }
                    Some(TwilioIn::Mark { mark }) => ClientIn::Mark(mark.name),
                    // A key pressed is the user's turn, as the agent reads it.
                    Some(TwilioIn::Dtmf { dtmf }) => {
                        tracing::debug!(digit = %dtmf.digit, "dtmf");
                        ClientIn::Text(format!("(keypad) {}", dtmf.digit))
                    }
                    Some(TwilioIn::Stop {}) => {
                        let _ = in_tx.send(ClientIn::Hangup).await;
                        break;
                    }
                    _ => continue,
                },
                Message::Close(_) => break,
                _ => continue,
            };
            if in_tx.send(item).await.is_err() {
                break;
            }
        }
    });

    // Twilio not taking our frames (a stalled connection) must not stall the call: a frame
    // that cannot be sent in time drops the stream, which ends the call as a disconnect.
    let send_timeout = Duration::from_secs(state.settings.events.send_timeout_secs.max(1));
    let reader_abort = reader.abort_handle();
    let gen_w = generation.clone();
    let sid = stream_sid.clone();
    let writer = tokio::spawn(async move {
        while let Some(item) = out_rx.recv().await {
            let frame = match item {
                ServerOut::Event(v) => {
                    if v["type"] == "ended" {
                        break;
                    }
                    if v["type"] == "error" {
                        tracing::warn!(event = %v, "voice session error on a phone call");
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
                    json!({"event": "media", "streamSid": sid,
                        "media": {"payload": b64.encode(mulaw::encode(&samples))}})
                }
                ServerOut::Mark { generation, name } => {
                    if generation != gen_w.current() {
                        continue;
                    }
                    json!({"event": "mark", "streamSid": sid, "mark": {"name": name}})
                }
                ServerOut::Clear => json!({"event": "clear", "streamSid": sid}),
            };
            if !send_within(
                &mut sink,
                Message::Text(frame.to_string().into()),
                send_timeout,
            )
            .await
            {
                reader_abort.abort();
                return;
            }
        }
        let _ = tokio::time::timeout(send_timeout, sink.send(Message::Close(None))).await;
    });

    let ended = session::run(state.clone(), ctx, in_rx, out_tx, generation).await;
    let _ = writer.await;
    reader.abort();
    // The caller is still on the line when the call ended on our side: hang up.
    if ended.reason != "remote_hangup"
        && let Some(sid) = call_sid
        && let Err(e) = super::rest::hangup(&state, &sid).await
    {
        tracing::warn!(%call_id, error = %e, "could not hang up the phone call");
    }
}
