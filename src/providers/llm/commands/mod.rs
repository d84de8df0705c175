//! `commands`: the local language model for servers without a cloud key. A fixed grammar
//! of everyday English requests ([`grammar`]) becomes the same tool calls a cloud model
//! would make, through the same assistant loop: each model call reads the conversation
//! (the user's zone and local time from the system message, the last user message, the
//! tool results since) and answers with the next tool calls or the final text ([`decide`]).
//!
//! "mark call mum done" is three calls: `list_tasks {query}` → `complete_task {id}` (it
//! read the list) → "Marked 'call mum' done." (it read the result). It only calls tools the
//! request offers, asks back when the task's title is missing ("What should the task be
//! called?", and the next message is the title), asks which one when several tasks match,
//! and never claims what a tool did not do.

pub mod grammar;
pub mod replies;
pub mod reply;
#[cfg(test)]
mod tests;
pub mod when;

use async_trait::async_trait;
use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use self::grammar::{Intent, Scope, TaskDraft};
use super::{
    ChatMessage, FinishReason, LlmEvent, LlmProvider, LlmRequest, LlmStream, Role, ToolCall, Usage,
};
use crate::providers::{
    ProviderError, estimate_tokens,
    llm::prompt::{any_word_query, parse_clock},
};

pub const MODEL: &str = "commands-1";

/// Ask-backs: the next user message answers them (see [`pending`]).
pub const ASK_TITLE: &str = "What should the task be called?";
pub const ASK_REMIND_WHAT: &str = "What should I remind you about?";
const ASK_REMIND_WHEN: &str = "When should I remind you to ";
const ASK_WHICH: &str = "Which one should I ";
const ASK_MOVE_WHEN: &str = "When should I move ";
pub const ASK_NOTE: &str = "What should the note say?";
pub const NOT_HEARD: &str = "Sorry, I didn't catch that. What can I do for you?";
pub const CANT: &str = "Sorry, I can't do that offline yet: ";

/// One tool call to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub arguments: Value,
}

/// What the model does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Calls(Vec<Call>),
    Say(String),
}

fn call(name: &str, arguments: Value) -> Step {
    Step::Calls(vec![Call {
        name: name.into(),
        arguments,
    }])
}

fn say(text: impl Into<String>) -> Step {
    Step::Say(text.into())
}

/// A call made since the user's message, with what it returned.
#[derive(Debug, Clone)]
struct Done {
    name: String,
    args: Value,
    result: Value,
}

impl Done {
    fn failed(&self) -> bool {
        self.result.get("error").is_some()
    }
    fn items(&self) -> Vec<Value> {
        self.result.as_array().cloned().unwrap_or_default()
    }
}

/// The conversation as the model reads it.
struct Turn<'a> {
    text: &'a str,
    /// The assistant's last words before this message, and the user's before those.
    prev_assistant: Option<&'a str>,
    prev_user: Option<&'a str>,
    done: Vec<Done>,
}

fn read_turn(messages: &[ChatMessage]) -> Turn<'_> {
    let last_user = messages.iter().rposition(|m| m.role == Role::User);
    let Some(u) = last_user else {
        return Turn {
            text: "",
            prev_assistant: None,
            prev_user: None,
            done: Vec::new(),
        };
    };
    let mut calls: Vec<&ToolCall> = Vec::new();
    let mut done = Vec::new();
    for m in &messages[u + 1..] {
        match m.role {
            Role::Assistant => calls.extend(m.tool_calls.iter()),
            Role::Tool => {
                let Some(c) = calls
                    .iter()
                    .find(|c| Some(&c.id) == m.tool_call_id.as_ref())
                else {
                    continue;
                };
                done.push(Done {
                    name: c.name.clone(),
                    args: serde_json::from_str(&c.arguments).unwrap_or(Value::Null),
                    result: serde_json::from_str(&m.content)
                        .unwrap_or_else(|_| json!({"error": m.content})),
                });
            }
            _ => {}
        }
    }
    let before = &messages[..u];
    let a = before
        .iter()
        .rposition(|m| m.role == Role::Assistant && !m.content.trim().is_empty());
    let prev_assistant = a.map(|i| before[i].content.as_str());
    let prev_user = a.and_then(|i| {
        before[..i]
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
    });
    Turn {
        text: messages[u].content.as_str(),
        prev_assistant,
        prev_user,
        done,
    }
}

