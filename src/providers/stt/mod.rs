//! Streaming speech-to-text.

pub mod deepgram;
pub mod openai;
pub mod pocketsphinx;
pub mod pocketsphinx_lm;

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use async_trait::async_trait;
use futures::Stream;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::{AbortOnDrop, ProviderError, Stage};

/// How a recognition session is opened.
#[derive(Debug, Clone, PartialEq)]
pub struct SttConfig {
    /// `None`: the provider's default model.
    pub model: Option<String>,
    /// BCP 47 language, e.g. `en-US`.
    pub language: String,
    /// Sample rate of the PCM16 mono frames that will be pushed.
    pub sample_rate: u32,
    /// Silence that ends a turn (provider endpointing, or the local VAD's).
    pub endpointing_ms: u32,
    /// Fallback end-of-utterance after this much silence (Deepgram `utterance_end_ms`, ≥ 1000).
    pub utterance_end_ms: u32,
    pub interim_results: bool,
}

impl Default for SttConfig {
    fn default() -> Self {
        Self {
            model: None,
            language: "en-US".into(),
            sample_rate: 16000,
            endpointing_ms: 300,
            utterance_end_ms: 1000,
            interim_results: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SttEvent {
    /// The user started speaking (barge-in can start here).
    SpeechStarted,
    /// Recognised text. `is_final`: this segment will not change; `speech_final`: the
    /// speaker paused long enough to end the turn (endpointing).
    Transcript {
        text: String,
        is_final: bool,
        speech_final: bool,
        confidence: Option<f32>,
    },
    /// End of an utterance after `utterance_end_ms` of silence (a fallback turn end).
    UtteranceEnd,
    /// The session is over (after the sender was dropped): what to bill.
    Closed { billed_seconds: f64 },
}

/// What the client pushes into a session.
#[derive(Debug, Clone, PartialEq)]
pub enum SttInput {
    Audio(Vec<i16>),
    /// Flush: finish the current utterance now (e.g. the user pressed "done").
    Finalize,
}

#[async_trait]
pub trait SttProvider: Send + Sync {
    fn name(&self) -> &str;

    /// Open a session. Resolves once the provider is ready to take audio (connection open,
    /// process started): an error here happened before the first byte.
    async fn start(&self, cfg: SttConfig) -> Result<SttSession, ProviderError>;
}

/// Seconds of audio billed for a session, shared by the session's halves.
#[derive(Debug, Default)]
pub struct BilledMeter {
    sent: Mutex<(u64, u32)>,
    reported: Mutex<Option<f64>>,
}

impl BilledMeter {
    pub fn add_samples(&self, n: usize, rate: u32) {
        let mut s = self.sent.lock();
        s.0 += n as u64;
        s.1 = rate;
    }

    /// The provider's own figure (Deepgram `Metadata.duration`) wins over our count.
    pub fn set_reported(&self, secs: f64) {
        *self.reported.lock() = Some(secs);
    }

    pub fn seconds(&self) -> f64 {
        if let Some(r) = *self.reported.lock() {
            return r;
        }
        let (n, rate) = *self.sent.lock();
        if rate == 0 {
            0.0
        } else {
            n as f64 / rate as f64
        }
    }
}

/// Push side of a session. Cloneable; when every clone is dropped the provider flushes,
/// sends its last events and `Closed`.
#[derive(Clone)]
pub struct SttSender {
    tx: mpsc::Sender<SttInput>,
}

impl SttSender {
    /// Push PCM16 mono samples at the session's sample rate.
    pub async fn send_audio(&self, samples: Vec<i16>) -> Result<(), ProviderError> {
        self.tx
            .send(SttInput::Audio(samples))
            .await
            .map_err(|_| ProviderError::Upstream("the recognition session has ended".into()))
    }

    /// Ask the provider to finish the current utterance now.
    pub async fn finalize(&self) -> Result<(), ProviderError> {
        self.tx
            .send(SttInput::Finalize)
            .await
            .map_err(|_| ProviderError::Upstream("the recognition session has ended".into()))
    }
}

type Item = Result<SttEvent, ProviderError>;

/// Event side of a session. Dropping it ends the session at once (connection closed,
/// process killed).
pub struct SttEvents {
    provider: String,
    rx: mpsc::Receiver<Item>,
    meter: Arc<BilledMeter>,
    _task: AbortOnDrop,
}

impl SttEvents {
    pub async fn recv(&mut self) -> Option<Item> {
        let item = self.rx.recv().await;
        if let Some(Err(e)) = &item {
            super::metrics::error(Stage::Stt, &self.provider, e);
        }
        item
    }

    /// Seconds billed so far (final once `Closed` arrived).
    pub fn billed_seconds(&self) -> f64 {
        self.meter.seconds()
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }
}

impl Stream for SttEvents {
    type Item = Item;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let poll = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(Err(e))) = &poll {
            super::metrics::error(Stage::Stt, &self.provider, e);
        }
        poll
    }
}

/// An open recognition session: push audio with `sender`, read `events`.
pub struct SttSession {
    pub sender: SttSender,
    pub events: SttEvents,
}

/// The provider's half of a session, handed to its task: what the client pushes, and
/// where events go.
pub struct SttDriver {
    pub input: mpsc::Receiver<SttInput>,
    pub out: SttOutput,
}

pub struct SttOutput {
    pub events: mpsc::Sender<Item>,
    pub meter: Arc<BilledMeter>,
}

impl SttOutput {
    /// Emit an event; `false` when nobody listens any more.
    pub async fn emit(&self, ev: SttEvent) -> bool {
        self.events.send(Ok(ev)).await.is_ok()
    }

    pub async fn fail(&self, e: ProviderError) {
        let _ = self.events.send(Err(e)).await;
    }

    /// The final event.
    pub async fn closed(&self) {
        let billed = self.meter.seconds();
        let _ = self
            .events
            .send(Ok(SttEvent::Closed {
                billed_seconds: billed,
            }))
            .await;
    }
}

impl SttSession {
    /// Wire up a session around a provider task.
    pub fn spawn<F, Fut>(provider: &str, produce: F) -> Self
    where
        F: FnOnce(SttDriver) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (in_tx, in_rx) = mpsc::channel(256);
        let (ev_tx, ev_rx) = mpsc::channel(256);
        let meter = Arc::new(BilledMeter::default());
        let driver = SttDriver {
            input: in_rx,
            out: SttOutput {
                events: ev_tx,
                meter: meter.clone(),
            },
        };
        let task = AbortOnDrop(tokio::spawn(produce(driver)).abort_handle());
        Self {
            sender: SttSender { tx: in_tx },
            events: SttEvents {
                provider: provider.to_string(),
                rx: ev_rx,
                meter,
                _task: task,
            },
        }
    }

    pub fn split(self) -> (SttSender, SttEvents) {
        (self.sender, self.events)
    }
}

/// Record a session start for metrics: the request, then its open time or its error.
pub(crate) fn record_start(
    provider: &str,
    started: std::time::Instant,
    result: &Result<SttSession, ProviderError>,
) {
    super::metrics::request(Stage::Stt, provider);
    match result {
        Ok(_) => super::metrics::first_byte(Stage::Stt, provider, started.elapsed()),
        Err(e) => super::metrics::error(Stage::Stt, provider, e),
    }
}
