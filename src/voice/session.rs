//! The transport-neutral voice session: a controller task that owns the conversation and
//! selects over client input, speech-to-text events, the running response turn, timers
//! and ending requests; a response turn is a task of two stages joined by a bounded
//! channel (LLM stream → clause chunker | TTS → paced audio out), cancelled as a whole on
//! barge-in. Every ending goes through [`super::finalize::finalize`].

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::finalize::{self, Outcome};
use crate::{
    agents::Agent,
    assistant::{self, ContextOptions, ToolContext, TurnEvent, TurnRequest, turn::MAX_STEPS},
    audio::{
        pacer::Pacer,
        resample::Resampler,
        vad::{EnergyVad, VadConfig, VadEvent},
    },
    calls::{CallMetrics, repo as calls_repo},
    providers::{
        llm::ChatMessage,
        stt::{SttEvent, SttEvents, SttSender},
    },
    state::AppState,
    tasks::model::TaskSource,
    wallet::{
        pricing::{LlmUsage, Usage, cost},
        service as wallet,
    },
};

/// Rate the pipeline runs at internally (STT input, recording).
pub const PIPELINE_RATE: u32 = 16000;
pub const RATES: [u32; 4] = [8000, 16000, 24000, 48000];
/// Audio frames sent to the client.
const FRAME_MS: u64 = 20;
/// How far ahead of real time audio is sent.
const PACER_LEAD: Duration = Duration::from_millis(100);
/// Local turn-end fallback: this long past the provider's own endpointing windows.
const VAD_FALLBACK_GRACE_MS: u64 = 200;
/// How much synthesized audio (in frames) may wait for playback: the next chunk's TTS
/// starts while up to this much of the current one is still to play.
const SYNTH_AHEAD_FRAMES: usize = 50;
const OUT_OF_CREDITS: &str =
    "I'm sorry, your credits have run out, so I have to end the call now. Goodbye.";

/// From the client.
#[derive(Debug)]
pub enum ClientIn {
    /// PCM16 mono at the session's current sample rate.
    Audio(Vec<i16>),
    Start {
        sample_rate: u32,
    },
    Text(String),
    Mark(String),
    Interrupt,
    End,
    /// The far end hung up (a phone call's `stop`).
    Hangup,
}

/// To the client.
#[derive(Debug)]
pub enum ServerOut {
    Event(Value),
    /// PCM16 at the client's rate; dropped by the writer if `generation` is stale (cleared).
    Audio {
        generation: u64,
        samples: Vec<i16>,
    },
    /// A mark after the chunk's audio (same staleness rule).
    Mark {
        generation: u64,
        name: String,
    },
    /// Barge-in: drop queued playback.
    Clear,
}

/// Drops audio queued before the last `clear`.
#[derive(Debug, Default, Clone)]
pub struct Generation(Arc<AtomicU64>);

impl Generation {
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
    fn bump(&self) -> u64 {
        self.0.fetch_add(1, Ordering::AcqRel) + 1
    }
}

pub struct SessionCtx {
    pub session_id: Uuid,
    pub call_id: Uuid,
    pub user_id: Uuid,
    pub hold_id: Uuid,
    pub hold_amount: i64,
    pub agent: Agent,
    /// The conversation this call continues: its history is the model's context.
    pub conversation_id: Option<Uuid>,
    /// The client's rate before any `start`.
    pub sample_rate: u32,
}

/// Usage counted as it is spent (cancelled work included).
#[derive(Debug, Default)]
struct Spent {
    llm: Vec<LlmUsage>,
    tts_characters: u64,
}

