//! Fallback chains: try each provider in order; a failure before the first byte moves to
//! the next one (counted in `provider_fallbacks_total`). Failures after the first byte are
//! the caller's to handle: part of the answer was already used.

use std::sync::Arc;

use async_trait::async_trait;

use super::{
    ProviderError, Stage,
    llm::{LlmProvider, LlmRequest, LlmStream},
    metrics,
    stt::{SttConfig, SttProvider, SttSession},
    tts::{TtsProvider, TtsRequest, TtsStream},
};

/// One link of a chain: a provider and the model (and voice, for TTS) to use with it;
/// `None` keeps what the request says (first link) or the provider's default (others).
#[derive(Clone)]
pub struct Link<P: ?Sized> {
    pub provider: Arc<P>,
    pub model: Option<String>,
    pub voice: Option<String>,
}

pub struct LlmChain(pub Vec<Link<dyn LlmProvider>>);
pub struct SttChain(pub Vec<Link<dyn SttProvider>>);
pub struct TtsChain(pub Vec<Link<dyn TtsProvider>>);

fn exhausted() -> ProviderError {
    ProviderError::Upstream("no provider is available for this stage".into())
}

#[async_trait]
impl LlmProvider for LlmChain {
    fn name(&self) -> &str {
        self.0.first().map(|l| l.provider.name()).unwrap_or("none")
    }

    async fn stream_chat(&self, req: LlmRequest) -> Result<LlmStream, ProviderError> {
        let mut last = exhausted();
        for (i, link) in self.0.iter().enumerate() {
            let mut r = req.clone();
            r.model = link
                .model
                .clone()
                .or(if i == 0 { req.model.clone() } else { None });
            match link.provider.stream_chat(r).await {
                Ok(s) => return Ok(s),
                Err(e) => {
                    if i + 1 < self.0.len() {
                        metrics::fallback(Stage::Llm, link.provider.name());
                        tracing::warn!(provider = link.provider.name(), error = %e, "LLM failed before its first byte, trying the next provider");
                    }
                    last = e;
                }
            }
        }
        Err(last)
    }
}

#[async_trait]
impl SttProvider for SttChain {
    fn name(&self) -> &str {
        self.0.first().map(|l| l.provider.name()).unwrap_or("none")
    }

    async fn start(&self, cfg: SttConfig) -> Result<SttSession, ProviderError> {
        let mut last = exhausted();
        for (i, link) in self.0.iter().enumerate() {
            let mut c = cfg.clone();
            c.model = link
                .model
                .clone()
                .or(if i == 0 { cfg.model.clone() } else { None });
            match link.provider.start(c).await {
                Ok(s) => return Ok(s),
                Err(e) => {
                    if i + 1 < self.0.len() {
                        metrics::fallback(Stage::Stt, link.provider.name());
                        tracing::warn!(provider = link.provider.name(), error = %e, "STT failed to start, trying the next provider");
                    }
                    last = e;
                }
            }
        }
        Err(last)
    }
}

#[async_trait]
impl TtsProvider for TtsChain {
    fn name(&self) -> &str {
        self.0.first().map(|l| l.provider.name()).unwrap_or("none")
    }

    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, ProviderError> {
        let mut last = exhausted();
        for (i, link) in self.0.iter().enumerate() {
            let mut r = req.clone();
            r.model = link
                .model
                .clone()
                .or(if i == 0 { req.model.clone() } else { None });
            r.voice = link
                .voice
                .clone()
                .or(if i == 0 { req.voice.clone() } else { None });
            match link.provider.synthesize(r).await {
                Ok(s) => return Ok(s),
                Err(e) => {
                    if i + 1 < self.0.len() {
                        metrics::fallback(Stage::Tts, link.provider.name());
                        tracing::warn!(provider = link.provider.name(), error = %e, "TTS failed before its first byte, trying the next provider");
                    }
                    last = e;
                }
            }
        }
        Err(last)
    }
}
