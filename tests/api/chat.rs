//! Chat against the in-process vendor simulator: replies, streaming (SSE and WebSocket),
//! tools acting on the user's data, cancel, context, billing, BOLA and provider failure.

use std::time::Duration;

use cadence::{
    sim::{self, Failure, Reply, Script, Service, SimConfig, SimHandle, SimToolCall, SimUsage},
    wallet::pricing::{self, LlmUsage},
};
use futures::SinkExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::helpers::{
    TestApp, TestUser, WsStream, assert_problem, json_with, spawn_app_with, ws_next_json,
};

pub const KEY: &str = "sk-sim-chat";

/// The server with every vendor pointed at a fresh simulator.
pub async fn chat_app(pool: PgPool, extra: &[(&str, &str)]) -> (TestApp, SimHandle) {
    let s = sim::spawn(SimConfig {
        api_key: Some(KEY.into()),
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let overrides = s.settings_overrides(KEY);
    let mut pairs: Vec<(&str, &str)> = overrides
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.extend_from_slice(extra);
    (spawn_app_with(pool, &pairs).await, s)
}

pub fn call(id: &str, name: &str, arguments: &str) -> SimToolCall {
    SimToolCall {
        id: Some(id.into()),
        name: name.into(),
        arguments: arguments.into(),
    }
}

pub fn tool_reply(calls: Vec<SimToolCall>) -> Script {
    Script::new(
        Service::Llm,
        Reply {
            tool_calls: calls,
            ..Default::default()
        },
    )
}

async fn new_conversation(app: &TestApp, user: &TestUser) -> String {
    let c = app
        .create("/api/v1/conversations", &user.access_token, &json!({}))
        .await;
    c["id"].as_str().unwrap().to_string()
}

async fn say(app: &TestApp, user: &TestUser, conv: &str, content: &str) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/conversations/{conv}/messages"),
        Some(&user.access_token),
        &json!({"content": content}),
    )
    .await
}

async fn messages(app: &TestApp, user: &TestUser, conv: &str) -> Vec<Value> {
    app.all_pages(
        &format!("/api/v1/conversations/{conv}/messages"),
        &user.access_token,
        2,
    )
    .await
}

/// `(event, data)` pairs of a whole SSE body.
async fn sse_events(resp: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let body = resp.text().await.unwrap();
    let mut out = Vec::new();
    for block in body.split("\n\n") {
        let mut name = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(n) = line.strip_prefix("event:") {
                name = Some(n.trim().to_string());
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim_start());
            }
        }
        if let Some(name) = name {
            out.push((name, serde_json::from_str(&data).unwrap()));
        }
    }
    out
}

async fn say_sse(
    app: &TestApp,
    user: &TestUser,
    conv: &str,
    content: &str,
) -> Vec<(String, Value)> {
    let resp = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(&user.access_token),
        )
        .header("accept", "text/event-stream")
        .json(&json!({"content": content}))
        .send()
        .await
        .unwrap();
    sse_events(resp).await
}

async fn chat_ws(app: &TestApp, user: &TestUser, conv: &str) -> WsStream {
    app.ws_connect(&format!("/api/v1/chat/{conv}"), Some(&user.access_token))
        .await
        .expect("chat websocket")
}

async fn ws_send(ws: &mut WsStream, v: Value) {
    ws.send(WsMessage::Text(v.to_string().into()))
        .await
        .unwrap();
}

/// WebSocket events until `assistant_message` or `error` (inclusive).
async fn ws_until_reply(ws: &mut WsStream) -> Vec<Value> {
    let mut out = Vec::new();
    while let Some(v) = ws_next_json(ws, 30).await {
        let done = v["type"] == "assistant_message" || v["type"] == "error";
        out.push(v);
        if done {
            break;
        }
    }
    out
}

/// The chat_debit entries of the user.
async fn chat_debits(app: &TestApp, user: &TestUser) -> Vec<Value> {
    app.all_pages("/api/v1/wallet/transactions", &user.access_token, 100)
        .await
        .into_iter()
        .filter(|t| t["kind"] == "chat_debit")
        .collect()
}

