//! Deepgram live transcription over the `listen` WebSocket: linear16 audio as binary
//! frames; `KeepAlive` while no audio flows, `Finalize` to flush, `CloseStream` to finish
//! (answered by `Metadata` with the billed duration).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::{SinkExt, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};

use super::{
    SttConfig, SttDriver, SttEvent, SttInput, SttOutput, SttProvider, SttSession, record_start,
};
use crate::providers::{ProviderError, Timeouts, join_url};

pub const DEFAULT_MODEL: &str = "nova-3";
/// Deepgram closes a socket after about 10 s without audio or KeepAlive.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(4);

pub struct DeepgramStt {
    base_url: String,
    api_key: SecretString,
    timeouts: Timeouts,
    keepalive: Duration,
}

impl DeepgramStt {
    pub fn new(base_url: &str, api_key: SecretString, timeouts: Timeouts) -> Self {
        // wss:// needs the process-wide rustls provider.
        crate::install_crypto_provider();
        Self {
            base_url: base_url.to_string(),
            api_key,
            timeouts,
            keepalive: KEEPALIVE_EVERY,
        }
    }

    /// Send `KeepAlive` after this long without audio (default 4 s).
    pub fn with_keepalive(mut self, every: Duration) -> Self {
        self.keepalive = every;
        self
    }

    fn url(&self, cfg: &SttConfig) -> String {
        let model = cfg.model.as_deref().unwrap_or(DEFAULT_MODEL);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("model", model)
            .append_pair("language", &cfg.language)
            .append_pair("encoding", "linear16")
            .append_pair("sample_rate", &cfg.sample_rate.to_string())
            .append_pair("channels", "1")
            .append_pair("interim_results", &cfg.interim_results.to_string())
            .append_pair("endpointing", &cfg.endpointing_ms.to_string())
            .append_pair(
                "utterance_end_ms",
                &cfg.utterance_end_ms.max(1000).to_string(),
            )
            .append_pair("vad_events", "true")
            .append_pair("punctuate", "true")
            .finish();
        let base = self
            .base_url
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        format!("{}?{query}", join_url(&base, "v1/listen"))
    }
}

fn ws_error(e: tungstenite::Error) -> ProviderError {
    match e {
        tungstenite::Error::Http(resp) => {
            let status = resp.status().as_u16();
            let body = resp
                .body()
                .as_ref()
                .map(|b| {
                    String::from_utf8_lossy(b)
                        .chars()
                        .take(300)
                        .collect::<String>()
                })
                .unwrap_or_default();
            ProviderError::from_status(status, None, &body)
        }
        tungstenite::Error::Io(e) => ProviderError::Upstream(format!("connection failed: {e}")),
        other => ProviderError::Upstream(other.to_string()),
    }
}

#[async_trait]
impl SttProvider for DeepgramStt {
    fn name(&self) -> &str {
        "deepgram"
    }

    async fn start(&self, cfg: SttConfig) -> Result<SttSession, ProviderError> {
        let started = Instant::now();
        let result = self.open(cfg).await;
        record_start("deepgram", started, &result);
        result
    }
}

impl DeepgramStt {
    async fn open(&self, cfg: SttConfig) -> Result<SttSession, ProviderError> {
        let mut request = self
            .url(&cfg)
            .into_client_request()
            .map_err(|e| ProviderError::Upstream(format!("bad Deepgram URL: {e}")))?;
        request.headers_mut().insert(
            "authorization",
            format!("Token {}", self.api_key.expose_secret())
                .parse()
                .map_err(|_| ProviderError::Auth("the API key is not a valid header".into()))?,
        );
        // Small audio frames must not wait on Nagle for the previous frame's ACK.
        let connect = tokio_tungstenite::connect_async_with_config(request, None, true);
        let (ws, _) =
            tokio::time::timeout(self.timeouts.connect + self.timeouts.first_byte, connect)
                .await
                .map_err(|_| {
                    ProviderError::Timeout("the listen socket did not open in time".into())
                })?
                .map_err(ws_error)?;
        let idle = self.timeouts.idle;
        let keepalive = self.keepalive;
        let rate = cfg.sample_rate;
        Ok(SttSession::spawn("deepgram", move |driver| async move {
            let SttDriver { mut input, out } = driver;
            if let Err(e) = run(ws, &mut input, &out, rate, idle, keepalive).await {
                out.fail(e).await;
            }
        }))
    }
}

