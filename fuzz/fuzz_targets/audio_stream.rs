//! A vendor's audio byte stream (PCM16 or μ-law, split anywhere) converted to another rate,
//! as the TTS providers and the voice pipeline do: streaming equals one-shot.
#![no_main]

use cadence::{
    audio::{SUPPORTED_RATES, mulaw, pcm16_from_le_bytes, resample},
    providers::tts::{AudioConverter, Encoding},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, u8, u8, Vec<u16>, &[u8])| {
    let (mode, from, to, splits, bytes) = input;
    let from = SUPPORTED_RATES[from as usize % SUPPORTED_RATES.len()];
    let to = SUPPORTED_RATES[to as usize % SUPPORTED_RATES.len()];
    let bytes = &bytes[..bytes.len().min(16_000)];
    let (encoding, samples) = if mode & 1 == 0 {
        (Encoding::Pcm16, pcm16_from_le_bytes(bytes))
    } else {
        (Encoding::Mulaw, mulaw::decode(bytes))
    };
    let mut conv = AudioConverter::new(encoding, from, to);
    let mut out = Vec::new();
    let mut rest = bytes;
    for s in splits {
        if rest.is_empty() {
            break;
        }
        let (head, tail) = rest.split_at(s as usize % (rest.len() + 1));
        out.extend(conv.push(head));
        rest = tail;
    }
    out.extend(conv.push(rest));
    out.extend(conv.flush());
    assert_eq!(out, resample(&samples, from, to), "{from} -> {to}");
    for s in &samples {
        // μ-law round trip stays within the codec's bound.
        let back = mulaw::decode_sample(mulaw::encode_sample(*s)) as i32;
        assert!((back - *s as i32).abs() <= mulaw::max_round_trip_error(*s));
    }
});
