//! Dates and times said in everyday English, read in the user's time zone: "tomorrow at
//! 5 pm", "at five", "next Friday", "in 20 minutes", "tonight", "this evening", weekday
//! names, "the 24th", "December 24th".
//!
//! A parser of our own: the maintained crate for English dates (`interim` 0.2) reads a whole
//! string as one date, so it cannot find the words that are a date inside a request, and it
//! has no "in 20 minutes", "at 5 pm", "tonight" or number words (which is what speech
//! recognition writes), nor does it say whether a time of day was given at all.
//!
//! Conventions: a weekday name is its next occurrence after today ("Friday" on a Friday is
//! a week away, "this Friday" is today); "next Friday" is the Friday of next week (Monday
//! to Sunday). An hour without am/pm is the next one still ahead today (5 at 15:57 is 17:00),
//! or, on another day, 1–6 o'clock are afternoon and 7–11 morning. Parts of the day: morning
//! 09:00, afternoon 15:00, evening 19:00, tonight 20:00.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike,
    Utc,
};
use chrono_tz::Tz;

/// When something is due or should be reminded: a local date, optionally a time of day;
/// `exact` when it was said relative to now ("in 20 minutes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
    pub exact: Option<DateTime<Utc>>,
}

impl When {
    /// The moment it names in `tz` (a date alone is `None`). A local time that does not
    /// exist (the hour skipped when clocks go forward) is read as the same time after the
    /// jump; one that exists twice as the first.
    pub fn instant(&self, tz: Tz) -> Option<DateTime<Utc>> {
        if let Some(e) = self.exact {
            return Some(e);
        }
        let local = self.date.and_time(self.time?);
        Some(resolve_local(tz, local))
    }
}

/// A local time in `tz`, as an instant (see [`When::instant`]).
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return t.with_timezone(&Utc);
    }
    // In a gap: the offset before the gap applied to the wall time lands after it.
    let before = tz
        .from_local_datetime(&(local - Duration::hours(3)))
        .earliest()
        .map(|t| t.offset().fix())
        .unwrap_or_else(|| Utc.fix());
    let utc = local - Duration::seconds(i64::from(before.local_minus_utc()));
    Utc.from_utc_datetime(&utc)
}

/// What [`find`] found: the when and the span of words `[start, end)` that said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub when: When,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Morning,
    Afternoon,
    Evening,
    Night,
}

impl Part {
    fn default_time(self) -> NaiveTime {
        let h = match self {
            Part::Morning => 9,
            Part::Afternoon => 15,
            Part::Evening => 19,
            Part::Night => 20,
        };
        NaiveTime::from_hms_opt(h, 0, 0).expect("valid hour")
    }
}

/// A day said: which date, and maybe a part of it ("tomorrow morning", "tonight").
#[derive(Debug, Clone, Copy)]
struct Day {
    date: NaiveDate,
    part: Option<Part>,
}

#[derive(Debug, Clone, Copy)]
enum Clock {
    /// Hour (0..=23 when `meridiem` is given or the hour is above 12) and minute.
    At {
        hour: u32,
        minute: u32,
        meridiem: Option<bool>,
    },
    /// "in the evening" without a clock time.
    Part(Part),
    /// "in 20 minutes".
    In(Duration),
}

/// The leftmost time expression in `words` (lower-case), with a date and a time next to
/// each other merged ("tomorrow at 5 pm", "at 5 pm tomorrow").
pub fn find(words: &[&str], now: &DateTime<Tz>) -> Option<Found> {
    let today = now.date_naive();
    for start in 0..words.len() {
        if let Some((day, n)) = day_at(words, start, today) {
            let mut end = start + n;
            let clock = clock_at(words, end).map(|(c, m)| {
                end += m;
                c
            });
            return Some(Found {
                when: combine(Some(day), clock, now),
                start,
                end,
            });
        }
        if let Some((clock, n)) = clock_at(words, start) {
            let mut end = start + n;
            let day = match clock {
                Clock::In(_) => None,
                _ => day_at(words, end, today).map(|(d, m)| {
                    end += m;
                    d
                }),
            };
            return Some(Found {
                when: combine(day, Some(clock), now),
                start,
                end,
            });
        }
    }
    None
}