impl Spent {
    fn add_llm(&mut self, model: &str, input: u64, output: u64) {
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
struct Recorder {
    start: Instant,
    samples: Vec<i32>,
    max: usize,
}

impl Recorder {
    fn add(&mut self, at: Instant, audio: &[i16]) {
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

type SharedRecorder = Option<Arc<Mutex<Recorder>>>;

/// What a response turn reports to the controller.
#[derive(Debug)]
enum TurnMsg {
    /// A chunk of text was spoken, followed by mark `name`.
    Chunk {
        turn: u64,
        name: String,
        text: String,
    },
    Done {
        turn: u64,
        text: String,
    },
    Failed {
        turn: u64,
    },
}

#[derive(Debug, Clone, Copy, Default)]
struct TurnTimes {
    stt_ms: Option<u64>,
    /// When the user's turn ended (speech end or typed text).
    user_end: Option<Instant>,
}

struct Turn {
    id: u64,
    cancel: CancellationToken,
    chunks: Vec<(String, String)>,
    /// Spoken without the LLM (welcome, notices): not a conversational turn.
    scripted: bool,
}

/// Everything a response turn needs, cheap to clone.
#[derive(Clone)]
struct TurnEnv {
    state: AppState,
    agent: Arc<Agent>,
    out: mpsc::Sender<ServerOut>,
    generation: Generation,
    rate: u32,
    spent: Arc<Mutex<Spent>>,
    latencies: Arc<Mutex<Vec<u64>>>,
    report: mpsc::Sender<TurnMsg>,
    recorder: SharedRecorder,
    user_id: Uuid,
    call_id: Uuid,
}

pub struct Ended {
    pub reason: String,
    pub duration_ms: i64,
    pub cost_credits: i64,
}

/// Run a session until it ends, then finalize the call. The caller turns `out` into
/// frames and closes the transport after the `ended` event.
pub async fn run(
    state: AppState,
    ctx: SessionCtx,
    mut input: mpsc::Receiver<ClientIn>,
    out: mpsc::Sender<ServerOut>,
    generation: Generation,
) -> Ended {
    let _active = super::ActiveCall::new();
    let local_end = super::register_live(ctx.session_id);
    let started = Instant::now();
    let agent = Arc::new(ctx.agent);
    let mut rate = ctx.sample_rate;
    let (report_tx, mut report_rx) = mpsc::channel::<TurnMsg>(64);
    let recorder: SharedRecorder = agent.recording.then(|| {
        Arc::new(Mutex::new(Recorder {
            start: started,
            samples: Vec::new(),
            max: agent.max_call_seconds.max(1) as usize * PIPELINE_RATE as usize,
        }))
    });
    let env = TurnEnv {
        state: state.clone(),
        agent: agent.clone(),
        out: out.clone(),
        generation: generation.clone(),
        rate,
        spent: Arc::new(Mutex::new(Spent::default())),
        latencies: Arc::new(Mutex::new(Vec::new())),
        report: report_tx,
        recorder: recorder.clone(),
        user_id: ctx.user_id,
        call_id: ctx.call_id,
    };
    let mut ctl = Controller {
        state: state.clone(),
        call_id: ctx.call_id,
        env,
        history: Vec::new(),
        prior_messages: 0,
        turn: None,
        next_turn: 0,
        echoed: HashSet::new(),
        utterance: String::new(),
        forced_end: false,
        interrupted_count: 0,
        times: TurnTimes::default(),
        last_activity: Instant::now(),
    };

    if let Some(cid) = ctx.conversation_id {
        match crate::chat::service::history(&state.db, ctx.user_id, cid, Uuid::nil()).await {
            Ok(h) => {
                ctl.prior_messages = h.len();
                ctl.history = h;
            }
            Err(e) => tracing::warn!(error = ?e, "could not load the conversation's history"),
        }
    }

    let _ = out
        .send(ServerOut::Event(
            json!({"type": "ready", "session_id": ctx.session_id,
            "call_id": ctx.call_id, "sample_rate": rate}),
        ))
        .await;

    // Speech-to-text at the pipeline rate.
    let (mut stt_tx, mut stt_rx): (Option<SttSender>, Option<SttEvents>) = match agent
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
    let mut to_pipeline = Resampler::new(rate, PIPELINE_RATE);
    let mut vad = EnergyVad::new(PIPELINE_RATE, VadConfig::default());
    let mut speech_end: Option<Instant> = None;
    // Local turn detection, for recognizers that never say the speaker is done: once the
    // VAD heard this much silence after speech and the turn is still open, end it.
    let stt_cfg = agent.stt_config(PIPELINE_RATE);
    let vad_fallback = Duration::from_millis(
        u64::from(stt_cfg.endpointing_ms.max(stt_cfg.utterance_end_ms)) + VAD_FALLBACK_GRACE_MS,
    );
    let mut vad_deadline: Option<tokio::time::Instant> = None;

    if let Some(w) = agent
        .welcome_message
        .clone()
        .filter(|w| !w.trim().is_empty())
    {
        ctl.speak(w).await;
    }

    let max_at = tokio::time::Instant::from_std(
        started + Duration::from_secs(agent.max_call_seconds.max(1) as u64),
    );
    let silence = Duration::from_secs(agent.silence_timeout_seconds.max(1) as u64);
    let check = Duration::from_secs(state.settings.billing.call_check_secs.max(1));
    let mut wallet_tick = tokio::time::interval_at(tokio::time::Instant::now() + check, check);
    let mut poll = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let mut hold_amount = ctx.hold_amount;
    let mut ending_after_notice: Option<u64> = None;

    let reason: String = loop {
        let idle_deadline = tokio::time::Instant::from_std(ctl.last_activity + silence);
        tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => break "server_shutdown".into(),
            _ = local_end.cancelled() => {
                break requested_end(&state, ctx.session_id).await.unwrap_or_else(|| "deleted".into());
            }
            msg = input.recv() => match msg {
                None => break "disconnected".into(),
                Some(ClientIn::End) => break "client_ended".into(),
                Some(ClientIn::Hangup) => break "remote_hangup".into(),
                Some(ClientIn::Start { sample_rate }) => {
                    if RATES.contains(&sample_rate) {
                        rate = sample_rate;
                        ctl.env.rate = rate;
                        to_pipeline = Resampler::new(rate, PIPELINE_RATE);
                    } else {
                        ctl.error("invalid_sample_rate", "sample_rate must be 8000, 16000, 24000 or 48000").await;
                    }
                }
                Some(ClientIn::Audio(samples)) => {
                    let pcm = to_pipeline.process(&samples);
                    for ev in vad.push(&pcm) {
                        match ev {
                            VadEvent::SpeechStart { .. } => {
                                speech_end = None;
                                vad_deadline = None;
                                // New speech: a finalize asked for earlier (after noise, say)
                                // must not cut this utterance at its first final segment.
                                ctl.forced_end = false;
                                ctl.last_activity = Instant::now();
                            }
                            VadEvent::SpeechEnd { .. } => {
                                speech_end = Some(Instant::now());
                                vad_deadline = Some(tokio::time::Instant::now() + vad_fallback);
                                ctl.last_activity = Instant::now();
                            }
                        }
                    }
                    if vad.in_speech() {
                        ctl.last_activity = Instant::now();
                    }
                    if let Some(r) = &recorder {
                        r.lock().add(Instant::now(), &pcm);
                    }
                    if let Some(tx) = &stt_tx
                        && tx.send_audio(pcm).await.is_err()
                    {
                        stt_tx = None;
                    }
                }
                Some(ClientIn::Text(text)) => {
                    let text = text.trim().to_string();
                    if !text.is_empty() {
                        ctl.times = TurnTimes { stt_ms: None, user_end: Some(Instant::now()) };
                        ctl.user_turn(text).await;
                    }
                }
                Some(ClientIn::Mark(name)) => { ctl.echoed.insert(name); }
                Some(ClientIn::Interrupt) => ctl.barge_in().await,
            },
            ev = next_stt(&mut stt_rx) => match ev {
                Some(Ok(ev)) => {
                    if let Some(text) = ctl.stt_event(ev).await {
                        vad_deadline = None;
                        let now = Instant::now();
                        let stt_ms = speech_end.map(|t| now.saturating_duration_since(t).as_millis() as u64);
                        ctl.times = TurnTimes { stt_ms, user_end: Some(speech_end.unwrap_or(now)) };
                        ctl.user_turn(text).await;
                    }
                }
                Some(Err(e)) => {
                    ctl.error("stt_failed", &e.to_string()).await;
                    stt_tx = None;
                    stt_rx = None;
                }
                None => { stt_tx = None; stt_rx = None; }
            },
            Some(msg) = report_rx.recv() => {
                if let Some(done) = ctl.turn_report(msg).await
                    && ending_after_notice == Some(done)
                {
                    break "insufficient_credits".into();
                }
            }
            _ = tokio::time::sleep_until(vad_deadline.unwrap_or(max_at)), if vad_deadline.is_some() => {
                vad_deadline = None;
                if let Some(text) = ctl.take_utterance() {
                    // Final text without an end of turn from the recognizer.
                    let now = Instant::now();
                    let stt_ms = speech_end.map(|t| now.saturating_duration_since(t).as_millis() as u64);
                    ctl.times = TurnTimes { stt_ms, user_end: Some(speech_end.unwrap_or(now)) };
                    ctl.user_turn(text).await;
                } else if let Some(tx) = &stt_tx {
                    // Only interim text (or none yet): ask for the final segment now.
                    ctl.forced_end = true;
                    let _ = tx.finalize().await;
                }
            }
            _ = tokio::time::sleep_until(max_at) => break "max_duration".into(),
            _ = tokio::time::sleep_until(idle_deadline), if ctl.turn.is_none() => {
                break "silence_timeout".into();
            }
            _ = wallet_tick.tick(), if ending_after_notice.is_none() => {
                match keep_paid(&state, &ctl, ctx.hold_id, hold_amount, started, stt_rx.as_ref()).await {
                    Ok(Some(amount)) => hold_amount = amount,
                    Ok(None) => {
                        if let Some(t) = ctl.turn.take() { ctl.cancel_turn(t, false).await; }
                        ending_after_notice = Some(ctl.speak(OUT_OF_CREDITS.into()).await);
                    }
                    Err(e) => tracing::warn!(error = %e, "could not extend the call's hold"),
                }
            }
            _ = poll.tick() => {
                if let Some(r) = requested_end(&state, ctx.session_id).await {
                    break r;
                }
            }
        }
    };

    // Stop speaking; what was heard stays in the transcript.
    if let Some(t) = ctl.turn.take() {
        ctl.cancel_turn(t, true).await;
    }
    // Close recognition and take its billed seconds.
    drop(stt_tx);
    let mut stt_seconds = 0.0;
    if let Some(mut events) = stt_rx {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(Ok(SttEvent::Closed { billed_seconds }))) => {
                    stt_seconds = billed_seconds;
                    break;
                }
                Ok(Some(_)) => continue,
                _ => {
                    stt_seconds = events.billed_seconds();
                    break;
                }
            }
        }
    }
    let outcome = ctl.outcome(stt_seconds, recorder.as_ref());
    let result = finalize::finalize(&state, ctx.call_id, &reason, outcome).await;
    super::unregister_live(ctx.session_id);
    let (duration_ms, cost_credits) = match result {
        Ok(Some(f)) => (f.duration_ms, f.cost_credits),
        Ok(None) => {
            // Someone else finalized (e.g. DELETE after this instance stalled): report theirs.
            match calls_repo::find(&state.db, ctx.call_id, ctx.user_id).await {
                Ok(Some(c)) => (c.duration_ms.unwrap_or(0), c.cost_credits),
                _ => (0, 0),
            }
        }
        Err(e) => {
            tracing::error!(error = ?e, call_id = %ctx.call_id, "finalizing the call failed");
            (started.elapsed().as_millis() as i64, 0)
        }
    };
    let _ = out
        .send(ServerOut::Event(json!({"type": "ended", "reason": reason,
            "call_id": ctx.call_id, "duration_ms": duration_ms, "cost_credits": cost_credits})))
        .await;
    Ended {
        reason,
        duration_ms,
        cost_credits,
    }
}

