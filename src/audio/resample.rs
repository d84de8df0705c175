//! Sample-rate conversion with a windowed-sinc (Blackman) polyphase filter.
//!
//! Rates are integers, so the input position of output sample `n` is `n * from / to`, a
//! rational number: its fractional part takes at most `to / gcd(from, to)` values, and a
//! filter is precomputed for each. The cutoff sits just below the lower of the two Nyquist
//! frequencies, so downsampling does not alias and upsampling does not image.
//! [`Resampler`] is streaming (keeps its history between calls); [`resample`] is one-shot.

/// Filter half-width in zero crossings of the sinc (at the cutoff).
const ZERO_CROSSINGS: usize = 12;
/// Cutoff as a fraction of the lower Nyquist frequency (leaves room for the transition band).
const ROLLOFF: f64 = 0.92;

pub struct Resampler {
    from: u32,
    to: u32,
    /// Input samples not yet fully consumed; `buf[0]` has global index `base`.
    buf: Vec<f32>,
    base: u64,
    /// Next output sample's global index.
    next_out: u64,
    /// Taps either side of the centre.
    half: i64,
    /// `phases[p]` = the `2 * half` weights for fractional position `p / to`, over input
    /// indices `floor(t) - half + 1 ..= floor(t) + half`.
    phases: Vec<Vec<f32>>,
    step_gcd: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

fn blackman(x: f64) -> f64 {
    // x in -1..=1
    if x.abs() >= 1.0 {
        return 0.0;
    }
    let t = std::f64::consts::PI * (x + 1.0);
    0.42 - 0.5 * t.cos() + 0.08 * (2.0 * t).cos()
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Self {
        assert!(from > 0 && to > 0, "sample rates must be positive");
        let g = gcd(from as u64, to as u64);
        let fc = (to as f64 / from as f64).min(1.0) * ROLLOFF;
        let half = (ZERO_CROSSINGS as f64 / fc).ceil() as i64;
        let n_phases = (to as u64 / g) as usize;
        let mut phases = Vec::with_capacity(if from == to { 0 } else { n_phases });
        if from != to {
            for p in 0..n_phases {
                let frac = (p as u64 * g) as f64 / to as f64;
                let mut w: Vec<f64> = (-half + 1..=half)
                    .map(|k| {
                        let d = k as f64 - frac;
                        fc * sinc(fc * d) * blackman(d / (half as f64 + 1.0))
                    })
                    .collect();
                // Unity gain at DC for every phase.
                let sum: f64 = w.iter().sum();
                for x in &mut w {
                    *x /= sum;
                }
                phases.push(w.into_iter().map(|x| x as f32).collect());
            }
        }
        Self {
            from,
            to,
            buf: Vec::new(),
            base: 0,
            next_out: 0,
            half,
            phases,
            step_gcd: g,
        }
    }

    pub fn from_rate(&self) -> u32 {
        self.from
    }

    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Feed input samples; returns the output samples that are now computable.
    pub fn process(&mut self, input: &[i16]) -> Vec<i16> {
        if self.from == self.to {
            return input.to_vec();
        }
        self.buf.extend(input.iter().map(|&s| s as f32));
        self.drain(false)
    }

    /// End of stream: pad with silence so the last input samples are emitted.
    pub fn flush(&mut self) -> Vec<i16> {
        if self.from == self.to {
            return Vec::new();
        }
        let total_in = self.base + self.buf.len() as u64;
        let total_out = total_in * self.to as u64 / self.from as u64;
        self.buf
            .extend(std::iter::repeat_n(0.0, self.half as usize + 1));
        let mut out = self.drain(true);
        let extra = (self.next_out.saturating_sub(total_out)) as usize;
        out.truncate(out.len().saturating_sub(extra));
        out
    }

    fn drain(&mut self, _flushing: bool) -> Vec<i16> {
        let from = self.from as u64;
        let to = self.to as u64;
        let available_end = self.base + self.buf.len() as u64; // exclusive
        let mut out = Vec::new();
        loop {
            let num = self.next_out * from;
            let centre = num / to; // floor of the input position
            let last_needed = centre as i64 + self.half;
            if last_needed >= available_end as i64 {
                break;
            }
            let phase = ((num % to) / self.step_gcd) as usize;
            let w = &self.phases[phase];
            let first = centre as i64 - self.half + 1;
            let mut acc = 0.0f32;
            for (j, wj) in w.iter().enumerate() {
                let idx = first + j as i64;
                if idx >= self.base as i64 {
                    acc += wj * self.buf[(idx - self.base as i64) as usize];
                }
                // Indices before the stream start are silence.
            }
            out.push(acc.round().clamp(-32768.0, 32767.0) as i16);
            self.next_out += 1;
        }
        // Drop input no future output needs.
        let next_first = (self.next_out * from / to) as i64 - self.half + 1;
        let drop = (next_first - self.base as i64).clamp(0, self.buf.len() as i64) as usize;
        if drop > 0 {
            self.buf.drain(..drop);
            self.base += drop as u64;
        }
        out
    }
}

/// One-shot conversion of a whole buffer.
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to {
        return input.to_vec();
    }
    let mut r = Resampler::new(from, to);
    let mut out = r.process(input);
    out.extend(r.flush());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, secs: f64, amp: f64) -> Vec<i16> {
        let n = (rate as f64 * secs) as usize;
        (0..n)
            .map(|i| {
                (amp * 32767.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin())
                    as i16
            })
            .collect()
    }

    /// Magnitude of the DFT of `x` at bin `k` (plain O(n) per bin).
    fn dft_mag(x: &[f64], k: usize) -> f64 {
        let n = x.len() as f64;
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &v) in x.iter().enumerate() {
            let a = -2.0 * std::f64::consts::PI * k as f64 * i as f64 / n;
            re += v * a.cos();
            im += v * a.sin();
        }
        (re * re + im * im).sqrt()
    }

    /// The frequency (Hz) of the strongest DFT bin of a window of `samples`.
    fn peak_frequency(samples: &[i16], rate: u32) -> f64 {
        // A window of exactly `rate / 10` samples: 10 Hz bins.
        let n = (rate / 10) as usize;
        let start = samples.len() / 2 - n / 2;
        let x: Vec<f64> = samples[start..start + n]
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                // Hann window against leakage.
                let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
                s as f64 * w
            })
            .collect();
        let best = (1..n / 2)
            .max_by(|&a, &b| dft_mag(&x, a).total_cmp(&dft_mag(&x, b)))
            .unwrap();
        best as f64 * rate as f64 / n as f64
    }

    #[test]
    fn resampling_keeps_a_sines_frequency() {
        let pairs = [
            (8000, 16000),
            (16000, 8000),
            (16000, 24000),
            (24000, 16000),
            (22050, 16000),
            (16000, 22050),
            (48000, 16000),
            (8000, 48000),
            (48000, 8000),
            (24000, 8000),
        ];
        for (from, to) in pairs {
            let input = sine(440.0, from, 0.5, 0.5);
            let out = resample(&input, from, to);
            let expected_len = input.len() as f64 * to as f64 / from as f64;
            assert!(
                (out.len() as f64 - expected_len).abs() <= 2.0,
                "{from}->{to}: {} samples, expected {expected_len}",
                out.len()
            );
            let f = peak_frequency(&out, to);
            assert!((f - 440.0).abs() <= 10.0, "{from}->{to}: peak at {f} Hz");
            // Amplitude is preserved (RMS of a 0.5 sine ≈ 0.354).
            let mid = &out[out.len() / 4..out.len() * 3 / 4];
            let r = crate::audio::rms(mid);
            assert!((r - 0.3535).abs() < 0.02, "{from}->{to}: rms {r}");
        }
    }

    #[test]
    fn downsampling_removes_frequencies_above_the_new_nyquist() {
        // 6 kHz cannot exist at 8 kHz; it must be filtered, not folded to 2 kHz.
        let input = sine(6000.0, 48000, 0.5, 0.5);
        let out = resample(&input, 48000, 8000);
        let mid = &out[out.len() / 4..out.len() * 3 / 4];
        assert!(
            crate::audio::rms(mid) < 0.01,
            "alias energy {}",
            crate::audio::rms(mid)
        );
    }

    #[test]
    fn streaming_equals_one_shot() {
        let input = sine(300.0, 16000, 0.3, 0.4);
        let whole = resample(&input, 16000, 24000);
        let mut r = Resampler::new(16000, 24000);
        let mut pieces = Vec::new();
        for chunk in input.chunks(97) {
            pieces.extend(r.process(chunk));
        }
        pieces.extend(r.flush());
        assert_eq!(pieces, whole);
    }
}
