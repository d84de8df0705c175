//! LiveAvatar (LITE mode): `POST /v1/sessions/token` (`X-API-KEY`), `POST /v1/sessions/start`
//! (Bearer session token), `POST /v1/sessions/stop`, and the command WebSocket named by the
//! start answer's `ws_url`. Everything a session received is recorded ([`AvatarRecord`]:
//! the PCM it was given, chunk sizes, `agent.speak_end`, interrupts) for tests to compare
//! with what the voice client heard. A session can be ended from this side
//! ([`super::SimHandle::avatar_close`]) like LiveAvatar ending it.

use std::sync::Arc;

use axum::{
    Json,
    extract::{
        Path, Query, State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Failure, LogEntry, Service, SimState, error_response, header};

/// One LiveAvatar session as the stand-in saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AvatarRecord {
    pub session_id: String,
    pub avatar_id: String,
    pub mode: String,
    pub started: bool,
    pub stopped: bool,
    pub stop_reason: Option<String>,
    pub ws_connected: bool,
    pub ws_closed: bool,
    /// PCM16 samples received in `agent.speak` (24 kHz, as LITE mode requires).
    pub samples: u64,
    pub speak_chunks: u32,
    pub max_chunk_bytes: usize,
    pub speak_ends: u32,
    /// `agent.interrupt` (or FULL mode's `avatar.interrupt`) commands.
    pub interrupts: u32,
    /// Samples received before each interrupt (what was being said when it came).
    pub samples_at_interrupts: Vec<u64>,
    /// Every command's `type`, in order.
    pub events: Vec<String>,
    /// Protocol violations (odd PCM byte counts, bad base64, unknown commands, > 1 MB).
    pub errors: Vec<String>,
    #[serde(skip)]
    pub(crate) token: String,
}

#[derive(Default)]
pub(crate) struct AvatarSims {
    pub(crate) records: Vec<AvatarRecord>,
    /// Cancelled to end a session from LiveAvatar's side.
    pub(crate) closers: Vec<(String, CancellationToken)>,
}

impl AvatarSims {
    fn find(&mut self, id: &str) -> Option<&mut AvatarRecord> {
        self.records.iter_mut().find(|r| r.session_id == id)
    }

    pub(crate) fn close(&mut self, id: &str) {
        if let Some((_, t)) = self.closers.iter().find(|(s, _)| s == id) {
            t.cancel();
        }
    }

    fn closer(&mut self, id: &str) -> CancellationToken {
        if let Some((_, t)) = self.closers.iter().find(|(s, _)| s == id) {
            return t.clone();
        }
        let t = CancellationToken::new();
        self.closers.push((id.to_string(), t.clone()));
        t
    }
}

fn wrapped(status: StatusCode, data: Value) -> Response {
    (
        status,
        Json(json!({"code": 100, "data": data, "message": "success"})),
    )
        .into_response()
}

fn log(state: &SimState, service: &str, path: &str, auth: Option<String>, body: Value) -> u64 {
    state.start_entry(LogEntry {
        service: service.into(),
        method: "POST".into(),
        path: path.into(),
        auth,
        body,
        status: 200,
        completed: true,
        ..Default::default()
    })
}

#[derive(Deserialize)]
struct TokenBody {
    mode: Option<String>,
    avatar_id: Option<String>,
}

pub(super) async fn token(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = header(&headers, "x-api-key");
    let id = log(
        &state,
        "liveavatar.token",
        "/v1/sessions/token",
        key.clone(),
        body.clone(),
    );
    if key.is_none() || !state.check_key(key.as_deref()) {
        state.update(id, |e| e.status = 401);
        return error_response(401, "Invalid API key");
    }
    if let Some(Failure::Status { status }) =
        state.take_failure_if(Service::Avatar, |f| matches!(f, Failure::Status { .. }))
    {
        state.update(id, |e| e.status = status);
        return error_response(status, "scripted failure");
    }
    let Ok(b) = serde_json::from_value::<TokenBody>(body) else {
        state.update(id, |e| e.status = 422);
        return error_response(422, "invalid body");
    };
    let (Some(mode), Some(avatar_id)) = (b.mode, b.avatar_id) else {
        state.update(id, |e| e.status = 422);
        return error_response(422, "mode and avatar_id are required");
    };
    if mode != "LITE" && mode != "FULL" {
        state.update(id, |e| e.status = 422);
        return error_response(422, "mode must be FULL or LITE");
    }
    let session_id = Uuid::new_v4().to_string();
    let token = format!("sess-{}", Uuid::new_v4().simple());
    state.avatars.lock().records.push(AvatarRecord {
        session_id: session_id.clone(),
        avatar_id,
        mode,
        token: token.clone(),
        ..Default::default()
    });
    wrapped(
        StatusCode::OK,
        json!({"session_id": session_id, "session_token": token}),
    )
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    header(headers, "authorization").and_then(|a| a.strip_prefix("Bearer ").map(String::from))
}

