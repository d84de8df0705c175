//! Text frames of Twilio Media Streams (`WS /api/v1/telephony/twilio/stream`), including
//! the base64 μ-law payload of `media` frames.
#![no_main]

use cadence::telephony::stream::{TwilioIn, decode_media, parse_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Some(TwilioIn::Media { media }) = parse_frame(text) {
        if let Some(samples) = decode_media(&media.payload) {
            // One sample per μ-law byte; base64 carries 3 bytes per 4 characters.
            assert!(samples.len() <= media.payload.len() * 3 / 4 + 2);
        }
    }
    let _ = decode_media(text);
});