fn combine(day: Option<Day>, clock: Option<Clock>, now: &DateTime<Tz>) -> When {
    let today = now.date_naive();
    let part = day.and_then(|d| d.part);
    match clock {
        Some(Clock::In(d)) => {
            let at = now.with_timezone(&Utc) + d;
            let local = at.with_timezone(&now.timezone());
            When {
                date: local.date_naive(),
                time: NaiveTime::from_hms_opt(local.hour(), local.minute(), 0),
                exact: Some(at),
            }
        }
        Some(Clock::Part(p)) => When {
            date: day.map_or(today, |d| d.date),
            time: Some(p.default_time()),
            exact: None,
        },
        Some(Clock::At {
            hour,
            minute,
            meridiem,
        }) => {
            let fixed = |pm: bool| -> u32 {
                match (hour, pm) {
                    (12, false) => 0,
                    (12, true) => 12,
                    (h, true) if h < 12 => h + 12,
                    (h, _) => h,
                }
            };
            let hm = |h: u32| NaiveTime::from_hms_opt(h, minute, 0).expect("checked clock");
            let pm_from_part = part.map(|p| p != Part::Morning);
            match (day, meridiem.or(pm_from_part)) {
                (Some(d), Some(pm)) => When {
                    date: d.date,
                    time: Some(hm(fixed(pm))),
                    exact: None,
                },
                (None, Some(pm)) => {
                    let t = hm(fixed(pm));
                    let date = if today.and_time(t) > now.naive_local() {
                        today
                    } else {
                        today + Duration::days(1)
                    };
                    When {
                        date,
                        time: Some(t),
                        exact: None,
                    }
                }
                (day, None) if hour > 12 || hour == 0 => When {
                    date: day.map_or_else(
                        || {
                            if today.and_time(hm(hour)) > now.naive_local() {
                                today
                            } else {
                                today + Duration::days(1)
                            }
                        },
                        |d| d.date,
                    ),
                    time: Some(hm(hour)),
                    exact: None,
                },
                (Some(d), None) if d.date != today => When {
                    date: d.date,
                    time: Some(hm(fixed((1..=6).contains(&hour)))),
                    exact: None,
                },
                (_, None) => {
                    // Today (said or not): the first reading still ahead.
                    let ahead = [fixed(false), fixed(true)]
                        .into_iter()
                        .map(hm)
                        .find(|t| today.and_time(*t) > now.naive_local());
                    match ahead {
                        Some(t) => When {
                            date: today,
                            time: Some(t),
                            exact: None,
                        },
                        None => When {
                            date: today + Duration::days(1),
                            time: Some(hm(fixed((1..=6).contains(&hour)))),
                            exact: None,
                        },
                    }
                }
            }
        }
        None => {
            let d = day.expect("a day or a clock was found");
            When {
                date: d.date,
                time: d.part.map(Part::default_time),
                exact: None,
            }
        }
    }
}

/// The word at `i`, or "" past the end.
fn word<'a>(words: &[&'a str], i: usize) -> &'a str {
    words.get(i).copied().unwrap_or("")
}

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn weekday(w: &str) -> Option<u32> {
    let w = w
        .strip_suffix("s")
        .filter(|s| s.ends_with("day"))
        .unwrap_or(w);
    WEEKDAYS
        .iter()
        .position(|d| *d == w || (w.len() == 3 && d.starts_with(w)))
        .map(|i| i as u32)
}

fn month(w: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| {
            *m == w
                || (w.len() == 3 && m.starts_with(w) && w != "may")
                || w == "sept" && *m == "september"
        })
        .map(|i| i as u32 + 1)
}

fn part(w: &str) -> Option<Part> {
    match w {
        "morning" => Some(Part::Morning),
        "afternoon" => Some(Part::Afternoon),
        "evening" => Some(Part::Evening),
        "night" => Some(Part::Night),
        _ => None,
    }
}

