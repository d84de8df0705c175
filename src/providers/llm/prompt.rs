//! Text conventions shared by the assistant's context and the local models that read it:
//! the clock lines of the system message (written by `assistant::context`, read back by the
//! offline `commands` model, which has no other clock) and the any-word full-text query.
//! They live here, below the assistant, so providers never import the assistant.

use chrono::{DateTime, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::records::MAX_QUERY_CHARS;

/// A full-text query matching any meaningful word of `text` (`websearch_to_tsquery` syntax;
/// stop words are dropped by PostgreSQL). Empty when nothing is left.
pub fn any_word_query(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
    {
        let w = w.to_lowercase();
        if w != "or" && !words.contains(&w) {
            words.push(w);
        }
    }
    let mut q = String::new();
    for w in words {
        let next = if q.is_empty() {
            w
        } else {
            format!("{q} or {w}")
        };
        if next.chars().count() > MAX_QUERY_CHARS {
            break;
        }
        q = next;
    }
    q
}

const TZ_LINE: &str = "- Time zone: ";
const NOW_LINE: &str = "- Local date and time: ";
const NOW_FORMAT: &str = "%Y-%m-%d %H:%M";

/// The system message's lines that tell the model the user's zone and local time.
pub fn clock_lines(now: &DateTime<Tz>) -> String {
    format!(
        "{TZ_LINE}{}\n{NOW_LINE}{} ({})\n",
        now.timezone().name(),
        now.format(NOW_FORMAT),
        now.format("%A")
    )
}

/// Reads back what [`clock_lines`] wrote (for local models, which have no other clock
/// than the one a cloud model is given): the zone and the local time, to the minute.
/// `None` when the lines are missing or do not parse.
pub fn parse_clock(system: &str) -> Option<DateTime<Tz>> {
    let tz: Tz = system
        .lines()
        .find_map(|l| l.strip_prefix(TZ_LINE))?
        .trim()
        .parse()
        .ok()?;
    let local = system.lines().find_map(|l| l.strip_prefix(NOW_LINE))?;
    let local = local.split(" (").next()?.trim();
    let naive = NaiveDateTime::parse_from_str(local, NOW_FORMAT).ok()?;
    // The written time is always one the zone has; at a fall-back fold the earlier reading
    // is as good as the later (the minute is the same either way).
    tz.from_local_datetime(&naive).earliest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_lines_read_back() {
        for (zone, utc) in [
            ("Europe/Lisbon", "2026-12-02T15:57:00Z"),
            ("America/New_York", "2027-03-14T07:30:00Z"),
            ("Pacific/Auckland", "2026-12-31T11:05:00Z"),
        ] {
            let tz: Tz = zone.parse().unwrap();
            let now = DateTime::parse_from_rfc3339(utc)
                .unwrap()
                .with_timezone(&tz);
            let text = format!(
                "You are X.\n\nAbout the user:\n- Name: A\n{}",
                clock_lines(&now)
            );
            assert_eq!(parse_clock(&text), Some(now), "{zone}");
        }
        assert_eq!(parse_clock("no clock here"), None);
        assert_eq!(
            parse_clock(
                "- Time zone: Mars/Olympus\n- Local date and time: 2026-12-02 15:57 (Wednesday)\n"
            ),
            None
        );
    }
}
