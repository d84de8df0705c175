//! `cadence-sim`: local stand-ins for the vendors Cadence talks to, speaking their real wire
//! protocols so the production clients are what tests and benchmarks exercise.
//!
//! Served on one address:
//! - OpenAI-compatible (`base_url = http://ADDR/v1`): `POST /v1/chat/completions` (SSE with
//!   tool calls and usage), `/v1/audio/transcriptions`, `/v1/audio/speech` (PCM 24 kHz),
//!   `/v1/embeddings`;
//! - Anthropic (`base_url = http://ADDR`): `POST /v1/messages` (SSE);
//! - Deepgram (`base_url = ws://ADDR`): `GET /v1/listen` WebSocket, transcribing by script;
//! - ElevenLabs (`base_url = http://ADDR`): `POST /v1/text-to-speech/{voice}/stream`;
//! - Twilio (`base_url = http://ADDR`): `POST /2010-04-01/Accounts/{sid}/Calls.json` and
//!   `…/Calls/{sid}.json`; Messages (`…/Messages.json`, SMS and WhatsApp), and inbound
//!   messages signed and posted to our messaging webhook (`POST /__sim/twilio/messages/inbound`,
//!   [`SimHandle::deliver_message`]);
//! - Web Push (RFC 8030, endpoint `http://ADDR/push/{id}`): verifies the VAPID JWT, decrypts
//!   the `aes128gcm` payload with the subscription's key; `POST /__sim/push/subscriptions`
//!   registers one, `…/{id}/gone` makes it answer 410, `GET /__sim/push/messages` reads them;
//! - LiveAvatar (`base_url = http://ADDR`): `POST /v1/sessions/token|start|stop` and the
//!   LITE command WebSocket `GET /v1/sessions/{id}/ws` (what it received: `GET /__sim/avatar`);
//! - control: `GET /__sim/log` (every request, with whether its answer completed or the
//!   client went away), `DELETE /__sim/log`, `POST /__sim/script` (queue replies).
//!
//! Replies come from per-service script queues ([`Script`]), else from defaults; latencies
//! (time to first byte, per-token delay, real-time audio) come from [`SimConfig`] or the
//! script. Failures can be injected: HTTP statuses, malformed bodies, hanging before the
//! first byte, dying or stalling mid-stream.

mod audio;
mod liveavatar;
mod llm;
mod messages;
mod twilio;
mod webpush;

pub use webpush::PushMessage;

pub use liveavatar::AvatarRecord;

pub use messages::{InboundMessage, WebhookAnswer};

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Latencies and defaults. Every field can be changed while running ([`SimHandle::configure`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// When set, requests must carry this key (Bearer, `x-api-key`, `xi-api-key`, `Token`,
    /// or the Twilio auth token); others get 401.
    pub api_key: Option<String>,
    /// Delay before the first byte of a chat answer.
    pub llm_ttfb_ms: u64,
    /// Delay between streamed tokens.
    pub token_delay_ms: u64,
    /// Delay before the first byte of synthesized audio.
    pub tts_ttfb_ms: u64,
    /// Stream synthesized audio at real time instead of as fast as possible.
    pub tts_realtime: bool,
    /// Length of synthesized audio per character of text.
    pub tts_ms_per_char: u64,
    /// Transcript for an utterance when no STT script is queued.
    pub default_transcript: String,
    /// Recognition latency: delay before each final transcript (Deepgram, transcriptions).
    pub stt_latency_ms: u64,
    /// Split every streamed event into writes of at most this many bytes.
    pub split_bytes: Option<usize>,
    /// Deepgram marks the end of speech (`speech_final`, `UtteranceEnd`); when off, it only
    /// sends `is_final` segments, like a recognizer without endpointing.
    pub stt_endpointing: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            api_key: None,
            llm_ttfb_ms: 0,
            token_delay_ms: 0,
            tts_ttfb_ms: 0,
            tts_realtime: false,
            tts_ms_per_char: 40,
            default_transcript: "hello".into(),
            stt_latency_ms: 0,
            split_bytes: None,
            stt_endpointing: true,
        }
    }
}

