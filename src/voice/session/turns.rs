//! Turn taking: the controller's conversation state and its decisions — when the user's
//! turn ends (the recognizer's endpointing, or the local VAD fallback), when the agent is
//! interrupted (barge-in), and what goes into the history and the transcript. A user turn
//! ends in [`Controller::user_turn`], which starts the response turn; the response turn
//! ends in [`Controller::turn_report`]; barge-in is decided in [`Controller::stt_event`]
//! (enough words while speaking) and carried out in [`Controller::barge_in`].

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    PIPELINE_RATE,
    channels::{Reply, ServerOut, TurnMsg, TurnTimes},
    meter::{self, Recorder},
    output,
    reply::{self, TurnEnv},
};
use crate::{
    audio::vad::VadEvent,
    calls::repo as calls_repo,
    providers::{
        llm::{ChatMessage, Role},
        stt::{SttEvent, SttSender},
    },
    state::AppState,
    voice::finalize::Outcome,
};

/// Local turn-end fallback: this long past the provider's own endpointing windows.
const VAD_FALLBACK_GRACE_MS: u64 = 200;

/// The response turn being spoken.
struct Turn {
    id: u64,
    cancel: CancellationToken,
    /// (mark name, text) of each chunk played so far.
    chunks: Vec<(String, String)>,
    /// Spoken without the LLM (welcome, notices): not a conversational turn.
    scripted: bool,
}

pub(super) struct Controller {
    state: AppState,
    call_id: Uuid,
    pub(super) env: TurnEnv,
    history: Vec<ChatMessage>,
    /// How many of `history`'s messages came from the conversation before this call.
    prior_messages: usize,
    turn: Option<Turn>,
    next_turn: u64,
    /// Marks the client played.
    echoed: HashSet<String>,
    /// Final segments of the user's current utterance.
    utterance: String,
    /// The local VAD asked the recognizer to finalize: its next final segment ends the turn.
    forced_end: bool,
    interrupted_count: u32,
    times: TurnTimes,
    last_activity: Instant,
    /// When the VAD last heard speech end.
    speech_end: Option<Instant>,
    /// Local turn detection, for recognizers that never say the speaker is done: once the
    /// VAD heard `vad_fallback` of silence after speech and the turn is still open, end it.
    vad_deadline: Option<tokio::time::Instant>,
    vad_fallback: Duration,
}

impl Controller {
    pub(super) fn new(state: AppState, env: TurnEnv) -> Self {
        let stt_cfg = env.agent.stt_config(PIPELINE_RATE);
        let vad_fallback = Duration::from_millis(
            u64::from(stt_cfg.endpointing_ms.max(stt_cfg.utterance_end_ms)) + VAD_FALLBACK_GRACE_MS,
        );
        Self {
            state,
            call_id: env.call_id,
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
            speech_end: None,
            vad_deadline: None,
            vad_fallback,
        }
    }

    /// The conversation this call continues: its messages come before the call's own.
    pub(super) fn continue_from(&mut self, history: Vec<ChatMessage>) {
        self.prior_messages = history.len();
        self.history = history;
    }

    pub(super) async fn send(&self, v: Value) {
        let _ = self.env.out.send(ServerOut::Event(v)).await;
    }

