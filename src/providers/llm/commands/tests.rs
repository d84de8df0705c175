//! The grammar as a table: utterance (with the history and tool results the model would
//! see) → exactly the next step. "Now" is Wednesday 2 December 2026, 15:57 in Lisbon
//! (UTC+0) unless a row says otherwise.

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::*;
use crate::providers::llm::prompt::clock_lines;

const TASKS: &[&str] = &[
    "create_task",
    "list_tasks",
    "update_task",
    "complete_task",
    "delete_task",
];
/// Everything, including the tools other branches add (`snooze_task`, the schedule).
const ALL: &[&str] = &[
    "create_task",
    "list_tasks",
    "update_task",
    "complete_task",
    "delete_task",
    "snooze_task",
    "create_note",
    "search_notes",
    "remember",
    "recall",
    "create_goal",
    "list_goals",
    "update_goal_progress",
    "add_reflection",
    "plan_day",
    "get_schedule",
    "get_wallet",
];
const NO_SCHEDULE: &[&str] = &[
    "create_task",
    "list_tasks",
    "update_task",
    "complete_task",
    "delete_task",
    "create_note",
    "search_notes",
    "remember",
    "recall",
    "create_goal",
    "list_goals",
    "update_goal_progress",
    "get_wallet",
];

fn at(zone: &str, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Tz> {
    let tz: Tz = zone.parse().unwrap();
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn lisbon() -> DateTime<Tz> {
    at("Europe/Lisbon", 2026, 12, 2, 15, 57)
}

/// One row: what came before, what the user says, the tool rounds since.
struct Row {
    now: DateTime<Tz>,
    history: Vec<ChatMessage>,
    text: &'static str,
    rounds: Vec<(&'static str, Value, Value)>,
    tools: &'static [&'static str],
}

fn row(text: &'static str) -> Row {
    Row {
        now: lisbon(),
        history: Vec::new(),
        text,
        rounds: Vec::new(),
        tools: ALL,
    }
}

impl Row {
    fn after(mut self, user: &str, assistant: &str) -> Self {
        self.history.push(ChatMessage::user(user));
        self.history.push(ChatMessage::assistant(assistant));
        self
    }
    fn said(mut self, assistant: &str) -> Self {
        self.history.push(ChatMessage::assistant(assistant));
        self
    }
    fn then(mut self, name: &'static str, args: Value, result: Value) -> Self {
        self.rounds.push((name, args, result));
        self
    }
    fn at(mut self, now: DateTime<Tz>) -> Self {
        self.now = now;
        self
    }
    fn tools(mut self, tools: &'static [&'static str]) -> Self {
        self.tools = tools;
        self
    }
    fn messages(&self) -> Vec<ChatMessage> {
        let mut m = vec![ChatMessage::system(format!(
            "You are Cadence.\n\nAbout the user:\n{}",
            clock_lines(&self.now)
        ))];
        m.extend(self.history.iter().cloned());
        m.push(ChatMessage::user(self.text));
        for (i, (name, args, result)) in self.rounds.iter().enumerate() {
            let id = format!("r{i}");
            m.push(ChatMessage::assistant_tool_calls(
                "",
                vec![ToolCall {
                    id: id.clone(),
                    name: name.to_string(),
                    arguments: args.to_string(),
                }],
            ));
            m.push(ChatMessage::tool_result(id, result.to_string()));
        }
        m
    }
    fn step(&self) -> Step {
        // The clock is read back from the system message, as the provider does.
        let now = clock_of(&self.messages());
        assert_eq!(now, self.now, "the clock round-trips");
        decide(&self.messages(), now, self.tools)
    }
}

fn calls(name: &str, args: Value) -> Step {
    call(name, args)
}

fn says(text: &str) -> Step {
    say(text)
}

fn task(id: &str, title: &str) -> Value {
    json!({"id": id, "title": title, "status": "todo", "priority": "medium",
           "due_date": null, "due_time": null, "remind_at": null})
}

fn task_due(id: &str, title: &str, date: &str, time: Option<&str>) -> Value {
    let mut t = task(id, title);
    t["due_date"] = json!(date);
    t["due_time"] = json!(time);
    t
}

fn refusal() -> Step {
    says(&format!("{CANT}{UNKNOWN}"))
}

#[test]
fn utterances_become_the_expected_steps() {
    let mum = task("t-mum", "call mum");
    let rows: Vec<(Row, Step)> = vec![
        // --- Adding tasks: titles, dates, times, priorities.
        (
            row("Create a task called buy oat milk tomorrow"),
            calls("create_task", json!({"title": "buy oat milk", "due_date": "2026-12-03"})),
        ),
        (
            row("add a task to call mum tomorrow at 5 pm"),
            calls("create_task", json!({"title": "call mum", "due_date": "2026-12-03", "due_time": "17:00"})),
        ),
        (
            row("um can you add a task to call mum tomorrow at five please"),
            calls("create_task", json!({"title": "call mum", "due_date": "2026-12-03", "due_time": "17:00"})),
        ),
        (
            row("Hey Cadence, could you please add a task to water the plants"),
            calls("create_task", json!({"title": "water the plants"})),
        ),
        (
            row("add a task called water the plants"),
            calls("create_task", json!({"title": "water the plants"})),
        ),
        (
            row("add an urgent task to renew the passport"),
            calls("create_task", json!({"title": "renew the passport", "priority": "urgent"})),
        ),
        (
            row("add a high priority task to file taxes next Friday"),
            calls("create_task", json!({"title": "file taxes", "due_date": "2026-12-11", "priority": "high"})),
        ),
        (
            row("add a task to call the bank, it's important"),
            calls("create_task", json!({"title": "call the bank", "priority": "high"})),
        ),
        (
            row("add pay rent to my to do list"),
            calls("create_task", json!({"title": "pay rent"})),
        ),
        (
            row("put water the plants on my list for tonight"),
            calls("create_task", json!({"title": "water the plants", "due_date": "2026-12-02", "due_time": "20:00"})),
        ),
        (
            row("new task book the dentist this evening"),
            calls("create_task", json!({"title": "book the dentist", "due_date": "2026-12-02", "due_time": "19:00"})),
        ),
        (
            row("I need to email Ana on Friday"),
            calls("create_task", json!({"title": "email Ana", "due_date": "2026-12-04"})),
        ),
        (
            row("okay so add buy milk"),
            calls("create_task", json!({"title": "buy milk"})),
        ),
        (
            // A recognition slip on "task".
            row("add a tast to buy bread in 20 minutes"),
            calls("create_task", json!({"title": "buy bread", "due_date": "2026-12-02", "due_time": "16:17"})),
        ),
        (
            row("add a task to pay the gas bill on the 24th at half past nine"),
            calls("create_task", json!({"title": "pay the gas bill", "due_date": "2026-12-24", "due_time": "09:30"})),
        ),
        (
            row("add a task to book flights low priority"),
            calls("create_task", json!({"title": "book flights", "priority": "low"})),
        ),
        // --- Asking back for the title, and reading the answer.
        (row("add a task"), says(ASK_TITLE)),
        (row("uh add a new task please"), says(ASK_TITLE)),
        (
            row("call the plumber").after("add a task for tomorrow", ASK_TITLE),
            calls("create_task", json!({"title": "call the plumber", "due_date": "2026-12-03"})),
        ),
        (
            row("buy a birthday card at 6 pm").after("add a task", ASK_TITLE),
            calls("create_task", json!({"title": "buy a birthday card", "due_date": "2026-12-02", "due_time": "18:00"})),
        ),
        (row("never mind").after("add a task", ASK_TITLE), says("Okay, never mind.")),
        // --- Reminders: an exact instant in the user's zone.
        (
            row("remind me to stretch in 20 minutes"),
            calls("create_task", json!({"title": "stretch", "remind_at": "2026-12-02T16:17:00Z"})),
        ),
        (
            row("remind me to take the pill tomorrow at 9 am"),
            calls("create_task", json!({"title": "take the pill", "remind_at": "2026-12-03T09:00:00Z"})),
        ),
        (
            row("remind me at six to start dinner"),
            calls("create_task", json!({"title": "start dinner", "remind_at": "2026-12-02T18:00:00Z"})),
        ),
        (
            // "remnd": one letter off.
            row("remnd me to call dad tonight"),
            calls("create_task", json!({"title": "call dad", "remind_at": "2026-12-02T20:00:00Z"})),
        ),
        (
            row("set a reminder to water the plants on Saturday"),
            calls("create_task", json!({"title": "water the plants", "remind_at": "2026-12-05T09:00:00Z"})),
        ),
        (row("remind me to call dad"), says("When should I remind you to call dad?")),
        (row("remind me"), says(ASK_REMIND_WHAT)),
        (
            row("in an hour").after("remind me to call dad", "When should I remind you to call dad?"),
            calls("create_task", json!({"title": "call dad", "remind_at": "2026-12-02T16:57:00Z"})),
        ),
        (
            row("remind me to stretch in 20 minutes").then(
                "create_task",
                json!({"title": "stretch", "remind_at": "2026-12-02T16:17:00Z"}),
                json!({"id": "t1", "title": "stretch", "remind_at": "2026-12-02T16:17:00Z", "due_date": null}),
            ),
            says("Okay, I'll remind you to stretch at 16:17."),
        ),
        // --- The clock: a DST change and other zones.
        (
            // Lisbon moves to UTC+1 overnight: 09:00 tomorrow is 08:00 UTC.
            row("remind me to take the pill tomorrow at 9 am").at(at("Europe/Lisbon", 2027, 3, 27, 10, 0)),
            calls("create_task", json!({"title": "take the pill", "remind_at": "2027-03-28T08:00:00Z"})),
        ),
        (
            row("remind me to call the office at 5 pm").at(at("America/New_York", 2026, 12, 2, 10, 57)),
            calls("create_task", json!({"title": "call the office", "remind_at": "2026-12-02T22:00:00Z"})),
        ),
        (
            // 04:57 on Thursday in Auckland: "tomorrow" is Friday there.
            row("add a task to pay the bills tomorrow").at(at("Pacific/Auckland", 2026, 12, 3, 4, 57)),
            calls("create_task", json!({"title": "pay the bills", "due_date": "2026-12-04"})),
        ),
        (
            row("add a task to pay the bills tomorrow")
                .at(at("Pacific/Auckland", 2026, 12, 3, 4, 57))
                .then(
                    "create_task",
                    json!({"title": "pay the bills", "due_date": "2026-12-04"}),
                    task_due("t1", "pay the bills", "2026-12-04", None),
                ),
            says("Added 'pay the bills' for tomorrow."),
        ),
        // --- Results become the answer; errors are said, never hidden.
        (
            row("add a task to call mum tomorrow at 5 pm").then(
                "create_task",
                json!({"title": "call mum"}),
                json!({"id": "t1", "title": "call mum", "due_date": "2026-12-03", "due_time": "17:00:00", "priority": "medium"}),
            ),
            says("Added 'call mum' for tomorrow at 17:00."),
        ),
        (
            row("add an urgent task to renew the passport").then(
                "create_task",
                json!({"title": "renew the passport"}),
                json!({"id": "t1", "title": "renew the passport", "due_date": null, "priority": "urgent"}),
            ),
            says("Added 'renew the passport' to your tasks, marked urgent."),
        ),
        (
            row("add a task to x").then(
                "create_task",
                json!({"title": "x"}),
                json!({"error": "validation failed", "errors": [{"field": "title", "message": "must not be empty"}]}),
            ),
            says("Sorry, I couldn't add that task: title must not be empty."),
        ),
        // --- Listing.
        (row("what's on my list today"), calls("list_tasks", json!({"due_before": "2026-12-02"}))),
        (row("what do I have tomorrow"), calls("list_tasks", json!({"due_before": "2026-12-03"}))),
        (row("what's on my to do list"), calls("list_tasks", json!({}))),
        (row("show my tasks"), calls("list_tasks", json!({}))),
        (row("what's overdue"), calls("list_tasks", json!({"due_before": "2026-12-01"}))),
        (
            row("what's on my list today").then(
                "list_tasks",
                json!({"due_before": "2026-12-02"}),
                json!([task_due("t1", "pay rent", "2026-11-30", None), task_due("t2", "call mum", "2026-12-02", Some("17:00:00"))]),
            ),
            says("You have 2 tasks for today: 'pay rent' (overdue) and 'call mum' at 17:00."),
        ),
        (
            row("what do I have tomorrow").then(
                "list_tasks",
                json!({"due_before": "2026-12-03"}),
                json!([task_due("t1", "call mum", "2026-12-02", None), task_due("t2", "dentist", "2026-12-03", Some("10:00:00"))]),
            ),
            says("You have 1 task for tomorrow: 'dentist' tomorrow at 10:00."),
        ),
        (
            row("show my tasks").then("list_tasks", json!({}), json!([])),
            says("Your list is empty."),
        ),
        // --- Completing: find, then act, then say (three model calls).
        (row("mark call mum done"), calls("list_tasks", json!({"query": "call mum"}))),
        (
            row("mark call mum done").then("list_tasks", json!({"query": "call mum"}), json!([mum.clone()])),
            calls("complete_task", json!({"id": "t-mum"})),
        ),
        (
            row("mark call mum done")
                .then("list_tasks", json!({"query": "call mum"}), json!([mum.clone()]))
                .then("complete_task", json!({"id": "t-mum"}), json!({"id": "t-mum", "title": "call mum", "status": "done"})),
            says("Marked 'call mum' done."),
        ),
        (row("I finished water the plants"), calls("list_tasks", json!({"query": "water the plants"}))),
        (row("tick off pay rent"), calls("list_tasks", json!({"query": "pay rent"}))),
        (
            row("mark call done").then(
                "list_tasks",
                json!({"query": "call"}),
                json!([task("a", "call mum"), task("b", "call dad"), task("c", "call the bank")]),
            ),
            says("Which one should I mark done: 'call mum', 'call dad' or 'call the bank'?"),
        ),
        (
            row("the second one").after("mark call done", "Which one should I mark done: 'call mum', 'call dad' or 'call the bank'?"),
            calls("list_tasks", json!({"query": "call dad"})),
        ),
        (
            // Misheard "mum": the search finds nothing, every open task is read and the
            // closest title wins.
            row("mark call mom done").then("list_tasks", json!({"query": "call mom"}), json!([])),
            calls("list_tasks", json!({})),
        ),
        (
            row("mark call mom done")
                .then("list_tasks", json!({"query": "call mom"}), json!([]))
                .then("list_tasks", json!({}), json!([task("b", "buy milk"), mum.clone()])),
            calls("complete_task", json!({"id": "t-mum"})),
        ),
        (
            row("mark feed the dragon done")
                .then("list_tasks", json!({"query": "feed the dragon"}), json!([]))
                .then("list_tasks", json!({}), json!([task("b", "buy milk")])),
            says("I couldn't find an open task called 'feed the dragon'."),
        ),
        (
            row("mark call mum done")
                .then("list_tasks", json!({"query": "call mum"}), json!([mum.clone()]))
                .then("complete_task", json!({"id": "t-mum"}), json!({"error": "not found"})),
            says("Sorry, I couldn't mark done 'call mum': it no longer exists."),
        ),
        (
            row("mark it done").said("Added 'call mum' for tomorrow at 17:00."),
            calls("list_tasks", json!({"query": "call mum"})),
        ),
        // --- Deleting, moving, priorities, snoozing.
        (row("delete the task buy milk"), calls("list_tasks", json!({"query": "buy milk"}))),
        (
            row("delete the task buy milk")
                .then("list_tasks", json!({"query": "buy milk"}), json!([task("b", "buy milk")]))
                .then("delete_task", json!({"id": "b"}), json!({"deleted": true})),
            says("Deleted 'buy milk'."),
        ),
        (
            row("delete buy milk").tools(&["create_task", "list_tasks", "update_task", "complete_task"]),
            says("Sorry, I can't do that offline yet: this assistant has no access to deleting tasks."),
        ),
        (
            row("move call mum to next friday").then("list_tasks", json!({"query": "call mum"}), json!([mum.clone()])),
            calls("update_task", json!({"id": "t-mum", "due_date": "2026-12-11"})),
        ),
        (
            row("move call mum to next friday")
                .then("list_tasks", json!({"query": "call mum"}), json!([mum.clone()]))
                .then("update_task", json!({"id": "t-mum"}), task_due("t-mum", "call mum", "2026-12-11", None)),
            says("Moved 'call mum' to Friday 11 December."),
        ),
        (
            row("reschedule the dentist to tomorrow at 10 am")
                .then("list_tasks", json!({"query": "dentist"}), json!([task("d", "dentist")])),
            calls("update_task", json!({"id": "d", "due_date": "2026-12-03", "due_time": "10:00"})),
        ),
        (row("move call mum"), says("When should I move 'call mum' to?")),
        (
            row("to Monday").after("move call mum", "When should I move 'call mum' to?"),
            calls("list_tasks", json!({"query": "call mum"})),
        ),
        (
            row("make call mum urgent").then("list_tasks", json!({"query": "call mum"}), json!([mum.clone()])),
            calls("update_task", json!({"id": "t-mum", "priority": "urgent"})),
        ),
        (
            row("snooze call mum for 15 minutes").then("list_tasks", json!({"query": "call mum"}), json!([mum.clone()])),
            calls("snooze_task", json!({"id": "t-mum", "minutes": 15})),
        ),
        (
            row("snooze call mum").tools(TASKS),
            says("Sorry, I can't do that offline yet: this assistant has no access to snoozing tasks."),
        ),
        // --- Notes.
        (
            row("note that the wifi code is 4471"),
            calls("create_note", json!({"title": "The wifi code is 4471", "content": "the wifi code is 4471"})),
        ),
        (
            row("make a note that the boiler was serviced today"),
            calls("create_note", json!({"title": "The boiler was serviced today", "content": "the boiler was serviced today"})),
        ),
        (
            row("note that the wifi code is 4471").then(
                "create_note",
                json!({}),
                json!({"id": "n1", "title": "The wifi code is 4471", "plain_text": "the wifi code is 4471"}),
            ),
            says("Noted: the wifi code is 4471."),
        ),
        (row("what did I note about the wifi"), calls("search_notes", json!({"query": "wifi"}))),
        (
            row("what did I note about the wifi").then(
                "search_notes",
                json!({"query": "wifi"}),
                json!([{"id": "n1", "title": "The wifi code is 4471", "plain_text": "the wifi code is 4471"}]),
            ),
            says("Your note 'The wifi code is 4471' says: the wifi code is 4471."),
        ),
        (
            row("note that the gate code is 1234").tools(TASKS),
            says("Sorry, I can't do that offline yet: this assistant has no access to your notes."),
        ),
        // --- Memories.
        (
            row("remember that my sister is called Ana"),
            calls("remember", json!({"content": "my sister is called Ana", "memory_type": "person"})),
        ),
        (
            row("remember that I prefer morning meetings"),
            calls("remember", json!({"content": "I prefer morning meetings", "memory_type": "preference"})),
        ),
        (
            row("remember that my sister is called Ana").then(
                "remember",
                json!({}),
                json!({"id": "m1", "content": "my sister is called Ana", "memory_type": "person"}),
            ),
            says("Okay, I'll remember that your sister is called Ana."),
        ),
        (row("what do you know about my sister"), calls("recall", json!({"query": "sister"}))),
        (row("what do you know about me"), calls("recall", json!({}))),
        (
            row("what do you know about my sister").then("recall", json!({"query": "sister"}), json!([])),
            says("I don't know anything about your sister yet."),
        ),
        // --- Goals.
        (
            row("my goal this month is to run 10 km"),
            calls("create_goal", json!({"title": "run 10 km", "timeframe": "monthly"})),
        ),
        (
            row("set a goal to read twelve books this year"),
            calls("create_goal", json!({"title": "read twelve books", "timeframe": "yearly"})),
        ),
        (row("how am I doing on running"), calls("list_goals", json!({}))),
        (
            row("how am I doing on running").then(
                "list_goals",
                json!({}),
                json!([{"id": "g1", "title": "run 10 km", "progress": 40}, {"id": "g2", "title": "read twelve books", "progress": 10}]),
            ),
            says("'run 10 km' is 40% done."),
        ),
        // --- The schedule (tools another branch adds; offered here by name).
        (row("plan my day"), calls("plan_day", json!({"date": "2026-12-02"}))),
        (row("plan my day tomorrow"), calls("plan_day", json!({"date": "2026-12-03"}))),
        (
            row("plan my day").tools(NO_SCHEDULE),
            says("Sorry, I can't do that offline yet: this assistant has no access to the day planner."),
        ),
        (row("what's next"), calls("get_schedule", json!({"date": "2026-12-02"}))),
        (
            row("what's next").then(
                "get_schedule",
                json!({"date": "2026-12-02"}),
                json!({"date": "2026-12-02", "blocks": [
                    {"start": "2026-12-02T15:00:00Z", "end": "2026-12-02T15:30:00Z", "kind": "task", "title": "email Ana", "task_id": "a"},
                    {"start": "2026-12-02T16:30:00Z", "end": "2026-12-02T17:00:00Z", "kind": "task", "title": "write report", "task_id": "b"}],
                    "unscheduled": []}),
            ),
            says("Next: 'write report' at 16:30."),
        ),
        (
            row("what's next").tools(NO_SCHEDULE).then(
                "list_tasks",
                json!({}),
                json!([task_due("t-mum", "call mum", "2026-12-02", Some("17:00:00"))]),
            ),
            says("Next up: 'call mum', due today at 17:00."),
        ),
        // --- The wallet.
        (row("how many credits do I have"), calls("get_wallet", json!({}))),
        (
            row("what's my balance").then("get_wallet", json!({}), json!({"balance": 500, "reserved": 0, "available": 500})),
            says("You have 500 credits available."),
        ),
        // --- Small talk, help, refusals.
        (row("hello"), says("Hi! What can I do for you?")),
        (row("hello there"), says("Hi! What can I do for you?")),
        (row("thanks"), says("You're welcome.")),
        (row(""), says(NOT_HEARD)),
        (row("um uh"), says(NOT_HEARD)),
        (
            row("what can you do"),
            says("I can add, list, complete and move tasks, set reminders, take and find notes, remember things, track goals, plan your day and tell you your credits. Try: add a task to call mum tomorrow at 5 pm."),
        ),
        (row("what's the weather like in Paris"), refusal()),
        (row("book me a flight to Rome"), refusal()),
        (row("delete my note about the wifi"), refusal()),
    ];
    let mut failures = Vec::new();
    for (i, (r, want)) in rows.iter().enumerate() {
        let got = r.step();
        if &got != want {
            failures.push(format!(
                "row {i} {:?}:\n   got {got:?}\n  want {want:?}",
                r.text
            ));
        }
    }
    assert!(rows.len() >= 60, "{} rows", rows.len());
    assert!(
        failures.is_empty(),
        "{} of {} rows:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn only_offered_tools_are_called() {
    for text in [
        "add a task to call mum",
        "what's on my list",
        "mark call mum done",
        "how many credits do I have",
        "plan my day",
    ] {
        match row(text).tools(&[]).step() {
            Step::Say(s) => assert!(s.starts_with(CANT), "{text}: {s}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn quoted_titles_keep_apostrophes() {
    assert_eq!(
        quoted_titles("Which one should I delete: 'mum's birthday', 'call dad' or 'x'?"),
        vec!["mum's birthday", "call dad", "x"]
    );
}

#[test]
fn a_notifications_call_takes_done_ok_snooze_and_the_keypad() {
    const ON_CALL: &[&str] = &[
        "create_task",
        "list_tasks",
        "complete_task",
        "answer_notification",
    ];
    let rows: Vec<(Row, Step)> = vec![
        (
            row("done").tools(ON_CALL),
            calls("answer_notification", json!({"reply": "done"})),
        ),
        (
            row("(keypad) 1").tools(ON_CALL),
            calls("answer_notification", json!({"reply": "done"})),
        ),
        (
            row("okay").tools(ON_CALL),
            calls("answer_notification", json!({"reply": "ok"})),
        ),
        (
            row("snooze 15 minutes").tools(ON_CALL),
            calls(
                "answer_notification",
                json!({"reply": "snooze", "minutes": 15}),
            ),
        ),
        (
            row("done").tools(ON_CALL).then(
                "answer_notification",
                json!({"reply": "done"}),
                json!({"notification_id": "n1", "message": "Done: 'call mum' is complete."}),
            ),
            says("Done: 'call mum' is complete."),
        ),
        // Other requests on the call still work, and without the tool "done" is not an answer.
        (
            row("add a task called water the plants").tools(ON_CALL),
            calls("create_task", json!({"title": "water the plants"})),
        ),
        (row("(keypad) 1").tools(TASKS), refusal()),
    ];
    for (r, expected) in rows {
        assert_eq!(r.step(), expected, "{:?}", r.text);
    }
}