pub(super) async fn start(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    let auth = header(&headers, "authorization");
    let id = log(
        &state,
        "liveavatar.start",
        "/v1/sessions/start",
        auth,
        Value::Null,
    );
    let Some(token) = bearer(&headers) else {
        state.update(id, |e| e.status = 401);
        return error_response(401, "missing session token");
    };
    let host = header(&headers, "host").unwrap_or_else(|| "127.0.0.1".into());
    let mut sims = state.avatars.lock();
    let Some(rec) = sims.records.iter_mut().find(|r| r.token == token) else {
        state.update(id, |e| e.status = 401);
        return error_response(401, "unknown session token");
    };
    if rec.started {
        state.update(id, |e| e.status = 400);
        return error_response(400, "session already started");
    }
    rec.started = true;
    let sid = rec.session_id.clone();
    state.update(id, |e| e.status = 201);
    wrapped(
        StatusCode::CREATED,
        json!({
            "session_id": sid,
            "livekit_url": format!("ws://{host}/livekit"),
            "livekit_client_token": format!("lk-client-{sid}"),
            "livekit_agent_token": format!("lk-agent-{sid}"),
            "ws_url": format!("ws://{host}/v1/sessions/{sid}/ws?token={token}"),
            "max_session_duration": 1200,
        }),
    )
}

pub(super) async fn stop(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = header(&headers, "x-api-key");
    let id = log(
        &state,
        "liveavatar.stop",
        "/v1/sessions/stop",
        key.clone(),
        body.clone(),
    );
    let token = bearer(&headers);
    let mut sims = state.avatars.lock();
    let by_key = key.is_some() && state.check_key(key.as_deref());
    let sid = body["session_id"].as_str().unwrap_or_default().to_string();
    let Some(rec) = sims.find(&sid) else {
        state.update(id, |e| e.status = 404);
        return error_response(404, "no such session");
    };
    if !by_key && token.as_deref() != Some(rec.token.as_str()) {
        state.update(id, |e| e.status = 401);
        return error_response(401, "Invalid API key");
    }
    rec.stopped = true;
    rec.stop_reason = body["reason"].as_str().map(String::from);
    sims.close(&sid);
    wrapped(StatusCode::OK, Value::Null)
}

pub(super) async fn socket(
    State(state): State<Arc<SimState>>,
    Path(sid): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let closer = {
        let mut sims = state.avatars.lock();
        let ok = sims
            .find(&sid)
            .is_some_and(|r| r.started && !r.stopped && q.get("token") == Some(&r.token));
        if !ok {
            return error_response(401, "unknown or ended session");
        }
        sims.closer(&sid)
    };
    ws.on_upgrade(move |socket| serve(socket, state, sid, closer))
}

async fn serve(
    mut socket: WebSocket,
    state: Arc<SimState>,
    sid: String,
    closer: CancellationToken,
) {
    let with = |f: &mut dyn FnMut(&mut AvatarRecord)| {
        if let Some(r) = state.avatars.lock().find(&sid) {
            f(r);
        }
    };
    with(&mut |r| r.ws_connected = true);
    let connected = json!({"type": "session.state_updated", "state": "connected"});
    if socket
        .send(Message::Text(connected.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            _ = closer.cancelled() => {
                let closed = json!({"type": "session.state_updated", "state": "closed"});
                let _ = socket.send(Message::Text(closed.to_string().into())).await;
                let _ = socket.send(Message::Close(None)).await;
                break;
            }
            msg = socket.recv() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    _ => continue,
                };
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let kind = v["type"].as_str().unwrap_or("").to_string();
                let mut reply: Option<Value> = None;
                with(&mut |r| {
                    r.events.push(kind.clone());
                    match kind.as_str() {
                        "agent.speak" => {
                            if text.len() > 1_000_000 {
                                r.errors.push(format!("packet of {} bytes", text.len()));
                            }
                            match v["audio"].as_str().map(|a| {
                                base64::engine::general_purpose::STANDARD.decode(a)
                            }) {
                                Some(Ok(bytes)) if bytes.len() % 2 == 0 => {
                                    r.samples += bytes.len() as u64 / 2;
                                    r.speak_chunks += 1;
                                    r.max_chunk_bytes = r.max_chunk_bytes.max(bytes.len());
                                }
                                Some(Ok(bytes)) => r.errors.push(format!("odd PCM length {}", bytes.len())),
                                _ => r.errors.push("agent.speak without base64 audio".into()),
                            }
                        }
                        "agent.speak_end" => {
                            r.speak_ends += 1;
                            reply = Some(json!({"type": "agent.speak_ended", "event_id": v["event_id"]}));
                        }
                        "agent.interrupt" | "avatar.interrupt" => {
                            r.interrupts += 1;
                            r.samples_at_interrupts.push(r.samples);
                        }
                        "session.keep_alive" | "agent.start_listening" | "agent.stop_listening" => {}
                        other => r.errors.push(format!("unknown command {other:?}")),
                    }
                });
                if let Some(v) = reply
                    && socket.send(Message::Text(v.to_string().into())).await.is_err()
                {
                    break;
                }
            }
        }
    }
    with(&mut |r| r.ws_closed = true);
}
