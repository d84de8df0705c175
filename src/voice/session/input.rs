//! Input: what the client sends, as [`ClientIn`] (the transports parse their wire frames
//! into it: `voice::ws::parse_client_event`, `voice::bolna`, `telephony::stream`). Audio is
//! resampled to the pipeline rate and fed to the local VAD, the recording and streaming
//! STT; recognizer events go on to turn taking. Client events are dispatched in
//! [`Input::client`].

use std::time::{Duration, Instant};

use super::{PIPELINE_RATE, RATES, channels::ClientIn, meter::SharedRecorder, turns::Controller};
use crate::{
    agents::Agent,
    audio::{
        resample::Resampler,
        vad::{EnergyVad, VadConfig},
    },
    providers::{
        ProviderError,
        stt::{SttEvent, SttEvents, SttSender},
    },
    state::AppState,
};

pub(super) struct Input {
    /// Client rate → pipeline rate.
    to_pipeline: Resampler,
    vad: EnergyVad,
    /// `None` once recognition failed or closed: the session goes on without it.
    stt_tx: Option<SttSender>,
    stt_rx: Option<SttEvents>,
    recorder: SharedRecorder,
}

impl Input {
    /// Start speech-to-text at the pipeline rate (a failure is reported to the client).
    pub(super) async fn open(
        state: &AppState,
        agent: &Agent,
        rate: u32,
        recorder: SharedRecorder,
        ctl: &Controller,
    ) -> Self {
        let (stt_tx, stt_rx) = match agent
            .stt_provider(&state.providers)
            .start(agent.stt_config(PIPELINE_RATE))
            .await
        {
            Ok(s) => (Some(s.sender), Some(s.events)),
            Err(e) => {
                ctl.error("stt_unavailable", &e.to_string()).await;
                (None, None)
            }
        };
        Self {
            to_pipeline: Resampler::new(rate, PIPELINE_RATE),
            vad: EnergyVad::new(PIPELINE_RATE, VadConfig::default()),
            stt_tx,
            stt_rx,
            recorder,
        }
    }

    /// One message from the client (`None`: the transport is gone). Returns the ending
    /// reason when the client ended the call.
    pub(super) async fn client(
        &mut self,
        msg: Option<ClientIn>,
        ctl: &mut Controller,
    ) -> Option<String> {
        match msg {
            None => return Some("disconnected".into()),
            Some(ClientIn::End) => return Some("client_ended".into()),
            Some(ClientIn::Hangup) => return Some("remote_hangup".into()),
            Some(ClientIn::Start { sample_rate }) => self.start(sample_rate, ctl).await,
            Some(ClientIn::Audio(samples)) => self.audio(&samples, ctl).await,
            Some(ClientIn::Text(text)) => ctl.typed_turn(text).await,
            Some(ClientIn::Mark(name)) => ctl.mark_played(name),
            Some(ClientIn::Interrupt) => ctl.barge_in().await,
        }
        None
    }

    /// `start`: the client's audio comes at this rate from now on.
    async fn start(&mut self, sample_rate: u32, ctl: &mut Controller) {
        if RATES.contains(&sample_rate) {
            ctl.set_client_rate(sample_rate);
            self.to_pipeline = Resampler::new(sample_rate, PIPELINE_RATE);
        } else {
            ctl.error(
                "invalid_sample_rate",
                "sample_rate must be 8000, 16000, 24000 or 48000",
            )
            .await;
        }
    }

    /// Client audio: to the VAD (turn taking hears speech start and end), the recording
    /// and the recognizer.
    async fn audio(&mut self, samples: &[i16], ctl: &mut Controller) {
        let pcm = self.to_pipeline.process(samples);
        for ev in self.vad.push(&pcm) {
            ctl.vad_event(ev);
        }
        if self.vad.in_speech() {
            ctl.touch();
        }
        if let Some(r) = &self.recorder {
            r.lock().add(Instant::now(), &pcm);
        }
        if let Some(tx) = &self.stt_tx
            && tx.send_audio(pcm).await.is_err()
        {
            self.stt_tx = None;
        }
    }

    /// The recognizer's next event; pending forever without one.
    pub(super) async fn next_stt(&mut self) -> Option<Result<SttEvent, ProviderError>> {
        match &mut self.stt_rx {
            Some(r) => r.recv().await,
            None => std::future::pending().await,
        }
    }

    /// A recognizer event: on to turn taking; a failure or the end of the stream drops
    /// recognition for the rest of the call.
    pub(super) async fn stt(
        &mut self,
        ev: Option<Result<SttEvent, ProviderError>>,
        ctl: &mut Controller,
    ) {
        match ev {
            Some(Ok(ev)) => ctl.recognized(ev).await,
            Some(Err(e)) => {
                ctl.error("stt_failed", &e.to_string()).await;
                self.stt_tx = None;
                self.stt_rx = None;
            }
            None => {
                self.stt_tx = None;
                self.stt_rx = None;
            }
        }
    }

    pub(super) fn stt_sender(&self) -> Option<&SttSender> {
        self.stt_tx.as_ref()
    }

    /// Recognition billed so far.
    pub(super) fn stt_seconds(&self) -> f64 {
        self.stt_rx
            .as_ref()
            .map(|s| s.billed_seconds())
            .unwrap_or(0.0)
    }

    /// Close recognition and take its billed seconds.
    pub(super) async fn close(&mut self) -> f64 {
        self.stt_tx = None;
        let Some(mut events) = self.stt_rx.take() else {
            return 0.0;
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(Ok(SttEvent::Closed { billed_seconds }))) => return billed_seconds,
                Ok(Some(_)) => continue,
                _ => return events.billed_seconds(),
            }
        }
    }
}
