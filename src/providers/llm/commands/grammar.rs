//! Utterance → intent: the fixed grammar of everyday requests the `commands` model
//! understands. Speech recognition mishears, so the grammar is forgiving: fillers and
//! politeness ("um", "please", "can you", "I'd like to", "hey Cadence") are dropped, a
//! command word one letter off ("remmind", "tomorow") still counts, "to do" is "todo",
//! and the free text of a request (a task's title, a note) keeps what was said.

use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;

use super::when::{self, When};

/// One word of the utterance: `norm` (lower case, contractions expanded) is matched,
/// `orig` (as written, punctuation trimmed) goes into titles and notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok {
    pub norm: String,
    pub orig: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// A task as asked for: what, when, how important. `title: None` asks back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskDraft {
    pub title: Option<String>,
    pub when: Option<When>,
    pub priority: Option<Priority>,
}

/// Which open tasks to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Due on or before this day (overdue ones included).
    DueBy(NaiveDate),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeframe {
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    Yearly,
}

impl Timeframe {
    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::Daily => "daily",
            Timeframe::Weekly => "weekly",
            Timeframe::Monthly => "monthly",
            Timeframe::Quarterly => "quarterly",
            Timeframe::Yearly => "yearly",
        }
    }
}

/// What the user asked for. Queries name an existing task, note, memory or goal in the
/// user's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Empty,
    Greeting,
    Thanks,
    Help,
    Cancel,
    AddTask(TaskDraft),
    /// A task with a reminder; `when: None` asks back.
    Remind(TaskDraft),
    ListTasks(Scope),
    CompleteTask(String),
    DeleteTask(String),
    /// `None`: asks when to.
    Reschedule(String, Option<When>),
    Prioritize(String, Priority),
    Snooze(String, u32),
    AddNote(String),
    FindNote(String),
    Remember(String),
    /// An empty query: what is known about the user in general.
    Recall(String),
    AddGoal(String, Option<Timeframe>),
    /// `None`: every active goal.
    GoalProgress(Option<String>),
    SetGoalProgress(String, i32),
    PlanDay(NaiveDate),
    Schedule(NaiveDate),
    Next,
    Wallet,
    Unknown,
}

// ---------------------------------------------------------------------------------------
// Words

/// Split and normalize an utterance.
pub fn tokenize(text: &str) -> Vec<Tok> {
    let text = text
        .replace(['\u{2019}', '\u{2018}', '`'], "'")
        .replace(['\u{201c}', '\u{201d}'], "\"");
    let mut out: Vec<Tok> = Vec::new();
    for piece in text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '!' | '?' | '"' | '(' | ')'))
    {
        let orig = piece.trim_matches(|c: char| matches!(c, '.' | ':' | '\'' | '-' | '*'));
        if orig.is_empty() {
            continue;
        }
        let lower = orig.to_lowercase();
        let norm = match lower.as_str() {
            "a.m" | "a.m." => "am".to_string(),
            "p.m" | "p.m." => "pm".to_string(),
            "to-do" | "todos" | "to-dos" => "todo".to_string(),
            "ok" => "okay".to_string(),
            "mom" | "mam" | "mummy" | "mommy" => lower.clone(),
            _ => lower.replace("p.m.", "pm").replace("a.m.", "am"),
        };
        // Contractions become two words; the second has no text of its own.
        let expanded: Option<(&str, &str)> = match norm.as_str() {
            "what's" | "whats" => Some(("what", "is")),
            "what're" => Some(("what", "are")),
            "how's" => Some(("how", "is")),
            "where's" => Some(("where", "is")),
            "who's" => Some(("who", "is")),
            "when's" => Some(("when", "is")),
            "it's" => Some(("it", "is")),
            "that's" => Some(("that", "is")),
            "there's" => Some(("there", "is")),
            "i'm" | "im" => Some(("i", "am")),
            "i'd" => Some(("i", "would")),
            "i've" => Some(("i", "have")),
            "i'll" => Some(("i", "will")),
            "let's" => Some(("let", "us")),
            "don't" | "dont" => Some(("do", "not")),
            "didn't" | "didnt" => Some(("did", "not")),
            "can't" | "cant" => Some(("can", "not")),
            "you've" => Some(("you", "have")),
            _ => None,
        };
        match expanded {
            Some((a, b)) => {
                out.push(Tok {
                    norm: a.into(),
                    orig: orig.to_string(),
                });
                out.push(Tok {
                    norm: b.into(),
                    orig: String::new(),
                });
            }
            None => out.push(Tok {
                norm,
                orig: orig.to_string(),
            }),
        }
    }
    // "to do" after "a", "my", "the", "new" or before "list"/"item" is one word.
    let mut i = 0;
    while i + 1 < out.len() {
        let joins = out[i].norm == "to"
            && out[i + 1].norm == "do"
            && ((i > 0
                && matches!(
                    out[i - 1].norm.as_str(),
                    "a" | "my" | "the" | "new" | "another"
                ))
                || out
                    .get(i + 2)
                    .is_some_and(|t| matches!(t.norm.as_str(), "list" | "item" | "lists")));
        if joins {
            let orig = format!("{} {}", out[i].orig, out[i + 1].orig);
            out[i] = Tok {
                norm: "todo".into(),
                orig,
            };
            out.remove(i + 1);
        }
        i += 1;
    }
    out
}