async fn next_stt(
    rx: &mut Option<SttEvents>,
) -> Option<Result<SttEvent, crate::providers::ProviderError>> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// An ending asked for through the database (`DELETE` on any instance).
async fn requested_end(state: &AppState, session_id: Uuid) -> Option<String> {
    sqlx::query_scalar!(
        "select end_requested from voice_sessions where id = $1",
        session_id
    )
    .fetch_optional(&state.db)
    .await
    .ok()
    .flatten()
    .flatten()
}

/// Keep the hold ahead of what the call has cost so far. `Ok(None)`: the wallet cannot pay.
async fn keep_paid(
    state: &AppState,
    ctl: &Controller,
    hold_id: Uuid,
    hold_amount: i64,
    started: Instant,
    stt: Option<&SttEvents>,
) -> Result<Option<i64>, crate::wallet::service::WalletError> {
    let spent_now = {
        let spent = ctl.env.spent.lock();
        cost(
            &state.settings.pricing,
            &Usage {
                stt_seconds: stt.map(|s| s.billed_seconds()).unwrap_or(0.0),
                llm: spent.llm.clone(),
                tts_characters: spent.tts_characters,
                call_seconds: started.elapsed().as_secs_f64(),
            },
        )
        .total_credits
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

struct Controller {
    state: AppState,
    call_id: Uuid,
    env: TurnEnv,
    history: Vec<ChatMessage>,
    /// How many of `history`'s messages came from the conversation before this call.
    prior_messages: usize,
    turn: Option<Turn>,
    next_turn: u64,
    echoed: HashSet<String>,
    /// Final segments of the user's current utterance.
    utterance: String,
    /// The local VAD asked the recognizer to finalize: its next final segment ends the turn.
    forced_end: bool,
    interrupted_count: u32,
    times: TurnTimes,
    last_activity: Instant,
}

impl Controller {
    async fn send(&self, v: Value) {
        let _ = self.env.out.send(ServerOut::Event(v)).await;
    }

    async fn error(&self, code: &str, message: &str) {
        self.send(json!({"type": "error", "code": code, "message": message}))
            .await;
    }

    async fn store_turn(&self, role: &str, content: &str, interrupted: bool) {
        if let Err(e) =
            calls_repo::add_turn(&self.state.db, self.call_id, role, content, interrupted).await
        {
            tracing::warn!(error = %e, "could not store a transcript turn");
        }
    }

    /// Speak fixed text (welcome, notices). Returns the turn id.
    async fn speak(&mut self, text: String) -> u64 {
        self.next_turn += 1;
        let id = self.next_turn;
        let cancel = CancellationToken::new();
        tokio::spawn(respond(
            self.env.clone(),
            id,
            Reply::Scripted(text),
            TurnTimes::default(),
            cancel.clone(),
        ));
        self.turn = Some(Turn {
            id,
            cancel,
            chunks: Vec::new(),
            scripted: true,
        });
        id
    }

    /// Feed an STT event; returns the user's finished utterance at a turn end.
    async fn stt_event(&mut self, ev: SttEvent) -> Option<String> {
        match ev {
            SttEvent::SpeechStarted => {
                self.last_activity = Instant::now();
                None
            }
            SttEvent::Transcript {
                text,
                is_final,
                speech_final,
                ..
            } => {
                self.last_activity = Instant::now();
                let text = text.trim();
                let so_far = join(&self.utterance, text);
                if self.speaking() && self.env.agent.interruption.enabled {
                    let words = so_far.split_whitespace().count() as u32;
                    if words >= self.env.agent.interruption.min_words.max(1) {
                        self.barge_in().await;
                    }
                }
                if !text.is_empty() && !is_final {
                    self.send(json!({"type": "transcript", "role": "user", "text": so_far, "final": false}))
                        .await;
                }
                if is_final {
                    self.utterance = so_far;
                }
                if speech_final || (is_final && self.forced_end) {
                    return self.take_utterance();
                }
                None
            }
            SttEvent::UtteranceEnd => self.take_utterance(),
            SttEvent::Closed { .. } => None,
        }
    }

    fn take_utterance(&mut self) -> Option<String> {
        self.forced_end = false;
        let text = std::mem::take(&mut self.utterance);
        (!text.trim().is_empty()).then_some(text)
    }

    fn speaking(&self) -> bool {
        self.turn.is_some()
    }

    /// The user finished a turn: answer it.
    async fn user_turn(&mut self, text: String) {
        self.last_activity = Instant::now();
        if let Some(t) = self.turn.take() {
            self.cancel_turn(t, true).await;
        }
        self.send(json!({"type": "transcript", "role": "user", "text": text, "final": true}))
            .await;
        let history = self.history.clone();
        self.history.push(ChatMessage::user(text.clone()));
        self.next_turn += 1;
        let id = self.next_turn;
        let cancel = CancellationToken::new();
        tokio::spawn(respond(
            self.env.clone(),
            id,
            Reply::Llm {
                history,
                text: text.clone(),
            },
            self.times,
            cancel.clone(),
        ));
        self.turn = Some(Turn {
            id,
            cancel,
            chunks: Vec::new(),
            scripted: false,
        });
        // Stored while the answer starts (not before it): the reply's own row is written
        // by this controller later, so the transcript keeps its order.
        self.store_turn("user", &text, false).await;
    }

    /// User speech (or `interrupt`) while the agent talks: stop now, flush the client.
    async fn barge_in(&mut self) {
        let Some(t) = self.turn.take() else {
            return;
        };
        self.interrupted_count += 1;
        metrics::counter!("voice_interruptions_total").increment(1);
        self.cancel_turn(t, true).await;
    }

    /// Cancel a turn; keep in history only what the client confirmed hearing.
    async fn cancel_turn(&mut self, t: Turn, clear: bool) {
        t.cancel.cancel();
        self.env.generation.bump();
        if clear {
            let _ = self.env.out.send(ServerOut::Clear).await;
        }
        let heard: Vec<&str> = t
            .chunks
            .iter()
            .filter(|(name, _)| self.echoed.contains(name))
            .map(|(_, text)| text.as_str())
            .collect();
        let heard = heard.join(" ");
        if !t.scripted {
            if !heard.is_empty() {
                self.history.push(ChatMessage::assistant(heard.clone()));
            }
            self.store_turn("assistant", &heard, true).await;
        }
        self.last_activity = Instant::now();
    }

    /// A report from a turn task; returns the id of a turn that just finished.
    async fn turn_report(&mut self, msg: TurnMsg) -> Option<u64> {
        let current = self.turn.as_ref().map(|t| t.id);
        match msg {
            TurnMsg::Chunk { turn, name, text } if Some(turn) == current => {
                if let Some(t) = self.turn.as_mut() {
                    t.chunks.push((name, text));
                }
                None
            }
            TurnMsg::Done { turn, text } if Some(turn) == current => {
                let t = self.turn.take()?;
                if !t.scripted {
                    self.history.push(ChatMessage::assistant(text.clone()));
                    self.store_turn("assistant", &text, false).await;
                }
                self.last_activity = Instant::now();
                Some(turn)
            }
            TurnMsg::Failed { turn } if Some(turn) == current => {
                self.turn.take();
                self.last_activity = Instant::now();
                Some(turn)
            }
            _ => None,
        }
    }

    fn outcome(&self, stt_seconds: f64, recorder: Option<&Arc<Mutex<Recorder>>>) -> Outcome {
        let spent = self.env.spent.lock();
        let mut lat = self.env.latencies.lock().clone();
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
                turns: self.history[self.prior_messages..]
                    .iter()
                    .filter(|m| m.role == crate::providers::llm::Role::User)
                    .count() as u32,
                response_latency_ms_p50: pct(0.5),
                response_latency_ms_p95: pct(0.95),
                interruptions: self.interrupted_count,
            },
            recording: recorder.map(|r| r.lock().wav()),
            status: None,
        }
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a} {b}"),
    }
}

