//! Reply: one response turn, a task of stages joined by bounded channels — the LLM turn
//! through [`assistant::run_turn`] (or fixed text) → the clause [`Chunker`] → streaming TTS
//! → [`super::output::play`]. Cancelled as a whole on barge-in; usage is counted as it is
//! spent. The LLM turn runs in [`llm_reply`]; a turn's end is reported in [`respond`].

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use futures::StreamExt;
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    channels::{Reply, ServerOut, Spoken, TurnMsg, TurnTimes},
    meter::{SharedRecorder, Spent},
    output::{self, FRAME_MS},
};
use crate::{
    agents::Agent,
    assistant::{self, ContextOptions, ToolContext, TurnEvent, TurnRequest, turn::MAX_STEPS},
    audio::resample::Resampler,
    providers::{llm::ChatMessage, tts::TtsStream},
    state::AppState,
    tasks::model::TaskSource,
};

/// How much synthesized audio (in frames) may wait for playback: the next chunk's TTS
/// starts while up to this much of the current one is still to play.
const SYNTH_AHEAD_FRAMES: usize = 50;

/// Everything a response turn needs, cheap to clone.
#[derive(Clone)]
pub(super) struct TurnEnv {
    pub(super) state: AppState,
    pub(super) agent: Arc<Agent>,
    pub(super) out: mpsc::Sender<ServerOut>,
    pub(super) generation: super::Generation,
    /// The sample rate of the audio sent to the client.
    pub(super) rate: u32,
    /// How far ahead of real time that audio is sent.
    pub(super) lead: std::time::Duration,
    pub(super) spent: Arc<Mutex<Spent>>,
    pub(super) latencies: Arc<Mutex<Vec<u64>>>,
    pub(super) report: mpsc::Sender<TurnMsg>,
    pub(super) recorder: SharedRecorder,
    pub(super) user_id: Uuid,
    pub(super) call_id: Uuid,
    /// The avatar's tee (`None`: no avatar; the output path does nothing extra).
    pub(super) avatar: Option<crate::voice::avatar::bridge::AvatarTap>,
}

impl TurnEnv {
    async fn event(&self, v: serde_json::Value) {
        let _ = self.out.send(ServerOut::Event(v)).await;
    }
}