/// Which queue a script goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// OpenAI chat completions and Anthropic messages.
    Llm,
    /// Deepgram utterances and OpenAI transcriptions.
    Stt,
    /// OpenAI speech and ElevenLabs.
    Tts,
    Embeddings,
    Twilio,
    /// Twilio Messages (SMS, WhatsApp).
    TwilioMessages,
    /// LiveAvatar (status failures on the session token).
    Avatar,
}

/// An injected failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// Answer with this HTTP status (401, 429, 500, …) and a vendor-style error body.
    Status { status: u16 },
    /// Answer 200 with a body that breaks the protocol.
    Malformed,
    /// Never send the first byte (sleeps a minute).
    Hang,
    /// Send part of the answer, then drop the connection.
    DieMidStream,
    /// Send part of the answer, then go silent (sleeps a minute).
    StallMidStream,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimToolCall {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    /// The JSON arguments, as text (streamed in pieces).
    pub arguments: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUsage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

/// One scripted reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reply {
    /// LLM text, or the transcript of an utterance.
    pub text: Option<String>,
    pub tool_calls: Vec<SimToolCall>,
    /// Usage to report (else estimated from the request and reply).
    pub usage: Option<SimUsage>,
    /// Leave out the usage chunk even when asked for it.
    pub omit_usage: bool,
    pub fail: Option<Failure>,
    pub ttfb_ms: Option<u64>,
    pub token_delay_ms: Option<u64>,
    pub split_bytes: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    pub service: Service,
    #[serde(flatten)]
    pub reply: Reply,
}

impl Script {
    pub fn llm_text(text: &str) -> Self {
        Self::new(
            Service::Llm,
            Reply {
                text: Some(text.into()),
                ..Default::default()
            },
        )
    }
    pub fn transcript(text: &str) -> Self {
        Self::new(
            Service::Stt,
            Reply {
                text: Some(text.into()),
                ..Default::default()
            },
        )
    }
    pub fn fail(service: Service, failure: Failure) -> Self {
        Self::new(
            service,
            Reply {
                fail: Some(failure),
                ..Default::default()
            },
        )
    }
    pub fn new(service: Service, reply: Reply) -> Self {
        Self { service, reply }
    }
}

/// One request the simulator served.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub id: u64,
    /// `openai.chat`, `anthropic.messages`, `openai.transcriptions`, `openai.speech`,
    /// `openai.embeddings`, `deepgram.listen`, `elevenlabs.stream`, `twilio.calls`,
    /// `twilio.call_update`, `twilio.messages`, `twilio.inbound_message`.
    pub service: String,
    pub method: String,
    pub path: String,
    pub query: String,
    /// The credential header as sent (tests check which key was used).
    pub auth: Option<String>,
    /// The request: JSON body, form fields, or a summary for audio.
    pub body: Value,
    pub status: u16,
    /// The whole answer was sent.
    pub completed: bool,
    /// The client went away before the answer ended (a cancelled stream).
    pub cancelled: bool,
    /// WebSocket text messages received (Deepgram `KeepAlive`, `Finalize`, `CloseStream`).
    pub messages: Vec<String>,
    /// Audio bytes received (Deepgram).
    pub audio_bytes: u64,
}

pub(crate) struct SimState {
    config: Mutex<SimConfig>,
    scripts: Mutex<Vec<(Service, VecDeque<Reply>)>>,
    log: Mutex<Vec<LogEntry>>,
    next_id: AtomicU64,
    push: Mutex<webpush::PushState>,
    avatars: Mutex<liveavatar::AvatarSims>,
}

impl SimState {
    fn new(config: SimConfig) -> Self {
        Self {
            config: Mutex::new(config),
            scripts: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            push: Mutex::new(Default::default()),
            avatars: Mutex::new(Default::default()),
        }
    }

    pub(crate) fn config(&self) -> SimConfig {
        self.config.lock().clone()
    }

    pub(crate) fn push_script(&self, s: Script) {
        let mut scripts = self.scripts.lock();
        match scripts.iter_mut().find(|(svc, _)| *svc == s.service) {
            Some((_, q)) => q.push_back(s.reply),
            None => scripts.push((s.service, VecDeque::from([s.reply]))),
        }
    }

