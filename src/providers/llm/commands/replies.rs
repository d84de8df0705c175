//! What a person's answer to a notification means, whichever way it came: a WhatsApp/SMS
//! reply ("done", "ok", "snooze 10"), or on the notification's phone call a spoken reply or
//! the keypad (`(keypad) 1` = done). The grammar lives here, low, because the `commands`
//! model reads it on a call and the messaging webhook reads it in a text; acting on it is
//! `tasks::replies`.

/// Default snooze when the reply names no minutes.
pub const DEFAULT_SNOOZE_MINUTES: i64 = 10;

/// An answer to a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Complete the notification's task (when it has one) and acknowledge it.
    Done,
    /// Acknowledge only.
    Ack,
    /// Snooze the notification's task this many minutes (1..=1440) and acknowledge.
    Snooze { minutes: i64 },
}

/// Read a short reply. Case, surrounding punctuation and a trailing "min"/"minutes" do
/// not matter; anything else is `None` (not an answer we act on).
pub fn parse(text: &str) -> Option<Reply> {
    let lower = text.trim().to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '(' && c != ')'))
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        ["done"] | ["(keypad)", "1"] | ["keypad", "1"] => Some(Reply::Done),
        ["ok"] | ["okay"] | ["ack"] | ["(keypad)", "2"] | ["keypad", "2"] => Some(Reply::Ack),
        ["snooze"] | ["(keypad)", "3"] | ["keypad", "3"] => Some(Reply::Snooze {
            minutes: DEFAULT_SNOOZE_MINUTES,
        }),
        ["snooze", n] | ["snooze", n, "min" | "mins" | "minute" | "minutes"] => {
            let minutes: i64 = n.parse().ok()?;
            (1..=1440)
                .contains(&minutes)
                .then_some(Reply::Snooze { minutes })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_people_send() {
        assert_eq!(parse("done"), Some(Reply::Done));
        assert_eq!(parse("  Done! "), Some(Reply::Done));
        assert_eq!(parse("(keypad) 1"), Some(Reply::Done));
        assert_eq!(parse("OK"), Some(Reply::Ack));
        assert_eq!(parse("ok."), Some(Reply::Ack));
        assert_eq!(parse("snooze 10"), Some(Reply::Snooze { minutes: 10 }));
        assert_eq!(
            parse("Snooze 25 minutes"),
            Some(Reply::Snooze { minutes: 25 })
        );
        assert_eq!(parse("snooze"), Some(Reply::Snooze { minutes: 10 }));
        assert_eq!(parse("snooze 0"), None);
        assert_eq!(parse("snooze 99999"), None);
        assert_eq!(parse("done with it later maybe"), None);
        assert_eq!(parse(""), None);
    }
}
