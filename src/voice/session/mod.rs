//! The transport-neutral voice session, one module per stage (the messages between them
//! are named in [`channels`], with the flow drawn there):
//!
//! - [`input`]: client events and audio in — resampling, the local VAD, the recording,
//!   streaming STT;
//! - [`turns`]: turn taking — endpointing, the VAD fallback, barge-in, history and
//!   transcript (the [`turns::Controller`]);
//! - [`reply`]: a response turn — the LLM turn through `assistant::run_turn` (or fixed
//!   text), the clause chunker, streaming TTS;
//! - [`output`]: 20 ms frames paced to real time, marks, `clear` and the [`Generation`];
//! - [`meter`]: usage, recording, the wallet hold and the outcome;
//! - this file: the controller loop that selects over client input, STT events, the
//!   running response turn, timers and ending requests, and the close that hands every
//!   ending to [`super::finalize::finalize`].

mod channels;
mod input;
mod meter;
mod output;
mod reply;
mod turns;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use self::{
    channels::TurnMsg,
    input::Input,
    meter::{Recorder, SharedRecorder},
    reply::TurnEnv,
    turns::Controller,
};
pub use self::{
    channels::{ClientIn, ServerOut},
    output::{Generation, PACER_LEAD},
    reply::Chunker,
};
use super::finalize::{self, Finalized};
use crate::{agents::Agent, calls::repo as calls_repo, error::ApiResult, state::AppState};

/// Rate the pipeline runs at internally (STT input, recording).
pub const PIPELINE_RATE: u32 = 16000;
pub const RATES: [u32; 4] = [8000, 16000, 24000, 48000];
const OUT_OF_CREDITS: &str =
    "I'm sorry, your credits have run out, so I have to end the call now. Goodbye.";

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
    /// The rate of the audio sent to the client when it differs from what it sends
    /// (Bolna-style clients play 24 kHz); `None`: the client's rate.
    pub output_rate: Option<u32>,
    /// How far ahead of real time audio is sent ([`PACER_LEAD`] unless the transport
    /// sends bigger packets and needs the client to hold more).
    pub pacer_lead: std::time::Duration,
    /// The streaming avatar this session's speech also drives (`POST /avatar/sessions`).
    pub avatar: Option<crate::voice::avatar::bridge::AvatarLink>,
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
    let mut session = Session::open(state, ctx, out, generation).await;
    let reason = session.run_loop(&mut input, &local_end).await;
    session.close(reason).await
}

/// A running session: the controller, its input and its timers' state.
struct Session {
    state: AppState,
    session_id: Uuid,
    call_id: Uuid,
    user_id: Uuid,
    hold_id: Uuid,
    hold_amount: i64,
    agent: Arc<Agent>,
    started: Instant,
    ctl: Controller,
    input: Input,
    report_rx: mpsc::Receiver<TurnMsg>,
    recorder: SharedRecorder,
    /// A goodbye notice is being spoken (its turn id, and the ending it announces): the
    /// call ends after it.
    ending_after_notice: Option<(u64, &'static str)>,
    avatar: Option<crate::voice::avatar::bridge::AvatarLink>,
}

impl Session {
    /// Load the history, say `ready`, start recognition, speak the welcome.
    async fn open(
        state: AppState,
        mut ctx: SessionCtx,
        out: mpsc::Sender<ServerOut>,
        generation: Generation,
    ) -> Self {
        let started = Instant::now();
        let avatar = ctx.avatar.take();
        let agent = Arc::new(ctx.agent);
        let rate = ctx.sample_rate;
        let output_rate = ctx.output_rate.unwrap_or(rate);
        let (report_tx, report_rx) = mpsc::channel::<TurnMsg>(64);
        let recorder: SharedRecorder = agent.recording.then(|| {
            Arc::new(Mutex::new(Recorder::new(
                started,
                agent.max_call_seconds.max(1) as usize,
            )))
        });
        let env = TurnEnv {
            state: state.clone(),
            agent: agent.clone(),
            out: out.clone(),
            generation,
            rate: output_rate,
            lead: ctx.pacer_lead,
            spent: Arc::new(Mutex::new(Default::default())),
            latencies: Arc::new(Mutex::new(Vec::new())),
            report: report_tx,
            recorder: recorder.clone(),
            user_id: ctx.user_id,
            call_id: ctx.call_id,
            avatar: avatar.as_ref().map(|a| a.tap.clone()),
        };
        let mut ctl = Controller::new(state.clone(), env);

        if let Some(cid) = ctx.conversation_id {
            match crate::chat::service::history(&state.db, ctx.user_id, cid, Uuid::nil()).await {
                Ok(h) => ctl.continue_from(h),
                Err(e) => tracing::warn!(error = ?e, "could not load the conversation's history"),
            }
        }

        ctl.send(json!({"type": "ready", "session_id": ctx.session_id,
            "call_id": ctx.call_id, "sample_rate": rate}))
            .await;

        let input = Input::open(&state, &agent, rate, recorder.clone(), &ctl).await;

        if let Some(w) = agent
            .welcome_message
            .clone()
            .filter(|w| !w.trim().is_empty())
        {
            ctl.speak(w).await;
        }

        Self {
            state,
            session_id: ctx.session_id,
            call_id: ctx.call_id,
            user_id: ctx.user_id,
            hold_id: ctx.hold_id,
            hold_amount: ctx.hold_amount,
            agent,
            started,
            ctl,
            input,
            report_rx,
            recorder,
            ending_after_notice: None,
            avatar,
        }
    }

