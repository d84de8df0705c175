//! Local speech synthesis with eSpeak NG: `espeak-ng --stdout` writes a WAV stream
//! (22.05 kHz mono) that is parsed as it arrives and resampled. No key, no network.

use std::{process::Stdio, time::Duration};

use async_trait::async_trait;
use tokio::{io::AsyncReadExt, process::Command};

use super::{AudioConverter, Encoding, TtsProvider, TtsRequest, TtsStream};
use crate::{audio::wav, providers::ProviderError};

pub const DEFAULT_VOICE: &str = "en-us";
/// eSpeak's default speaking rate in words per minute.
const BASE_WPM: f32 = 175.0;

#[derive(Debug, Clone)]
pub struct EspeakTts {
    pub binary: String,
}

impl EspeakTts {
    pub fn new(binary: &str) -> Self {
        Self {
            binary: binary.to_string(),
        }
    }
}

#[async_trait]
impl TtsProvider for EspeakTts {
    fn name(&self) -> &str {
        "espeak"
    }

    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, ProviderError> {
        let voice = req
            .voice
            .clone()
            .unwrap_or_else(|| DEFAULT_VOICE.to_string());
        let wpm = (BASE_WPM * req.speed.unwrap_or(1.0))
            .clamp(80.0, 450.0)
            .round() as u32;
        let text = req.text.clone();
        let want = req.sample_rate;
        let mut child = Command::new(&self.binary)
            .args(["--stdout", "-v", &voice, "-s", &wpm.to_string(), "--"])
            .arg(&text)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                ProviderError::Upstream(format!("could not start {}: {e}", self.binary))
            })?;
        let mut stdout = child.stdout.take().expect("piped stdout");
        TtsStream::spawn(
            "espeak",
            &req,
            Duration::from_secs(10),
            move |tx| async move {
                let mut header = Vec::new();
                let mut conv: Option<AudioConverter> = None;
                let mut buf = vec![0u8; 8192];
                loop {
                    let n = match stdout.read(&mut buf).await {
                        Ok(n) => n,
                        Err(e) => {
                            let _ = tx
                                .send(Err(ProviderError::Upstream(format!("reading espeak: {e}"))))
                                .await;
                            return;
                        }
                    };
                    if n == 0 {
                        break;
                    }
                    let pcm = match &mut conv {
                        Some(c) => c.push(&buf[..n]),
                        None => {
                            header.extend_from_slice(&buf[..n]);
                            match wav::parse_header(&header) {
                                Ok(None) => continue,
                                Ok(Some((fmt, offset))) => {
                                    let mut c =
                                        AudioConverter::new(Encoding::Pcm16, fmt.sample_rate, want);
                                    let pcm = c.push(&header[offset..]);
                                    conv = Some(c);
                                    pcm
                                }
                                Err(e) => {
                                    let _ = tx
                                        .send(Err(ProviderError::bad_response(format!(
                                            "espeak output: {e}"
                                        ))))
                                        .await;
                                    return;
                                }
                            }
                        }
                    };
                    if !pcm.is_empty() && tx.send(Ok(pcm)).await.is_err() {
                        return;
                    }
                }
                let status = child.wait().await;
                match (status, conv) {
                    (Ok(s), Some(mut c)) if s.success() => {
                        let tail = c.flush();
                        if !tail.is_empty() {
                            let _ = tx.send(Ok(tail)).await;
                        }
                    }
                    (Ok(s), _) => {
                        let mut err = String::new();
                        if let Some(mut e) = child.stderr.take() {
                            let _ = e.read_to_string(&mut err).await;
                        }
                        let _ = tx
                            .send(Err(ProviderError::Upstream(format!(
                                "espeak-ng failed ({s}): {}",
                                err.trim()
                            ))))
                            .await;
                    }
                    (Err(e), _) => {
                        let _ = tx
                            .send(Err(ProviderError::Upstream(format!("espeak-ng: {e}"))))
                            .await;
                    }
                }
            },
        )
        .await
    }
}