#[sqlx::test]
async fn reply_is_stored_and_returned(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let conv = new_conversation(&app, &user).await;
    s.script(Script::llm_text("Hello there, how can I help?"));

    let body = json_with(
        say(&app, &user, &conv, "Hi Cadence").await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(body["user_message"]["role"], "user");
    assert_eq!(body["user_message"]["content"], "Hi Cadence");
    assert_eq!(body["assistant_message"]["role"], "assistant");
    assert_eq!(
        body["assistant_message"]["content"],
        "Hello there, how can I help?"
    );
    assert_eq!(body["assistant_message"]["conversation_id"], conv.as_str());
    assert!(
        body["assistant_message"]["usage"]["output_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(body["assistant_message"]["agent_id"].is_string());

    let list = messages(&app, &user, &conv).await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], body["user_message"]["id"]);
    assert_eq!(list[1]["id"], body["assistant_message"]["id"]);

    let c = json_with(
        app.get(&format!("/api/v1/conversations/{conv}"), &user.access_token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["title"], "Hi Cadence");
    assert!(c["last_message_at"].is_string());

    // A second turn carries the first exchange as history.
    s.script(Script::llm_text("Sure."));
    json_with(
        say(&app, &user, &conv, "And again").await,
        StatusCode::CREATED,
    )
    .await;
    let last = s.log_for("openai.chat").pop().unwrap();
    let sent: Vec<String> = last.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(sent.iter().any(|c| c == "Hi Cadence"), "{sent:?}");
    assert!(sent.iter().any(|c| c == "Hello there, how can I help?"));
    assert_eq!(sent.last().unwrap(), "And again");
    assert_eq!(messages(&app, &user, &conv).await.len(), 4);
}

#[sqlx::test]
async fn sse_streams_user_message_deltas_then_assistant_message(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let conv = new_conversation(&app, &user).await;
    s.script(Script::llm_text("one two three four five"));

    let events = say_sse(&app, &user, &conv, "count to five").await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"user_message"), "{names:?}");
    assert_eq!(names.last(), Some(&"assistant_message"), "{names:?}");
    assert!(names[1..names.len() - 1].iter().all(|n| *n == "delta"));
    assert!(names.len() >= 4, "several deltas: {names:?}");
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "one two three four five");
    assert_eq!(
        events.last().unwrap().1["content"],
        "one two three four five"
    );
    assert_eq!(events[0].1["content"], "count to five");
    assert_eq!(messages(&app, &user, &conv).await.len(), 2);
}

#[sqlx::test]
async fn websocket_streams_user_message_deltas_then_assistant_message(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let conv = new_conversation(&app, &user).await;
    s.script(Script::llm_text("alpha beta gamma"));

    let mut ws = chat_ws(&app, &user, &conv).await;
    ws_send(
        &mut ws,
        json!({"type": "message", "content": "greek letters"}),
    )
    .await;
    let events = ws_until_reply(&mut ws).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"user_message"), "{types:?}");
    assert_eq!(types.last(), Some(&"assistant_message"), "{types:?}");
    assert!(types[1..types.len() - 1].iter().all(|t| *t == "delta"));
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "delta")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "alpha beta gamma");
    assert_eq!(events.last().unwrap()["content"], "alpha beta gamma");

    // A second message on the same socket.
    s.script(Script::llm_text("delta"));
    ws_send(&mut ws, json!({"type": "message", "content": "next"})).await;
    let events = ws_until_reply(&mut ws).await;
    assert_eq!(events.last().unwrap()["content"], "delta");
    assert_eq!(messages(&app, &user, &conv).await.len(), 4);
}

#[sqlx::test]
async fn a_tool_call_creates_the_task_with_source_chat(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let conv = new_conversation(&app, &user).await;
    s.script(tool_reply(vec![call(
        "call_1",
        "create_task",
        r#"{"title":"Water the plants","priority":"high"}"#,
    )]));
    s.script(Script::llm_text("Done, I added it."));

    let events = say_sse(&app, &user, &conv, "create a task called Water the plants").await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let tool_at = names
        .iter()
        .position(|n| *n == "tool_call")
        .expect("tool_call event");
    assert!(tool_at > 0 && tool_at < names.len() - 1, "{names:?}");
    let tc = &events[tool_at].1;
    assert_eq!(tc["name"], "create_task");
    assert_eq!(tc["arguments"]["title"], "Water the plants");
    assert_eq!(tc["result"]["title"], "Water the plants");
    let reply = &events.last().unwrap().1;
    assert_eq!(reply["content"], "Done, I added it.");
    assert_eq!(reply["tool_calls"][0]["name"], "create_task");
    assert_eq!(reply["tool_calls"][0]["is_error"], false);
    let task_id = reply["tool_calls"][0]["result"]["id"].as_str().unwrap();

    let task = json_with(
        app.get(&format!("/api/v1/tasks/{task_id}"), &user.access_token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(task["title"], "Water the plants");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["source"], "chat");
    assert_eq!(task["source_reference"], conv.as_str());

    // The stored message keeps the call, and the model saw the result.
    let list = messages(&app, &user, &conv).await;
    assert_eq!(list[1]["tool_calls"][0]["result"]["id"], task_id);
    let log = s.log_for("openai.chat");
    assert_eq!(log.len(), 2);
    let tools: Vec<&str> = log[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"create_task") && tools.contains(&"recall"),
        "{tools:?}"
    );
    let second = log[1].body["messages"].as_array().unwrap();
    let tool_msg = second
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("tool result sent");
    assert_eq!(tool_msg["tool_call_id"], "call_1");
    assert!(tool_msg["content"].as_str().unwrap().contains(task_id));
}

