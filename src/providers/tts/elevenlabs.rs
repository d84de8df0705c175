//! ElevenLabs streaming synthesis: `POST {base}/v1/text-to-speech/{voice}/stream` with
//! `output_format=pcm_16000|pcm_22050|pcm_24000|pcm_44100|ulaw_8000` (raw audio, so chunks
//! need no frame alignment).

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{AudioConverter, Encoding, TtsProvider, TtsRequest, TtsStream, pump_http_audio};
use crate::providers::{
    ProviderError, Timeouts, error_from_response, first_byte, join_url, transport_error,
};

pub const DEFAULT_MODEL: &str = "eleven_flash_v2_5";
/// "Rachel", one of the premade voices every account has.
pub const DEFAULT_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";

pub struct ElevenLabsTts {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    timeouts: Timeouts,
}

impl ElevenLabsTts {
    pub fn new(base_url: &str, api_key: SecretString, timeouts: Timeouts) -> Self {
        Self {
            http: crate::providers::http_client(&timeouts),
            base_url: base_url.to_string(),
            api_key,
            timeouts,
        }
    }
}

/// The output format to ask for when `rate` is wanted, and what it delivers.
pub fn output_format(rate: u32) -> (&'static str, Encoding, u32) {
    match rate {
        8000 => ("ulaw_8000", Encoding::Mulaw, 8000),
        16000 => ("pcm_16000", Encoding::Pcm16, 16000),
        22050 => ("pcm_22050", Encoding::Pcm16, 22050),
        24000 | 48000 => ("pcm_24000", Encoding::Pcm16, 24000),
        44100 => ("pcm_44100", Encoding::Pcm16, 44100),
        _ => ("pcm_16000", Encoding::Pcm16, 16000),
    }
}

#[async_trait]
impl TtsProvider for ElevenLabsTts {
    fn name(&self) -> &str {
        "elevenlabs"
    }

    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, ProviderError> {
        let voice = req
            .voice
            .clone()
            .unwrap_or_else(|| DEFAULT_VOICE.to_string());
        let (format, encoding, native_rate) = output_format(req.sample_rate);
        let url = format!(
            "{}?output_format={format}",
            join_url(&self.base_url, &format!("v1/text-to-speech/{voice}/stream"))
        );
        let mut body = json!({
            "text": req.text,
            "model_id": req.model.clone().unwrap_or_else(|| DEFAULT_MODEL.to_string()),
        });
        if let Some(speed) = req.speed.filter(|s| (*s - 1.0).abs() > f32::EPSILON) {
            body["voice_settings"] = json!({"speed": speed.clamp(0.7, 1.2)});
        }
        let request = self
            .http
            .post(url)
            .header("xi-api-key", self.api_key.expose_secret())
            .json(&body);
        let timeouts = self.timeouts;
        let conv = AudioConverter::new(encoding, native_rate, req.sample_rate);
        TtsStream::spawn(
            "elevenlabs",
            &req,
            timeouts.first_byte,
            move |tx| async move {
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
            },
        )
        .await
    }
}
