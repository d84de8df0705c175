//! The `Idempotency-Key` header.
#![no_main]

use axum::http::HeaderValue;
use cadence::http::idempotency::{MAX_KEY_CHARS, parse_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(bytes) else {
        return;
    };
    if let Ok(key) = parse_header(&value) {
        let n = key.chars().count();
        assert!((1..=MAX_KEY_CHARS).contains(&n));
        assert_eq!(key.as_bytes(), bytes);
    }
});