    /// The next scripted reply for `service` (default when none is queued).
    pub(crate) fn next_reply(&self, service: Service) -> Reply {
        self.scripts
            .lock()
            .iter_mut()
            .find(|(svc, _)| *svc == service)
            .and_then(|(_, q)| q.pop_front())
            .unwrap_or_default()
    }

    /// Take the next reply only if it is a failure of the given kind (WebSocket handshakes
    /// take status failures without consuming transcripts).
    pub(crate) fn take_failure_if(
        &self,
        service: Service,
        f: impl Fn(&Failure) -> bool,
    ) -> Option<Failure> {
        let mut scripts = self.scripts.lock();
        let q = &mut scripts.iter_mut().find(|(svc, _)| *svc == service)?.1;
        if q.front().and_then(|r| r.fail.as_ref()).is_some_and(&f) {
            return q.pop_front().and_then(|r| r.fail);
        }
        None
    }

    pub(crate) fn start_entry(&self, mut entry: LogEntry) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        entry.id = id;
        self.log.lock().push(entry);
        id
    }

    pub(crate) fn update(&self, id: u64, f: impl FnOnce(&mut LogEntry)) {
        if let Some(e) = self.log.lock().iter_mut().find(|e| e.id == id) {
            f(e);
        }
    }

    /// Is the presented credential accepted?
    pub(crate) fn check_key(&self, presented: Option<&str>) -> bool {
        match &self.config.lock().api_key {
            None => true,
            Some(k) => presented == Some(k.as_str()),
        }
    }
}

