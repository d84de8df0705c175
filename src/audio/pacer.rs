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
    pub fn deadline(&mut self, samples: usize) -> Instant {
        let now = Instant::now();
        let start = *self.start.get_or_insert(now);
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
}