enum Reply {
    Scripted(String),
    /// Answer `text` after `history` (the assistant builds the context and runs tools).
    Llm {
        history: Vec<ChatMessage>,
        text: String,
    },
}

/// Splits streamed text into speakable chunks: a sentence, or a clause once it is long
/// enough to sound natural, so the first audio starts as early as possible.
#[derive(Debug, Default)]
pub struct Chunker {
    buf: String,
}

impl Chunker {
    const MIN_CLAUSE: usize = 12;

    pub fn push(&mut self, text: &str) -> Vec<String> {
        self.buf.push_str(text);
        let mut out = Vec::new();
        loop {
            let mut cut = None;
            let chars: Vec<(usize, char)> = self.buf.char_indices().collect();
            for (i, &(pos, c)) in chars.iter().enumerate() {
                let next_is_space = chars.get(i + 1).is_some_and(|(_, n)| n.is_whitespace());
                let end = pos + c.len_utf8();
                if next_is_space
                    && (matches!(c, '.' | '!' | '?')
                        || (matches!(c, ',' | ';' | ':') && end >= Self::MIN_CLAUSE))
                {
                    cut = Some(end);
                    break;
                }
            }
            match cut {
                Some(end) => {
                    let chunk = self.buf[..end].trim().to_string();
                    self.buf = self.buf[end..].to_string();
                    if !chunk.is_empty() {
                        out.push(chunk);
                    }
                }
                None => return out,
            }
        }
    }

    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf).trim().to_string();
        (!rest.is_empty()).then_some(rest)
    }
}

