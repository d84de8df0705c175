//! Speech-to-text, language-model and text-to-speech providers behind three small traits.
//!
//! - [`SttProvider::start`] opens a streaming recognition session: push PCM16 frames with
//!   [`stt::SttSender`], read [`stt::SttEvent`]s (speech started, interim/final transcripts,
//!   end of utterance, closed with the billed seconds) from [`stt::SttEvents`].
//! - [`LlmProvider::stream_chat`] streams a chat completion with tools: [`llm::LlmEvent`]s
//!   (text deltas, tool-call deltas keyed by index, then `Done` with the assembled tool calls
//!   and the usage). Dropping the [`llm::LlmStream`] cancels the HTTP request;
//!   [`llm::LlmStream::usage`] estimates the usage when the vendor's usage never came.
//! - [`TtsProvider::synthesize`] streams PCM16 at the requested sample rate; the billed
//!   characters are known up front ([`tts::TtsStream::characters`]).
//!
//! Every start call returns only once the first byte/event arrived (or failed), so a
//! [`fallback`] chain can move to the next provider on a failure before the first byte.
//! One error type, [`ProviderError`]; per-call [`Timeouts`]; per-provider metrics in
//! [`metrics`]; [`registry::ProviderRegistry`] resolves providers by name from settings.

pub mod catalog;
pub mod embeddings;
pub mod error;
pub mod fallback;
pub mod llm;
pub mod metrics;
pub mod registry;
pub mod sse;
pub mod stt;
pub mod tts;

use std::time::Duration;

pub use error::{ErrorKind, ProviderError};
pub use llm::{LlmProvider, LlmStream};
pub use registry::ProviderRegistry;
pub use stt::{SttProvider, SttSession};
pub use tts::{TtsProvider, TtsStream};

/// Which pipeline stage a provider serves.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Stt,
    Llm,
    Tts,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stt => "stt",
            Self::Llm => "llm",
            Self::Tts => "tts",
        }
    }
}

/// Per-call timeouts: establishing the connection, waiting for the first byte of the
/// answer, and the longest silence between two chunks of a streamed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(15),
            idle: Duration::from_secs(20),
        }
    }
}

impl Timeouts {
    pub fn from_settings(s: &crate::config::ProviderTimeoutSettings) -> Self {
        Self {
            connect: Duration::from_millis(s.connect_ms),
            first_byte: Duration::from_millis(s.first_byte_ms),
            idle: Duration::from_millis(s.idle_ms),
        }
    }
}

/// Build the HTTP client a cloud provider uses (its own, so the connect timeout is its own).
pub fn http_client(timeouts: &Timeouts) -> reqwest::Client {
    crate::install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .user_agent(concat!("cadence/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a reqwest client with default TLS settings")
}

/// Join a configured base URL and a path, tolerating a trailing slash on the base.
pub(crate) fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Aborts a spawned task when dropped: streams own their producer task this way, so
/// dropping a stream cancels the underlying request or process.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Run `fut` (a request send or the first read) under the first-byte timeout.
pub(crate) async fn first_byte<T>(
    timeouts: &Timeouts,
    fut: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    match tokio::time::timeout(timeouts.first_byte, fut).await {
        Ok(r) => r,
        Err(_) => Err(ProviderError::Timeout(
            "no answer before the first-byte timeout".into(),
        )),
    }
}

/// Map a non-success HTTP answer to a [`ProviderError`], keeping a short excerpt of the body.
pub(crate) async fn error_from_response(resp: reqwest::Response) -> ProviderError {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = resp.text().await.unwrap_or_default();
    let excerpt: String = body.chars().take(300).collect();
    ProviderError::from_status(status.as_u16(), retry_after, &excerpt)
}

/// Map a transport error from reqwest.
pub(crate) fn transport_error(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout(format!("request timed out: {e}"))
    } else if e.is_connect() {
        ProviderError::Upstream(format!("could not connect: {e}"))
    } else if e.is_decode() || e.is_body() {
        ProviderError::Upstream(format!("the answer was cut off: {e}"))
    } else {
        ProviderError::Upstream(e.to_string())
    }
}

/// Read the next chunk of a streamed body under the idle timeout; `Ok(None)` at its end.
pub(crate) async fn next_chunk(
    resp: &mut reqwest::Response,
    idle: Duration,
) -> Result<Option<bytes::Bytes>, ProviderError> {
    match tokio::time::timeout(idle, resp.chunk()).await {
        Ok(r) => r.map_err(transport_error),
        Err(_) => Err(ProviderError::Timeout(
            "the stream went silent past the idle timeout".into(),
        )),
    }
}

/// Rough token count for usage estimates: about four characters per token for English,
/// at least one token per word-ish piece.
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count() as u32;
    chars.div_ceil(4)
}
