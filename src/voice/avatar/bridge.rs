//! The tee from a voice session to its avatar: the pacer hands every frame the client hears
//! to an [`AvatarTap`] (a bounded channel, `try_send`: the pacer never waits on the avatar),
//! and one task per session owns LiveAvatar's command WebSocket — resampling to PCM16 24 kHz,
//! sending ~1 s `agent.speak` chunks (sooner at the end of a spoken chunk, then
//! `agent.speak_end`), `agent.interrupt` on barge-in and `session.keep_alive` while idle.
//!
//! Barge-in is an epoch, not a message: [`AvatarTap::interrupt`] bumps it and wakes the task,
//! so it cannot be lost to a full channel, and audio queued under an older epoch is dropped.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::audio::resample::Resampler;

/// LiveAvatar's LITE audio format.
pub const AVATAR_RATE: u32 = 24_000;
/// About a second per `agent.speak` (the recommended size; far below the 1 MB packet limit).
const CHUNK_SAMPLES: usize = AVATAR_RATE as usize;
/// Frames the tap may queue before it drops (about 5 s of 20 ms frames).
const TAP_CAPACITY: usize = 256;
/// LiveAvatar ends a session idle for 5 minutes.
const KEEP_ALIVE: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

enum Cmd {
    Audio {
        epoch: u64,
        samples: Vec<i16>,
        rate: u32,
    },
    SpeakEnd {
        epoch: u64,
    },
}

struct Shared {
    epoch: AtomicU64,
    wake: Notify,
}

/// The pacer's side of the tee. Cheap to clone.
#[derive(Clone)]
pub struct AvatarTap {
    tx: mpsc::Sender<Cmd>,
    shared: Arc<Shared>,
}

impl AvatarTap {
    /// A frame the client is about to hear (PCM16 at `rate`). Dropped when the avatar lags.
    pub fn audio(&self, samples: &[i16], rate: u32) {
        let cmd = Cmd::Audio {
            epoch: self.shared.epoch.load(Ordering::Acquire),
            samples: samples.to_vec(),
            rate,
        };
        if self.tx.try_send(cmd).is_err() {
            metrics::counter!("avatar_frames_dropped_total").increment(1);
        }
    }

    /// A spoken chunk ended: flush what is buffered and close the speaking event.
    pub fn speak_end(&self) {
        let epoch = self.shared.epoch.load(Ordering::Acquire);
        let _ = self.tx.try_send(Cmd::SpeakEnd { epoch });
    }

    /// Barge-in: the avatar drops what it was told to say.
    pub fn interrupt(&self) {
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
        self.shared.wake.notify_one();
    }
}

/// A voice session's attached avatar.
pub struct AvatarLink {
    pub avatar_session_id: Uuid,
    pub tap: AvatarTap,
    /// Cancelled when the avatar side ends (LiveAvatar closed, or never connected).
    pub ended: CancellationToken,
    /// When the avatar session started (its minutes count from here).
    pub started: Instant,
    /// Minutes held for it in the quota.
    pub minutes_reserved: i32,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl AvatarLink {
    /// Connect to the command WebSocket in the background and start the tee.
    pub fn open(
        avatar_session_id: Uuid,
        ws_url: String,
        started: Instant,
        minutes_reserved: i32,
    ) -> Self {
        let (tx, rx) = mpsc::channel(TAP_CAPACITY);
        let shared = Arc::new(Shared {
            epoch: AtomicU64::new(0),
            wake: Notify::new(),
        });
        let ended = CancellationToken::new();
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(ws_url, rx, shared.clone(), ended.clone(), stop.clone()));
        Self {
            avatar_session_id,
            tap: AvatarTap { tx, shared },
            ended,
            started,
            minutes_reserved,
            stop,
            task,
        }
    }

    /// Close the WebSocket (bounded wait); the session itself is stopped by the finalizer.
    pub async fn close(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(3), self.task).await;
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn run(
    ws_url: String,
    rx: mpsc::Receiver<Cmd>,
    shared: Arc<Shared>,
    ended: CancellationToken,
    stop: CancellationToken,
) {
    let ws = tokio::select! {
        _ = stop.cancelled() => return,
        ws = connect(&ws_url) => ws,
    };
    match ws {
        Ok(ws) => {
            if let Err(e) = pump(ws, rx, &shared, &stop).await {
                tracing::warn!(error = %e, "the avatar's WebSocket failed");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not connect to the avatar"),
    }
    // Whatever ended the pump other than our own stop ends the voice session too.
    if !stop.is_cancelled() {
        ended.cancel();
    }
}

/// Open the socket and wait for `session.state_updated: connected` (commands sent before it
/// are not accepted).
async fn connect(url: &str) -> anyhow::Result<Ws> {
    let (mut ws, _) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(url, None, true),
    )
    .await
    .map_err(|_| anyhow::anyhow!("connect timed out"))??;
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| anyhow::anyhow!("the avatar never reported connected"))?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                if v["type"] == "session.state_updated" {
                    match v["state"].as_str() {
                        Some("connected") => return Ok(ws),
                        Some("closed" | "closing") => anyhow::bail!("the avatar session closed"),
                        _ => {}
                    }
                }
            }
            Some(Ok(Message::Close(_))) | None => anyhow::bail!("closed before connecting"),
            Some(Err(e)) => return Err(e.into()),
            _ => {}
        }
    }
}