/// A running simulator.
pub struct SimHandle {
    pub addr: SocketAddr,
    state: Arc<SimState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl SimHandle {
    /// `http://ADDR`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// OpenAI-compatible base URL (`http://ADDR/v1`).
    pub fn openai_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Deepgram base URL (`ws://ADDR`).
    pub fn deepgram_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// `CADENCE__…` settings overrides pointing every vendor at this simulator with `key`.
    pub fn settings_overrides(&self, key: &str) -> Vec<(String, String)> {
        let mut v = Vec::new();
        for (vendor, url) in [
            ("OPENAI", self.openai_url()),
            ("ANTHROPIC", self.base_url()),
            ("DEEPGRAM", self.deepgram_url()),
            ("ELEVENLABS", self.base_url()),
        ] {
            v.push((
                format!("CADENCE__PROVIDERS__{vendor}__API_KEY"),
                key.to_string(),
            ));
            v.push((format!("CADENCE__PROVIDERS__{vendor}__BASE_URL"), url));
        }
        v.push((
            "CADENCE__TELEPHONY__TWILIO__BASE_URL".into(),
            self.base_url(),
        ));
        v.push((
            "CADENCE__TELEPHONY__TWILIO__AUTH_TOKEN".into(),
            key.to_string(),
        ));
        v.push((
            "CADENCE__AVATAR__LIVEAVATAR__API_KEY".into(),
            key.to_string(),
        ));
        v.push((
            "CADENCE__AVATAR__LIVEAVATAR__BASE_URL".into(),
            self.base_url(),
        ));
        v
    }

    /// Every LiveAvatar session so far, oldest first, with what it received.
    pub fn avatar_sessions(&self) -> Vec<AvatarRecord> {
        self.state.avatars.lock().records.clone()
    }

    /// End a LiveAvatar session from the vendor's side (its WebSocket says `closed`).
    pub fn avatar_close(&self, session_id: &str) {
        self.state.avatars.lock().close(session_id);
    }

    /// Wait (bounded) until `pred` holds for the avatar sessions; returns them either way.
    pub async fn wait_for_avatars(
        &self,
        pred: impl Fn(&[AvatarRecord]) -> bool,
        limit: Duration,
    ) -> Vec<AvatarRecord> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let all = self.avatar_sessions();
            if pred(&all) || tokio::time::Instant::now() >= deadline {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Every request so far, oldest first.
    pub fn log(&self) -> Vec<LogEntry> {
        self.state.log.lock().clone()
    }

    /// Requests to one service (`openai.chat`, `deepgram.listen`, …).
    pub fn log_for(&self, service: &str) -> Vec<LogEntry> {
        self.log()
            .into_iter()
            .filter(|e| e.service == service)
            .collect()
    }

    /// Register a browser's push subscription (its private key and auth secret) with the
    /// push service; the endpoint URL to give the server.
    pub fn push_subscription(&self, secret: p256::SecretKey, auth: [u8; 16]) -> String {
        let id = self.state.push_register(secret, auth.to_vec());
        format!("{}/push/{id}", self.base_url())
    }

    /// Make a subscription's endpoint answer 410 Gone from now on.
    pub fn push_gone(&self, endpoint: &str) {
        let id = endpoint.rsplit('/').next().unwrap_or_default();
        self.state.push_set_gone(id);
    }

    /// Pushes accepted so far (decrypted), oldest first.
    pub fn push_messages(&self) -> Vec<PushMessage> {
        self.state.push_messages()
    }

    pub fn clear_log(&self) {
        self.state.log.lock().clear();
    }

    /// Queue a scripted reply.
    pub fn script(&self, s: Script) {
        self.state.push_script(s);
    }

    /// Post an inbound SMS/WhatsApp message to a messaging webhook, signed as Twilio signs.
    pub async fn deliver_message(&self, m: InboundMessage) -> anyhow::Result<WebhookAnswer> {
        messages::deliver_inbound(&self.state, m).await
    }

    pub fn configure(&self, f: impl FnOnce(&mut SimConfig)) {
        f(&mut self.state.config.lock());
    }

    /// Wait (bounded) until `pred` holds for the log; returns the log either way.
    pub async fn wait_for_log(
        &self,
        pred: impl Fn(&[LogEntry]) -> bool,
        limit: Duration,
    ) -> Vec<LogEntry> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let log = self.log();
            if pred(&log) || tokio::time::Instant::now() >= deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Like a vendor's edge: small streamed writes go out at once.
fn nodelay(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Addr = std::net::SocketAddr> {
    axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    })
}

/// Start a simulator on `127.0.0.1:0` in this process.
pub async fn spawn(config: SimConfig) -> anyhow::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(SimState::new(config));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(nodelay(listener), app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(SimHandle {
        addr,
        state,
        stop: Some(tx),
    })
}

/// Serve on `listener` until the process ends (the `cadence-sim` binary).
pub async fn serve(listener: tokio::net::TcpListener, config: SimConfig) -> anyhow::Result<()> {
    let state = Arc::new(SimState::new(config));
    axum::serve(nodelay(listener), router(state)).await?;
    Ok(())
}

fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(llm::openai_chat))
        .route("/v1/messages", post(llm::anthropic_messages))
        .route("/v1/embeddings", post(llm::embeddings))
        .route(
            "/v1/audio/transcriptions",
            post(audio::openai_transcriptions),
        )
        .route("/v1/audio/speech", post(audio::openai_speech))
        .route(
            "/v1/text-to-speech/{voice}/stream",
            post(audio::elevenlabs_stream),
        )
        .route("/v1/listen", get(audio::deepgram_listen))
        .route(
            "/2010-04-01/Accounts/{sid}/Calls.json",
            post(twilio::create_call),
        )
        .route(
            "/2010-04-01/Accounts/{sid}/Calls/{call_sid}",
            post(twilio::update_call),
        )
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(messages::create_message),
        )
        .route(
            "/__sim/twilio/messages/inbound",
            post(messages::post_inbound),
        )
        .route("/push/{id}", post(webpush::push))
        .route("/__sim/push/subscriptions", post(webpush::register))
        .route(
            "/__sim/push/subscriptions/{id}/gone",
            post(webpush::set_gone),
        )
        .route("/__sim/push/messages", get(webpush::messages))
        .route("/v1/sessions/token", post(liveavatar::token))
        .route("/v1/sessions/start", post(liveavatar::start))
        .route("/v1/sessions/stop", post(liveavatar::stop))
        .route("/v1/sessions/{id}/ws", get(liveavatar::socket))
        .route(
            "/__sim/avatar",
            get(|State(s): State<Arc<SimState>>| async move {
                Json(s.avatars.lock().records.clone())
            }),
        )
        .route("/__sim/log", get(get_log).delete(clear_log))
        .route("/__sim/script", post(post_script))
        .route("/__sim/config", get(get_config).put(put_config))
        .route("/__sim/health", get(|| async { "ok" }))
        .with_state(state)
}

