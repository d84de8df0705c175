//! WAV files (RIFF headers with any chunks, PCM16 / 8-bit / μ-law, any channel count), and
//! resampling what they decode to.
#![no_main]

use cadence::audio::{SUPPORTED_RATES, resample, wav};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    // Streaming readers parse growing prefixes of the header.
    for end in [bytes.len().min(12), bytes.len().min(44), bytes.len() / 2] {
        let _ = wav::parse_header(&bytes[..end]);
    }
    let Ok(frame) = wav::read(bytes) else {
        return;
    };
    assert!(frame.samples.len() <= bytes.len());
    assert!(frame.sample_rate > 0);
    if SUPPORTED_RATES.contains(&frame.sample_rate) && frame.samples.len() <= 48_000 {
        let out = resample(&frame.samples, frame.sample_rate, 16_000);
        let expected = frame.samples.len() as f64 * 16_000.0 / frame.sample_rate as f64;
        assert!((out.len() as f64 - expected).abs() <= 2.0);
    }
});