/// The resampler and the chunk being filled.
struct Speaker {
    resampler: Option<Resampler>,
    buf: Vec<i16>,
    /// The speaking event the buffered audio belongs to.
    event_id: Option<Uuid>,
}

impl Speaker {
    fn push(&mut self, samples: &[i16], rate: u32) {
        if rate == AVATAR_RATE {
            self.buf.extend_from_slice(samples);
            return;
        }
        let r = match &mut self.resampler {
            Some(r) if r.from_rate() == rate => r,
            slot => slot.insert(Resampler::new(rate, AVATAR_RATE)),
        };
        self.buf.extend(r.process(samples));
    }

    fn tail(&mut self) {
        if let Some(r) = &mut self.resampler {
            self.buf.extend(r.flush());
        }
    }

    fn reset(&mut self) {
        self.resampler = None;
        self.buf.clear();
        self.event_id = None;
    }
}

async fn pump(
    ws: Ws,
    mut rx: mpsc::Receiver<Cmd>,
    shared: &Shared,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let (mut sink, mut stream) = ws.split();
    let mut seen_epoch = shared.epoch.load(Ordering::Acquire);
    let mut sp = Speaker {
        resampler: None,
        buf: Vec::new(),
        event_id: None,
    };
    let mut keep_alive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => {
                let _ = sink.send(Message::Close(None)).await;
                return Ok(());
            }
            _ = shared.wake.notified() => {
                let now = shared.epoch.load(Ordering::Acquire);
                if now != seen_epoch {
                    seen_epoch = now;
                    sp.reset();
                    send(&mut sink, json!({"type": "agent.interrupt"})).await?;
                }
            }
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { return Ok(()) };
                match cmd {
                    Cmd::Audio { epoch, samples, rate } => {
                        if epoch < seen_epoch {
                            continue;
                        }
                        if epoch > seen_epoch {
                            // Audio of a turn after a barge-in the wake-up has not shown yet.
                            seen_epoch = epoch;
                            sp.reset();
                            send(&mut sink, json!({"type": "agent.interrupt"})).await?;
                        }
                        sp.event_id.get_or_insert_with(Uuid::now_v7);
                        sp.push(&samples, rate);
                        while sp.buf.len() >= CHUNK_SAMPLES {
                            let rest = sp.buf.split_off(CHUNK_SAMPLES);
                            let chunk = std::mem::replace(&mut sp.buf, rest);
                            speak(&mut sink, &chunk).await?;
                        }
                    }
                    Cmd::SpeakEnd { epoch } => {
                        if epoch != seen_epoch {
                            continue;
                        }
                        let Some(event_id) = sp.event_id.take() else { continue };
                        sp.tail();
                        let chunk = std::mem::take(&mut sp.buf);
                        if !chunk.is_empty() {
                            speak(&mut sink, &chunk).await?;
                        }
                        sp.resampler = None;
                        send(&mut sink, json!({"type": "agent.speak_end", "event_id": event_id})).await?;
                    }
                }
            }
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                    if v["type"] == "session.state_updated"
                        && matches!(v["state"].as_str(), Some("closed" | "closing"))
                    {
                        return Ok(());
                    }
                }
                Some(Ok(Message::Close(_))) | None => return Ok(()),
                Some(Err(e)) => return Err(e.into()),
                _ => {}
            },
            _ = keep_alive.tick() => {
                send(&mut sink, json!({"type": "session.keep_alive", "event_id": Uuid::now_v7()})).await?;
            }
        }
    }
}

type Sink = futures::stream::SplitSink<Ws, Message>;

async fn speak(sink: &mut Sink, samples: &[i16]) -> anyhow::Result<()> {
    let audio =
        base64::engine::general_purpose::STANDARD.encode(crate::audio::pcm16_to_le_bytes(samples));
    send(sink, json!({"type": "agent.speak", "audio": audio})).await
}

async fn send(sink: &mut Sink, v: Value) -> anyhow::Result<()> {
    tokio::time::timeout(
        Duration::from_secs(5),
        sink.send(Message::Text(v.to_string().into())),
    )
    .await
    .map_err(|_| anyhow::anyhow!("the avatar is not reading"))??;
    Ok(())
}