/// Synthesized audio on its way to the pacer.
enum Spoken {
    /// One frame at the client's rate.
    Audio(Vec<i16>),
    /// The chunk with this text is complete: a mark follows its audio.
    End(String),
}

/// One response: LLM (or fixed text) → chunker → TTS → paced audio, marks after chunks.
async fn respond(
    env: TurnEnv,
    turn: u64,
    reply: Reply,
    times: TurnTimes,
    cancel: CancellationToken,
) {
    let (chunk_tx, mut chunk_rx) = mpsc::channel::<String>(16);
    let llm_first: Arc<Mutex<Option<u64>>> = Arc::new(Mutex::new(None));
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));

    let producer = {
        let env = env.clone();
        let llm_first = llm_first.clone();
        let failed = failed.clone();
        let cancel = cancel.clone();
        async move {
            match reply {
                Reply::Scripted(text) => {
                    let mut c = Chunker::default();
                    for chunk in c.push(&text).into_iter().chain(c.finish()) {
                        if chunk_tx.send(chunk).await.is_err() {
                            break;
                        }
                    }
                    text
                }
                Reply::Llm { history, text } => {
                    llm_reply(&env, history, text, chunk_tx, &llm_first, &failed, &cancel).await
                }
            }
        }
    };

    // TTS runs ahead of playback (up to `SYNTH_AHEAD` of audio), so the next chunk is being
    // synthesized while the current one plays and chunk boundaries have no gaps.
    let (audio_tx, mut audio_rx) = mpsc::channel::<Spoken>(SYNTH_AHEAD_FRAMES);
    let synthesizer = {
        let env = env.clone();
        async move {
            let tts = env.agent.tts_provider(&env.state.providers);
            let frame = crate::audio::samples_for_ms(env.rate, FRAME_MS);
            let mut tts_first: Option<u64> = None;
            while let Some(chunk) = chunk_rx.recv().await {
                let req = env.agent.tts_request(chunk.clone(), env.rate);
                env.spent.lock().tts_characters += req.characters() as u64;
                let asked = Instant::now();
                let mut stream = match tts.synthesize(req).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = env
                            .out
                            .send(ServerOut::Event(json!({"type": "error",
                            "code": "tts_failed", "message": e.to_string()})))
                            .await;
                        continue;
                    }
                };
                tts_first.get_or_insert(asked.elapsed().as_millis() as u64);
                let mut resample = Resampler::new(stream.sample_rate(), env.rate);
                let mut pending: Vec<i16> = Vec::new();
                let mut done = false;
                while !done {
                    match stream.next().await {
                        Some(Ok(pcm)) => pending.extend(resample.process(&pcm)),
                        Some(Err(e)) => {
                            let _ = env
                                .out
                                .send(ServerOut::Event(json!({"type": "error",
                                "code": "tts_failed", "message": e.to_string()})))
                                .await;
                            done = true;
                        }
                        None => {
                            pending.extend(resample.flush());
                            done = true;
                        }
                    }
                    while pending.len() >= frame || (done && !pending.is_empty()) {
                        let n = frame.min(pending.len());
                        let samples: Vec<i16> = pending.drain(..n).collect();
                        if audio_tx.send(Spoken::Audio(samples)).await.is_err() {
                            return tts_first;
                        }
                    }
                }
                if audio_tx.send(Spoken::End(chunk)).await.is_err() {
                    break;
                }
            }
            tts_first
        }
    };

    let player = {
        let env = env.clone();
        async move {
            let mut pacer = Pacer::new(env.rate, PACER_LEAD);
            let mut to_rec = Resampler::new(env.rate, PIPELINE_RATE);
            let mut first_audio: Option<Instant> = None;
            let response_id = Uuid::now_v7();
            // The generation a chunk's audio belongs to (a `clear` makes it stale).
            let mut chunk_gen: Option<u64> = None;
            while let Some(item) = audio_rx.recv().await {
                match item {
                    Spoken::Audio(samples) => {
                        let generation = *chunk_gen.get_or_insert_with(|| env.generation.current());
                        if first_audio.is_none() {
                            let _ = env
                                .out
                                .send(ServerOut::Event(json!({"type": "audio_start",
                                "response_id": response_id})))
                                .await;
                        }
                        pacer.pace(samples.len()).await;
                        if first_audio.is_none() {
                            first_audio = Some(Instant::now());
                        }
                        if let Some(r) = &env.recorder {
                            r.lock().add(Instant::now(), &to_rec.process(&samples));
                        }
                        if env
                            .out
                            .send(ServerOut::Audio {
                                generation,
                                samples,
                            })
                            .await
                            .is_err()
                        {
                            return first_audio;
                        }
                    }
                    Spoken::End(text) => {
                        let generation =
                            chunk_gen.take().unwrap_or_else(|| env.generation.current());
                        let name = Uuid::now_v7().to_string();
                        let _ = env
                            .out
                            .send(ServerOut::Mark {
                                generation,
                                name: name.clone(),
                            })
                            .await;
                        let _ = env.report.send(TurnMsg::Chunk { turn, name, text }).await;
                    }
                }
            }
            // Let the last audio play before the turn counts as over.
            tokio::time::sleep(PACER_LEAD).await;
            first_audio
        }
    };

    // Barge-in drops the synthesis and playback at once (the TTS request is cancelled).
    let speaker = {
        let cancel = cancel.clone();
        async move {
            tokio::select! {
                r = async { tokio::join!(synthesizer, player) } => r,
                _ = cancel.cancelled() => (None, None),
            }
        }
    };

    let (text, (tts_first, first_audio)) = tokio::join!(producer, speaker);
    if cancel.is_cancelled() {
        return;
    }
    if failed.load(Ordering::Acquire) && text.is_empty() {
        let _ = env.report.send(TurnMsg::Failed { turn }).await;
        return;
    }
    if let (Some(end), Some(first)) = (times.user_end, first_audio) {
        let latency = first.saturating_duration_since(end).as_millis() as u64;
        env.latencies.lock().push(latency);
        metrics::histogram!("voice_response_latency_seconds").record(latency as f64 / 1000.0);
        let llm_ms = *llm_first.lock();
        if let Some(ms) = llm_ms {
            metrics::histogram!("voice_llm_first_token_seconds").record(ms as f64 / 1000.0);
        }
        if let Some(ms) = tts_first {
            metrics::histogram!("voice_tts_first_byte_seconds").record(ms as f64 / 1000.0);
        }
        let _ = env
            .out
            .send(ServerOut::Event(json!({"type": "metrics", "turn": turn,
                "stt_ms": times.stt_ms, "llm_first_token_ms": llm_ms,
                "tts_first_byte_ms": tts_first, "response_latency_ms": latency})))
            .await;
    }
    let _ = env.report.send(TurnMsg::Done { turn, text }).await;
}

