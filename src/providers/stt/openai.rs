//! OpenAI-compatible transcription (`POST {base}/audio/transcriptions`), one request per
//! utterance: the local energy VAD cuts the stream into utterances.

use std::time::Instant;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{
    SttConfig, SttDriver, SttEvent, SttInput, SttOutput, SttProvider, SttSession, record_start,
};
use crate::{
    audio::{EnergyVad, Frame, VadConfig, VadEvent, wav},
    providers::{
        ProviderError, Timeouts, error_from_response, first_byte, join_url, transport_error,
    },
};

pub const DEFAULT_MODEL: &str = "gpt-4o-mini-transcribe";
/// Audio kept from before the VAD fired, so the first syllable is not clipped.
const PRE_ROLL_MS: u64 = 300;

pub struct OpenAiStt {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    timeouts: Timeouts,
}

impl OpenAiStt {
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
impl SttProvider for OpenAiStt {
    fn name(&self) -> &str {
        "openai"
    }

    async fn start(&self, cfg: SttConfig) -> Result<SttSession, ProviderError> {
        let started = Instant::now();
        let client = Transcriber {
            http: self.http.clone(),
            url: join_url(&self.base_url, "audio/transcriptions"),
            api_key: self.api_key.clone(),
            model: cfg
                .model
                .clone()
                .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
            language: cfg
                .language
                .split(['-', '_'])
                .next()
                .unwrap_or("en")
                .to_lowercase(),
            timeouts: self.timeouts,
        };
        let result = Ok(SttSession::spawn("openai", move |driver| async move {
            let SttDriver { mut input, out } = driver;
            if let Err(e) = run(&mut input, &out, cfg, client).await {
                out.fail(e).await;
            }
        }));
        record_start("openai", started, &result);
        result
    }
}

struct Transcriber {
    http: reqwest::Client,
    url: String,
    api_key: SecretString,
    model: String,
    language: String,
    timeouts: Timeouts,
}

/// A multipart/form-data body (the one request shape reqwest's enabled features lack).
pub fn multipart_body(
    boundary: &str,
    fields: &[(&str, &str)],
    file: (&str, &str, &[u8]),
) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    let (name, filename, bytes) = file;
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: audio/wav\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

impl Transcriber {
    async fn transcribe(&self, audio: &Frame) -> Result<String, ProviderError> {
        let boundary = format!("cadence-{}", uuid::Uuid::new_v4().simple());
        let wav = wav::write(audio);
        let body = multipart_body(
            &boundary,
            &[
                ("model", self.model.as_str()),
                ("language", self.language.as_str()),
                ("response_format", "json"),
            ],
            ("file", "utterance.wav", &wav),
        );
        let request = self
            .http
            .post(&self.url)
            .bearer_auth(self.api_key.expose_secret())
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .timeout(self.timeouts.first_byte + self.timeouts.idle)
            .body(body);
        let resp = first_byte(&self.timeouts, async {
            request.send().await.map_err(transport_error)
        })
        .await?;
        if !resp.status().is_success() {
            return Err(error_from_response(resp).await);
        }
        let v: Value = resp
            .json()
            .await
            .map_err(|e| ProviderError::bad_response(format!("invalid transcription JSON: {e}")))?;
        v["text"]
            .as_str()
            .map(|t| t.trim().to_string())
            .ok_or_else(|| ProviderError::bad_response("transcription without text"))
    }
}

async fn run(
    input: &mut tokio::sync::mpsc::Receiver<SttInput>,
    out: &SttOutput,
    cfg: SttConfig,
    client: Transcriber,
) -> Result<(), ProviderError> {
    let rate = cfg.sample_rate;
    let vad_cfg = VadConfig {
        end_ms: cfg.endpointing_ms.max(200),
        ..VadConfig::default()
    };
    let mut vad = EnergyVad::new(rate, vad_cfg);
    let pre_roll = crate::audio::samples_for_ms(rate, PRE_ROLL_MS);
    // Audio of the current utterance (with pre-roll), or the recent past while silent.
    let mut buf: Vec<i16> = Vec::new();
    let mut in_utterance = false;
    loop {
        let msg = input.recv().await;
        let mut end_now = matches!(msg, Some(SttInput::Finalize) | None);
        if let Some(SttInput::Audio(samples)) = &msg {
            buf.extend_from_slice(samples);
            for ev in vad.push(samples) {
                match ev {
                    VadEvent::SpeechStart { .. } => {
                        in_utterance = true;
                        if !out.emit(SttEvent::SpeechStarted).await {
                            return Ok(());
                        }
                    }
                    VadEvent::SpeechEnd { .. } => end_now = true,
                }
            }
            if !in_utterance && buf.len() > pre_roll {
                buf.drain(..buf.len() - pre_roll);
            }
        }
        if end_now && in_utterance {
            in_utterance = false;
            if msg.is_none() {
                vad.finish();
            }
            let utterance = Frame::new(std::mem::take(&mut buf), rate);
            out.meter.add_samples(utterance.samples.len(), rate);
            let text = client.transcribe(&utterance).await?;
            let ev = SttEvent::Transcript {
                text,
                is_final: true,
                speech_final: true,
                confidence: None,
            };
            if !out.emit(ev).await || !out.emit(SttEvent::UtteranceEnd).await {
                return Ok(());
            }
            // Restart the detector so the next utterance starts cleanly.
            vad = EnergyVad::new(rate, vad_cfg);
        }
        if msg.is_none() {
            out.closed().await;
            return Ok(());
        }
    }
}
