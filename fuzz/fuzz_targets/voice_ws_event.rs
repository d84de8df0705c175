//! Text frames of the voice WebSocket protocol (`WS /api/v1/voice/sessions/{id}/ws`).
#![no_main]

use cadence::voice::{session::ClientIn, ws::parse_client_event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Some(ClientIn::Text(t) | ClientIn::Mark(t)) = parse_client_event(text) {
        // What was parsed came from the frame: it cannot be longer than it.
        assert!(t.len() <= text.len());
    }
});