/// The words as written, joined.
pub fn text_of(toks: &[Tok]) -> String {
    toks.iter()
        .map(|t| t.orig.as_str())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn norms(toks: &[Tok]) -> Vec<&str> {
    toks.iter().map(|t| t.norm.as_str()).collect()
}

/// Levenshtein distance, for near misses of command words.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Real words one letter away from a command word: never read as that command word.
const NOT_SLIPS: &[&str] = &[
    "mask", "tusk", "ask", "tax", "bask", "cask", "flask", "reminds", "deletes", "noted", "notes",
    "vote", "mote", "rote", "tote", "dote", "goals", "coal", "foal", "goat", "list", "lost",
    "lust", "mist", "fist", "note", "nope", "move", "mode", "more", "love", "mark", "park", "dark",
    "bark", "lark", "mars", "marks", "date", "late", "mate", "gate", "plant", "plane", "planet",
    "clean", "plans", "credit", "edit",
];

/// Is the spoken word `tok` the command word `kw` (or a one-letter slip of a long one)?
fn same(tok: &str, kw: &str) -> bool {
    if tok == kw {
        return true;
    }
    let alias = match tok {
        "todo" | "tasks" | "tusks" | "tast" | "taks" | "tsk" => "task",
        "reminders" => "reminder",
        "remove" | "erase" => "delete",
        "tmrw" | "tomorow" | "tommorow" | "tommorrow" | "tomorrows" => "tomorrow",
        "nite" => "night",
        _ => "",
    };
    if alias == kw {
        return true;
    }
    kw.chars().count() >= 5
        && tok.chars().count() >= 4
        && !NOT_SLIPS.contains(&tok)
        && distance(tok, kw) <= 1
}

/// Match `pat` at `toks[at..]`: space-separated elements, each `a|b|c` (alternatives,
/// `_` matches any one word) with a trailing `?` when optional. Returns where the match
/// ends, preferring to consume optional elements.
fn eat(toks: &[Tok], at: usize, pat: &str) -> Option<usize> {
    let elems: Vec<&str> = pat.split_whitespace().collect();
    eat_elems(toks, at, &elems)
}

fn eat_elems(toks: &[Tok], at: usize, elems: &[&str]) -> Option<usize> {
    let Some((first, rest)) = elems.split_first() else {
        return Some(at);
    };
    let (alts, optional) = match first.strip_suffix('?') {
        Some(a) => (a, true),
        None => (*first, false),
    };
    if let Some(t) = toks.get(at)
        && alts.split('|').any(|a| a == "_" || same(&t.norm, a))
        && let Some(end) = eat_elems(toks, at + 1, rest)
    {
        return Some(end);
    }
    if optional {
        return eat_elems(toks, at, rest);
    }
    None
}

/// `pat` matches the whole of `toks`.
fn is(toks: &[Tok], pat: &str) -> bool {
    eat(toks, 0, pat) == Some(toks.len())
}

/// Every way `pat` can match at the start; the rest after the longest.
fn after<'t>(toks: &'t [Tok], pat: &str) -> Option<&'t [Tok]> {
    eat(toks, 0, pat).map(|end| &toks[end..])
}

/// The words before a trailing `pat` (which must match to the end).
fn before<'t>(toks: &'t [Tok], pat: &str) -> Option<(&'t [Tok], usize)> {
    (1..toks.len())
        .find(|&i| eat(toks, i, pat) == Some(toks.len()))
        .map(|i| (&toks[..i], i))
}

/// Find `pat` anywhere after `from`: (start, end).
fn find_pat(toks: &[Tok], from: usize, pat: &str) -> Option<(usize, usize)> {
    (from..toks.len()).find_map(|i| eat(toks, i, pat).map(|e| (i, e)))
}