/// The titles quoted in one of our answers ('call mum', 'mum's birthday').
pub fn quoted_titles(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let opens = chars[i] == '\'' && (i == 0 || !chars[i - 1].is_alphanumeric());
        if opens {
            let close = (i + 1..chars.len()).find(|&j| {
                chars[j] == '\'' && chars.get(j + 1).is_none_or(|c| !c.is_alphanumeric())
            });
            if let Some(j) = close {
                out.push(chars[i + 1..j].iter().collect());
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// What the user wants, reading an answer to our last question in its light.
fn intent_of(turn: &Turn<'_>, now: &DateTime<Tz>) -> Intent {
    let current = grammar::parse(turn.text, now);
    let Some(asked) = turn.prev_assistant else {
        return current;
    };
    let answered = |prev_ok: bool| prev_ok && current != Intent::Cancel;
    let original = || turn.prev_user.map(|u| grammar::parse(u, now));
    if asked == ASK_TITLE || asked == ASK_REMIND_WHAT {
        if !answered(true) {
            return Intent::Cancel;
        }
        let mut draft = draft_of(turn.text, now);
        if let Some(Intent::AddTask(o) | Intent::Remind(o)) = original() {
            draft.when = draft.when.or(o.when);
            draft.priority = draft.priority.or(o.priority);
        }
        return if asked == ASK_TITLE {
            Intent::AddTask(draft)
        } else {
            Intent::Remind(draft)
        };
    }
    if asked == ASK_NOTE {
        return if answered(true) {
            Intent::AddNote(turn.text.trim().to_string())
        } else {
            Intent::Cancel
        };
    }
    if let Some(title) = asked
        .strip_prefix(ASK_REMIND_WHEN)
        .and_then(|r| r.strip_suffix('?'))
    {
        if !answered(true) {
            return Intent::Cancel;
        }
        let d = draft_of(turn.text, now);
        if d.when.is_none() && !matches!(current, Intent::Unknown | Intent::Empty) {
            return current;
        }
        return Intent::Remind(TaskDraft {
            title: Some(title.to_string()),
            when: d.when,
            priority: None,
        });
    }
    if asked.starts_with(ASK_MOVE_WHEN) {
        if !answered(true) {
            return Intent::Cancel;
        }
        let d = draft_of(turn.text, now);
        if let (Some(w), Some(title)) = (d.when, quoted_titles(asked).first()) {
            return Intent::Reschedule(title.clone(), Some(w));
        }
        return current;
    }
    if asked.starts_with(ASK_WHICH) {
        if !answered(true) {
            return Intent::Cancel;
        }
        let titles = quoted_titles(asked);
        let choice = grammar::ordinal_choice(turn.text, titles.len())
            .map(|i| titles[i].clone())
            .or_else(|| {
                matches!(current, Intent::Unknown | Intent::AddTask(_))
                    .then(|| turn.text.trim().to_string())
            });
        if let (Some(q), Some(orig)) = (choice, original()) {
            return with_query(orig, q);
        }
        return current;
    }
    // "mark it done" after "Added 'call mum' …": the task we just talked about.
    match current {
        Intent::CompleteTask(q)
        | Intent::DeleteTask(q)
        | Intent::Reschedule(q, _)
        | Intent::Prioritize(q, _)
        | Intent::Snooze(q, _)
            if grammar::is_pronoun(&q) || q.is_empty() =>
        {
            match quoted_titles(asked).last() {
                Some(t) => with_query(grammar::parse(turn.text, now), t.clone()),
                None => with_query(grammar::parse(turn.text, now), q),
            }
        }
        other => other,
    }
}

fn with_query(intent: Intent, q: String) -> Intent {
    match intent {
        Intent::CompleteTask(_) => Intent::CompleteTask(q),
        Intent::DeleteTask(_) => Intent::DeleteTask(q),
        Intent::Reschedule(_, w) => Intent::Reschedule(q, w),
        Intent::Prioritize(_, p) => Intent::Prioritize(q, p),
        Intent::Snooze(_, m) => Intent::Snooze(q, m),
        Intent::GoalProgress(_) => Intent::GoalProgress(Some(q)),
        Intent::SetGoalProgress(_, n) => Intent::SetGoalProgress(q, n),
        other => other,
    }
}

/// An answer read as a task: its title, and any date and priority said with it.
fn draft_of(text: &str, now: &DateTime<Tz>) -> TaskDraft {
    match grammar::parse(&format!("add a task {text}"), now) {
        Intent::AddTask(d) => d,
        _ => TaskDraft {
            title: Some(text.trim().to_string()).filter(|t| !t.is_empty()),
            ..TaskDraft::default()
        },
    }
}

/// The features behind the tools, for "I can't do that" and for help.
const FEATURES: &[(&str, &str)] = &[
    ("create_task", "your tasks"),
    ("list_tasks", "your tasks"),
    ("complete_task", "your tasks"),
    ("update_task", "your tasks"),
    ("delete_task", "deleting tasks"),
    ("snooze_task", "snoozing tasks"),
    ("create_note", "your notes"),
    ("search_notes", "your notes"),
    ("remember", "memories"),
    ("recall", "memories"),
    ("create_goal", "goals"),
    ("list_goals", "goals"),
    ("update_goal_progress", "goals"),
    ("plan_day", "the day planner"),
    ("get_schedule", "the day planner"),
    ("get_wallet", "your wallet"),
];

fn cant(missing: &str) -> Step {
    let feature = FEATURES
        .iter()
        .find(|(t, _)| *t == missing)
        .map_or("that", |(_, f)| *f);
    say(format!("{CANT}this assistant has no access to {feature}."))
}

fn help(tools: &[&str]) -> String {
    let has = |t: &str| tools.contains(&t);
    let mut can: Vec<String> = Vec::new();
    if has("create_task") {
        can.push("add, list, complete and move tasks".into());
        can.push("set reminders".into());
    }
    if has("create_note") {
        can.push("take and find notes".into());
    }
    if has("remember") {
        can.push("remember things".into());
    }
    if has("create_goal") {
        can.push("track goals".into());
    }
    if has("plan_day") {
        can.push("plan your day".into());
    }
    if has("get_wallet") {
        can.push("tell you your credits".into());
    }
    if can.is_empty() {
        return "I can only chat a little here: this assistant has no tools.".into();
    }
    let example = if has("create_task") {
        " Try: add a task to call mum tomorrow at 5 pm."
    } else {
        ""
    };
    format!("I can {}.{example}", reply::and_list(&can))
}

const UNKNOWN: &str = "I only understand short requests about tasks, reminders, notes, memories, goals and credits. Ask me what I can do.";

/// The next step for a conversation, at `now` in the user's zone, with the tools offered.
pub fn decide(messages: &[ChatMessage], now: DateTime<Tz>, tools: &[&str]) -> Step {
    let turn = read_turn(messages);
    if tools.contains(&"answer_notification")
        && let Some(step) = answer_notification(&turn)
    {
        return step;
    }
    let intent = intent_of(&turn, &now);
    let step = plan(&intent, &turn, &now, tools);
    // The last step of a turn offers no tools: say what was done so far instead.
    match step {
        Step::Calls(_) if tools.is_empty() && !turn.done.is_empty() => {
            say("Sorry, that took more steps than I can take offline.")
        }
        other => other,
    }
}

/// On a notification's call (the only place `answer_notification` is offered by default):
/// "done", "ok", "snooze 10" and the keypad (`(keypad) 1`) answer the notification.
fn answer_notification(turn: &Turn<'_>) -> Option<Step> {
    if let Some(d) = turn
        .done
        .iter()
        .rev()
        .find(|d| d.name == "answer_notification")
    {
        return Some(if d.failed() {
            say(reply::failed("answer that", &d.result))
        } else {
            say(d.result["message"].as_str().unwrap_or("Done."))
        });
    }
    let args = match replies::parse(turn.text)? {
        replies::Reply::Done => json!({"reply": "done"}),
        replies::Reply::Ack => json!({"reply": "ok"}),
        replies::Reply::Snooze { minutes } => {
            json!({"reply": "snooze", "minutes": minutes})
        }
    };
    Some(call("answer_notification", args))
}

fn plan(intent: &Intent, turn: &Turn<'_>, now: &DateTime<Tz>, tools: &[&str]) -> Step {
    let has = |t: &str| tools.contains(&t);
    let need = |names: &[&'static str]| names.iter().copied().find(|n| !has(n));
    let last = turn.done.last();
    let today = now.date_naive();
    match intent {
        Intent::Empty => say(NOT_HEARD),
        Intent::Greeting => say("Hi! What can I do for you?"),
        Intent::Thanks => say("You're welcome."),
        Intent::Cancel => say("Okay, never mind."),
        Intent::Help => say(help(tools)),
        Intent::Unknown => say(format!("{CANT}{UNKNOWN}")),
        Intent::AddTask(d) => {
            let Some(title) = &d.title else {
                return say(ASK_TITLE);
            };
            if let Some(m) = need(&["create_task"]) {
                return cant(m);
            }
            match last {
                None => call("create_task", task_args(title, d, None)),
                Some(r) if r.failed() => say(reply::failed("add that task", &r.result)),
                Some(r) => say(reply::task_added(&r.result, now)),
            }
        }
        Intent::Remind(d) => {
            let Some(title) = &d.title else {
                return say(ASK_REMIND_WHAT);
            };
            let ask_when = || say(format!("{ASK_REMIND_WHEN}{title}?"));
            let Some(w) = d.when else {
                return ask_when();
            };
            let at = w.instant(now.timezone()).unwrap_or_else(|| {
                when::resolve_local(
                    now.timezone(),
                    w.date
                        .and_time(NaiveTime::from_hms_opt(9, 0, 0).expect("09:00")),
                )
            });
            if at <= now.with_timezone(&Utc) {
                return ask_when();
            }
            if let Some(m) = need(&["create_task"]) {
                return cant(m);
            }
            match last {
                None => {
                    let draft = TaskDraft {
                        when: None,
                        ..d.clone()
                    };
                    call("create_task", task_args(title, &draft, Some(at)))
                }
                Some(r) if r.failed() => say(reply::failed("set that reminder", &r.result)),
                Some(r) => say(reply::reminder_set(&r.result, now)),
            }
        }
        Intent::ListTasks(scope) => {
            if let Some(m) = need(&["list_tasks"]) {
                return cant(m);
            }
            match last {
                None => call(
                    "list_tasks",
                    match scope {
                        Scope::All => json!({}),
                        Scope::DueBy(d) => json!({"due_before": d.to_string()}),
                    },
                ),
                Some(r) if r.failed() => say(reply::failed("read your list", &r.result)),
                Some(r) => {
                    let mut items = r.items();
                    if let Scope::DueBy(d) = scope
                        && *d > today
                    {
                        // "tomorrow": that day's, not everything until then.
                        items.retain(|t| {
                            t.get("due_date").and_then(Value::as_str) == Some(&d.to_string())
                        });
                    }
                    say(reply::listed(&items, *scope, now))
                }
            }
        }
        Intent::CompleteTask(q) => act_on_task(
            turn,
            q,
            tools,
            "mark done",
            "complete_task",
            |t| json!({"id": t["id"]}),
            |r, _| reply::completed(r),
        ),
        Intent::DeleteTask(q) => act_on_task(
            turn,
            q,
            tools,
            "delete",
            "delete_task",
            |t| json!({"id": t["id"]}),
            |_, t| reply::deleted(t["title"].as_str().unwrap_or_default()),
        ),
        Intent::Reschedule(q, w) => {
            let Some(w) = w else {
                return say(format!("{ASK_MOVE_WHEN}{} to?", reply::quoted(q)));
            };
            let w = *w;
            act_on_task(
                turn,
                q,
                tools,
                "move",
                "update_task",
                move |t| {
                    let mut args = json!({"id": t["id"], "due_date": w.date.to_string()});
                    if let Some(time) = w.time {
                        args["due_time"] = json!(time.format("%H:%M").to_string());
                    }
                    args
                },
                |r, _| reply::moved(r, now),
            )
        }
        Intent::Prioritize(q, p) => {
            let p = *p;
            act_on_task(
                turn,
                q,
                tools,
                "change",
                "update_task",
                move |t| json!({"id": t["id"], "priority": p.as_str()}),
                |r, _| reply::prioritized(r),
            )
        }
        Intent::Snooze(q, minutes) => {
            if q.is_empty() {
                return say("Which task should I snooze?");
            }
            let minutes = *minutes;
            act_on_task(
                turn,
                q,
                tools,
                "snooze",
                "snooze_task",
                move |t| json!({"id": t["id"], "minutes": minutes}),
                |r, _| reply::snoozed(r, minutes, now),
            )
        }
        Intent::AddNote(text) => {
            if text.is_empty() {
                return say(ASK_NOTE);
            }
            if let Some(m) = need(&["create_note"]) {
                return cant(m);
            }
            match last {
                None => call(
                    "create_note",
                    json!({"title": reply::note_title(text), "content": text}),
                ),
                Some(r) if r.failed() => say(reply::failed("save that note", &r.result)),
                Some(r) => say(reply::note_saved(&r.result)),
            }
        }
        Intent::FindNote(q) => {
            if let Some(m) = need(&["search_notes"]) {
                return cant(m);
            }
            match last {
                None => call("search_notes", json!({"query": search_query(q)})),
                Some(r) if r.failed() => say(reply::failed("search your notes", &r.result)),
                Some(r) => say(reply::notes_found(&r.items(), &reply::second_person(q))),
            }
        }
        Intent::Remember(text) => {
            if let Some(m) = need(&["remember"]) {
                return cant(m);
            }
            match last {
                None => {
                    let mut args = json!({"content": text});
                    if let Some(kind) = memory_type(text) {
                        args["memory_type"] = json!(kind);
                    }
                    call("remember", args)
                }
                Some(r) if r.failed() => say(reply::failed("remember that", &r.result)),
                Some(r) => say(reply::remembered(&r.result)),
            }
        }
        Intent::Recall(q) => {
            if let Some(m) = need(&["recall"]) {
                return cant(m);
            }
            match last {
                None if q.is_empty() => call("recall", json!({})),
                None => call("recall", json!({"query": search_query(q)})),
                Some(r) if r.failed() => say(reply::failed("look that up", &r.result)),
                Some(r) => say(reply::recalled(&r.items(), q)),
            }
        }
        Intent::AddGoal(title, tf) => {
            if let Some(m) = need(&["create_goal"]) {
                return cant(m);
            }
            match last {
                None => {
                    let mut args = json!({"title": title});
                    if let Some(tf) = tf {
                        args["timeframe"] = json!(tf.as_str());
                    }
                    call("create_goal", args)
                }
                Some(r) if r.failed() => say(reply::failed("add that goal", &r.result)),
                Some(r) => say(reply::goal_added(&r.result)),
            }
        }
        Intent::GoalProgress(q) => {
            if let Some(m) = need(&["list_goals"]) {
                return cant(m);
            }
            match last {
                None => call("list_goals", json!({})),
                Some(r) if r.failed() => say(reply::failed("read your goals", &r.result)),
                Some(r) => {
                    let goals = r.items();
                    match q {
                        None => say(reply::goal_progress(&goals)),
                        Some(q) => match choose(&goals, q, true) {
                            Choice::One(g) => say(reply::goal_progress(std::slice::from_ref(g))),
                            Choice::Several(_) => {
                                let matching: Vec<Value> = goals
                                    .iter()
                                    .filter(|g| score(g, q).0 > 0.0)
                                    .cloned()
                                    .collect();
                                say(reply::goal_progress(&matching))
                            }
                            Choice::None => say(format!(
                                "I couldn't find a goal about {}.",
                                reply::second_person(q)
                            )),
                        },
                    }
                }
            }
        }
        Intent::SetGoalProgress(q, n) => {
            if let Some(m) = need(&["list_goals", "update_goal_progress"]) {
                return cant(m);
            }
            match last {
                None => call("list_goals", json!({})),
                Some(r) if r.failed() => say(reply::failed("update that goal", &r.result)),
                Some(r) if r.name == "list_goals" => match choose(&r.items(), q, true) {
                    Choice::One(g) => call(
                        "update_goal_progress",
                        json!({"id": g["id"], "progress": n}),
                    ),
                    Choice::Several(titles) => say(format!(
                        "{ASK_WHICH}update: {}?",
                        reply::or_list(
                            &titles.iter().map(|t| reply::quoted(t)).collect::<Vec<_>>()
                        )
                    )),
                    Choice::None => say(format!(
                        "I couldn't find a goal about {}.",
                        reply::second_person(q)
                    )),
                },
                Some(r) => say(reply::goal_updated(&r.result)),
            }
        }
        Intent::PlanDay(date) => {
            if let Some(m) = need(&["plan_day"]) {
                return cant(m);
            }
            match last {
                None => call("plan_day", json!({"date": date.to_string()})),
                Some(r) if r.failed() => say(reply::failed("plan the day", &r.result)),
                Some(r) => say(reply::day_planned(&r.result, now)),
            }
        }
        Intent::Schedule(date) => {
            if let Some(m) = need(&["get_schedule"]) {
                return cant(m);
            }
            match last {
                None => call("get_schedule", json!({"date": date.to_string()})),
                Some(r) if r.failed() && reply::error_text(&r.result) == "it no longer exists" => {
                    say(format!(
                        "Nothing is planned {} yet. Say plan my day to plan it.",
                        reply::day_phrase(*date, today)
                    ))
                }
                Some(r) if r.failed() => say(reply::failed("read your schedule", &r.result)),
                Some(r) => say(reply::schedule(&r.result, now)),
            }
        }
        Intent::Next => {
            let tasks_next = |done_list: Option<&Done>| match done_list {
                None if has("list_tasks") => call("list_tasks", json!({})),
                None => cant("list_tasks"),
                Some(r) if r.failed() => say(reply::failed("read your list", &r.result)),
                Some(r) => say(reply::next_task(&r.items(), now)),
            };
            match last {
                None if has("get_schedule") => {
                    call("get_schedule", json!({"date": today.to_string()}))
                }
                None => tasks_next(None),
                Some(r) if r.name == "get_schedule" => {
                    match (!r.failed())
                        .then(|| reply::next_block(&r.result, now))
                        .flatten()
                    {
                        Some(text) => say(text),
                        // Nothing planned (or nothing left): the next task due instead.
                        None => tasks_next(None),
                    }
                }
                Some(r) => tasks_next(Some(r)),
            }
        }
        Intent::Wallet => {
            if let Some(m) = need(&["get_wallet"]) {
                return cant(m);
            }
            match last {
                None => call("get_wallet", json!({})),
                Some(r) if r.failed() => say(reply::failed("read your wallet", &r.result)),
                Some(r) => say(reply::wallet(&r.result)),
            }
        }
    }
}

/// Arguments of `create_task`.
fn task_args(title: &str, d: &TaskDraft, remind_at: Option<DateTime<Utc>>) -> Value {
    let mut args = Map::new();
    args.insert("title".into(), json!(title));
    if let Some(w) = d.when {
        args.insert("due_date".into(), json!(w.date.to_string()));
        if let Some(t) = w.time {
            args.insert("due_time".into(), json!(t.format("%H:%M").to_string()));
        }
    }
    if let Some(p) = d.priority {
        args.insert("priority".into(), json!(p.as_str()));
    }
    if let Some(at) = remind_at {
        args.insert(
            "remind_at".into(),
            json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
    }
    Value::Object(args)
}

/// A full-text query that finds any of the meaningful words.
fn search_query(q: &str) -> String {
    let any = any_word_query(q);
    if any.is_empty() { q.to_string() } else { any }
}

fn memory_type(text: &str) -> Option<&'static str> {
    let words = grammar::key_words(text);
    let first = |w: &[&str]| words.first().is_some_and(|f| w.contains(&f.as_str()));
    const PEOPLE: &[&str] = &[
        "sister",
        "brother",
        "mum",
        "mom",
        "mother",
        "dad",
        "father",
        "wife",
        "husband",
        "partner",
        "son",
        "daughter",
        "friend",
        "boss",
        "girlfriend",
        "boyfriend",
        "grandma",
        "grandmother",
        "grandpa",
        "grandfather",
        "aunt",
        "uncle",
        "cousin",
        "colleague",
        "neighbour",
        "neighbor",
        "kids",
        "children",
    ];
    let lower = text.to_lowercase();
    if lower.starts_with("i like")
        || lower.starts_with("i love")
        || lower.starts_with("i prefer")
        || lower.starts_with("i hate")
        || lower.starts_with("i don't like")
        || lower.starts_with("i do not like")
    {
        return Some("preference");
    }
    if lower.starts_with("my ") && first(PEOPLE) {
        return Some("person");
    }
    None
}

/// How well `item`'s title matches `q`: (share of the query's words found, share of the
/// title's words that were asked for).
fn score(item: &Value, q: &str) -> (f64, f64) {
    let qw = grammar::key_words(q);
    let tw = grammar::key_words(item["title"].as_str().unwrap_or_default());
    if qw.is_empty() || tw.is_empty() {
        return (0.0, 0.0);
    }
    let found = qw
        .iter()
        .filter(|a| tw.iter().any(|b| grammar::word_match(a, b)))
        .count();
    let used = tw
        .iter()
        .filter(|b| qw.iter().any(|a| grammar::word_match(a, b)))
        .count();
    (
        found as f64 / qw.len() as f64,
        used as f64 / tw.len() as f64,
    )
}

enum Choice<'a> {
    One(&'a Value),
    /// Equally good matches: ask which (up to three titles).
    Several(Vec<String>),
    None,
}

fn titles(items: &[&Value]) -> Vec<String> {
    items
        .iter()
        .take(3)
        .map(|t| t["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The one item `q` names: a title equal to it, else the best match. `loose`: the items
/// were not searched for, so at least half of the query's words must be in the title.
fn choose<'a>(items: &'a [Value], q: &str, loose: bool) -> Choice<'a> {
    let norm = |s: &str| grammar::key_words(s).join(" ");
    let exact: Vec<&Value> = items
        .iter()
        .filter(|t| norm(t["title"].as_str().unwrap_or_default()) == norm(q))
        .collect();
    match exact.as_slice() {
        [one] => return Choice::One(one),
        [_, _, ..] => return Choice::Several(titles(&exact)),
        [] => {}
    }
    if !loose && items.len() == 1 {
        // The search found exactly one (it stems words, so trust it).
        return Choice::One(&items[0]);
    }
    let good: Vec<(&Value, f64)> = items
        .iter()
        .filter_map(|t| {
            let (found, used) = score(t, q);
            (!loose || found >= 0.5).then_some((t, found * 10.0 + used))
        })
        .collect();
    let best = good.iter().map(|(_, s)| *s).fold(f64::MIN, f64::max);
    let top: Vec<&Value> = good
        .iter()
        .filter(|(_, s)| (*s - best).abs() < 1e-9)
        .map(|(t, _)| *t)
        .collect();
    match top.as_slice() {
        [] => Choice::None,
        [one] if best > 0.0 => Choice::One(one),
        _ => Choice::Several(titles(&good.iter().map(|(t, _)| *t).collect::<Vec<_>>())),
    }
}

/// Find the task `q` names (a search, then every open task when the search finds none),
/// then call `tool` on it; read the result back with `done`.
fn act_on_task(
    turn: &Turn<'_>,
    q: &str,
    tools: &[&str],
    verb: &str,
    tool: &str,
    args: impl Fn(&Value) -> Value,
    done: impl Fn(&Value, &Value) -> String,
) -> Step {
    for t in ["list_tasks", tool] {
        if !tools.contains(&t) {
            return cant(t);
        }
    }
    let lists: Vec<&Done> = turn
        .done
        .iter()
        .filter(|d| d.name == "list_tasks")
        .collect();
    let acted = turn.done.iter().find(|d| d.name == tool);
    if let Some(r) = acted {
        if r.failed() {
            return say(reply::failed(
                &format!("{verb} {}", reply::quoted(q)),
                &r.result,
            ));
        }
        // The task as it was found, for results without a title (delete answers nothing).
        let target = lists
            .iter()
            .flat_map(|l| l.items())
            .find(|t| t.get("id") == r.args.get("id"))
            .unwrap_or_else(|| json!({"title": q}));
        return say(done(&r.result, &target));
    }
    let Some(list) = lists.last() else {
        return call("list_tasks", json!({"query": q}));
    };
    if list.failed() {
        return say(reply::failed("read your list", &list.result));
    }
    let items = list.items();
    let searched = list.args.get("query").is_some();
    match choose(&items, q, !searched) {
        Choice::One(t) => call(tool, args(t)),
        Choice::Several(titles) => say(format!(
            "{ASK_WHICH}{verb}: {}?",
            reply::or_list(&titles.iter().map(|t| reply::quoted(t)).collect::<Vec<_>>())
        )),
        Choice::None if searched => call("list_tasks", json!({})),
        Choice::None => say(format!(
            "I couldn't find an open task called {}.",
            reply::quoted(q)
        )),
    }
}

/// The zone and local time the context wrote, else UTC and the real clock.
pub fn clock_of(messages: &[ChatMessage]) -> DateTime<Tz> {
    messages
        .iter()
        .filter(|m| m.role == Role::System)
        .find_map(|m| parse_clock(&m.content))
        .unwrap_or_else(|| Utc::now().with_timezone(&chrono_tz::UTC))
}

#[derive(Debug, Default)]
pub struct CommandsLlm;

#[async_trait]
impl LlmProvider for CommandsLlm {
    fn name(&self) -> &str {
        "commands"
    }

    async fn stream_chat(&self, req: LlmRequest) -> Result<LlmStream, ProviderError> {
        let now = clock_of(&req.messages);
        let tools: Vec<&str> = req.tools.iter().map(|t| t.name.as_str()).collect();
        let step = decide(&req.messages, now, &tools);
        let input = req.estimate_input_tokens();
        let mut req = req;
        req.model = Some(MODEL.to_string());
        let round = req
            .messages
            .iter()
            .rev()
            .take_while(|m| m.role != Role::User)
            .filter(|m| m.role == Role::Assistant)
            .count();
        LlmStream::spawn(
            "commands",
            &req,
            std::time::Duration::from_secs(5),
            move |sink| async move {
                let (output, finish) = match step {
                    Step::Say(text) => {
                        for word in text.split_inclusive(' ') {
                            if !sink.send(LlmEvent::Text(word.to_string())).await {
                                return;
                            }
                        }
                        (estimate_tokens(&text), FinishReason::Stop)
                    }
                    Step::Calls(calls) => {
                        let mut out = 0;
                        for (index, c) in calls.into_iter().enumerate() {
                            let arguments = c.arguments.to_string();
                            out += estimate_tokens(&c.name) + estimate_tokens(&arguments);
                            let ev = LlmEvent::ToolCallDelta {
                                index,
                                id: Some(format!("cmd_{round}_{index}")),
                                name: Some(c.name),
                                arguments,
                            };
                            if !sink.send(ev).await {
                                return;
                            }
                        }
                        (out, FinishReason::ToolCalls)
                    }
                };
                // A local engine's own count: exact for what it produced, so not "estimated".
                sink.state().set_usage(Usage {
                    input_tokens: input,
                    output_tokens: output,
                    estimated: false,
                });
                let done = sink.state().done(finish);
                sink.send(done).await;
            },
        )
        .await
    }
}
