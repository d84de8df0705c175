//! Text frames of the Bolna-compatible WebSocket (`WS /chat/v1/{agent_id}`), including the
//! base64 PCM16 of `audio` frames.
#![no_main]

use cadence::voice::bolna::{BolnaIn, decode_audio, parse_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Some(BolnaIn::Audio { data }) = parse_frame(text) {
        if let Some(samples) = decode_audio(&data) {
            // base64 carries 3 bytes per 4 characters; a sample is 2 bytes.
            assert!(samples.len() * 2 <= data.len() * 3 / 4 + 2);
        }
    }
    // The raw text as base64 too (most inputs are not JSON).
    let _ = decode_audio(text);
});