async fn run<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    input: &mut tokio::sync::mpsc::Receiver<SttInput>,
    driver: &SttOutput,
    rate: u32,
    idle: Duration,
    keepalive_every: Duration,
) -> Result<(), ProviderError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut closing_deadline: Option<tokio::time::Instant> = None;
    let mut last_audio = tokio::time::Instant::now();
    let mut keepalive = tokio::time::interval(keepalive_every);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let closing = closing_deadline.is_some();
        let deadline = closing_deadline.unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            msg = input.recv(), if !closing => match msg {
                Some(SttInput::Audio(samples)) => {
                    driver.meter.add_samples(samples.len(), rate);
                    let bytes = crate::audio::pcm16_to_le_bytes(&samples);
                    ws.send(Message::Binary(bytes.into())).await.map_err(ws_error)?;
                    last_audio = tokio::time::Instant::now();
                }
                Some(SttInput::Finalize) => {
                    ws.send(Message::text(r#"{"type":"Finalize"}"#)).await.map_err(ws_error)?;
                }
                None => {
                    ws.send(Message::text(r#"{"type":"CloseStream"}"#)).await.map_err(ws_error)?;
                    closing_deadline = Some(tokio::time::Instant::now() + idle);
                }
            },
            _ = keepalive.tick(), if !closing => {
                if last_audio.elapsed() >= keepalive_every {
                    ws.send(Message::text(r#"{"type":"KeepAlive"}"#)).await.map_err(ws_error)?;
                }
            }
            _ = tokio::time::sleep_until(deadline), if closing => {
                // No Metadata in time: bill what we sent.
                driver.closed().await;
                return Ok(());
            }
            frame = ws.next() => match frame {
                None | Some(Ok(Message::Close(_))) => {
                    if closing {
                        driver.closed().await;
                        return Ok(());
                    }
                    return Err(ProviderError::Upstream("Deepgram closed the stream".into()));
                }
                Some(Err(e)) => return Err(ws_error(e)),
                Some(Ok(Message::Text(text))) => {
                    let v: Value = serde_json::from_str(text.as_str())
                        .map_err(|e| ProviderError::bad_response(format!("invalid JSON message: {e}")))?;
                    match v["type"].as_str().unwrap_or("") {
                        "Results" => {
                            let alt = &v["channel"]["alternatives"][0];
                            let text = alt["transcript"].as_str().unwrap_or("").to_string();
                            let is_final = v["is_final"].as_bool().unwrap_or(false);
                            let speech_final = v["speech_final"].as_bool().unwrap_or(false);
                            // Empty interim results carry nothing; an empty speech_final still ends a turn.
                            if text.is_empty() && !speech_final {
                                continue;
                            }
                            let ev = SttEvent::Transcript {
                                text,
                                is_final,
                                speech_final,
                                confidence: alt["confidence"].as_f64().map(|c| c as f32),
                            };
                            if !driver.emit(ev).await {
                                return Ok(());
                            }
                        }
                        "SpeechStarted" if !driver.emit(SttEvent::SpeechStarted).await => {
                            return Ok(());
                        }
                        "UtteranceEnd" if !driver.emit(SttEvent::UtteranceEnd).await => {
                            return Ok(());
                        }
                        "Metadata" => {
                            if let Some(d) = v["duration"].as_f64() {
                                driver.meter.set_reported(d);
                            }
                            if closing {
                                driver.closed().await;
                                let _ = ws.close(None).await;
                                return Ok(());
                            }
                        }
                        "Error" => {
                            return Err(ProviderError::Upstream(format!(
                                "Deepgram error: {}",
                                v["description"].as_str().or(v["message"].as_str()).unwrap_or("unknown")
                            )));
                        }
                        _ => {}
                    }
                }
                Some(Ok(_)) => {}
            },
        }
    }
}