/// A day at `i`: "today", "tonight", "tomorrow [morning]", "the day after tomorrow",
/// "[on|this|next] friday [evening]", "this evening", "next week", "this weekend",
/// "in 3 days", "[on] the 24th [of december]", "december 24th", "24 december"; with an
/// optional leading "on", "by", "for", "due" or "until".
fn day_at(words: &[&str], i: usize, today: NaiveDate) -> Option<(Day, usize)> {
    let lead = match word(words, i) {
        "on" | "by" | "for" | "due" | "until" | "before" => 1,
        _ => 0,
    };
    let (day, n) = bare_day_at(words, i + lead, today)?;
    // A part of the day after it: "tomorrow morning", "friday evening", "tomorrow night".
    let j = i + lead + n;
    let (part, m) = match (day.part, words.get(j).copied().and_then(part)) {
        (None, Some(p)) => (Some(p), 1),
        (p, _) => (p, 0),
    };
    Some((
        Day {
            date: day.date,
            part,
        },
        lead + n + m,
    ))
}

fn bare_day_at(words: &[&str], i: usize, today: NaiveDate) -> Option<(Day, usize)> {
    let day = |date: NaiveDate, part: Option<Part>| Day { date, part };
    let w0 = words.get(i).copied()?;
    match (word(words, i), word(words, i + 1), word(words, i + 2)) {
        ("today", _, _) => return Some((day(today, None), 1)),
        ("tonight", _, _) => return Some((day(today, Some(Part::Night)), 1)),
        ("tomorrow", _, _) => return Some((day(today + Duration::days(1), None), 1)),
        ("the", "day", "after") if word(words, i + 3) == "tomorrow" => {
            return Some((day(today + Duration::days(2), None), 4));
        }
        ("day", "after", "tomorrow") => return Some((day(today + Duration::days(2), None), 3)),
        ("this", _, _) => {
            if let Some(p) = words.get(i + 1).copied().and_then(part) {
                return Some((day(today, Some(p)), 2));
            }
            if word(words, i + 1) == "week" {
                return Some((day(next_weekday(today, 6, true), None), 2));
            }
            if word(words, i + 1) == "weekend" {
                return Some((day(next_weekday(today, 5, true), None), 2));
            }
            if let Some(wd) = words.get(i + 1).copied().and_then(weekday) {
                return Some((day(next_weekday(today, wd, true), None), 2));
            }
        }
        ("next", "week", _) => return Some((day(next_week_day(today, 0), None), 2)),
        ("next", "weekend", _) => return Some((day(next_week_day(today, 5), None), 2)),
        ("next", "month", _) => {
            let first = first_of_next_month(today);
            return Some((day(first, None), 2));
        }
        ("next", _, _) | ("coming", _, _) => {
            if let Some(wd) = words.get(i + 1).copied().and_then(weekday) {
                let date = if word(words, i) == "next" {
                    next_week_day(today, wd)
                } else {
                    next_weekday(today, wd, false)
                };
                return Some((day(date, None), 2));
            }
        }
        ("the", "weekend", _) => return Some((day(next_weekday(today, 5, true), None), 2)),
        ("in", _, _) => {
            if let Some((n, used)) = number_at(words, i + 1) {
                match word(words, i + 1 + used) {
                    "day" | "days" => {
                        return Some((day(today + Duration::days(i64::from(n)), None), 2 + used));
                    }
                    "week" | "weeks" => {
                        return Some((day(today + Duration::weeks(i64::from(n)), None), 2 + used));
                    }
                    _ => {}
                }
            }
            if word(words, i + 1) == "a" && word(words, i + 2) == "week" {
                return Some((day(today + Duration::weeks(1), None), 3));
            }
            if word(words, i + 1) == "a" && word(words, i + 2) == "fortnight" {
                return Some((day(today + Duration::weeks(2), None), 3));
            }
        }
        _ => {}
    }
    if let Some(wd) = weekday(w0) {
        return Some((day(next_weekday(today, wd, false), None), 1));
    }
    // "the 24th [of december]", "december 24th", "24 december".
    let (skip_the, rest) = if word(words, i) == "the" {
        (1, i + 1)
    } else {
        (0, i)
    };
    if let Some(m) = words.get(rest).copied().and_then(month) {
        if let Some((d, used)) = day_of_month_at(words, rest + 1, false) {
            return dated(today, Some(m), d).map(|date| (day(date, None), skip_the + 1 + used));
        }
        return None;
    }
    let ordinal_needed = month_after(words, rest).is_none();
    if let Some((d, used)) = day_of_month_at(words, rest, ordinal_needed) {
        let mut n = skip_the + used;
        let mut m = None;
        if let Some((mm, k)) = month_after(words, rest + used) {
            m = Some(mm);
            n += k;
        } else if skip_the == 0 {
            // A bare ordinal ("24th") is too loose to be a date without "the" or a month.
            return None;
        }
        return dated(today, m, d).map(|date| (day(date, None), n));
    }
    None
}