    pub(super) async fn error(&self, code: &str, message: &str) {
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

    /// The client's sample rate changed (`start`).
    pub(super) fn set_client_rate(&mut self, rate: u32) {
        self.env.rate = rate;
    }

    /// The caller did something (spoke, typed, the agent finished): the silence timeout
    /// counts from here.
    pub(super) fn touch(&mut self) {
        self.last_activity = Instant::now();
    }

    pub(super) fn last_activity(&self) -> Instant {
        self.last_activity
    }

    pub(super) fn vad_deadline(&self) -> Option<tokio::time::Instant> {
        self.vad_deadline
    }

    pub(super) fn speaking(&self) -> bool {
        self.turn.is_some()
    }

    pub(super) fn mark_played(&mut self, name: String) {
        self.echoed.insert(name);
    }

    /// Speak fixed text (welcome, notices). Returns the turn id.
    pub(super) async fn speak(&mut self, text: String) -> u64 {
        self.start_turn(Reply::Scripted(text), TurnTimes::default(), true)
    }

    /// Spawn a response turn and make it the current one.
    fn start_turn(&mut self, reply: Reply, times: TurnTimes, scripted: bool) -> u64 {
        self.next_turn += 1;
        let id = self.next_turn;
        let cancel = CancellationToken::new();
        tokio::spawn(reply::respond(
            self.env.clone(),
            id,
            reply,
            times,
            cancel.clone(),
        ));
        self.turn = Some(Turn {
            id,
            cancel,
            chunks: Vec::new(),
            scripted,
        });
        id
    }

    /// What the local VAD heard: speech start reopens the turn, speech end arms the
    /// fallback deadline.
    pub(super) fn vad_event(&mut self, ev: VadEvent) {
        match ev {
            VadEvent::SpeechStart { .. } => {
                self.speech_end = None;
                self.vad_deadline = None;
                // New speech: a finalize asked for earlier (after noise, say)
                // must not cut this utterance at its first final segment.
                self.forced_end = false;
                self.touch();
            }
            VadEvent::SpeechEnd { .. } => {
                self.speech_end = Some(Instant::now());
                self.vad_deadline = Some(tokio::time::Instant::now() + self.vad_fallback);
                self.touch();
            }
        }
    }

    /// The VAD fallback deadline passed with the turn still open.
    pub(super) async fn vad_timeout(&mut self, stt: Option<&SttSender>) {
        self.vad_deadline = None;
        if let Some(text) = self.take_utterance() {
            // Final text without an end of turn from the recognizer.
            self.spoken_turn(text).await;
        } else if let Some(tx) = stt {
            // Only interim text (or none yet): ask for the final segment now.
            self.forced_end = true;
            let _ = tx.finalize().await;
        }
    }

    /// Typed text from the client is a whole user turn.
    pub(super) async fn typed_turn(&mut self, text: String) {
        let text = text.trim().to_string();
        if !text.is_empty() {
            self.times = TurnTimes {
                stt_ms: None,
                user_end: Some(Instant::now()),
            };
            self.user_turn(text).await;
        }
    }

    /// Feed a recognizer event; at a turn end, the user's utterance is answered.
    pub(super) async fn recognized(&mut self, ev: SttEvent) {
        if let Some(text) = self.stt_event(ev).await {
            self.vad_deadline = None;
            self.spoken_turn(text).await;
        }
    }

    /// A spoken utterance ended: answer it, timed from the VAD's speech end.
    async fn spoken_turn(&mut self, text: String) {
        let now = Instant::now();
        let stt_ms = self
            .speech_end
            .map(|t| now.saturating_duration_since(t).as_millis() as u64);
        self.times = TurnTimes {
            stt_ms,
            user_end: Some(self.speech_end.unwrap_or(now)),
        };
        self.user_turn(text).await;
    }

    /// Feed an STT event; returns the user's finished utterance at a turn end.
    async fn stt_event(&mut self, ev: SttEvent) -> Option<String> {
        match ev {
            SttEvent::SpeechStarted => {
                self.touch();
                None
            }
            SttEvent::Transcript {
                text,
                is_final,
                speech_final,
                ..
            } => {
                self.touch();
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

    /// The user finished a turn: answer it.
    async fn user_turn(&mut self, text: String) {
        self.touch();
        self.stop_turn(true).await;
        self.send(json!({"type": "transcript", "role": "user", "text": text, "final": true}))
            .await;
        let history = self.history.clone();
        self.history.push(ChatMessage::user(text.clone()));
        let reply = Reply::Llm {
            history,
            text: text.clone(),
        };
        self.start_turn(reply, self.times, false);
        // Stored while the answer starts (not before it): the reply's own row is written
        // by this controller later, so the transcript keeps its order.
        self.store_turn("user", &text, false).await;
    }

    /// User speech (or `interrupt`) while the agent talks: stop now, flush the client.
    pub(super) async fn barge_in(&mut self) {
        let Some(t) = self.turn.take() else {
            return;
        };
        self.interrupted_count += 1;
        metrics::counter!("voice_interruptions_total").increment(1);
        self.cancel_turn(t, true).await;
    }

    /// Stop the current turn, if any (`clear`: the client drops its queued playback).
    pub(super) async fn stop_turn(&mut self, clear: bool) {
        if let Some(t) = self.turn.take() {
            self.cancel_turn(t, clear).await;
        }
    }

    /// Cancel a turn; keep in history only what the client confirmed hearing.
    async fn cancel_turn(&mut self, t: Turn, clear: bool) {
        t.cancel.cancel();
        output::clear(&self.env, clear).await;
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
        self.touch();
    }

    /// A report from a turn task; returns the id of a turn that just finished.
    pub(super) async fn turn_report(&mut self, msg: TurnMsg) -> Option<u64> {
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
                self.touch();
                Some(turn)
            }
            TurnMsg::Failed { turn } if Some(turn) == current => {
                self.turn.take();
                self.touch();
                Some(turn)
            }
            _ => None,
        }
    }

    pub(super) fn outcome(
        &self,
        stt_seconds: f64,
        recorder: Option<&Arc<Mutex<Recorder>>>,
    ) -> Outcome {
        let user_turns = self.history[self.prior_messages..]
            .iter()
            .filter(|m| m.role == Role::User)
            .count() as u32;
        meter::outcome(
            stt_seconds,
            meter::Tally {
                spent: &self.env.spent,
                latencies: &self.env.latencies,
                user_turns,
                interruptions: self.interrupted_count,
                recorder,
            },
        )
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a} {b}"),
    }
}
