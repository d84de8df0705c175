//! Every message that passes between the session's stages, in one place.
//!
//! ```text
//!  transport (voice::ws, voice::bolna, telephony::stream): wire frames ⇄ these enums
//!     │ ClientIn                                        ▲ ServerOut
//!     ▼                                                 │ (Event, Audio{generation}, Mark, Clear)
//!  input ── PCM at 16 kHz ──▶ STT ── SttEvent ──┐       │
//!     │  ╰─ VadEvent ─────────────────────────┐ │       │
//!     │                                       ▼ ▼       │
//!     │ Text / Mark / Interrupt ──────▶ turns (the Controller: endpointing,
//!     │                                 VAD fallback, barge-in, history)
//!     │                                  │        ▲
//!     │               spawn respond(Reply, TurnTimes)   TurnMsg (Chunk / Done / Failed)
//!     │                                  ▼        │
//!     │             reply: LLM (assistant::run_turn) or fixed text
//!     │                    → Chunker → String chunks ─(bounded)─▶ TTS
//!     │                                                       │ Spoken (Audio / End)
//!     │                                                       ▼  (bounded: SYNTH_AHEAD_FRAMES)
//!     │                                  output: Pacer, 20 ms frames, marks ──▶ ServerOut
//!     ▼
//!  at the end (mod.rs `close`): stop the turn, close STT, voice::finalize::finalize
//! ```
//!
//! The controller loop (`mod.rs`) owns `input`, `turns` and the timers; a response turn
//! (`reply` + `output`) is one spawned task, cancelled as a whole on barge-in. Staleness
//! of queued audio is a [`super::Generation`]: bumped on every cancel, checked by the
//! transport's writer.

use std::time::Instant;

use serde_json::Value;

use crate::providers::llm::ChatMessage;

/// From the client (transport → session).
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

/// To the client (session → transport).
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

/// What a response turn is asked to say (controller → reply).
pub(super) enum Reply {
    Scripted(String),
    /// Answer `text` after `history` (the assistant builds the context and runs tools).
    Llm {
        history: Vec<ChatMessage>,
        text: String,
    },
}

/// When the user's side of a turn happened, for the turn's latency metrics
/// (controller → reply).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TurnTimes {
    pub(super) stt_ms: Option<u64>,
    /// When the user's turn ended (speech end or typed text).
    pub(super) user_end: Option<Instant>,
}

/// What a response turn reports to the controller (output/reply → turns).
#[derive(Debug)]
pub(super) enum TurnMsg {
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

/// Synthesized audio on its way to the pacer (TTS → output).
pub(super) enum Spoken {
    /// One frame at the client's rate.
    Audio(Vec<i16>),
    /// The chunk with this text is complete: a mark follows its audio.
    End(String),
}
