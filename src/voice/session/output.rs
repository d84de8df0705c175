//! Output: synthesized frames paced to real time (a little ahead), each stamped with the
//! generation it belongs to, a mark after every chunk, and `clear` on barge-in. Every
//! audio frame the client hears leaves the session in [`play`].

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    PIPELINE_RATE,
    channels::{ServerOut, Spoken, TurnMsg},
    reply::TurnEnv,
};
use crate::audio::{pacer::Pacer, resample::Resampler};

/// Audio frames sent to the client.
pub(super) const FRAME_MS: u64 = 20;
/// How far ahead of real time audio is sent.
pub const PACER_LEAD: Duration = Duration::from_millis(100);

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

/// A turn was cancelled: what was queued for it is stale now; with `clear`, the client is
/// also told to drop its queued playback.
pub(super) async fn clear(env: &TurnEnv, clear: bool) {
    env.generation.bump();
    if clear {
        if let Some(a) = &env.avatar {
            a.interrupt();
        }
        let _ = env.out.send(ServerOut::Clear).await;
    }
}

/// Play a turn's synthesized audio: `audio_start` before the first frame, frames paced to
/// real time (and mixed into the recording), a mark (reported to the controller as a
/// [`TurnMsg::Chunk`]) after each chunk. Returns when the first frame went out.
pub(super) async fn play(
    env: TurnEnv,
    turn: u64,
    mut audio_rx: mpsc::Receiver<Spoken>,
) -> Option<Instant> {
    let mut pacer = Pacer::new(env.rate, env.lead);
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
                        .send(ServerOut::Event(
                            json!({"type": "audio_start", "response_id": response_id}),
                        ))
                        .await;
                }
                pacer.pace(samples.len()).await;
                if first_audio.is_none() {
                    first_audio = Some(Instant::now());
                }
                if let Some(r) = &env.recorder {
                    r.lock().add(Instant::now(), &to_rec.process(&samples));
                }
                if let Some(a) = &env.avatar {
                    a.audio(&samples, env.rate);
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
                if let Some(a) = &env.avatar {
                    a.speak_end();
                }
                let generation = chunk_gen.take().unwrap_or_else(|| env.generation.current());
                mark(&env, turn, generation, text).await;
            }
        }
    }
    // Let the last audio play before the turn counts as over.
    tokio::time::sleep(env.lead).await;
    first_audio
}

/// The mark after a chunk's audio; the controller learns the chunk's text under its name
/// (a chunk counts as heard once the client echoes the mark).
async fn mark(env: &TurnEnv, turn: u64, generation: u64, text: String) {
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