/// "of december" / "december" after a day of the month.
fn month_after(words: &[&str], i: usize) -> Option<(u32, usize)> {
    if word(words, i) == "of" {
        return words.get(i + 1).copied().and_then(month).map(|m| (m, 2));
    }
    words.get(i).copied().and_then(month).map(|m| (m, 1))
}

/// The next date with that day of the month (and month), today included.
fn dated(today: NaiveDate, month: Option<u32>, day: u32) -> Option<NaiveDate> {
    match month {
        Some(m) => {
            let this = NaiveDate::from_ymd_opt(today.year(), m, day)?;
            if this >= today {
                Some(this)
            } else {
                NaiveDate::from_ymd_opt(today.year() + 1, m, day)
            }
        }
        None => {
            let this = NaiveDate::from_ymd_opt(today.year(), today.month(), day);
            match this {
                Some(d) if d >= today => Some(d),
                _ => {
                    let next = first_of_next_month(today);
                    NaiveDate::from_ymd_opt(next.year(), next.month(), day)
                }
            }
        }
    }
}

fn first_of_next_month(today: NaiveDate) -> NaiveDate {
    let (y, m) = if today.month() == 12 {
        (today.year() + 1, 1)
    } else {
        (today.year(), today.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("first of a month")
}

/// The next date on weekday `wd` (0 = Monday) after today; with `this`, today counts.
fn next_weekday(today: NaiveDate, wd: u32, this: bool) -> NaiveDate {
    let now = today.weekday().num_days_from_monday();
    let mut ahead = (wd + 7 - now) % 7;
    if ahead == 0 && !this {
        ahead = 7;
    }
    today + Duration::days(i64::from(ahead))
}

/// Weekday `wd` of next week (Monday to Sunday).
fn next_week_day(today: NaiveDate, wd: u32) -> NaiveDate {
    let now = today.weekday().num_days_from_monday();
    today + Duration::days(i64::from(7 - now + wd))
}

/// A time of day at `i`: "[at|around|by] 5 [pm]", "5:30", "17:00", "five thirty pm",
/// "half past five", "quarter to six", "noon", "midnight", "five o'clock", "in the
/// evening", "in 20 minutes", "in an hour", "in half an hour".
fn clock_at(words: &[&str], i: usize) -> Option<(Clock, usize)> {
    if word(words, i) == "in" {
        if let Some((d, n)) = duration_at(words, i + 1) {
            return Some((Clock::In(d), 1 + n));
        }
        if word(words, i + 1) == "the"
            && let Some(p) = words.get(i + 2).copied().and_then(part)
        {
            return Some((Clock::Part(p), 3));
        }
        return None;
    }
    if let Some((d, n)) = duration_at(words, i)
        && word(words, i + n) == "from"
        && word(words, i + n + 1) == "now"
    {
        return Some((Clock::In(d), n + 2));
    }
    let lead = match word(words, i) {
        "at" | "around" | "by" | "for" | "until" | "before" => 1,
        _ => 0,
    };
    let (clock, n) = bare_clock_at(words, i + lead, lead > 0)?;
    Some((clock, lead + n))
}

fn bare_clock_at(words: &[&str], i: usize, after_at: bool) -> Option<(Clock, usize)> {
    let at = |hour: u32, minute: u32, meridiem: Option<bool>| Clock::At {
        hour,
        minute,
        meridiem,
    };
    match word(words, i) {
        "noon" | "midday" => return Some((at(12, 0, Some(true)), 1)),
        "midnight" => return Some((at(0, 0, None), 1)),
        "night" if after_at => return Some((Clock::Part(Part::Night), 1)),
        _ => {}
    }
    // "half past five", "quarter past five", "quarter to six", "ten past five".
    let (offset, used): (Option<i32>, usize) = match (word(words, i), word(words, i + 1)) {
        ("half", "past") => (Some(30), 2),
        ("quarter", "past") => (Some(15), 2),
        ("quarter", "to") => (Some(-15), 2),
        ("a", "quarter") if word(words, i + 2) == "past" => (Some(15), 3),
        ("a", "quarter") if word(words, i + 2) == "to" => (Some(-15), 3),
        _ => match number_at(words, i) {
            Some((m, k)) if (1..=30).contains(&m) && word(words, i + k) == "past" => {
                (Some(m as i32), k + 1)
            }
            Some((m, k))
                if (1..=30).contains(&m)
                    && word(words, i + k) == "to"
                    && number_at(words, i + k + 1).is_some_and(|(h, _)| (1..=12).contains(&h)) =>
            {
                (Some(-(m as i32)), k + 1)
            }
            _ => (None, 0),
        },
    };
    if let Some(off) = offset {
        let (h, k) = number_at(words, i + used).filter(|(h, _)| (1..=12).contains(h))?;
        let (hour, minute) = if off >= 0 {
            (h, off as u32)
        } else {
            (if h == 1 { 12 } else { h - 1 }, (60 + off) as u32)
        };
        let (mer, m) = meridiem_at(words, i + used + k);
        return Some((at(hour, minute, mer), used + k + m));
    }
    // "for 10 minutes" is a length of time, not ten o'clock.
    if let Some((_, k)) = number_at(words, i)
        && matches!(
            word(words, i + k),
            "minute"
                | "minutes"
                | "min"
                | "mins"
                | "hour"
                | "hours"
                | "hrs"
                | "days"
                | "day"
                | "weeks"
                | "week"
        )
    {
        return None;
    }
    // "17:00", "5:30", "5.30", "5pm", "5:30pm".
    let w = words.get(i).copied()?;
    if let Some((hour, minute, mer)) = digital(w) {
        let (mer2, m) = if mer.is_some() {
            (mer, 0)
        } else {
            meridiem_at(words, i + 1)
        };
        let explicit = mer2.is_some() || w.contains(':') || w.contains('.');
        if !(after_at || explicit) {
            return None;
        }
        if mer2.is_some() && !(1..=12).contains(&hour) {
            return None;
        }
        return Some((at(hour, minute, mer2), 1 + m));
    }
    // "five", "five thirty", "five o'clock", "five pm", "seventeen hundred".
    let (hour, k) = number_at(words, i).filter(|(h, k)| *h <= 23 && *k <= 2)?;
    let mut n = k;
    let mut minute = 0;
    if hour <= 12
        && let Some((m, used)) = minute_words_at(words, i + n)
    {
        minute = m;
        n += used;
    }
    let oclock = matches!(word(words, i + n), "o'clock" | "oclock");
    if oclock {
        n += 1;
    }
    let (mer, m) = meridiem_at(words, i + n);
    n += m;
    if !(after_at || oclock || mer.is_some()) {
        return None;
    }
    if mer.is_some() && !(1..=12).contains(&hour) {
        return None;
    }
    Some((at(hour, minute, mer), n))
}

/// Minutes said after an hour: "thirty", "fifteen", "oh five", "forty five".
fn minute_words_at(words: &[&str], i: usize) -> Option<(u32, usize)> {
    if matches!(words.get(i).copied(), Some("oh" | "o")) {
        let (m, k) = number_at(words, i + 1).filter(|(m, _)| (1..=9).contains(m))?;
        return Some((m, k + 1));
    }
    let (m, k) = number_at(words, i)?;
    if (10..=59).contains(&m) && !matches!(word(words, i + k), "minute" | "minutes") {
        return Some((m, k));
    }
    None
}

/// "am"/"pm" or "in the morning"/"in the afternoon"/"in the evening"/"at night" at `i`:
/// `Some(true)` for the afternoon and evening.
fn meridiem_at(words: &[&str], i: usize) -> (Option<bool>, usize) {
    match (word(words, i), word(words, i + 1)) {
        ("am", _) => (Some(false), 1),
        ("pm", _) => (Some(true), 1),
        ("in", "the") => match words.get(i + 2).copied().and_then(part) {
            Some(Part::Morning) => (Some(false), 3),
            Some(_) => (Some(true), 3),
            None => (None, 0),
        },
        ("at", "night") => (Some(true), 2),
        _ => (None, 0),
    }
}

/// "17:00", "5:30", "5.30", "5pm", "5:30pm", "5am" → hour, minute, meridiem.
fn digital(w: &str) -> Option<(u32, u32, Option<bool>)> {
    let (body, mer) = if let Some(b) = w.strip_suffix("pm") {
        (b, Some(true))
    } else if let Some(b) = w.strip_suffix("am") {
        (b, Some(false))
    } else {
        (w, None)
    };
    if body.is_empty()
        || !body
            .chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '.')
    {
        return None;
    }
    let mut parts = body.splitn(2, [':', '.']);
    let hour: u32 = parts.next()?.parse().ok()?;
    let minute: u32 = match parts.next() {
        Some(m) if m.len() == 2 => m.parse().ok()?,
        Some(_) => return None,
        None => 0,
    };
    (hour <= 23 && minute <= 59).then_some((hour, minute, mer))
}

/// "20 minutes", "twenty minutes", "an hour", "half an hour", "2 hours", "a couple of
/// hours", "an hour and a half", "90 min".
fn duration_at(words: &[&str], i: usize) -> Option<(Duration, usize)> {
    if word(words, i) == "half"
        && matches!(word(words, i + 1), "an" | "a")
        && word(words, i + 2) == "hour"
    {
        return Some((Duration::minutes(30), 3));
    }
    let (n, used) = match (word(words, i), word(words, i + 1), word(words, i + 2)) {
        ("a" | "an", "couple", "of") => (2, 3),
        ("a", "few", _) => (3, 2),
        ("a" | "an", _, _) => (1, 1),
        _ => number_at(words, i)?,
    };
    let unit = word(words, i + used);
    let minutes = match unit {
        "minute" | "minutes" | "min" | "mins" => 1,
        "hour" | "hours" | "hr" | "hrs" => 60,
        _ => return None,
    };
    let mut total = i64::from(n) * minutes;
    let mut end = i + used + 1;
    if minutes == 60
        && word(words, end) == "and"
        && word(words, end + 1) == "a"
        && word(words, end + 2) == "half"
    {
        total += 30;
        end += 3;
    }
    (total > 0 && total <= 60 * 24 * 31).then_some((Duration::minutes(total), end - i))
}

/// A day of the month at `i`: "24th", "24", "twenty fourth", "the first"; with
/// `ordinal_only`, plain numbers do not count.
fn day_of_month_at(words: &[&str], i: usize, ordinal_only: bool) -> Option<(u32, usize)> {
    let w = words.get(i).copied()?;
    for suffix in ["st", "nd", "rd", "th"] {
        if let Some(d) = w.strip_suffix(suffix).and_then(|d| d.parse::<u32>().ok()) {
            return (1..=31).contains(&d).then_some((d, 1));
        }
    }
    if let Some((d, n)) = ordinal_words_at(words, i) {
        return Some((d, n));
    }
    if ordinal_only {
        return None;
    }
    let d: u32 = w.parse().ok()?;
    (1..=31).contains(&d).then_some((d, 1))
}

const UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const ORDINALS: [&str; 20] = [
    "",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
];

fn ordinal_words_at(words: &[&str], i: usize) -> Option<(u32, usize)> {
    let w = words.get(i).copied()?;
    if let Some(d) = ORDINALS.iter().position(|o| !o.is_empty() && *o == w) {
        return Some((d as u32, 1));
    }
    match w {
        "twentieth" => return Some((20, 1)),
        "thirtieth" => return Some((30, 1)),
        _ => {}
    }
    let tens = TENS.iter().position(|t| !t.is_empty() && *t == w)? as u32;
    let unit = words
        .get(i + 1)
        .and_then(|u| ORDINALS.iter().position(|o| !o.is_empty() && o == u))
        .filter(|u| *u < 10)? as u32;
    let d = tens * 10 + unit;
    (1..=31).contains(&d).then_some((d, 2))
}

/// A cardinal number at `i`, in digits ("20") or words ("twenty", "twenty five", "a
/// hundred and twenty"); returns the value and the words used.
pub fn number_at(words: &[&str], i: usize) -> Option<(u32, usize)> {
    let w = words.get(i).copied()?;
    if !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()) {
        return w.parse().ok().map(|n| (n, 1));
    }
    let (mut n, mut used) = small_number_at(words, i)?;
    if words.get(i + used).copied() == Some("hundred") {
        n = n.max(1) * 100;
        used += 1;
        let j = i + used + usize::from(word(words, i + used) == "and");
        if let Some((rest, k)) = small_number_at(words, j) {
            n += rest;
            used = j - i + k;
        }
    }
    Some((n, used))
}