/// The assistant's answer through the shared tool-loop turn: deltas go to the client and
/// the chunker as they arrive, tool calls are reported, usage is billed even when cancelled.
async fn llm_reply(
    env: &TurnEnv,
    history: Vec<ChatMessage>,
    text: String,
    chunk_tx: mpsc::Sender<String>,
    llm_first: &Mutex<Option<u64>>,
    failed: &std::sync::atomic::AtomicBool,
    cancel: &CancellationToken,
) -> String {
    let agent = &env.agent;
    let db = &env.state.db;
    let fail = |message: String| async move {
        failed.store(true, Ordering::Release);
        let _ = env
            .out
            .send(ServerOut::Event(
                json!({"type": "error", "code": "llm_failed", "message": message}),
            ))
            .await;
    };
    let messages = match assistant::build_context(
        db,
        agent,
        env.user_id,
        &history,
        &text,
        &ContextOptions::default(),
    )
    .await
    {
        Ok(m) => m,
        Err(e) => {
            fail(e.to_string()).await;
            return String::new();
        }
    };
    let mut request = agent.llm_request(messages);
    request.tools = assistant::tool_specs(&agent.tools);
    let req = TurnRequest {
        llm: agent.llm_provider(&env.state.providers),
        request,
        tools: ToolContext {
            user_id: env.user_id,
            source: TaskSource::Voice,
            source_reference: Some(env.call_id.to_string()),
            groups: agent.tools.clone(),
        },
        fallback_model: agent.llm.model.clone().unwrap_or_default(),
        max_steps: MAX_STEPS,
    };
    let started = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel::<TurnEvent>();
    let run = assistant::run_turn(&env.state, req, cancel, move |ev| {
        let _ = tx.send(ev);
    });
    let forward = async {
        let mut chunker = Chunker::default();
        while let Some(ev) = rx.recv().await {
            match ev {
                TurnEvent::Delta(t) => {
                    llm_first
                        .lock()
                        .get_or_insert(started.elapsed().as_millis() as u64);
                    let _ = env
                        .out
                        .send(ServerOut::Event(
                            json!({"type": "response", "text": t, "final": false}),
                        ))
                        .await;
                    for chunk in chunker.push(&t) {
                        let _ = chunk_tx.send(chunk).await;
                    }
                }
                TurnEvent::ToolCall(o) => {
                    let _ = env
                        .out
                        .send(ServerOut::Event(
                            json!({"type": "tool_call", "name": o.name,
                            "arguments": o.arguments, "result": o.result}),
                        ))
                        .await;
                }
            }
        }
        if let Some(rest) = chunker.finish() {
            let _ = chunk_tx.send(rest).await;
        }
    };
    let (out, ()) = tokio::join!(run, forward);
    {
        let mut spent = env.spent.lock();
        for u in &out.llm {
            spent.add_llm(&u.model, u.input_tokens, u.output_tokens);
        }
    }
    if let Some(e) = &out.error {
        fail(e.to_string()).await;
    }
    if !out.cancelled {
        let _ = env
            .out
            .send(ServerOut::Event(
                json!({"type": "response", "text": out.text, "final": true}),
            ))
            .await;
    }
    out.text
}

#[cfg(test)]
mod tests {
    use super::Chunker;

    #[test]
    fn chunker_cuts_at_the_first_clause_then_sentences() {
        let mut c = Chunker::default();
        let mut out = Vec::new();
        for piece in [
            "Sure",
            ", I can",
            " help with that",
            ", of course. Then",
            " we go",
            ".",
        ] {
            out.extend(c.push(piece));
        }
        out.extend(c.finish());
        assert_eq!(
            out,
            vec!["Sure, I can help with that,", "of course.", "Then we go."]
        );
    }

    #[test]
    fn chunker_waits_for_a_space_after_punctuation() {
        let mut c = Chunker::default();
        assert!(c.push("It costs 3.5").is_empty());
        assert_eq!(c.push(" dollars. Ok"), vec!["It costs 3.5 dollars."]);
        assert_eq!(c.finish().as_deref(), Some("Ok"));
    }
}