async fn get_log(State(s): State<Arc<SimState>>) -> Json<Vec<LogEntry>> {
    Json(s.log.lock().clone())
}

async fn clear_log(State(s): State<Arc<SimState>>) -> StatusCode {
    s.log.lock().clear();
    StatusCode::NO_CONTENT
}

/// One script or an array of them.
async fn post_script(State(s): State<Arc<SimState>>, Json(body): Json<Value>) -> Response {
    let scripts: Result<Vec<Script>, _> = if body.is_array() {
        serde_json::from_value(body)
    } else {
        serde_json::from_value(body).map(|s| vec![s])
    };
    match scripts {
        Ok(list) => {
            let n = list.len();
            for sc in list {
                s.push_script(sc);
            }
            (StatusCode::CREATED, Json(json!({"queued": n}))).into_response()
        }
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn get_config(State(s): State<Arc<SimState>>) -> Json<SimConfig> {
    Json(s.config())
}

async fn put_config(State(s): State<Arc<SimState>>, Json(cfg): Json<SimConfig>) -> Json<SimConfig> {
    *s.config.lock() = cfg.clone();
    Json(cfg)
}

// ---- shared helpers for the vendor handlers ----

pub(crate) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

/// A vendor-style JSON error answer.
pub(crate) fn error_response(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (
        status,
        Json(json!({"error": {"message": message, "type": "sim_error", "code": status.as_u16()}})),
    )
        .into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut()
            .insert("retry-after", "1".parse().unwrap());
    }
    resp
}

pub(crate) const HANG: Duration = Duration::from_secs(60);

/// A chunk to stream, or the instruction to break the connection.
pub(crate) enum Out {
    Bytes(Bytes),
    Die,
}

/// Stream the chunks a producer sends; marks the log entry completed at the end, or
/// cancelled when the client goes away first.
pub(crate) fn streamed_body(
    state: Arc<SimState>,
    id: u64,
    produce: impl FnOnce(StreamWriter) -> futures::future::BoxFuture<'static, ()> + Send + 'static,
) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let writer = StreamWriter {
        tx,
        state: state.clone(),
        id,
        split: None,
    };
    tokio::spawn(produce(writer));
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    Body::from_stream(stream)
}

pub(crate) struct StreamWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    state: Arc<SimState>,
    id: u64,
    pub split: Option<usize>,
}

impl StreamWriter {
    /// Send bytes (split into small writes when configured); `false` when the client left.
    pub async fn send(&self, out: Out) -> bool {
        let bytes = match out {
            Out::Die => {
                // Let what was written reach the client before the connection breaks.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = self
                    .tx
                    .send(Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "sim: dying mid-stream",
                    )))
                    .await;
                self.state.update(self.id, |e| e.completed = false);
                return false;
            }
            Out::Bytes(b) => b,
        };
        let pieces: Vec<Bytes> = match self.split {
            Some(n) if n > 0 => bytes.chunks(n).map(Bytes::copy_from_slice).collect(),
            _ => vec![bytes],
        };
        for p in pieces {
            if self.tx.send(Ok(p)).await.is_err() {
                self.state.update(self.id, |e| e.cancelled = true);
                return false;
            }
            if self.split.is_some() {
                // Let each piece go out as its own write.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        true
    }

    /// Sleep, noticing a client that leaves meanwhile; `false` if it left.
    pub async fn pause(&self, ms: u64) -> bool {
        if ms == 0 {
            if self.tx.is_closed() {
                self.state.update(self.id, |e| e.cancelled = true);
                return false;
            }
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(ms)) => true,
            _ = self.tx.closed() => {
                self.state.update(self.id, |e| e.cancelled = true);
                false
            }
        }
    }

    pub fn complete(&self) {
        self.state.update(self.id, |e| e.completed = true);
    }

    /// Stall: keep the connection open without sending anything.
    pub async fn stall(&self) {
        let _ = self.pause(HANG.as_millis() as u64).await;
    }
}

/// Rough token count the simulator reports when not scripted.
pub(crate) fn tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4).max(1)
}
