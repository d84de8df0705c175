//! Local speech recognition with CMU PocketSphinx (Debian's `pocketsphinx` +
//! `pocketsphinx-en-us`): a long-lived `pocketsphinx_continuous -infile /dev/stdin` process
//! per session reads 16 kHz PCM16 from its stdin and prints one line per utterance (it
//! segments by its own VAD). No key, no network. The local energy VAD gives `SpeechStarted`.

use std::{process::Stdio, time::Instant};

use async_trait::async_trait;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::Command,
};

use super::{SttConfig, SttDriver, SttEvent, SttInput, SttProvider, SttSession, record_start};
use crate::{
    audio::{EnergyVad, Resampler, VadConfig, VadEvent},
    providers::ProviderError,
};

const RATE: u32 = 16000;

#[derive(Debug, Clone)]
pub struct PocketSphinxStt {
    /// The `pocketsphinx_continuous` binary.
    pub binary: String,
    /// Extra arguments (`-hmm`, `-lm`, `-dict` for another model).
    pub args: Vec<String>,
    /// The stock language model to build the commands model from (see
    /// [`super::pocketsphinx_lm`]); `None`, or `args` naming a model, keeps the stock one.
    pub commands_lm_from: Option<std::path::PathBuf>,
}

impl PocketSphinxStt {
    pub fn new(binary: &str, args: Vec<String>) -> Self {
        Self {
            binary: binary.to_string(),
            args,
            commands_lm_from: None,
        }
    }

    /// Recognize with the language model built around the `commands` grammar.
    pub fn with_commands_lm(mut self, stock: Option<std::path::PathBuf>) -> Self {
        self.commands_lm_from = stock;
        self
    }

    /// `-lm FILE` for the commands model, unless the arguments choose a model themselves.
    async fn lm_args(&self) -> Vec<String> {
        let chooses = self.args.iter().any(|a| {
            matches!(
                a.as_str(),
                "-lm" | "-jsgf" | "-fsg" | "-kws" | "-keyphrase" | "-lmctl" | "-allphone"
            )
        });
        let Some(stock) = self.commands_lm_from.clone().filter(|_| !chooses) else {
            return Vec::new();
        };
        let built =
            tokio::task::spawn_blocking(move || super::pocketsphinx_lm::commands_lm(&stock))
                .await
                .ok()
                .flatten();
        match built {
            Some(path) => vec!["-lm".into(), path.to_string_lossy().into_owned()],
            None => Vec::new(),
        }
    }
}

#[async_trait]
impl SttProvider for PocketSphinxStt {
    fn name(&self) -> &str {
        "pocketsphinx"
    }

    async fn start(&self, cfg: SttConfig) -> Result<SttSession, ProviderError> {
        let started = Instant::now();
        let lm = self.lm_args().await;
        let result = self.spawn(cfg, &lm);
        record_start("pocketsphinx", started, &result);
        result
    }
}

impl PocketSphinxStt {
    fn spawn(&self, cfg: SttConfig, lm: &[String]) -> Result<SttSession, ProviderError> {
        let mut child = Command::new(&self.binary)
            .args(["-infile", "/dev/stdin", "-logfn", "/dev/null"])
            .args(lm)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                ProviderError::Upstream(format!("could not start {}: {e}", self.binary))
            })?;
        // Dropped to close the pipe (EOF makes the engine finish its last utterance).
        let mut stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        Ok(SttSession::spawn(
            "pocketsphinx",
            move |driver| async move {
                let SttDriver { mut input, out } = driver;
                let mut lines = BufReader::new(stdout).lines();
                let mut resampler = Resampler::new(cfg.sample_rate, RATE);
                let mut vad = EnergyVad::new(cfg.sample_rate, VadConfig::default());
                loop {
                    let stdin_open = stdin.is_some();
                    tokio::select! {
                        msg = input.recv(), if stdin_open => match msg {
                            Some(SttInput::Audio(samples)) => {
                                out.meter.add_samples(samples.len(), cfg.sample_rate);
                                for ev in vad.push(&samples) {
                                    if let VadEvent::SpeechStart { .. } = ev
                                        && !out.emit(SttEvent::SpeechStarted).await
                                    {
                                        return;
                                    }
                                }
                                let pcm = crate::audio::pcm16_to_le_bytes(&resampler.process(&samples));
                                let Some(pipe) = stdin.as_mut() else { continue };
                                if pipe.write_all(&pcm).await.is_err() {
                                    out.fail(ProviderError::Upstream("pocketsphinx exited".into())).await;
                                    return;
                                }
                            }
                            Some(SttInput::Finalize) => {
                                // Its VAD ends an utterance after silence: give it some.
                                let silence = vec![0u8; (RATE as usize / 1000) * 700 * 2];
                                let Some(pipe) = stdin.as_mut() else { continue };
                                if pipe.write_all(&silence).await.is_err() {
                                    out.fail(ProviderError::Upstream("pocketsphinx exited".into())).await;
                                    return;
                                }
                            }
                            None => {
                                let mut tail = crate::audio::pcm16_to_le_bytes(&resampler.flush());
                                tail.extend(vec![0u8; (RATE as usize / 1000) * 700 * 2]);
                                if let Some(mut pipe) = stdin.take() {
                                    let _ = pipe.write_all(&tail).await;
                                    let _ = pipe.flush().await;
                                }
                            }
                        },
                        line = lines.next_line() => match line {
                            Ok(Some(text)) => {
                                let text = text.trim().to_string();
                                if text.is_empty() {
                                    continue;
                                }
                                let ev = SttEvent::Transcript { text, is_final: true, speech_final: true, confidence: None };
                                if !out.emit(ev).await || !out.emit(SttEvent::UtteranceEnd).await {
                                    return;
                                }
                            }
                            Ok(None) | Err(_) => {
                                if stdin_open {
                                    out.fail(ProviderError::Upstream("pocketsphinx exited".into())).await;
                                } else {
                                    let _ = child.wait().await;
                                    out.closed().await;
                                }
                                return;
                            }
                        },
                    }
                }
            },
        ))
    }
}