#[sqlx::test]
async fn a_two_step_tool_loop_runs_every_call_in_order(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let conv = new_conversation(&app, &user).await;
    s.script(tool_reply(vec![call(
        "c1",
        "remember",
        r#"{"content":"Prefers morning workouts","memory_type":"preference"}"#,
    )]));
    s.script(tool_reply(vec![call(
        "c2",
        "create_note",
        r#"{"title":"Workout plan","content":"Mon: run\nWed: swim"}"#,
    )]));
    s.script(Script::llm_text("Saved both."));

    let body = json_with(
        say(&app, &user, &conv, "plan my workouts").await,
        StatusCode::CREATED,
    )
    .await;
    let calls = body["assistant_message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["name"], "remember");
    assert_eq!(calls[1]["name"], "create_note");
    assert_eq!(body["assistant_message"]["content"], "Saved both.");
    assert_eq!(s.log_for("openai.chat").len(), 3);

    let mems = app
        .all_pages("/api/v1/memories", &user.access_token, 20)
        .await;
    assert_eq!(mems.len(), 1);
    assert_eq!(mems[0]["content"], "Prefers morning workouts");
    assert_eq!(mems[0]["source"], "chat");
    let notes = app
        .all_pages("/api/v1/notes?q=swim", &user.access_token, 20)
        .await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["title"], "Workout plan");
    // Usage is summed over the three model calls.
    let log = s.log_for("openai.chat");
    assert!(log.iter().all(|e| e.completed));
}