/// One response: LLM (or fixed text) → chunker → TTS → paced audio, marks after chunks.
/// Ends with a [`TurnMsg::Done`] (or [`TurnMsg::Failed`]); nothing when cancelled.
pub(super) async fn respond(
    env: TurnEnv,
    turn: u64,
    reply: Reply,
    times: TurnTimes,
    cancel: CancellationToken,
) {
    let (chunk_tx, chunk_rx) = mpsc::channel::<String>(16);
    let llm_first: Arc<Mutex<Option<u64>>> = Arc::new(Mutex::new(None));
    let failed = Arc::new(AtomicBool::new(false));
    let producer = produce(
        env.clone(),
        reply,
        chunk_tx,
        llm_first.clone(),
        failed.clone(),
        cancel.clone(),
    );

    // TTS runs ahead of playback (up to `SYNTH_AHEAD` of audio), so the next chunk is being
    // synthesized while the current one plays and chunk boundaries have no gaps.
    let (audio_tx, audio_rx) = mpsc::channel::<Spoken>(SYNTH_AHEAD_FRAMES);
    let synthesizer = synthesize(env.clone(), chunk_rx, audio_tx);
    let player = output::play(env.clone(), turn, audio_rx);

    // Barge-in drops the synthesis and playback at once (the TTS request is cancelled).
    let speaker = async {
        tokio::select! {
            r = async { tokio::join!(synthesizer, player) } => r,
            _ = cancel.cancelled() => (None, None),
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
        let llm_ms = *llm_first.lock();
        turn_metrics(&env, turn, times, latency, llm_ms, tts_first).await;
    }
    let _ = env.report.send(TurnMsg::Done { turn, text }).await;
}

/// The turn's latencies: recorded for the call and the histograms, and sent to the client.
async fn turn_metrics(
    env: &TurnEnv,
    turn: u64,
    times: TurnTimes,
    latency: u64,
    llm_ms: Option<u64>,
    tts_first: Option<u64>,
) {
    env.latencies.lock().push(latency);
    metrics::histogram!("voice_response_latency_seconds").record(latency as f64 / 1000.0);
    if let Some(ms) = llm_ms {
        metrics::histogram!("voice_llm_first_token_seconds").record(ms as f64 / 1000.0);
    }
    if let Some(ms) = tts_first {
        metrics::histogram!("voice_tts_first_byte_seconds").record(ms as f64 / 1000.0);
    }
    env.event(json!({"type": "metrics", "turn": turn,
        "stt_ms": times.stt_ms, "llm_first_token_ms": llm_ms,
        "tts_first_byte_ms": tts_first, "response_latency_ms": latency}))
        .await;
}

/// The text stage: fixed text chunked at once, or the LLM's answer as it streams. Returns
/// the whole text.
async fn produce(
    env: TurnEnv,
    reply: Reply,
    chunk_tx: mpsc::Sender<String>,
    llm_first: Arc<Mutex<Option<u64>>>,
    failed: Arc<AtomicBool>,
    cancel: CancellationToken,
) -> String {
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

/// The TTS stage: each chunk synthesized, resampled to the client's rate and cut into
/// frames for the player, then an end-of-chunk. Returns the first chunk's time to first
/// byte.
async fn synthesize(
    env: TurnEnv,
    mut chunk_rx: mpsc::Receiver<String>,
    audio_tx: mpsc::Sender<Spoken>,
) -> Option<u64> {
    let tts = env.agent.tts_provider(&env.state.providers);
    let frame = crate::audio::samples_for_ms(env.rate, FRAME_MS);
    let mut tts_first: Option<u64> = None;
    while let Some(chunk) = chunk_rx.recv().await {
        let req = env.agent.tts_request(chunk.clone(), env.rate);
        env.spent.lock().tts_characters += req.characters() as u64;
        let asked = Instant::now();
        let stream = match tts.synthesize(req).await {
            Ok(s) => s,
            Err(e) => {
                tts_failed(&env, e.to_string()).await;
                continue;
            }
        };
        tts_first.get_or_insert(asked.elapsed().as_millis() as u64);
        if !frames(&env, stream, frame, &audio_tx).await {
            return tts_first;
        }
        if audio_tx.send(Spoken::End(chunk)).await.is_err() {
            break;
        }
    }
    tts_first
}

/// One chunk's TTS stream as frames of `frame` samples. `false`: the player is gone.
async fn frames(
    env: &TurnEnv,
    mut stream: TtsStream,
    frame: usize,
    audio_tx: &mpsc::Sender<Spoken>,
) -> bool {
    let mut resample = Resampler::new(stream.sample_rate(), env.rate);
    let mut pending: Vec<i16> = Vec::new();
    let mut done = false;
    while !done {
        match stream.next().await {
            Some(Ok(pcm)) => pending.extend(resample.process(&pcm)),
            Some(Err(e)) => {
                tts_failed(env, e.to_string()).await;
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
                return false;
            }
        }
    }
    true
}

async fn tts_failed(env: &TurnEnv, message: String) {
    env.event(json!({"type": "error", "code": "tts_failed", "message": message}))
        .await;
}

/// The assistant's answer through the shared tool-loop turn: deltas go to the client and
/// the chunker as they arrive, tool calls are reported, usage is billed even when cancelled.
async fn llm_reply(
    env: &TurnEnv,
    history: Vec<ChatMessage>,
    text: String,
    chunk_tx: mpsc::Sender<String>,
    llm_first: &Mutex<Option<u64>>,
    failed: &AtomicBool,
    cancel: &CancellationToken,
) -> String {
    let fail = |message: String| async move {
        failed.store(true, Ordering::Release);
        env.event(json!({"type": "error", "code": "llm_failed", "message": message}))
            .await;
    };
    let req = match turn_request(env, &history, &text).await {
        Ok(r) => r,
        Err(e) => {
            fail(e.to_string()).await;
            return String::new();
        }
    };
    let started = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel::<TurnEvent>();
    let run = assistant::run_turn(&env.state, req, cancel, move |ev| {
        let _ = tx.send(ev);
    });
    let forward = forward(env, rx, chunk_tx, llm_first, started);
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
        env.event(json!({"type": "response", "text": out.text, "final": true}))
            .await;
    }
    out.text
}

/// The agent's context (memories, history, the user's words) and tools as one turn of the
/// assistant's tool loop.
async fn turn_request(
    env: &TurnEnv,
    history: &[ChatMessage],
    text: &str,
) -> crate::error::ApiResult<TurnRequest> {
    let agent = &env.agent;
    let messages = assistant::build_context(
        &env.state.db,
        agent,
        env.user_id,
        history,
        text,
        &ContextOptions::default(),
    )
    .await?;
    let mut request = agent.llm_request(messages);
    request.tools = assistant::tool_specs(&agent.tools);
    Ok(TurnRequest {
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
    })
}

/// The turn's events as they come: text deltas to the client and the chunker, tool calls
/// to the client.
async fn forward(
    env: &TurnEnv,
    mut rx: mpsc::UnboundedReceiver<TurnEvent>,
    chunk_tx: mpsc::Sender<String>,
    llm_first: &Mutex<Option<u64>>,
    started: Instant,
) {
    let mut chunker = Chunker::default();
    while let Some(ev) = rx.recv().await {
        match ev {
            TurnEvent::Delta(t) => {
                llm_first
                    .lock()
                    .get_or_insert(started.elapsed().as_millis() as u64);
                env.event(json!({"type": "response", "text": t, "final": false}))
                    .await;
                for chunk in chunker.push(&t) {
                    let _ = chunk_tx.send(chunk).await;
                }
            }
            TurnEvent::ToolCall(o) => {
                env.event(json!({"type": "tool_call", "name": o.name,
                    "arguments": o.arguments, "result": o.result}))
                    .await;
            }
        }
    }
    if let Some(rest) = chunker.finish() {
        let _ = chunk_tx.send(rest).await;
    }
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