const FILLERS_ANYWHERE: &[&str] = &[
    "um", "umm", "uh", "uhh", "uhm", "er", "erm", "hmm", "hm", "please", "pls", "plz", "kindly",
];

const LEADING: &[&str] = &[
    "hey|hi|hello|okay|so|well|right|alright|and|now|oh|yeah|yes cadence|assistant?",
    "cadence|assistant",
    "can|could|would|will you",
    "can|could|may i ask you to",
    "i would like you to",
    "i would like to",
    "i want you to",
    "i need you to",
    "i want to",
    "i wanna",
    "i would love to",
    "go ahead and",
    "just|quickly",
    "let us",
    "do you think you could",
];

const TRAILING: &[&str] = &[
    "thanks|thx|cheers",
    "thank you",
    "for me",
    "okay",
    "now",
    "cadence",
];

/// Drop fillers and politeness; keep the request.
pub fn strip_fillers(toks: &[Tok]) -> Vec<Tok> {
    let mut t: Vec<Tok> = toks
        .iter()
        .filter(|t| !FILLERS_ANYWHERE.contains(&t.norm.as_str()))
        .cloned()
        .collect();
    loop {
        let before_len = t.len();
        for pat in LEADING {
            if let Some(end) = eat(&t, 0, pat)
                && end < t.len()
            {
                t.drain(..end);
            }
        }
        for pat in TRAILING {
            if let Some((_, at)) = before(&t, pat) {
                t.truncate(at);
            }
        }
        if t.len() == before_len {
            return t;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Slots

/// Take a priority said anywhere ("urgent", "high priority", "it's important", "low
/// priority") out of the words.
fn take_priority(toks: &mut Vec<Tok>) -> Option<Priority> {
    let table: [(&str, Priority); 8] = [
        ("high|top priority", Priority::High),
        ("low priority", Priority::Low),
        ("medium|normal priority", Priority::Medium),
        ("not urgent", Priority::Low),
        ("urgent|urgently|asap", Priority::Urgent),
        ("as soon as possible", Priority::Urgent),
        ("important", Priority::High),
        ("with priority high", Priority::High),
    ];
    for (pat, p) in table {
        if let Some((mut s, e)) = find_pat(toks, 0, pat) {
            // "…, it's urgent", "make it high priority", "as urgent", "with high priority".
            while s > 0
                && matches!(
                    toks[s - 1].norm.as_str(),
                    "it" | "is"
                        | "make"
                        | "mark"
                        | "as"
                        | "with"
                        | "and"
                        | "set"
                        | "its"
                        | "very"
                        | "super"
                        | "really"
                        | "that"
                        | "this"
                )
            {
                s -= 1;
            }
            toks.drain(s..e);
            return Some(p);
        }
    }
    None
}

/// Take every date/time said out of the words; a day and a time said apart ("tomorrow
/// … at 8") are read together.
fn take_when(toks: &mut Vec<Tok>, now: &DateTime<Tz>) -> Option<When> {
    let words = norms(toks);
    let first = when::find(&words, now)?;
    let said: Vec<String> = words[first.start..first.end]
        .iter()
        .map(|w| w.to_string())
        .collect();
    toks.drain(first.start..first.end);
    let words = norms(toks);
    let apart = first
        .when
        .exact
        .is_none()
        .then(|| when::find(&words, now))
        .flatten();
    let Some(second) = apart.filter(|s| s.when.exact.is_none()) else {
        return Some(first.when);
    };
    let mut both: Vec<&str> = said.iter().map(String::as_str).collect();
    both.extend(&words[second.start..second.end]);
    match when::find(&both, now) {
        Some(f) if f.start == 0 && f.end == both.len() => {
            toks.drain(second.start..second.end);
            Some(f.when)
        }
        _ => Some(first.when),
    }
}

const TITLE_LEAD: &[&str] = &[
    "to", "that", "called", "named", "titled", "for", "about", "saying", "says", "is",
];
const TITLE_TAIL: &[&str] = &[
    "to", "for", "on", "at", "by", "due", "and", "until", "please", "the", "a", "it", "starting",
    "from",
];

/// A free-text slot: trimmed of the glue words around it.
fn slot(toks: &[Tok], lead: &[&str], tail: &[&str]) -> Option<String> {
    let mut s = 0;
    let mut e = toks.len();
    while s < e && lead.contains(&toks[s].norm.as_str()) {
        s += 1;
    }
    while e > s && tail.contains(&toks[e - 1].norm.as_str()) {
        e -= 1;
    }
    let text = text_of(&toks[s..e]);
    (!text.is_empty()).then_some(text)
}

/// A task named in a request about existing tasks: "the task call mum", "call mum from my
/// list" → "call mum".
fn task_query(toks: &[Tok]) -> Option<String> {
    let mut t: &[Tok] = toks;
    if let Some(rest) = after(t, "the|my|a? task|reminder called|named?")
        && !rest.is_empty()
    {
        t = rest;
    }
    let t = match before(t, "from|off|on my|the? todo|task? list") {
        Some((head, _)) => head,
        None => t,
    };
    let t = match before(t, "task|reminder") {
        Some((head, _)) => head,
        None => t,
    };
    slot(t, &["the", "to"], &["please", "task"])
}

fn timeframe(toks: &mut Vec<Tok>) -> Option<Timeframe> {
    let table: [(&str, Timeframe); 9] = [
        ("this|for|the? week|weekly", Timeframe::Weekly),
        ("this|for|the? month|monthly", Timeframe::Monthly),
        ("this|for|the? quarter|quarterly", Timeframe::Quarterly),
        ("this|for|the? year|yearly|annual", Timeframe::Yearly),
        ("by the end of the week", Timeframe::Weekly),
        ("by the end of the month", Timeframe::Monthly),
        ("by the end of the year", Timeframe::Yearly),
        ("today|daily", Timeframe::Daily),
        ("every day", Timeframe::Daily),
    ];
    for (pat, tf) in table {
        if let Some((s, e)) = find_pat(toks, 0, pat) {
            toks.drain(s..e);
            return Some(tf);
        }
    }
    None
}

fn percent(toks: &[Tok]) -> Option<(i32, usize, usize)> {
    let words = norms(toks);
    for i in 0..toks.len() {
        let w = words[i];
        if let Some(n) = w.strip_suffix('%').and_then(|n| n.parse::<i32>().ok()) {
            return Some((n, i, i + 1));
        }
        if let Some((n, used)) = when::number_at(&words, i)
            && matches!(words.get(i + used).copied(), Some("percent" | "per" | "%"))
        {
            let extra = usize::from(
                words.get(i + used).copied() == Some("per")
                    && words.get(i + used + 1).copied() == Some("cent"),
            );
            return Some((n as i32, i, i + used + 1 + extra));
        }
        if w == "halfway" {
            return Some((50, i, i + 1));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// The grammar

/// What `text` asks for, said at `now` in the user's zone.
pub fn parse(text: &str, now: &DateTime<Tz>) -> Intent {
    let raw = tokenize(text);
    let t = strip_fillers(&raw);
    let today = now.date_naive();
    if t.is_empty() {
        return Intent::Empty;
    }
    // Small talk ("hello there" before "hello" is dropped as a lead-in).
    let polite: Vec<Tok> = raw
        .iter()
        .filter(|t| !FILLERS_ANYWHERE.contains(&t.norm.as_str()))
        .cloned()
        .collect();
    if is(
        &polite,
        "hi|hello|hey|hiya|howdy|yo|greetings there|cadence|everyone? cadence|there?",
    ) || is(&t, "hi|hello|hey|hiya|howdy|yo|greetings there|cadence?")
        || is(&t, "good morning|afternoon|evening|day")
        || is(&t, "how are you|things doing?")
        || is(&t, "how is it going")
    {
        return Intent::Greeting;
    }
    if is(
        &t,
        "thanks|thx|cheers|great|perfect|cool|nice|awesome|lovely|brilliant a|so? lot|much?",
    ) || is(&t, "thank you so|very? much?")
        || is(&t, "okay|great|perfect thanks")
    {
        return Intent::Thanks;
    }
    if is(&t, "cancel|stop|nevermind|nothing|no|nope|forget it|that?")
        || is(&t, "never mind")
        || is(&t, "no thanks|thank? you?")
    {
        return Intent::Cancel;
    }
    if is(&t, "help me?")
        || is(&t, "what can|do you do")
        || is(&t, "what can you help me? with")
        || is(&t, "what can i say|ask|do")
        || is(&t, "what are you able to do")
        || is(&t, "what do you know how to do")
        || is(&t, "how does this work")
        || is(&t, "what are your commands|skills")
    {
        return Intent::Help;
    }
    // The wallet.
    if find_pat(&t, 0, "credit|credits|wallet|balance").is_some()
        && (eat(&t, 0, "how|what|check|show|tell|do|is|am|have").is_some())
    {
        return Intent::Wallet;
    }
    // The schedule.
    if let Some(rest) = after(&t, "plan|schedule|organize|organise my|the? day|today?") {
        let mut rest = rest.to_vec();
        let date = take_when(&mut rest, now).map_or(today, |w| w.date);
        if rest.is_empty() || is(&rest, "for|out?") {
            return Intent::PlanDay(date);
        }
    }
    if let Some(rest) = after(&t, "make|create a plan for") {
        let mut rest = rest.to_vec();
        if let Some(w) = take_when(&mut rest, now)
            && rest.is_empty()
        {
            return Intent::PlanDay(w.date);
        }
    }
    if is(&t, "what is|comes? up? next")
        || is(&t, "what is up next")
        || is(&t, "what should i do|work on next|now?")
        || is(&t, "what now")
        || is(&t, "what do i have next")
    {
        return Intent::Next;
    }
    if let Some(rest) = after(&t, "what is|does my|the schedule|agenda|calendar|plan|day")
        .or_else(|| after(&t, "show|read|tell me? my schedule|agenda|plan"))
    {
        let mut rest = rest.to_vec();
        let date = take_when(&mut rest, now).map_or(today, |w| w.date);
        if rest.is_empty() || is(&rest, "look|like|for|like? look? like?") {
            return Intent::Schedule(date);
        }
    }
    // Reminders.
    if let Some(rest) = after(&t, "remind me")
        .or_else(|| after(&t, "set|add|create|make a|an? reminder"))
        .or_else(|| after(&t, "reminder"))
    {
        let mut rest = rest.to_vec();
        let priority = take_priority(&mut rest);
        let when = take_when(&mut rest, now);
        let title = slot(
            &rest,
            &["to", "about", "that", "for", "of", "me"],
            TITLE_TAIL,
        );
        return Intent::Remind(TaskDraft {
            title,
            when,
            priority,
        });
    }
    // Existing tasks: priority first ("mark X as urgent" is not "mark X done").
    if let Some(rest) = after(&t, "make|mark|set|change|flag") {
        let mut rest = rest.to_vec();
        let adding = eat(&rest, 0, "a|an|another|new").is_some();
        if !adding && let Some(p) = take_priority(&mut rest) {
            let rest = match before(&rest, "as|to") {
                Some((head, _)) => head.to_vec(),
                None => rest,
            };
            if let Some(q) = task_query(&rest) {
                return Intent::Prioritize(q, p);
            }
        }
    }
    if let Some(rest) = after(&t, "mark|tick|check|cross|set") {
        let done = "as? done|complete|completed|finished|off";
        if let Some((head, _)) = before(rest, done)
            && let Some(q) = task_query(head)
        {
            return Intent::CompleteTask(q);
        }
        if let Some(rest) = after(rest, "off")
            && let Some(q) = task_query(rest)
        {
            return Intent::CompleteTask(q);
        }
    }
    if let Some(rest) = after(&t, "i have? finished|completed|did|done")
        .or_else(|| after(&t, "complete|completed|finished"))
        .or_else(|| after(&t, "i am done|finished with"))
        && let Some(q) = task_query(rest)
    {
        return Intent::CompleteTask(q);
    }
    if let Some((head, _)) = before(&t, "is|are done|finished|complete|completed")
        && let Some(q) = task_query(head)
    {
        return Intent::CompleteTask(q);
    }
    let off_list = "off|from my|the? todo|task? list";
    let delete = after(&t, "delete|cancel|drop|scrap|ditch")
        .or_else(|| after(&t, "get rid of"))
        .or_else(|| after(&t, "take").filter(|r| before(r, off_list).is_some()));
    if let Some(rest) = delete {
        let rest = match before(rest, off_list) {
            Some((head, _)) => head,
            None => rest,
        };
        if find_pat(rest, 0, "note|notes|memory|memories|goal|goals").is_none()
            && let Some(q) = task_query(rest)
        {
            return Intent::DeleteTask(q);
        }
    }
    if let Some(rest) =
        after(&t, "move|reschedule|postpone|push|shift|change").or_else(|| after(&t, "put off"))
    {
        let mut rest = rest.to_vec();
        let when = take_when(&mut rest, now);
        let rest = match before(&rest, "to|until|till|for|back|forward") {
            Some((head, _)) => head.to_vec(),
            None => rest,
        };
        let rest = match before(&rest, "back|forward|out") {
            Some((head, _)) => head.to_vec(),
            None => rest,
        };
        if let Some(q) = task_query(&rest) {
            return Intent::Reschedule(q, when);
        }
    }
    if let Some(rest) = after(&t, "snooze|delay") {
        let mut rest = rest.to_vec();
        let words = norms(&rest);
        let mut minutes = 10;
        if let Some(f) = when::find(&words, now)
            && let Some(exact) = f.when.exact
        {
            minutes =
                ((exact - now.with_timezone(&chrono::Utc)).num_minutes()).clamp(1, 1440) as u32;
            rest.drain(f.start..f.end);
        } else if let Some((start, end)) =
            find_pat(&rest, 0, "for? _ minutes|minute|mins|hour|hours")
        {
            let words = norms(&rest[start..end]);
            let skip = usize::from(words[0] == "for");
            if let Some((n, _)) = when::number_at(&words, skip) {
                let unit = if words.last().is_some_and(|w| w.starts_with("hour")) {
                    60
                } else {
                    1
                };
                minutes = (n * unit).clamp(1, 1440);
            }
            rest.drain(start..end);
        }
        let rest = match before(&rest, "for") {
            Some((head, _)) => head.to_vec(),
            None => rest,
        };
        let q = task_query(&rest).unwrap_or_default();
        return Intent::Snooze(q, minutes);
    }
    // Notes.
    if let Some(rest) = after(
        &t,
        "what did i note|write|jot|save down? about|on|regarding",
    )
    .or_else(|| {
        after(
            &t,
            "find|search|read|show|open my|the|a? note|notes about|on|for|called?",
        )
    })
    .or_else(|| after(&t, "search|look in|through? my? notes for|about?"))
    .or_else(|| after(&t, "do i have a|any note|notes about|on"))
    .or_else(|| after(&t, "what is in my note|notes about|on"))
    .or_else(|| after(&t, "what do my notes say about"))
        && let Some(q) = slot(rest, &["the", "my"], &[])
    {
        return Intent::FindNote(q);
    }
    if let Some(rest) = after(&t, "note|notes that|down?")
        .or_else(|| {
            after(
                &t,
                "make|take|add|write|create|new a? note|memo that|of|about|saying|says?",
            )
        })
        .or_else(|| after(&t, "write|jot|put down that?"))
    {
        return match slot(rest, &["that", "saying", "down"], &[]) {
            Some(text) => Intent::AddNote(text),
            None => Intent::AddNote(String::new()),
        };
    }
    // Memories.
    if let Some(rest) = after(&t, "what do you know|remember about")
        .or_else(|| after(&t, "what have you learned about"))
        .or_else(|| after(&t, "do you remember|know"))
        .or_else(|| after(&t, "tell me about"))
    {
        let q = slot(rest, &["that", "about"], &[]).unwrap_or_default();
        let q = if is(&tokenize(&q), "me|myself") {
            String::new()
        } else {
            q
        };
        return Intent::Recall(q);
    }
    if let Some(rest) = after(&t, "remember|memorize|memorise that")
        .or_else(|| after(&t, "keep in mind that?"))
        .or_else(|| after(&t, "do not forget that"))
        .or_else(|| after(&t, "remember my"))
        .map(|r| r.to_vec())
    {
        let rest = if t.get(1).is_some_and(|t| t.norm == "my") {
            t[1..].to_vec()
        } else {
            rest
        };
        if let Some(text) = slot(&rest, &["that"], &[]) {
            return Intent::Remember(text);
        }
    }
    // Goals.
    if let Some(rest) = after(&t, "how am i doing|going on|with")
        .or_else(|| after(&t, "what is my progress on|with|for"))
        .or_else(|| after(&t, "how far am i with|on"))
    {
        let q = slot(rest, &["my", "the", "goal", "to"], &["goal"]);
        return Intent::GoalProgress(q);
    }
    if is(&t, "how are my goals going|doing?")
        || is(&t, "what are my goals")
        || is(&t, "list|show|read my goals")
        || is(&t, "how am i doing")
    {
        return Intent::GoalProgress(None);
    }
    if let Some((head, _)) = before(&t, "going")
        && let Some(rest) = after(head, "how is|are")
        && let Some(q) = slot(rest, &["my", "the"], &["goal"])
    {
        return Intent::GoalProgress(Some(q));
    }
    if let Some((n, s, e)) = percent(&t)
        && find_pat(&t, 0, "goal|progress|percent|done|through|halfway|at").is_some()
    {
        let mut rest = t.clone();
        rest.drain(s..e);
        let rest: Vec<Tok> = rest
            .into_iter()
            .filter(|w| {
                !matches!(
                    w.norm.as_str(),
                    "i" | "am"
                        | "set"
                        | "update"
                        | "my"
                        | "goal"
                        | "progress"
                        | "done"
                        | "through"
                        | "with"
                        | "on"
                        | "to"
                        | "at"
                        | "of"
                        | "the"
                        | "way"
                        | "for"
                )
            })
            .collect();
        if let Some(q) = slot(&rest, &[], &[]) {
            return Intent::SetGoalProgress(q, n.clamp(0, 100));
        }
    }
    if let Some(rest) = after(
        &t,
        "my weekly|monthly|yearly|daily|quarterly|new|main? goal|goals",
    )
    .or_else(|| {
        after(
            &t,
            "set|add|create|make|new a|an? new? weekly|monthly|yearly|daily? goal",
        )
    })
    .or_else(|| after(&t, "i want|would like to set a goal"))
    {
        let mut rest = rest.to_vec();
        let mut tf = match t.get(1).map(|t| t.norm.as_str()) {
            Some("weekly") => Some(Timeframe::Weekly),
            Some("monthly") => Some(Timeframe::Monthly),
            Some("yearly") => Some(Timeframe::Yearly),
            Some("daily") => Some(Timeframe::Daily),
            Some("quarterly") => Some(Timeframe::Quarterly),
            _ => None,
        };
        if let Some(found) = timeframe(&mut rest) {
            tf = tf.or(Some(found));
        }
        if let Some(title) = slot(&rest, &["is", "to", "of", "for", "that", "be", "will"], &[]) {
            return Intent::AddGoal(title, tf);
        }
    }
    if let Some(rest) = after(&t, "who|what is my")
        && let Some(q) = slot(rest, &[], &[])
    {
        return Intent::Recall(format!("my {q}"));
    }
    // Listing tasks.
    let list_pats = [
        "what is|are on|in my todo|task? list",
        "what is|are on|in my todo|task? list for",
        "what is|are on my plate|agenda",
        "what task|tasks? do|have i have|got",
        "what are my task|todo|tasks|todos for?",
        "list|show|read|give|tell me? my|all? task|todo|tasks|open",
        "what do i need|have to do",
        "what is|are due",
        "anything|is anything due",
        "do i have anything|any tasks|task? due?",
        "read me? my list",
        "what is|are left|open|pending",
        "my task|tasks|list",
    ];
    for pat in list_pats {
        if let Some(rest) = after(&t, pat) {
            let mut rest = rest.to_vec();
            let when = take_when(&mut rest, now);
            let overdue = find_pat(&rest, 0, "overdue|late").is_some();
            let rest: Vec<Tok> = rest
                .into_iter()
                .filter(|w| {
                    !matches!(
                        w.norm.as_str(),
                        "for"
                            | "on"
                            | "list"
                            | "task"
                            | "tasks"
                            | "todo"
                            | "today"
                            | "overdue"
                            | "late"
                            | "open"
                            | "all"
                            | "due"
                            | "left"
                            | "my"
                            | "do"
                            | "i"
                            | "have"
                            | "to"
                            | "the"
                    )
                })
                .collect();
            if rest.is_empty() {
                let scope = match (when, overdue) {
                    (_, true) => Scope::DueBy(today - chrono::Duration::days(1)),
                    (Some(w), _) => Scope::DueBy(w.date),
                    (None, _) => Scope::All,
                };
                return Intent::ListTasks(scope);
            }
        }
    }
    if is(&t, "what is overdue|late") {
        return Intent::ListTasks(Scope::DueBy(today - chrono::Duration::days(1)));
    }
    // Adding tasks.
    let add_pats = [
        "add|create|make|new|put|set up? a|an|another|the|one? new? task|todo|item|thing called|named|titled?",
        "add|put|write|create",
        "new|another task|todo",
        "task|todo",
        "i need|have|got to",
        "i have got to",
        "i must|should",
        "remember to",
        "do not let me forget to",
        "do not forget to",
    ];
    // "add an urgent task to …": the priority is said inside the command words.
    let mut plain = t.clone();
    let priority = take_priority(&mut plain);
    for pat in add_pats {
        let Some(rest) = after(&plain, pat) else {
            continue;
        };
        let mut rest = rest.to_vec();
        let when = take_when(&mut rest, now);
        // "add X to my list", "put X on my todo list".
        if let Some((head, _)) = before(
            &rest,
            "to|on|onto|in my|the todo|task|shopping? list|tasks?",
        ) {
            rest = head.to_vec();
        }
        let title = slot(&rest, TITLE_LEAD, TITLE_TAIL);
        // "add milk" is a task; a bare "add" with nothing else asks back.
        return Intent::AddTask(TaskDraft {
            title,
            when,
            priority,
        });
    }
    Intent::Unknown
}

/// An answer to "which one" ("the second", "number two", "the last one") as an index into
/// `n` choices.
pub fn ordinal_choice(text: &str, n: usize) -> Option<usize> {
    let t = strip_fillers(&tokenize(text));
    let t: Vec<&str> = t
        .iter()
        .map(|w| w.norm.as_str())
        .filter(|w| !matches!(*w, "the" | "one" | "number" | "task" | "option"))
        .collect();
    let i = match t.as_slice() {
        ["first" | "1st" | "1" | "one"] => 0,
        ["second" | "2nd" | "2" | "two"] => 1,
        ["third" | "3rd" | "3" | "three"] => 2,
        ["last"] => n.checked_sub(1)?,
        _ => return None,
    };
    (i < n).then_some(i)
}

/// Words that mean "the thing we just talked about".
pub fn is_pronoun(q: &str) -> bool {
    matches!(
        q.to_lowercase().as_str(),
        "it" | "that"
            | "this"
            | "that one"
            | "this one"
            | "that task"
            | "this task"
            | "the task"
            | "the last one"
            | "the reminder"
    )
}

/// The words of `text` for matching titles: lower case, no fillers.
pub fn key_words(text: &str) -> Vec<String> {
    tokenize(text)
        .into_iter()
        .map(|t| t.norm)
        .filter(|w| !matches!(w.as_str(), "the" | "a" | "an" | "my" | "to" | "is"))
        .collect()
}

/// Do two words mean the same thing, allowing a recognition slip?
pub fn word_match(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let family = |w: &str| match w {
        "mum" | "mom" | "mam" | "mummy" | "mommy" | "mother" => "mum",
        "dad" | "daddy" | "father" => "dad",
        "wifi" | "wi-fi" => "wifi",
        _ => "",
    };
    if !family(a).is_empty() && family(a) == family(b) {
        return true;
    }
    let (la, lb) = (a.chars().count(), b.chars().count());
    // A slip of one letter, a plural, or one word the start of the other ("run" and
    // "running", "read" and "reading").
    la >= 4 && lb >= 4 && distance(a, b) <= 1
        || a.trim_end_matches('s') == b.trim_end_matches('s') && la.min(lb) >= 3
        || la.min(lb) >= 3 && (a.starts_with(b) || b.starts_with(a))
}

/// Sentences the grammar is built around, with `*` where free text goes: what a speech
/// recognizer should expect to hear (see the PocketSphinx language model).
pub const PHRASES: &[&str] = &[
    "add a task called *",
    "add a task to *",
    "add a task to * tomorrow",
    "add a task to * tomorrow at five pm",
    "add a task to * next friday",
    "add an urgent task to *",
    "add a high priority task to *",
    "add * to my list",
    "add * to my to do list",
    "create a task called *",
    "new task *",
    "i need to *",
    "remind me to * in twenty minutes",
    "remind me to * in an hour",
    "remind me to * tomorrow at nine am",
    "remind me to * at five",
    "remind me to * tonight",
    "remind me to * this evening",
    "remind me at six to *",
    "set a reminder to *",
    "what is on my list today",
    "what is on my list",
    "what are my tasks for today",
    "what do i have today",
    "what do i have tomorrow",
    "what is due this week",
    "what is overdue",
    "mark * done",
    "mark * as done",
    "i finished *",
    "complete *",
    "delete the task *",
    "delete *",
    "move * to tomorrow",
    "move * to next monday",
    "reschedule * to friday at ten am",
    "make * urgent",
    "snooze * for ten minutes",
    "note that *",
    "make a note that *",
    "what did i note about *",
    "find my note about *",
    "remember that *",
    "what do you know about *",
    "what do you know about me",
    "my goal this month is to *",
    "my goal this week is to *",
    "set a goal to *",
    "how am i doing on *",
    "how are my goals going",
    "plan my day",
    "plan my day tomorrow",
    "what is next",
    "what is my schedule today",
    "how many credits do i have",
    "what is my balance",
    "hello",
    "hi cadence",
    "good morning",
    "thank you",
    "thanks",
    "what can you do",
    "help",
    "never mind",
    "yes",
    "no",
    "the first one",
    "the second one",
];
