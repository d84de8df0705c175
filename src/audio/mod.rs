//! Audio utilities shared by the providers and the voice pipeline: PCM16 frames,
//! resampling, G.711 μ-law, WAV files, an energy voice-activity detector and a real-time pacer.
//!
//! Everything is mono signed 16-bit PCM (`i16` samples); bytes on the wire are little-endian.

pub mod mulaw;
pub mod pacer;
pub mod resample;
pub mod vad;
pub mod wav;

pub use pacer::Pacer;
pub use resample::{Resampler, resample};
pub use vad::{EnergyVad, VadConfig, VadEvent};

/// Sample rates the voice stack converts between.
pub const SUPPORTED_RATES: [u32; 6] = [8000, 16000, 22050, 24000, 44100, 48000];

/// A chunk of mono PCM16 audio at a known sample rate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    pub samples: Vec<i16>,
    pub sample_rate: u32,
}

impl Frame {
    pub fn new(samples: Vec<i16>, sample_rate: u32) -> Self {
        Self {
            samples,
            sample_rate,
        }
    }

    /// Decode little-endian PCM16 bytes (an odd trailing byte is ignored).
    pub fn from_le_bytes(bytes: &[u8], sample_rate: u32) -> Self {
        Self::new(pcm16_from_le_bytes(bytes), sample_rate)
    }

    pub fn to_le_bytes(&self) -> Vec<u8> {
        pcm16_to_le_bytes(&self.samples)
    }

    pub fn duration_secs(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / self.sample_rate as f64
    }

    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.duration_secs())
    }

    /// This frame at another sample rate (one-shot; use [`Resampler`] for a stream).
    pub fn resampled(&self, to: u32) -> Frame {
        Frame::new(resample(&self.samples, self.sample_rate, to), to)
    }

    /// Root-mean-square level, 0.0..=1.0 of full scale.
    pub fn rms(&self) -> f64 {
        rms(&self.samples)
    }
}

pub fn pcm16_from_le_bytes(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

pub fn pcm16_to_le_bytes(samples: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Root-mean-square level of `samples`, 0.0..=1.0 of full scale.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples
        .iter()
        .map(|&s| {
            let x = s as f64 / 32768.0;
            x * x
        })
        .sum();
    (sum / samples.len() as f64).sqrt()
}

/// Number of samples in `ms` milliseconds at `rate`.
pub fn samples_for_ms(rate: u32, ms: u64) -> usize {
    (rate as u64 * ms / 1000) as usize
}

/// Decodes a byte stream of little-endian PCM16 that may split samples across chunks.
#[derive(Debug, Default)]
pub struct Pcm16Decoder {
    carry: Option<u8>,
}

impl Pcm16Decoder {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<i16> {
        let mut out = Vec::with_capacity(bytes.len() / 2 + 1);
        let mut rest = bytes;
        if let Some(lo) = self.carry.take() {
            match rest.split_first() {
                Some((&hi, tail)) => {
                    out.push(i16::from_le_bytes([lo, hi]));
                    rest = tail;
                }
                None => {
                    self.carry = Some(lo);
                    return out;
                }
            }
        }
        let mut chunks = rest.chunks_exact(2);
        for b in &mut chunks {
            out.push(i16::from_le_bytes([b[0], b[1]]));
        }
        if let [last] = chunks.remainder() {
            self.carry = Some(*last);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm_bytes_round_trip_and_split_samples() {
        let samples = vec![0i16, 1, -1, i16::MAX, i16::MIN, 1234];
        let bytes = pcm16_to_le_bytes(&samples);
        assert_eq!(pcm16_from_le_bytes(&bytes), samples);
        let mut dec = Pcm16Decoder::default();
        let mut got = Vec::new();
        for piece in bytes.chunks(3) {
            got.extend(dec.push(piece));
        }
        assert_eq!(got, samples);
    }

    #[test]
    fn rms_of_full_scale_square_is_one() {
        let sq: Vec<i16> = (0..100)
            .map(|i| if i % 2 == 0 { i16::MAX } else { -i16::MAX })
            .collect();
        assert!((rms(&sq) - 1.0).abs() < 1e-3);
        assert_eq!(rms(&[0; 10]), 0.0);
    }
}