#[sqlx::test]
async fn invalid_tool_arguments_go_back_to_the_model_as_errors(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let other = app.new_user().await;
    let foreign = app
        .create(
            "/api/v1/tasks",
            &other.access_token,
            &json!({"title": "Not yours"}),
        )
        .await;
    let conv = new_conversation(&app, &user).await;
    s.script(tool_reply(vec![
        call("bad_json", "create_task", r#"{"title": "#),
        call("bad_type", "create_task", r#"{"title": 42}"#),
        call("empty", "create_task", r#"{"title": "   "}"#),
        call(
            "foreign",
            "complete_task",
            &json!({"id": foreign["id"]}).to_string(),
        ),
        call("unknown", "delete_everything", "{}"),
    ]));
    s.script(Script::llm_text("Sorry, I could not do that."));

    let body = json_with(
        say(&app, &user, &conv, "do things").await,
        StatusCode::CREATED,
    )
    .await;
    let calls = body["assistant_message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 5);
    assert!(calls.iter().all(|c| c["is_error"] == true), "{calls:?}");
    assert_eq!(calls[2]["result"]["errors"][0]["field"], "title");
    assert_eq!(calls[3]["result"]["error"], "not found");
    assert_eq!(
        body["assistant_message"]["content"],
        "Sorry, I could not do that."
    );

    // Nothing was created or changed; the other user's task is untouched.
    assert!(
        app.all_pages("/api/v1/tasks", &user.access_token, 20)
            .await
            .is_empty()
    );
    let t = json_with(
        app.get(
            &format!("/api/v1/tasks/{}", foreign["id"].as_str().unwrap()),
            &other.access_token,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(t["status"], "todo");
    // The model got the five error results.
    let second = &s.log_for("openai.chat")[1];
    let results: Vec<&Value> = second.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert_eq!(results.len(), 5);
    assert!(
        results
            .iter()
            .all(|m| m["content"].as_str().unwrap().contains("error"))
    );
}

#[sqlx::test]
async fn cancel_over_the_websocket_stores_the_partial_reply(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let conv = new_conversation(&app, &user).await;
    let full: String = (0..400).map(|i| format!("word{i} ")).collect();
    s.script(Script::new(
        Service::Llm,
        Reply {
            text: Some(full.clone()),
            token_delay_ms: Some(20),
            ..Default::default()
        },
    ));

    let mut ws = chat_ws(&app, &user, &conv).await;
    ws_send(&mut ws, json!({"type": "message", "content": "talk a lot"})).await;
    let first = ws_next_json(&mut ws, 30).await.unwrap();
    assert_eq!(first["type"], "user_message");
    let delta = ws_next_json(&mut ws, 30).await.unwrap();
    assert_eq!(delta["type"], "delta");
    ws_send(&mut ws, json!({"type": "cancel"})).await;
    let events = ws_until_reply(&mut ws).await;
    let reply = events.last().unwrap();
    assert_eq!(reply["type"], "assistant_message", "{events:?}");
    let partial = reply["content"].as_str().unwrap();
    assert!(!partial.is_empty());
    assert!(partial.len() < full.len(), "the reply was cut short");
    assert!(full.starts_with(partial));
    assert_eq!(reply["usage"]["estimated"], true);

    let log = s
        .wait_for_log(
            |l| l.iter().any(|e| e.service == "openai.chat" && e.cancelled),
            Duration::from_secs(10),
        )
        .await;
    let entry = log.iter().find(|e| e.service == "openai.chat").unwrap();
    assert!(entry.cancelled && !entry.completed, "{entry:?}");
    let list = messages(&app, &user, &conv).await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["content"], partial);
    // The partial reply was billed once.
    assert_eq!(chat_debits(&app, &user).await.len(), 1);
}

#[sqlx::test]
async fn the_llm_request_carries_memories_and_due_tasks(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    app.patch_json(
        "/api/v1/users/me",
        &user.access_token,
        &json!({"timezone": "Europe/Paris"}),
    )
    .await;
    app.create(
        "/api/v1/memories",
        &user.access_token,
        &json!({"content": "Her sister Alice adores tulips", "memory_type": "person"}),
    )
    .await;
    let today = chrono::Utc::now().date_naive();
    app.create(
        "/api/v1/tasks",
        &user.access_token,
        &json!({"title": "Call the dentist", "due_date": today.to_string()}),
    )
    .await;
    app.create(
        "/api/v1/tasks",
        &user.access_token,
        &json!({"title": "Someday learn Greek", "due_date": (today + chrono::Duration::days(90)).to_string()}),
    )
    .await;
    app.create(
        "/api/v1/goals",
        &user.access_token,
        &json!({"title": "Run a half marathon"}),
    )
    .await;
    let conv = new_conversation(&app, &user).await;
    s.script(Script::llm_text("Tulips!"));
    json_with(
        say(
            &app,
            &user,
            &conv,
            "Which flowers should I buy for my sister?",
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    let req = &s.log_for("openai.chat")[0];
    let msgs = req.body["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "system");
    let system = msgs[0]["content"].as_str().unwrap();
    assert!(system.contains("You are Cadence"), "agent prompt");
    assert!(system.contains("Test User"), "user's name");
    assert!(system.contains("Europe/Paris"), "time zone");
    assert!(system.contains("Alice adores tulips"), "memory: {system}");
    assert!(system.contains("Call the dentist"), "due task: {system}");
    assert!(!system.contains("Someday learn Greek"), "not due soon");
    assert!(system.contains("Run a half marathon"), "active goal");
    assert_eq!(
        msgs.last().unwrap()["content"],
        "Which flowers should I buy for my sister?"
    );
}

#[sqlx::test]
async fn the_ledger_entry_equals_the_cost_of_the_usage(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let conv = new_conversation(&app, &user).await;
    let (before, _, _) = app.wallet(&user.access_token).await;
    s.script(tool_reply(vec![call("c", "list_tasks", "{}")]));
    s.script(Script::new(
        Service::Llm,
        Reply {
            text: Some("Here you go.".into()),
            usage: Some(SimUsage {
                input_tokens: 1500,
                output_tokens: 700,
            }),
            ..Default::default()
        },
    ));
    let body = json_with(
        say(&app, &user, &conv, "what is on my list?").await,
        StatusCode::CREATED,
    )
    .await;
    let usage = &body["assistant_message"]["usage"];
    let model = usage["model"].as_str().unwrap();
    assert_eq!(model, "gpt-4o-mini");
    let input = usage["input_tokens"].as_u64().unwrap();
    let output = usage["output_tokens"].as_u64().unwrap();
    assert!(
        input > 1500 && output > 700,
        "summed over both calls: {usage}"
    );
    let expected = pricing::cost(
        &app.state.settings.pricing,
        &pricing::Usage {
            llm: vec![LlmUsage::new(model, input, output)],
            ..Default::default()
        },
    )
    .total_credits;
    assert!(expected > 0);
    assert_eq!(usage["credits"], expected);

    let debits = chat_debits(&app, &user).await;
    assert_eq!(debits.len(), 1, "exactly one entry per reply");
    assert_eq!(debits[0]["amount"], -expected);
    assert_eq!(debits[0]["reference_id"], body["assistant_message"]["id"]);
    let (after, _, _) = app.wallet(&user.access_token).await;
    assert_eq!(after, before - expected);
}

#[sqlx::test]
async fn an_empty_wallet_gets_402_before_the_model_is_called(pool: PgPool) {
    let (app, s) = chat_app(pool, &[("CADENCE__BILLING__SIGNUP_CREDITS", "0")]).await;
    let user = app.new_user().await;
    let conv = new_conversation(&app, &user).await;
    assert_eq!(app.wallet(&user.access_token).await.0, 0);
    assert_problem(
        say(&app, &user, &conv, "hello?").await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_credits",
    )
    .await;
    assert!(
        s.log_for("openai.chat").is_empty(),
        "the model was not called"
    );
    assert!(chat_debits(&app, &user).await.is_empty());

    let mut ws = chat_ws(&app, &user, &conv).await;
    ws_send(&mut ws, json!({"type": "message", "content": "hello?"})).await;
    let ev = ws_next_json(&mut ws, 30).await.unwrap();
    assert_eq!(ev["type"], "error");
    assert_eq!(ev["code"], "insufficient_credits");
    assert!(s.log_for("openai.chat").is_empty());
}

#[sqlx::test]
async fn conversations_messages_and_the_socket_are_private(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let owner = app.new_user().await;
    let intruder = app.new_user().await;
    let conv = new_conversation(&app, &owner).await;
    s.script(Script::llm_text("private answer"));
    json_with(
        say(&app, &owner, &conv, "secret").await,
        StatusCode::CREATED,
    )
    .await;
    let t = &intruder.access_token;

    let paths = [
        format!("/api/v1/conversations/{conv}"),
        format!("/api/v1/conversations/{conv}/messages"),
    ];
    for p in &paths {
        assert_problem(app.get(p, t).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_problem(
        app.patch_json(&paths[0], t, &json!({"title": "mine"}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.delete(&paths[0], t).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        say(&app, &intruder, &conv, "let me in").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(
        app.all_pages("/api/v1/conversations", t, 20)
            .await
            .is_empty()
    );
    let err = app
        .ws_connect(&format!("/api/v1/chat/{conv}"), Some(t))
        .await
        .expect_err("refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            assert_eq!(resp.status().as_u16(), 404)
        }
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
    assert!(
        app.ws_connect(&format!("/api/v1/chat/{conv}"), None)
            .await
            .is_err()
    );
    // The owner's conversation is intact, and the model was called once.
    assert_eq!(messages(&app, &owner, &conv).await.len(), 2);
    assert_eq!(s.log_for("openai.chat").len(), 1);
    // Another user's agent cannot be used either.
    let agent = app
        .create(
            "/api/v1/agents",
            &owner.access_token,
            &json!({"name": "Mine", "system_prompt": "x"}),
        )
        .await;
    let mine = new_conversation(&app, &intruder).await;
    let resp = app
        .post_json(
            &format!("/api/v1/conversations/{mine}/messages"),
            Some(t),
            &json!({"content": "hi", "agent_id": agent["id"]}),
        )
        .await;
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "agent_id");
}

#[sqlx::test]
async fn conversation_crud(pool: PgPool) {
    let (app, _s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let t = &user.access_token;
    let resp = app
        .post_json(
            "/api/v1/conversations",
            Some(t),
            &json!({"title": "Trip", "agent_id": "019a0000-0000-7000-8000-000000000002"}),
        )
        .await;
    assert!(resp.headers().contains_key("location"));
    let c = json_with(resp, StatusCode::CREATED).await;
    assert_eq!(c["title"], "Trip");
    let id = c["id"].as_str().unwrap();
    let p = format!("/api/v1/conversations/{id}");
    let c = json_with(
        app.patch_json(&p, t, &json!({"title": "Trip to Rome", "agent_id": null}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["title"], "Trip to Rome");
    assert!(c["agent_id"].is_null());
    let resp = app
        .post_json(
            "/api/v1/conversations",
            Some(t),
            &json!({"user_id": user.id}),
        )
        .await;
    assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(app.all_pages("/api/v1/conversations", t, 1).await.len(), 1);
    assert_eq!(app.delete(&p, t).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&p, t).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[sqlx::test]
async fn a_provider_failure_is_502_and_keeps_the_user_message(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let agent = app
        .create(
            "/api/v1/agents",
            &user.access_token,
            &json!({"name": "No fallback", "system_prompt": "Be brief.",
                    "llm": {"provider": "openai", "model": "gpt-4o-mini", "fallbacks": []}}),
        )
        .await;
    let conv = app
        .create(
            "/api/v1/conversations",
            &user.access_token,
            &json!({"agent_id": agent["id"]}),
        )
        .await;
    let conv = conv["id"].as_str().unwrap();
    s.script(Script::fail(Service::Llm, Failure::Status { status: 500 }));
    let body = assert_problem(
        say(&app, &user, conv, "are you there?").await,
        StatusCode::BAD_GATEWAY,
        "provider_error",
    )
    .await;
    assert!(!body["detail"].as_str().unwrap().contains("sk-"));
    let list = messages(&app, &user, conv).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["content"], "are you there?");
    assert!(
        chat_debits(&app, &user).await.is_empty(),
        "nothing used, nothing billed"
    );

    // Streaming: the same failure is an `error` event after `user_message`.
    s.script(Script::fail(Service::Llm, Failure::Status { status: 500 }));
    let events = say_sse(&app, &user, conv, "still there?").await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["user_message", "error"]);
    assert_eq!(events[1].1["code"], "provider_error");
    assert_eq!(messages(&app, &user, conv).await.len(), 2);
}

#[sqlx::test]
async fn a_reply_is_announced_on_the_event_stream(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    // `since=0`: the stream is complete and in order from the start (nothing is lost while
    // the socket subscribes), beginning with the signup's own `wallet.updated`.
    let mut events = app
        .ws_connect("/api/v1/events?since=0", Some(&user.access_token))
        .await
        .expect("events socket");
    let conv = new_conversation(&app, &user).await;
    s.script(Script::llm_text("noted"));
    let body = json_with(
        say(&app, &user, &conv, "note this").await,
        StatusCode::CREATED,
    )
    .await;
    let balance = app.wallet(&user.access_token).await.0;

    let mut seen: Vec<(String, Value)> = Vec::new();
    let assistant_id = body["assistant_message"]["id"].clone();
    let complete = |seen: &[(String, Value)]| {
        seen.iter()
            .any(|(k, d)| k == "message.created" && d["id"] == assistant_id)
            && seen
                .iter()
                .any(|(k, d)| k == "wallet.updated" && d["balance"] == balance)
    };
    while !complete(&seen) {
        let Some(ev) = ws_next_json(&mut events, 30).await else {
            break;
        };
        seen.push((ev["type"].as_str().unwrap().to_string(), ev["data"].clone()));
    }
    // The chat's own events start after the signup's `wallet.updated`.
    let all: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
    let kinds: Vec<&str> = all
        .iter()
        .copied()
        .skip_while(|k| *k == "wallet.updated")
        .collect();
    assert_eq!(kinds.first(), Some(&"conversation.created"), "{all:?}");
    let created: Vec<&Value> = seen
        .iter()
        .filter(|(k, _)| k == "message.created")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(created.len(), 2, "{kinds:?}");
    assert_eq!(created[0]["id"], body["user_message"]["id"]);
    assert_eq!(created[1]["id"], body["assistant_message"]["id"]);
    assert!(kinds.contains(&"conversation.updated"));
    let wallet = &seen
        .iter()
        .rev()
        .find(|(k, _)| k == "wallet.updated")
        .unwrap()
        .1;
    assert_eq!(wallet["balance"], balance);
}
