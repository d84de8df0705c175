//! G.711 μ-law (the telephone codec Twilio Media Streams and ElevenLabs `ulaw_8000` use).

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

/// Encode one linear PCM16 sample to μ-law.
pub fn encode_sample(sample: i16) -> u8 {
    let mut s = sample as i32;
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    if s > CLIP {
        s = CLIP;
    }
    s += BIAS;
    // The segment is the position of the highest set bit above bit 7.
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && (s & mask) == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decode one μ-law byte to linear PCM16.
pub fn decode_sample(byte: u8) -> i16 {
    let u = !byte as i32;
    let sign = u & 0x80;
    let exponent = (u >> 4) & 0x07;
    let mantissa = u & 0x0F;
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

pub fn encode(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| encode_sample(s)).collect()
}

pub fn decode(bytes: &[u8]) -> Vec<i16> {
    bytes.iter().map(|&b| decode_sample(b)).collect()
}

/// The largest error a μ-law round trip of `sample` may have: half a quantisation step of
/// the segment the sample falls in (steps double each segment, from 8 to 1024 linear units),
/// or the clipping loss above the codec's range.
pub fn max_round_trip_error(sample: i16) -> i32 {
    let mag = (sample as i32).abs().min(CLIP) + BIAS;
    let mut exponent = 7;
    while exponent > 0 && (mag & (0x80 << exponent)) == 0 {
        exponent -= 1;
    }
    let step = 8 << exponent;
    let clipped = (sample as i32).abs() - CLIP;
    (step / 2).max(clipped + step / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_error_within_the_codec_bound() {
        for s in i16::MIN..=i16::MAX {
            let back = decode_sample(encode_sample(s)) as i32;
            let err = (back - s as i32).abs();
            assert!(
                err <= max_round_trip_error(s),
                "sample {s}: decoded {back}, error {err} > {}",
                max_round_trip_error(s)
            );
        }
        // The relative error of a loud sample stays within a few percent (≈ 8-bit log).
        let s = 20_000i16;
        let back = decode_sample(encode_sample(s)) as f64;
        assert!(((back - s as f64) / s as f64).abs() < 0.04);
    }

    #[test]
    fn known_values() {
        // Silence encodes to 0xFF (positive zero) and decodes to 0.
        assert_eq!(encode_sample(0), 0xFF);
        assert_eq!(decode_sample(0xFF), 0);
        assert_eq!(decode_sample(0x7F), 0);
        // Full-scale values land in the last segment.
        assert_eq!(encode_sample(i16::MAX), 0x80);
        assert_eq!(encode_sample(-i16::MAX), 0x00);
        assert_eq!(decode_sample(0x80), 32124);
        assert_eq!(decode_sample(0x00), -32124);
        // Every code decodes and re-encodes to itself (except the duplicate zero).
        for b in 0u8..=255 {
            if b == 0x7F {
                continue;
            }
            assert_eq!(encode_sample(decode_sample(b)), b, "code {b:#x}");
        }
    }
}
