//! Avatar sessions: a streaming talking face (LiveAvatar, HeyGen's successor for streaming
//! avatars) driven by our own voice pipeline, within a monthly per-user minute quota.
//!
//! `POST /avatar/sessions` holds a minute of the month, opens a voice session exactly as
//! `POST /voice/sessions` does and starts a LiveAvatar session in LITE mode; the browser
//! watches the avatar in LiveKit and talks to the voice WebSocket as before. The voice
//! session tees the audio it plays to the avatar ([`bridge`]); ending either ends both, and
//! the call's one finalizer charges the avatar minutes (quota and credits) with the call.
//! It lives inside `voice` because it is part of a voice session (its output tee, its
//! ending, its bill), so the session and the avatar never import each other in a circle.
//!
//! # LiveAvatar's API, as read in its public docs (December 2026)
//!
//! - Start (docs.liveavatar.com "Quickstart", "LITE Mode › Lifecycle", API reference
//!   "Create Session Token", "Start Session"; the `openapi.json` behind them):
//!   `POST https://api.liveavatar.com/v1/sessions/token` with `X-API-KEY` and
//!   `{"mode": "LITE", "avatar_id": …}` (LITE takes no persona; optional `livekit_config` /
//!   `agora_config` bring one's own room, `video_settings`, `is_sandbox`) →
//!   `{session_id, session_token}`; then `POST /v1/sessions/start` with
//!   `Authorization: Bearer <session_token>` → `201 {session_id, livekit_url,
//!   livekit_client_token, livekit_agent_token, ws_url, max_session_duration}`. Answers are
//!   wrapped as `{code: 100, data: …, message}` (the quick start shows them bare: both read).
//! - Stop: `POST /v1/sessions/stop` (`X-API-KEY` or the session Bearer) `{session_id,
//!   reason}`, reasons such as `USER_CLOSED`, `USER_DISCONNECTED`, `MAX_DURATION_REACHED`.
//!   `POST /v1/sessions/keep-alive {session_id}` or the WebSocket's `session.keep_alive`
//!   keep a session past the 5-minute idle timeout.
//! - The LITE command WebSocket (`ws_url`; docs "LITE Mode › Events"): wait for
//!   `{"type": "session.state_updated", "state": "connected"}` before sending; send
//!   `{"type": "agent.speak", "audio": <base64 PCM16 24 kHz mono>}` (about 1 s per packet,
//!   at most 1 MB), `{"type": "agent.speak_end", "event_id"}` at the end of an utterance,
//!   `{"type": "agent.interrupt"}` to drop everything scheduled (barge-in),
//!   `agent.start_listening` / `agent.stop_listening`, `session.keep_alive`; it answers
//!   `agent.speak_started` / `agent.speak_ended` and state changes (`closing`, `closed`).
//! - `avatar.interrupt` (the name API.md uses) is the FULL-mode command sent over LiveKit's
//!   data channel (topic `agent-control`); in LITE mode the same command is
//!   `agent.interrupt` on the WebSocket, which is what we send.
//! - HeyGen's old streaming keys do not work with LiveAvatar (docs "FAQ › HeyGen
//!   comparison"): the key is `CADENCE__AVATAR__LIVEAVATAR__API_KEY`.
//!
//! In LITE mode the avatar also publishes the audio it lip-syncs into the LiveKit room, so a
//! browser that plays both should mute one of them (the console plays the voice socket's).

pub mod bridge;
pub mod client;
pub mod model;
pub mod repo;
pub mod routes;
pub mod service;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::get_quota))
        .routes(routes!(routes::create_session, routes::list_sessions))
        .routes(routes!(routes::get_session, routes::delete_session))
}
