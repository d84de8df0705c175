//! Real-time pacing of outbound audio: send each chunk no earlier than its playback time
//! minus a small lead, so a barge-in has little buffered audio to flush at the client.

use std::time::Duration;

use tokio::time::Instant;

pub struct Pacer {
    sample_rate: u32,
    lead: Duration,
    start: Option<Instant>,
    /// Samples released so far.
    sent: u64,
}

impl Pacer {
    pub fn new(sample_rate: u32, lead: Duration) -> Self {
        Self {
            sample_rate,
            lead,
            start: None,
            sent: 0,
        }
    }

    /// Playback time of everything released so far.
    pub fn played(&self) -> Duration {
        Duration::from_secs_f64(self.sent as f64 / self.sample_rate as f64)
    }

    /// When a chunk of `samples` may be sent: the playback time of its start minus the lead.
    /// The clock starts with the first chunk.
    /// When the audio ran dry (everything released has played by now), the listener starts
    /// again from silence: the timeline is re-anchored so the catch-up is one lead's worth,
    /// not a burst of everything that is "late".
    pub fn deadline(&mut self, samples: usize) -> Instant {
        self.deadline_at(Instant::now(), samples)
    }

    fn deadline_at(&mut self, now: Instant, samples: usize) -> Instant {
        let mut start = *self.start.get_or_insert(now);
        if start + self.played() < now {
            start = now.checked_sub(self.played()).unwrap_or(now);
            self.start = Some(start);
        }
        let due = start + self.played();
        self.sent += samples as u64;
        due.checked_sub(self.lead).unwrap_or(start).max(start)
    }

    /// Wait until a chunk of `samples` may be sent.
    pub async fn pace(&mut self, samples: usize) {
        let deadline = self.deadline(samples);
        tokio::time::sleep_until(deadline).await;
    }

    /// Forget the timeline (after a barge-in clears the queue, or between responses): the
    /// next chunk starts a new one.
    pub fn reset(&mut self) {
        self.start = None;
        self.sent = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deadlines_follow_playback_time_minus_lead() {
        let mut p = Pacer::new(16000, Duration::from_millis(100));
        // 20 ms chunks: the first six start within the lead and are due at once.
        let first = p.deadline(320);
        let start = first;
        for _ in 1..6 {
            assert_eq!(p.deadline(320), start);
        }
        // Chunk 7 starts at 120 ms of audio: due at 120 - 100 = 20 ms.
        assert_eq!(p.deadline(320) - start, Duration::from_millis(20));
        for _ in 0..49 {
            p.deadline(320);
        }
        // Chunk 57 starts at 1120 ms.
        assert_eq!(p.deadline(320) - start, Duration::from_millis(1020));
        assert_eq!(p.played(), Duration::from_millis(1140));
        p.reset();
        assert_eq!(p.played(), Duration::ZERO);
        // A new timeline starts at the next chunk: due immediately.
        let before = Instant::now();
        assert!(p.deadline(320) <= Instant::now().max(before));
    }

    #[test]
    fn an_underrun_re_anchors_instead_of_bursting() {
        let mut p = Pacer::new(16000, Duration::from_millis(100));
        let t0 = Instant::now();
        assert_eq!(p.deadline_at(t0, 320 * 10), t0);
        // 200 ms of audio released; 500 ms pass before the next chunk exists.
        let now = t0 + Duration::from_millis(500);
        // Due at once (the listener hears silence), and the timeline now runs from here:
        assert_eq!(p.deadline_at(now, 320), now - Duration::from_millis(100));
        // the next chunks fill one lead (100 ms) at once, then follow real time.
        for _ in 0..4 {
            assert!(p.deadline_at(now, 320) <= now);
        }
        assert_eq!(p.deadline_at(now, 320), now);
        assert_eq!(p.deadline_at(now, 320), now + Duration::from_millis(20));
        // Without an underrun nothing moves: 100 ms later the timeline is the same.
        let later = now + Duration::from_millis(100);
        assert_eq!(p.deadline_at(later, 320), now + Duration::from_millis(40));
    }
}
