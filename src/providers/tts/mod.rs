//! Streaming text-to-speech: text in, PCM16 mono at the requested sample rate out.

pub mod elevenlabs;
pub mod espeak;
pub mod openai;

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use futures::Stream;
use tokio::sync::mpsc;

use super::{AbortOnDrop, ProviderError, Stage};
use crate::audio::{Pcm16Decoder, Resampler, mulaw};

#[derive(Debug, Clone, PartialEq)]
pub struct TtsRequest {
    pub text: String,
    /// `None`: the provider's default voice.
    pub voice: Option<String>,
    /// `None`: the provider's default model.
    pub model: Option<String>,
    /// Speaking rate, 1.0 = normal.
    pub speed: Option<f32>,
    /// The sample rate of the PCM the caller wants.
    pub sample_rate: u32,
}

impl TtsRequest {
    pub fn new(text: impl Into<String>, sample_rate: u32) -> Self {
        Self {
            text: text.into(),
            voice: None,
            model: None,
            speed: None,
            sample_rate,
        }
    }

    /// Billing unit: characters sent to synthesis.
    pub fn characters(&self) -> usize {
        self.text.chars().count()
    }
}

#[async_trait]
pub trait TtsProvider: Send + Sync {
    fn name(&self) -> &str;

    /// Start synthesis. Resolves once the first audio arrived, so an error here happened
    /// before the first byte.
    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, ProviderError>;
}

type Item = Result<Vec<i16>, ProviderError>;

/// Streamed audio: chunks of PCM16 mono at `sample_rate()`. Ends with `None` after the
/// last chunk; an `Err` item ends it early. Dropping it cancels the request.
pub struct TtsStream {
    provider: String,
    sample_rate: u32,
    characters: usize,
    first: Option<Item>,
    rx: mpsc::Receiver<Item>,
    done: bool,
    _task: AbortOnDrop,
}

impl TtsStream {
    /// Spawn `produce` and wait (under `first_byte_timeout`) for its first chunk.
    pub async fn spawn<F, Fut>(
        provider: &str,
        req: &TtsRequest,
        first_byte_timeout: Duration,
        produce: F,
    ) -> Result<Self, ProviderError>
    where
        F: FnOnce(mpsc::Sender<Item>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel(64);
        let started = Instant::now();
        super::metrics::request(Stage::Tts, provider);
        let task = AbortOnDrop(tokio::spawn(produce(tx)).abort_handle());
        let fail = |e: ProviderError| {
            super::metrics::error(Stage::Tts, provider, &e);
            Err(e)
        };
        let first = loop {
            match tokio::time::timeout(first_byte_timeout, rx.recv()).await {
                Ok(Some(Ok(chunk))) if chunk.is_empty() => continue,
                Ok(Some(Ok(chunk))) => break Some(Ok(chunk)),
                Ok(Some(Err(e))) => return fail(e),
                // Nothing to say (empty text): an empty stream.
                Ok(None) => break None,
                Err(_) => {
                    return fail(ProviderError::Timeout(
                        "no audio before the first-byte timeout".into(),
                    ));
                }
            }
        };
        super::metrics::first_byte(Stage::Tts, provider, started.elapsed());
        Ok(Self {
            provider: provider.to_string(),
            sample_rate: req.sample_rate,
            characters: req.characters(),
            done: first.is_none(),
            first,
            rx,
            _task: task,
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Characters billed for this synthesis (all of the text sent, even if cancelled).
    pub fn characters(&self) -> usize {
        self.characters
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// Read all the audio.
    pub async fn collect(mut self) -> Result<Vec<i16>, ProviderError> {
        use futures::StreamExt;
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            out.extend(chunk?);
        }
        Ok(out)
    }
}

impl Stream for TtsStream {
    type Item = Item;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(first));
        }
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Err(e))) => {
                super::metrics::error(Stage::Tts, &self.provider, &e);
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

/// Vendor audio encodings we decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Pcm16,
    Mulaw,
}

/// Turns a vendor's byte stream (split anywhere) into PCM16 at the requested rate.
pub struct AudioConverter {
    encoding: Encoding,
    pcm: Pcm16Decoder,
    resampler: Resampler,
}

impl AudioConverter {
    pub fn new(encoding: Encoding, from_rate: u32, to_rate: u32) -> Self {
        Self {
            encoding,
            pcm: Pcm16Decoder::default(),
            resampler: Resampler::new(from_rate, to_rate),
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Vec<i16> {
        let samples = match self.encoding {
            Encoding::Pcm16 => self.pcm.push(bytes),
            Encoding::Mulaw => mulaw::decode(bytes),
        };
        self.resampler.process(&samples)
    }

    pub fn flush(&mut self) -> Vec<i16> {
        self.resampler.flush()
    }
}

/// Shared body reader for HTTP TTS vendors: stream `resp` through `conv` into `tx`.
pub(crate) async fn pump_http_audio(
    mut resp: reqwest::Response,
    mut conv: AudioConverter,
    timeouts: super::Timeouts,
    tx: mpsc::Sender<Item>,
) {
    // A JSON answer where audio was expected is an error document, not sound.
    let is_json = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        let body = resp.text().await.unwrap_or_default();
        let excerpt: String = body.chars().take(200).collect();
        let _ = tx
            .send(Err(ProviderError::bad_response(format!(
                "expected audio, got JSON: {excerpt}"
            ))))
            .await;
        return;
    }
    let mut first = true;
    loop {
        let limit = if first {
            timeouts.first_byte
        } else {
            timeouts.idle
        };
        first = false;
        match super::next_chunk(&mut resp, limit).await {
            Ok(Some(bytes)) => {
                let pcm = conv.push(&bytes);
                if !pcm.is_empty() && tx.send(Ok(pcm)).await.is_err() {
                    return;
                }
            }
            Ok(None) => {
                let tail = conv.flush();
                if !tail.is_empty() {
                    let _ = tx.send(Ok(tail)).await;
                }
                return;
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        }
    }
}