    /// The controller loop: one event at a time, until something ends the call. Returns
    /// the ending's reason.
    async fn run_loop(
        &mut self,
        client: &mut mpsc::Receiver<ClientIn>,
        local_end: &CancellationToken,
    ) -> String {
        let max_at = tokio::time::Instant::from_std(
            self.started + Duration::from_secs(self.agent.max_call_seconds.max(1) as u64),
        );
        let silence = Duration::from_secs(self.agent.silence_timeout_seconds.max(1) as u64);
        let check = Duration::from_secs(self.state.settings.billing.call_check_secs.max(1));
        let mut wallet_tick = tokio::time::interval_at(tokio::time::Instant::now() + check, check);
        let mut poll = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(1),
            Duration::from_secs(1),
        );
        let avatar_check = Duration::from_secs(self.state.settings.avatar.check_secs.max(1));
        let mut avatar_tick =
            tokio::time::interval_at(tokio::time::Instant::now() + avatar_check, avatar_check);
        let avatar_ended = self.avatar.as_ref().map(|a| a.ended.clone());

        loop {
            let idle_deadline = tokio::time::Instant::from_std(self.ctl.last_activity() + silence);
            let vad_deadline = self.ctl.vad_deadline();
            tokio::select! {
                biased;
                _ = self.state.shutdown.cancelled() => return "server_shutdown".into(),
                _ = local_end.cancelled() => {
                    return self.requested_end().await.unwrap_or_else(|| "deleted".into());
                }
                msg = client.recv() => {
                    if let Some(reason) = self.input.client(msg, &mut self.ctl).await {
                        return reason;
                    }
                }
                ev = self.input.next_stt() => self.input.stt(ev, &mut self.ctl).await,
                Some(msg) = self.report_rx.recv() => {
                    if let Some(done) = self.ctl.turn_report(msg).await
                        && let Some((turn, reason)) = self.ending_after_notice
                        && turn == done
                    {
                        return reason.into();
                    }
                }
                _ = tokio::time::sleep_until(vad_deadline.unwrap_or(max_at)), if vad_deadline.is_some() => {
                    self.ctl.vad_timeout(self.input.stt_sender()).await;
                }
                _ = tokio::time::sleep_until(max_at) => return "max_duration".into(),
                _ = tokio::time::sleep_until(idle_deadline), if !self.ctl.speaking() => {
                    return "silence_timeout".into();
                }
                _ = wallet_tick.tick(), if self.ending_after_notice.is_none() => self.keep_paid().await,
                _ = async { avatar_ended.as_ref().unwrap().cancelled().await }, if avatar_ended.is_some() => {
                    return "avatar_ended".into();
                }
                _ = avatar_tick.tick(), if self.avatar.is_some() && self.ending_after_notice.is_none() => {
                    self.keep_avatar().await;
                }
                _ = poll.tick() => {
                    if let Some(r) = self.requested_end().await {
                        return r;
                    }
                }
            }
        }
    }

