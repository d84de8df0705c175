//! OpenAI-compatible speech (`POST {base}/audio/speech`, `response_format: "pcm"`): raw
//! PCM16 mono at 24 kHz, resampled to what the caller wants.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{AudioConverter, Encoding, TtsProvider, TtsRequest, TtsStream, pump_http_audio};
use crate::providers::{
    ProviderError, Timeouts, error_from_response, first_byte, join_url, transport_error,
};

pub const DEFAULT_MODEL: &str = "gpt-4o-mini-tts";
pub const DEFAULT_VOICE: &str = "alloy";
pub const NATIVE_RATE: u32 = 24000;

pub struct OpenAiTts {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    timeouts: Timeouts,
}

impl OpenAiTts {
    pub fn new(base_url: &str, api_key: SecretString, timeouts: Timeouts) -> Self {
        Self {
            http: crate::providers::http_client(&timeouts),
            base_url: base_url.to_string(),
            api_key,
            timeouts,
        }
    }
}

#[async_trait]
impl TtsProvider for OpenAiTts {
    fn name(&self) -> &str {
        "openai"
    }

    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, ProviderError> {
        let mut body = json!({
            "model": req.model.clone().unwrap_or_else(|| DEFAULT_MODEL.to_string()),
            "input": req.text,
            "voice": req.voice.clone().unwrap_or_else(|| DEFAULT_VOICE.to_string()),
            "response_format": "pcm",
        });
        if let Some(speed) = req.speed {
            body["speed"] = json!(speed.clamp(0.25, 4.0));
        }
        let request = self
            .http
            .post(join_url(&self.base_url, "audio/speech"))
            .bearer_auth(self.api_key.expose_secret())
            .json(&body);
        let timeouts = self.timeouts;
        let conv = AudioConverter::new(Encoding::Pcm16, NATIVE_RATE, req.sample_rate);
        TtsStream::spawn("openai", &req, timeouts.first_byte, move |tx| async move {
            let resp = first_byte(&timeouts, async {
                request.send().await.map_err(transport_error)
            })
            .await;
            match resp {
                Ok(resp) if resp.status().is_success() => {
                    pump_http_audio(resp, conv, timeouts, tx).await
                }
                Ok(resp) => {
                    let _ = tx.send(Err(error_from_response(resp).await)).await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                }
            }
        })
        .await
    }
}
