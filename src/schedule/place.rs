//! Deterministic placement, free of I/O so it can be read and tested on its own: tasks (in
//! the order given) go one by one into the earliest free time of the window that holds them,
//! keeping `buffer` clear before and after every other block. What does not fit gets a
//! reason.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::model::UnscheduledCode;

/// Time that is taken: a kept block or busy time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One task to place, already in planning order.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub minutes: i64,
}

/// The day to fill.
#[derive(Debug, Clone)]
pub struct Day {
    /// Where free time starts (work start, or now rounded up when planning today late).
    pub from: DateTime<Utc>,
    /// The cutoff: nothing ends after it.
    pub to: DateTime<Utc>,
    pub buffer: Duration,
    /// For the reasons' clock times.
    pub tz: Tz,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Placed(Span),
    Left(UnscheduledCode, String),
}

fn clock(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%H:%M").to_string()
}

/// The longest stretch of free time in the window once `taken` (with its buffers) is out.
pub fn longest_gap(day: &Day, taken: &[Span]) -> Duration {
    let mut spans: Vec<Span> = taken.to_vec();
    spans.sort_by_key(|s| (s.start, s.end));
    let mut cursor = day.from;
    let mut best = Duration::zero();
    for s in spans {
        let gap_end = (s.start - day.buffer).min(day.to);
        if gap_end > cursor {
            best = best.max(gap_end - cursor);
        }
        cursor = cursor.max(s.end + day.buffer);
    }
    if day.to > cursor {
        best = best.max(day.to - cursor);
    }
    best
}

/// The earliest start in the window where `len` fits clear of every taken span by `buffer`.
fn earliest_fit(day: &Day, taken: &[Span], len: Duration) -> Option<DateTime<Utc>> {
    let mut starts: Vec<DateTime<Utc>> = std::iter::once(day.from)
        .chain(taken.iter().map(|s| s.end + day.buffer))
        .filter(|t| *t >= day.from)
        .collect();
    starts.sort();
    starts.into_iter().find(|&t| {
        t + len <= day.to
            && taken
                .iter()
                .all(|s| t + len + day.buffer <= s.start || t >= s.end + day.buffer)
    })
}

/// Place each candidate in order. `fixed` is the day's kept blocks and busy time.
pub fn place(day: &Day, fixed: &[Span], tasks: &[Candidate]) -> Vec<Outcome> {
    let mut taken: Vec<Span> = fixed.to_vec();
    let longest = longest_gap(day, fixed);
    let cutoff = clock(day.to, day.tz);
    tasks
        .iter()
        .map(|c| {
            let len = Duration::minutes(c.minutes.max(1));
            if day.from >= day.to {
                return Outcome::Left(
                    UnscheduledCode::PastCutoff,
                    format!("the day's cutoff ({cutoff}) has passed"),
                );
            }
            if len > longest {
                let reason = if longest.is_zero() {
                    format!(
                        "needs {} min; there is no free time between {} and {cutoff}",
                        c.minutes,
                        clock(day.from, day.tz)
                    )
                } else {
                    format!(
                        "needs {} min; the longest free gap is {} min",
                        c.minutes,
                        longest.num_minutes()
                    )
                };
                return Outcome::Left(UnscheduledCode::TooLong, reason);
            }
            match earliest_fit(day, &taken, len) {
                Some(start) => {
                    let span = Span {
                        start,
                        end: start + len,
                    };
                    taken.push(span);
                    Outcome::Placed(span)
                }
                None => Outcome::Left(
                    UnscheduledCode::DayFull,
                    format!(
                        "needs {} min; no free time is left before the cutoff ({cutoff})",
                        c.minutes
                    ),
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 7, h, m, 0).unwrap()
    }

    fn day(buffer: i64) -> Day {
        Day {
            from: at(9, 0),
            to: at(12, 0),
            buffer: Duration::minutes(buffer),
            tz: chrono_tz::UTC,
        }
    }

    fn span(a: (u32, u32), b: (u32, u32)) -> Span {
        Span {
            start: at(a.0, a.1),
            end: at(b.0, b.1),
        }
    }

    fn c(minutes: i64) -> Candidate {
        Candidate { minutes }
    }

    #[test]
    fn back_to_back_with_buffer() {
        let out = place(&day(10), &[], &[c(30), c(60), c(45)]);
        assert_eq!(
            out,
            vec![
                Outcome::Placed(span((9, 0), (9, 30))),
                Outcome::Placed(span((9, 40), (10, 40))),
                Outcome::Placed(span((10, 50), (11, 35))),
            ]
        );
    }

    #[test]
    fn around_fixed_time_and_later_tasks_fill_earlier_gaps() {
        // Busy 9:40-10:00: the 30-min task fits before it (buffer 10), the 60-min one after,
        // then a 20-min one does not fit before 9:40 any more but goes after.
        let fixed = [span((9, 40), (10, 0))];
        let out = place(&day(10), &fixed, &[c(30), c(60), c(20)]);
        assert_eq!(
            out,
            vec![
                Outcome::Placed(span((9, 0), (9, 30))),
                Outcome::Placed(span((10, 10), (11, 10))),
                Outcome::Placed(span((11, 20), (11, 40))),
            ]
        );
    }

    #[test]
    fn reasons_for_what_does_not_fit() {
        let fixed = [span((10, 0), (10, 30))];
        let out = place(&day(0), &fixed, &[c(120), c(60), c(60), c(30)]);
        assert!(matches!(&out[0], Outcome::Left(UnscheduledCode::TooLong, r)
            if r == "needs 120 min; the longest free gap is 90 min"));
        assert_eq!(out[1], Outcome::Placed(span((9, 0), (10, 0))));
        assert_eq!(out[2], Outcome::Placed(span((10, 30), (11, 30))));
        assert_eq!(out[3], Outcome::Placed(span((11, 30), (12, 0))));
        let out = place(&day(0), &fixed, &[c(60), c(60), c(60)]);
        assert!(matches!(&out[2], Outcome::Left(UnscheduledCode::DayFull, r)
            if r == "needs 60 min; no free time is left before the cutoff (12:00)"));
        let late = Day {
            from: at(12, 5),
            ..day(0)
        };
        assert!(matches!(
            &place(&late, &[], &[c(5)])[0],
            Outcome::Left(UnscheduledCode::PastCutoff, _)
        ));
    }

    #[test]
    fn longest_gap_counts_buffers_and_edges() {
        let fixed = [span((8, 30), (9, 10)), span((11, 0), (11, 30))];
        // Free 9:20 (9:10 + 10) .. 10:50 (11:00 - 10) = 90, and 11:40 .. 12:00 = 20.
        assert_eq!(longest_gap(&day(10), &fixed), Duration::minutes(90));
    }
}