/// 0..=99 in words: "seven", "fifteen", "forty", "forty five", "forty-five".
fn small_number_at(words: &[&str], i: usize) -> Option<(u32, usize)> {
    let w = words.get(i).copied()?;
    if let Some((t, u)) = w.split_once('-') {
        let tens = TENS.iter().position(|x| !x.is_empty() && *x == t)?;
        let unit = UNITS
            .iter()
            .position(|x| *x == u)
            .filter(|u| (1..10).contains(u))?;
        return Some(((tens * 10 + unit) as u32, 1));
    }
    if let Some(u) = UNITS.iter().position(|x| *x == w) {
        return Some((u as u32, 1));
    }
    let tens = TENS.iter().position(|x| !x.is_empty() && *x == w)? as u32 * 10;
    match words
        .get(i + 1)
        .and_then(|u| UNITS.iter().position(|x| x == u))
        .filter(|u| (1..10).contains(u))
    {
        Some(u) => Some((tens + u as u32, 2)),
        None => Some((tens, 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lisbon(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Tz> {
        chrono_tz::Europe::Lisbon
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
    }

    fn when(text: &str, now: DateTime<Tz>) -> Option<(String, Option<String>, String)> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let f = find(&words, &now)?;
        Some((
            f.when.date.to_string(),
            f.when.time.map(|t| t.format("%H:%M").to_string()),
            words[f.start..f.end].join(" "),
        ))
    }

    fn d(date: &str, time: Option<&str>, span: &str) -> Option<(String, Option<String>, String)> {
        Some((date.into(), time.map(String::from), span.into()))
    }

    #[test]
    fn everyday_expressions() {
        // Wednesday 2 December 2026, 15:57 in Lisbon.
        let now = lisbon(2026, 12, 2, 15, 57);
        let cases = [
            ("call mum tomorrow", d("2026-12-03", None, "tomorrow")),
            (
                "call mum tomorrow at 5 pm",
                d("2026-12-03", Some("17:00"), "tomorrow at 5 pm"),
            ),
            (
                "call mum at 5pm tomorrow",
                d("2026-12-03", Some("17:00"), "at 5pm tomorrow"),
            ),
            ("at five", d("2026-12-02", Some("17:00"), "at five")),
            ("at 9", d("2026-12-02", Some("21:00"), "at 9")),
            ("at 3", d("2026-12-03", Some("15:00"), "at 3")),
            (
                "tomorrow at 8",
                d("2026-12-03", Some("08:00"), "tomorrow at 8"),
            ),
            (
                "tomorrow morning",
                d("2026-12-03", Some("09:00"), "tomorrow morning"),
            ),
            (
                "tomorrow evening at 7",
                d("2026-12-03", Some("19:00"), "tomorrow evening at 7"),
            ),
            ("next friday", d("2026-12-11", None, "next friday")),
            ("on friday", d("2026-12-04", None, "on friday")),
            ("this friday", d("2026-12-04", None, "this friday")),
            ("wednesday", d("2026-12-09", None, "wednesday")),
            ("tonight", d("2026-12-02", Some("20:00"), "tonight")),
            (
                "this evening",
                d("2026-12-02", Some("19:00"), "this evening"),
            ),
            (
                "at half past six",
                d("2026-12-02", Some("18:30"), "at half past six"),
            ),
            (
                "at quarter to nine tomorrow",
                d("2026-12-03", Some("08:45"), "at quarter to nine tomorrow"),
            ),
            ("at 17:30", d("2026-12-02", Some("17:30"), "at 17:30")),
            ("at noon", d("2026-12-03", Some("12:00"), "at noon")),
            (
                "in 20 minutes",
                d("2026-12-02", Some("16:17"), "in 20 minutes"),
            ),
            (
                "in twenty five minutes",
                d("2026-12-02", Some("16:22"), "in twenty five minutes"),
            ),
            (
                "in an hour and a half",
                d("2026-12-02", Some("17:27"), "in an hour and a half"),
            ),
            (
                "in half an hour",
                d("2026-12-02", Some("16:27"), "in half an hour"),
            ),
            ("in 3 days", d("2026-12-05", None, "in 3 days")),
            ("next week", d("2026-12-07", None, "next week")),
            ("on the 24th", d("2026-12-24", None, "on the 24th")),
            (
                "the first of january",
                d("2027-01-01", None, "the first of january"),
            ),
            (
                "december twenty fourth",
                d("2026-12-24", None, "december twenty fourth"),
            ),
            (
                "by the day after tomorrow",
                d("2026-12-04", None, "by the day after tomorrow"),
            ),
            (
                "five o'clock",
                d("2026-12-02", Some("17:00"), "five o'clock"),
            ),
            (
                "seven thirty in the morning",
                d("2026-12-03", Some("07:30"), "seven thirty in the morning"),
            ),
            ("at 9.15am", d("2026-12-03", Some("09:15"), "at 9.15am")),
        ];
        for (text, want) in cases {
            assert_eq!(when(text, now), want, "{text}");
        }
    }

    #[test]
    fn numbers_that_are_not_times_stay_words() {
        let now = lisbon(2026, 12, 2, 15, 57);
        for text in [
            "buy 5 apples",
            "read chapter twenty",
            "call may",
            "24th street",
            "the 3 musketeers",
        ] {
            assert_eq!(when(text, now), None, "{text}");
        }
    }

    #[test]
    fn instants_respect_the_zone_and_its_clock_changes() {
        // Saturday 27 March 2027: Lisbon moves from UTC+0 to UTC+1 at 01:00 on Sunday.
        let now = lisbon(2027, 3, 27, 10, 0);
        let words = ["tomorrow", "at", "9", "am"];
        let w = find(&words, &now).unwrap().when;
        assert_eq!(
            w.instant(chrono_tz::Europe::Lisbon).unwrap().to_rfc3339(),
            "2027-03-28T08:00:00+00:00"
        );
        // 01:30 does not exist that night: the same wall time after the jump.
        let words = ["tomorrow", "at", "1:30", "am"];
        let w = find(&words, &now).unwrap().when;
        assert_eq!(
            w.instant(chrono_tz::Europe::Lisbon).unwrap().to_rfc3339(),
            "2027-03-28T01:30:00+00:00"
        );
        // Relative times are exact, whatever the wall clock does.
        let late = lisbon(2027, 3, 28, 0, 50);
        let words = ["in", "20", "minutes"];
        let w = find(&words, &late).unwrap().when;
        assert_eq!(w.exact.unwrap().to_rfc3339(), "2027-03-28T01:10:00+00:00");
        assert_eq!(w.time.unwrap().format("%H:%M").to_string(), "02:10");
    }
}
