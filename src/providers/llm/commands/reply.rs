//! The short, speakable answers, written from what the tools returned (never from what was
//! asked: a failed call is reported as a failure). Times are in the user's zone, 24-hour
//! ("17:00"); days are "today", "tomorrow", a weekday within the week, else the date.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::grammar::Scope;

/// How many titles a list answer reads out.
const READ_OUT: usize = 5;

pub fn quoted(title: &str) -> String {
    format!("'{title}'")
}

/// "a, b and c".
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "a, b or c".
pub fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn s(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn date_of(v: &Value, key: &str) -> Option<NaiveDate> {
    v.get(key)?.as_str()?.parse().ok()
}

fn time_of(v: &Value, key: &str) -> Option<NaiveTime> {
    let t = v.get(key)?.as_str()?;
    NaiveTime::parse_from_str(t, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
        .ok()
}

fn instant_of(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    Some(
        DateTime::parse_from_rfc3339(v.get(key)?.as_str()?)
            .ok()?
            .with_timezone(&Utc),
    )
}

/// "today", "tomorrow", "on Friday", "on Friday 11 December", "on 3 March 2028".
pub fn day_phrase(date: NaiveDate, today: NaiveDate) -> String {
    let ahead = (date - today).num_days();
    match ahead {
        0 => "today".into(),
        1 => "tomorrow".into(),
        -1 => "yesterday".into(),
        2..=6 => format!("on {}", date.format("%A")),
        _ if date.year() == today.year() => format!("on {}", date.format("%A %-d %B")),
        _ => format!("on {}", date.format("%A %-d %B %Y")),
    }
}

pub fn clock(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

/// "tomorrow at 17:00", "today", "on Friday at 09:00".
pub fn when_phrase(date: NaiveDate, time: Option<NaiveTime>, today: NaiveDate) -> String {
    match time {
        Some(t) => format!("{} at {}", day_phrase(date, today), clock(t)),
        None => day_phrase(date, today),
    }
}

/// An instant as the user's wall clock says it.
pub fn moment(at: DateTime<Utc>, now: &DateTime<Tz>) -> String {
    let local = at.with_timezone(&now.timezone());
    let day = local.date_naive();
    if day == now.date_naive() {
        format!("at {}", clock(local.time()))
    } else {
        format!(
            "{} at {}",
            day_phrase(day, now.date_naive()),
            clock(local.time())
        )
    }
}

fn due_of(task: &Value, today: NaiveDate) -> Option<String> {
    date_of(task, "due_date").map(|d| when_phrase(d, time_of(task, "due_time"), today))
}

/// The message of an error result (`{"error", "errors": [{field, message}]}`).
pub fn error_text(result: &Value) -> String {
    let fields: Vec<String> = result
        .get("errors")
        .and_then(Value::as_array)
        .map(|errs| {
            errs.iter()
                .map(|e| format!("{} {}", s(e, "field").replace('_', " "), s(e, "message")))
                .collect()
        })
        .unwrap_or_default();
    if !fields.is_empty() {
        return and_list(&fields);
    }
    match s(result, "error").as_str() {
        "" => "something went wrong".into(),
        "not found" => "it no longer exists".into(),
        other => other.to_string(),
    }
}

pub fn failed(what: &str, result: &Value) -> String {
    format!("Sorry, I couldn't {what}: {}.", error_text(result))
}

pub fn task_added(task: &Value, now: &DateTime<Tz>) -> String {
    let title = quoted(&s(task, "title"));
    let mut out = match due_of(task, now.date_naive()) {
        Some(when) => format!("Added {title} for {when}"),
        None => format!("Added {title} to your tasks"),
    };
    match s(task, "priority").as_str() {
        "urgent" => out.push_str(", marked urgent"),
        "high" => out.push_str(", marked high priority"),
        "low" => out.push_str(", as low priority"),
        _ => {}
    }
    out.push('.');
    out
}

pub fn reminder_set(task: &Value, now: &DateTime<Tz>) -> String {
    let title = s(task, "title");
    match instant_of(task, "remind_at") {
        Some(at) => format!("Okay, I'll remind you to {title} {}.", moment(at, now)),
        None => format!("Added {} to your tasks.", quoted(&title)),
    }
}

fn task_line(task: &Value, now: &DateTime<Tz>) -> String {
    let title = quoted(&s(task, "title"));
    let today = now.date_naive();
    match (date_of(task, "due_date"), time_of(task, "due_time")) {
        (Some(d), _) if d < today => format!("{title} (overdue)"),
        (Some(d), Some(t)) if d == today => format!("{title} at {}", clock(t)),
        (Some(d), _) if d == today => title,
        (Some(d), t) => format!("{title} {}", when_phrase(d, t, today)),
        (None, _) => title,
    }
}

pub fn listed(tasks: &[Value], scope: Scope, now: &DateTime<Tz>) -> String {
    let today = now.date_naive();
    let period = match scope {
        Scope::All => String::new(),
        Scope::DueBy(d) if d < today => " overdue".into(),
        Scope::DueBy(d) => format!(" for {}", day_phrase(d, today).trim_start_matches("on ")),
    };
    if tasks.is_empty() {
        return match scope {
            Scope::All => "Your list is empty.".into(),
            Scope::DueBy(d) if d < today => "Nothing is overdue.".into(),
            Scope::DueBy(d) => format!(
                "You have nothing due {}.",
                day_phrase(d, today).trim_start_matches("on ")
            ),
        };
    }
    let lines: Vec<String> = tasks
        .iter()
        .take(READ_OUT)
        .map(|t| task_line(t, now))
        .collect();
    let noun = if tasks.len() == 1 { "task" } else { "tasks" };
    let more = tasks.len().saturating_sub(READ_OUT);
    let mut read = lines;
    if more > 0 {
        read.push(format!("{more} more"));
    }
    format!(
        "You have {} {noun}{period}: {}.",
        tasks.len(),
        and_list(&read)
    )
}

pub fn completed(task: &Value) -> String {
    format!("Marked {} done.", quoted(&s(task, "title")))
}

pub fn deleted(title: &str) -> String {
    format!("Deleted {}.", quoted(title))
}

pub fn moved(task: &Value, now: &DateTime<Tz>) -> String {
    let title = quoted(&s(task, "title"));
    match due_of(task, now.date_naive()) {
        Some(when) => format!("Moved {title} to {}.", when.trim_start_matches("on ")),
        None => format!("{title} has no due date now."),
    }
}

pub fn prioritized(task: &Value) -> String {
    let p = match s(task, "priority").as_str() {
        "high" => "high priority".to_string(),
        "low" => "low priority".to_string(),
        "medium" => "normal priority".to_string(),
        other => other.to_string(),
    };
    format!("{} is now {p}.", quoted(&s(task, "title")))
}

pub fn snoozed(task: &Value, minutes: u32, now: &DateTime<Tz>) -> String {
    let title = quoted(&s(task, "title"));
    match instant_of(task, "snoozed_until").or_else(|| instant_of(task, "remind_at")) {
        Some(at) => format!(
            "Snoozed {title} until {}.",
            moment(at, now).trim_start_matches("at ")
        ),
        None => format!("Snoozed {title} for {minutes} minutes."),
    }
}

/// A note's title from what it says: its first words.
pub fn note_title(text: &str) -> String {
    let mut title = String::new();
    for w in text.split_whitespace() {
        if !title.is_empty() && title.chars().count() + w.chars().count() > 60 {
            break;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(w);
    }
    let mut chars = title.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => title,
    }
}

fn clip(text: &str, max: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}

pub fn note_saved(note: &Value) -> String {
    format!(
        "Noted: {}.",
        clip(&s(note, "plain_text"), 160).trim_end_matches('.')
    )
}

pub fn notes_found(notes: &[Value], query: &str) -> String {
    match notes {
        [] => format!("I couldn't find a note about {query}."),
        [one] => format!(
            "Your note {} says: {}.",
            quoted(&s(one, "title")),
            clip(&s(one, "plain_text"), 200).trim_end_matches('.')
        ),
        [first, rest @ ..] => {
            let others: Vec<String> = rest
                .iter()
                .take(2)
                .map(|n| quoted(&s(n, "title")))
                .collect();
            format!(
                "I found {} notes. {} says: {}. There is also {}.",
                notes.len(),
                quoted(&s(first, "title")),
                clip(&s(first, "plain_text"), 160).trim_end_matches('.'),
                and_list(&others)
            )
        }
    }
}

/// "my sister" → "your sister", for reading the user's words back to them.
pub fn second_person(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        let (core, tail) = match w.find(|c: char| !c.is_alphanumeric() && c != '\'') {
            Some(p) => w.split_at(p),
            None => (*w, ""),
        };
        let lower = core.to_lowercase();
        let swapped = match lower.as_str() {
            "my" => "your",
            "mine" => "yours",
            "myself" => "yourself",
            "me" => "you",
            "i" => "you",
            "i'm" => "you're",
            "am" if i > 0 && words[i - 1].eq_ignore_ascii_case("i") => "are",
            "i've" => "you've",
            "i'd" => "you'd",
            "i'll" => "you'll",
            "was" if i > 0 && words[i - 1].eq_ignore_ascii_case("i") => "were",
            _ => core,
        };
        out.push(format!("{swapped}{tail}"));
    }
    out.join(" ")
}

pub fn remembered(memory: &Value) -> String {
    format!(
        "Okay, I'll remember that {}.",
        second_person(&clip(&s(memory, "content"), 200)).trim_end_matches('.')
    )
}

pub fn recalled(memories: &[Value], query: &str) -> String {
    let about = if query.is_empty() {
        "you".to_string()
    } else {
        second_person(query)
    };
    if memories.is_empty() {
        return format!("I don't know anything about {about} yet.");
    }
    let facts: Vec<String> = memories
        .iter()
        .take(3)
        .map(|m| {
            second_person(&clip(&s(m, "content"), 120))
                .trim_end_matches('.')
                .to_string()
        })
        .collect();
    format!("Here's what I know about {about}: {}.", facts.join("; "))
}

pub fn goal_added(goal: &Value) -> String {
    let tf = s(goal, "timeframe");
    let kind = match tf.as_str() {
        "long_term" | "" => "goal".to_string(),
        other => format!("{other} goal"),
    };
    format!("Added your {kind}: {}.", s(goal, "title"))
}

pub fn goal_progress(goals: &[Value]) -> String {
    let lines: Vec<String> = goals
        .iter()
        .take(3)
        .map(|g| {
            format!(
                "{} is {}% done",
                quoted(&s(g, "title")),
                g.get("progress").and_then(Value::as_i64).unwrap_or(0)
            )
        })
        .collect();
    match goals.len() {
        0 => "You have no active goals.".into(),
        1..=3 => {
            let mut out = and_list(&lines);
            out.push('.');
            capitalize(out)
        }
        n => format!(
            "You have {n} active goals: {}, and {} more.",
            lines.join(", "),
            n - 3
        ),
    }
}

fn capitalize(s: String) -> String {
    let mut c = s.chars();
    match c.next() {
        Some('\'') => s,
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

pub fn goal_updated(goal: &Value) -> String {
    format!(
        "Set {} to {}% done.",
        quoted(&s(goal, "title")),
        goal.get("progress").and_then(Value::as_i64).unwrap_or(0)
    )
}

/// A block's start, as a wall-clock time ("09:30"); blocks carry RFC 3339 or "HH:MM".
fn block_start(block: &Value, now: &DateTime<Tz>) -> Option<(DateTime<Utc>, String)> {
    if let Some(at) = instant_of(block, "start") {
        return Some((at, clock(at.with_timezone(&now.timezone()).time())));
    }
    let t = time_of(block, "start")?;
    let at = super::when::resolve_local(now.timezone(), now.date_naive().and_time(t));
    Some((at, clock(t)))
}

fn block_line(block: &Value, now: &DateTime<Tz>) -> String {
    let title = match s(block, "title").as_str() {
        "" => s(block, "kind"),
        t => quoted(t),
    };
    match block_start(block, now) {
        Some((_, hm)) => format!("{title} at {hm}"),
        None => title,
    }
}

fn blocks(plan: &Value) -> Vec<Value> {
    plan.get("blocks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

pub fn day_planned(plan: &Value, now: &DateTime<Tz>) -> String {
    let date = date_of(plan, "date").unwrap_or(now.date_naive());
    let day = day_phrase(date, now.date_naive());
    let tasks: Vec<Value> = blocks(plan)
        .into_iter()
        .filter(|b| s(b, "kind") == "task")
        .collect();
    let left = plan
        .get("unscheduled")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let mut out = match tasks.as_slice() {
        [] => format!("I planned {day}, but no tasks fit"),
        [first, ..] => format!(
            "I planned {} {} {day}, starting with {}",
            tasks.len(),
            if tasks.len() == 1 { "task" } else { "tasks" },
            block_line(first, now)
        ),
    };
    out.push('.');
    if left > 0 {
        out.push_str(&format!(
            " {left} {} didn't fit.",
            if left == 1 { "task" } else { "tasks" }
        ));
    }
    capitalize(out)
}

pub fn schedule(plan: &Value, now: &DateTime<Tz>) -> String {
    let date = date_of(plan, "date").unwrap_or(now.date_naive());
    let day = day_phrase(date, now.date_naive());
    let all = blocks(plan);
    if all.is_empty() {
        return capitalize(format!("{day} has nothing planned."));
    }
    let lines: Vec<String> = all
        .iter()
        .take(READ_OUT)
        .map(|b| block_line(b, now))
        .collect();
    let more = all.len().saturating_sub(READ_OUT);
    let mut read = lines;
    if more > 0 {
        read.push(format!("{more} more"));
    }
    capitalize(format!("{day}: {}.", and_list(&read)).replacen("on ", "", 1))
}

pub fn next_block(plan: &Value, now: &DateTime<Tz>) -> Option<String> {
    let now_utc = now.with_timezone(&Utc);
    let upcoming = blocks(plan)
        .into_iter()
        .filter_map(|b| block_start(&b, now).map(|(at, _)| (at, b)))
        .filter(|(at, b)| {
            let end = instant_of(b, "end").unwrap_or(*at + Duration::minutes(1));
            end > now_utc
        })
        .min_by_key(|(at, _)| *at)?;
    let (at, b) = upcoming;
    let line = block_line(&b, now);
    Some(if at <= now_utc {
        format!("Now: {}.", line.split(" at ").next().unwrap_or(&line))
    } else {
        format!("Next: {line}.")
    })
}

pub fn next_task(tasks: &[Value], now: &DateTime<Tz>) -> String {
    let Some(first) = tasks.first() else {
        return "Nothing is on your list. Enjoy!".into();
    };
    let title = quoted(&s(first, "title"));
    match due_of(first, now.date_naive()) {
        Some(when) => format!("Next up: {title}, due {when}."),
        None => format!("Next up: {title}."),
    }
}

pub fn wallet(w: &Value) -> String {
    let available = w.get("available").and_then(Value::as_i64).unwrap_or(0);
    let reserved = w.get("reserved").and_then(Value::as_i64).unwrap_or(0);
    let noun = if available == 1 { "credit" } else { "credits" };
    if reserved > 0 {
        format!(
            "You have {available} {noun} available, and {reserved} held for a call in progress."
        )
    } else {
        format!("You have {available} {noun} available.")
    }
}