    /// An ending asked for through the database (`DELETE` on any instance).
    async fn requested_end(&self) -> Option<String> {
        sqlx::query_scalar!(
            "select end_requested from voice_sessions where id = $1",
            self.session_id
        )
        .fetch_optional(&self.state.db)
        .await
        .ok()
        .flatten()
        .flatten()
    }

    /// The wallet check: grow the hold, or say goodbye when the wallet cannot pay.
    async fn keep_paid(&mut self) {
        match meter::keep_paid(
            &self.state,
            &self.ctl.env.spent,
            self.hold_id,
            self.hold_amount,
            self.started,
            self.input.stt_seconds(),
            self.avatar.as_ref().map_or(0, |a| {
                crate::voice::avatar::service::credits_so_far(&self.state, a)
            }),
        )
        .await
        {
            Ok(Some(amount)) => self.hold_amount = amount,
            Ok(None) => {
                self.ctl.stop_turn(false).await;
                let turn = self.ctl.speak(OUT_OF_CREDITS.into()).await;
                self.ending_after_notice = Some((turn, "insufficient_credits"));
            }
            Err(e) => tracing::warn!(error = %e, "could not extend the call's hold"),
        }
    }

    /// The avatar quota check: hold the next minute, or say goodbye when the month has none.
    async fn keep_avatar(&mut self) {
        let Some(link) = self.avatar.as_mut() else {
            return;
        };
        match crate::voice::avatar::service::keep_reserved(&self.state, link).await {
            Ok(true) => {}
            Ok(false) => {
                self.ctl.stop_turn(false).await;
                let notice = crate::voice::avatar::service::QUOTA_NOTICE;
                let turn = self.ctl.speak(notice.into()).await;
                self.ending_after_notice = Some((turn, "avatar_quota_exhausted"));
            }
            Err(e) => tracing::warn!(error = ?e, "could not reserve the next avatar minute"),
        }
    }

    /// Stop speaking (what was heard stays in the transcript), close recognition,
    /// finalize the call and say `ended`.
    async fn close(mut self, reason: String) -> Ended {
        self.ctl.stop_turn(true).await;
        if let Some(link) = self.avatar.take() {
            link.close().await;
        }
        let stt_seconds = self.input.close().await;
        let outcome = self.ctl.outcome(stt_seconds, self.recorder.as_ref());
        let result = finalize::finalize(&self.state, self.call_id, &reason, outcome).await;
        super::unregister_live(self.session_id);
        let (duration_ms, cost_credits) = self.settled(result).await;
        self.ctl
            .send(json!({"type": "ended", "reason": reason,
                "call_id": self.call_id, "duration_ms": duration_ms, "cost_credits": cost_credits}))
            .await;
        Ended {
            reason,
            duration_ms,
            cost_credits,
        }
    }

    /// The call's duration and cost as finalized (by this session or, when someone else
    /// got there first, by them).
    async fn settled(&self, result: ApiResult<Option<Finalized>>) -> (i64, i64) {
        match result {
            Ok(Some(f)) => (f.duration_ms, f.cost_credits),
            Ok(None) => {
                // Someone else finalized (e.g. DELETE after this instance stalled): report theirs.
                match calls_repo::find(&self.state.db, self.call_id, self.user_id).await {
                    Ok(Some(c)) => (c.duration_ms.unwrap_or(0), c.cost_credits),
                    _ => (0, 0),
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, call_id = %self.call_id, "finalizing the call failed");
                (self.started.elapsed().as_millis() as i64, 0)
            }
        }
    }
}
