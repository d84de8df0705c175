//! What a session measures while it runs: usage as it is spent (billed even when a turn is
//! cancelled), the mixed recording, the hold kept ahead of the cost, and the outcome handed
//! to the finalizer.

use std::{sync::Arc, time::Instant};

use parking_lot::Mutex;
use uuid::Uuid;

use super::PIPELINE_RATE;
use crate::{
    calls::CallMetrics,
    state::AppState,
    voice::finalize::Outcome,
    wallet::{
        pricing::{LlmUsage, Usage, cost},
        service as wallet,
    },
};

/// Usage counted as it is spent (cancelled work included).
#[derive(Debug, Default)]
pub(super) struct Spent {
    pub(super) llm: Vec<LlmUsage>,
    pub(super) tts_characters: u64,
}

impl Spent {
    pub(super) fn add_llm(&mut self, model: &str, input: u64, output: u64) {
        match self.llm.iter_mut().find(|u| u.model == model) {
            Some(u) => {
                u.input_tokens += input;
                u.output_tokens += output;
            }
            None => self.llm.push(LlmUsage::new(model, input, output)),
        }
    }
}

/// Both sides mixed on one timeline at the pipeline rate.
#[derive(Debug)]
pub(super) struct Recorder {
    start: Instant,
    samples: Vec<i32>,
    max: usize,
}

impl Recorder {
    /// A recording that starts at `start` and holds at most `max_seconds`.
    pub(super) fn new(start: Instant, max_seconds: usize) -> Self {
        Self {
            start,
            samples: Vec::new(),
            max: max_seconds * PIPELINE_RATE as usize,
        }
    }

    pub(super) fn add(&mut self, at: Instant, audio: &[i16]) {
        let pos = (at.saturating_duration_since(self.start).as_secs_f64() * PIPELINE_RATE as f64)
            as usize;
        let end = (pos + audio.len()).min(self.max);
        if end <= pos {
            return;
        }
        if self.samples.len() < end {
            self.samples.resize(end, 0);
        }
        for (i, s) in audio[..end - pos].iter().enumerate() {
            self.samples[pos + i] += *s as i32;
        }
    }

    fn wav(&self) -> Vec<u8> {
        let pcm: Vec<i16> = self
            .samples
            .iter()
            .map(|s| (*s).clamp(i16::MIN as i32, i16::MAX as i32) as i16)
            .collect();
        crate::audio::wav::write(&crate::audio::Frame::new(pcm, PIPELINE_RATE))
    }
}

pub(super) type SharedRecorder = Option<Arc<Mutex<Recorder>>>;

/// Keep the hold ahead of what the call has cost so far. `Ok(None)`: the wallet cannot pay.
pub(super) async fn keep_paid(
    state: &AppState,
    spent: &Mutex<Spent>,
    hold_id: Uuid,
    hold_amount: i64,
    started: Instant,
    stt_seconds: f64,
    extra_credits: i64,
) -> Result<Option<i64>, wallet::WalletError> {
    let spent_now = {
        let spent = spent.lock();
        cost(
            &state.settings.pricing,
            &Usage {
                stt_seconds,
                llm: spent.llm.clone(),
                tts_characters: spent.tts_characters,
                call_seconds: started.elapsed().as_secs_f64(),
            },
        )
        .total_credits
            + extra_credits
    };
    let step = state.settings.billing.call_min_credits.max(1);
    let ttl = chrono::Duration::seconds(state.settings.billing.hold_ttl_secs);
    let mut conn = state.db.acquire().await?;
    // Enough headroom for another interval: grow the hold by what is missing plus a step.
    let extra = if spent_now + step > hold_amount {
        spent_now + step - hold_amount
    } else {
        0
    };
    match wallet::extend(&mut conn, hold_id, extra, ttl).await {
        Ok(h) => Ok(Some(h.amount)),
        Err(wallet::WalletError::InsufficientCredits { .. }) => {
            if spent_now >= hold_amount {
                Ok(None)
            } else {
                Ok(Some(hold_amount))
            }
        }
        Err(e) => Err(e),
    }
}

/// The counts the finalizer prices and stores.
pub(super) struct Tally<'a> {
    pub(super) spent: &'a Mutex<Spent>,
    pub(super) latencies: &'a Mutex<Vec<u64>>,
    pub(super) user_turns: u32,
    pub(super) interruptions: u32,
    pub(super) recorder: Option<&'a Arc<Mutex<Recorder>>>,
}

pub(super) fn outcome(stt_seconds: f64, t: Tally<'_>) -> Outcome {
    let spent = t.spent.lock();
    let mut lat = t.latencies.lock().clone();
    lat.sort_unstable();
    let pct = |p: f64| -> Option<u64> {
        if lat.is_empty() {
            return None;
        }
        let idx = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1;
        Some(lat[idx])
    };
    Outcome {
        stt_seconds,
        llm: spent.llm.clone(),
        tts_characters: spent.tts_characters,
        metrics: CallMetrics {
            turns: t.user_turns,
            response_latency_ms_p50: pct(0.5),
            response_latency_ms_p95: pct(0.95),
            interruptions: t.interruptions,
        },
        recording: t.recorder.map(|r| r.lock().wav()),
        status: None,
    }
}
