//! Voice: the control plane (`/api/v1/voice/sessions`) and the real-time session that
//! runs a call: client audio → streaming STT → turn detection → LLM → clause chunker →
//! streaming TTS → paced audio out, with barge-in, endings and one finalizer.
//! `session` is transport-neutral; `ws` (Cadence protocol) and `bolna` adapt it.

pub mod avatar;
pub mod bolna;
pub mod briefing;
pub mod finalize;
pub mod routes;
pub mod session;
pub mod ws;

use std::{collections::HashMap, sync::LazyLock};

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::create_session))
        .routes(routes!(routes::get_session, routes::delete_session))
        .routes(routes!(routes::session_messages))
        .routes(routes!(ws::session_socket))
}

/// `WS /chat/v1/{agent_id}` (a full path: merged, not nested).
pub fn bolna_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(bolna::bolna_socket))
}

/// Sessions running on this instance: `DELETE` wakes them at once (other instances'
/// sessions see the request in the database within a poll interval).
static LIVE: LazyLock<Mutex<HashMap<Uuid, CancellationToken>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

pub(crate) fn register_live(session_id: Uuid) -> CancellationToken {
    let token = CancellationToken::new();
    LIVE.lock().insert(session_id, token.clone());
    token
}

pub(crate) fn unregister_live(session_id: Uuid) {
    LIVE.lock().remove(&session_id);
}

pub(crate) fn wake_live(session_id: Uuid) {
    if let Some(t) = LIVE.lock().get(&session_id) {
        t.cancel();
    }
}

fn active_calls_gauge(delta: f64) {
    metrics::gauge!("voice_active_calls").increment(delta);
}

/// Counts a running call for as long as it lives.
pub(crate) struct ActiveCall;

impl ActiveCall {
    pub(crate) fn new() -> Self {
        active_calls_gauge(1.0);
        Self
    }
}

impl Drop for ActiveCall {
    fn drop(&mut self) {
        active_calls_gauge(-1.0);
    }
}
