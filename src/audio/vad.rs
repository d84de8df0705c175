//! Energy-based voice activity detection: a frame is speech when its level is well above
//! an adaptive noise floor; speech starts after `start_ms` of speech frames and ends after
//! `end_ms` of non-speech. Cheap enough to run on every inbound frame of every call.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct VadConfig {
    /// Analysis frame length.
    pub frame_ms: u32,
    /// Absolute floor in dBFS below which nothing is speech.
    pub min_dbfs: f64,
    /// How far above the noise floor a frame must be to count as speech.
    pub margin_db: f64,
    /// Speech for this long starts an utterance.
    pub start_ms: u32,
    /// Silence for this long ends it.
    pub end_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            frame_ms: 20,
            min_dbfs: -45.0,
            margin_db: 12.0,
            start_ms: 60,
            end_ms: 600,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VadEvent {
    /// Speech began; `at` is the stream time of its first speech frame.
    SpeechStart { at: Duration },
    /// Speech ended after enough silence; `at` is the end of the last speech frame.
    SpeechEnd { at: Duration },
}

pub struct EnergyVad {
    cfg: VadConfig,
    sample_rate: u32,
    frame_len: usize,
    pending: Vec<i16>,
    /// Samples analysed so far.
    position: u64,
    noise_db: f64,
    in_speech: bool,
    speech_run_ms: u32,
    silence_run_ms: u32,
    speech_start: u64,
    last_speech_end: u64,
}

fn dbfs(samples: &[i16]) -> f64 {
    let r = super::rms(samples);
    if r <= 1e-9 { -120.0 } else { 20.0 * r.log10() }
}

impl EnergyVad {
    pub fn new(sample_rate: u32, cfg: VadConfig) -> Self {
        let frame_len = ((sample_rate as u64 * cfg.frame_ms as u64) / 1000).max(1) as usize;
        Self {
            cfg,
            sample_rate,
            frame_len,
            pending: Vec::new(),
            position: 0,
            noise_db: -60.0,
            in_speech: false,
            speech_run_ms: 0,
            silence_run_ms: 0,
            speech_start: 0,
            last_speech_end: 0,
        }
    }

    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// Stream time analysed so far.
    pub fn position(&self) -> Duration {
        self.at(self.position)
    }

    fn at(&self, samples: u64) -> Duration {
        Duration::from_secs_f64(samples as f64 / self.sample_rate as f64)
    }

    /// Feed audio; returns the events it caused, in order.
    pub fn push(&mut self, samples: &[i16]) -> Vec<VadEvent> {
        self.pending.extend_from_slice(samples);
        let mut events = Vec::new();
        let mut offset = 0;
        while self.pending.len() - offset >= self.frame_len {
            let frame = &self.pending[offset..offset + self.frame_len];
            let level = dbfs(frame);
            offset += self.frame_len;
            let frame_start = self.position;
            self.position += self.frame_len as u64;
            let speech = level > self.cfg.min_dbfs && level > self.noise_db + self.cfg.margin_db;
            if !speech {
                // Track the noise floor: quick to fall, slow to rise.
                let rate = if level < self.noise_db { 0.3 } else { 0.02 };
                self.noise_db += (level.max(-90.0) - self.noise_db) * rate;
            }
            if speech {
                if self.speech_run_ms == 0 {
                    self.speech_start = frame_start;
                }
                self.speech_run_ms += self.cfg.frame_ms;
                self.silence_run_ms = 0;
                self.last_speech_end = self.position;
                if !self.in_speech && self.speech_run_ms >= self.cfg.start_ms {
                    self.in_speech = true;
                    events.push(VadEvent::SpeechStart {
                        at: self.at(self.speech_start),
                    });
                }
            } else {
                self.silence_run_ms += self.cfg.frame_ms;
                if !self.in_speech {
                    self.speech_run_ms = 0;
                } else if self.silence_run_ms >= self.cfg.end_ms {
                    self.in_speech = false;
                    self.speech_run_ms = 0;
                    events.push(VadEvent::SpeechEnd {
                        at: self.at(self.last_speech_end),
                    });
                }
            }
        }
        self.pending.drain(..offset);
        events
    }

    /// End of stream: close an open utterance.
    pub fn finish(&mut self) -> Option<VadEvent> {
        if self.in_speech {
            self.in_speech = false;
            self.speech_run_ms = 0;
            Some(VadEvent::SpeechEnd {
                at: self.at(self.last_speech_end),
            })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(ms: u32, rate: u32, amp: f64) -> Vec<i16> {
        let n = (rate * ms / 1000) as usize;
        (0..n)
            .map(|i| (amp * 32767.0 * (i as f64 * 0.3).sin()) as i16)
            .collect()
    }

    #[test]
    fn detects_one_utterance_between_silences() {
        let rate = 16000;
        let mut vad = EnergyVad::new(rate, VadConfig::default());
        let mut events = vad.push(&vec![0; 16000 / 2]);
        events.extend(vad.push(&tone(800, rate, 0.3)));
        assert!(vad.in_speech());
        events.extend(vad.push(&vec![0; 16000]));
        assert_eq!(events.len(), 2, "{events:?}");
        match (events[0], events[1]) {
            (VadEvent::SpeechStart { at: s }, VadEvent::SpeechEnd { at: e }) => {
                assert!((s.as_secs_f64() - 0.5).abs() < 0.03, "start {s:?}");
                assert!((e.as_secs_f64() - 1.3).abs() < 0.03, "end {e:?}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn steady_low_noise_is_not_speech() {
        let mut vad = EnergyVad::new(8000, VadConfig::default());
        let noise: Vec<i16> = (0..16000).map(|i| ((i * 7919) % 61) as i16 - 30).collect();
        assert!(vad.push(&noise).is_empty());
        assert_eq!(vad.finish(), None);
    }
}
