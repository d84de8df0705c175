//! The offline `commands` model end to end, with no provider key set: chat and voice act
//! on the user's data through the same tools a cloud model uses.

use chrono::{Duration, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{
    helpers::{TestApp, TestUser, spawn_app},
    voice::{flite_16k, of_type, read_until, send_audio, send_json},
};

/// The built-in general assistant (cloud first, `commands` last).
const ASSISTANT: &str = "019a0000-0000-7000-8000-000000000001";
const ZONE: &str = "Pacific/Kiritimati";

async fn user_in_zone(app: &TestApp) -> TestUser {
    let user = app.new_user().await;
    let resp = app
        .patch_json(
            "/api/v1/users/me",
            &user.access_token,
            &json!({"timezone": ZONE}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    user
}

fn local_today() -> NaiveDate {
    let tz: chrono_tz::Tz = ZONE.parse().unwrap();
    Utc::now().with_timezone(&tz).date_naive()
}

async fn say(app: &TestApp, user: &TestUser, conv: &str, content: &str) -> Value {
    let resp = app
        .post_json(
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(&user.access_token),
            &json!({"content": content, "agent_id": ASSISTANT}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json::<Value>().await.unwrap()["assistant_message"].clone()
}

async fn tasks(app: &TestApp, user: &TestUser, query: &str) -> Vec<Value> {
    let v: Value = app
        .get(&format!("/api/v1/tasks?{query}"), &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    v["data"].as_array().unwrap().clone()
}

#[sqlx::test]
async fn chat_acts_through_the_tools_without_any_key(pool: PgPool) {
    let app = spawn_app(pool).await;
    // No cloud vendor is configured in the test settings.
    let p = &app.state.settings.providers;
    assert!(!p.openai.configured() && !p.anthropic.configured());
    let user = user_in_zone(&app).await;
    let conv: Value = app
        .post_json(
            "/api/v1/conversations",
            Some(&user.access_token),
            &json!({"agent_id": ASSISTANT}),
        )
        .await
        .json()
        .await
        .unwrap();
    let conv = conv["id"].as_str().unwrap().to_string();

    let before = local_today();
    let reply = say(
        &app,
        &user,
        &conv,
        "Create a task called buy oat milk tomorrow",
    )
    .await;
    let after = local_today();
    let found = tasks(&app, &user, "q=oat").await;
    assert_eq!(found.len(), 1, "{found:?}");
    let task = &found[0];
    assert_eq!(task["title"], "buy oat milk");
    assert_eq!(task["source"], "chat");
    assert_eq!(task["source_reference"], conv.as_str());
    // Tomorrow where the user lives (UTC+14), whichever day it was when the request ran.
    let due: NaiveDate = task["due_date"].as_str().unwrap().parse().unwrap();
    assert!(
        [before + Duration::days(1), after + Duration::days(1)].contains(&due),
        "{due} vs {before}"
    );
    assert_eq!(reply["content"], "Added 'buy oat milk' for tomorrow.");
    assert_eq!(reply["usage"]["model"], "commands-1");
    assert_eq!(reply["usage"]["estimated"], false);
    let calls = reply["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["name"], "create_task");
    assert_eq!(calls[0]["is_error"], false);

    // Three model calls: find it, complete it, say so.
    let reply = say(&app, &user, &conv, "please mark buy oat milk done").await;
    assert_eq!(reply["content"], "Marked 'buy oat milk' done.");
    let names: Vec<&str> = reply["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["list_tasks", "complete_task"]);
    let task = tasks(&app, &user, "q=oat&status=done").await;
    assert_eq!(task.len(), 1);
    assert_eq!(task[0]["status"], "done");

    // An ask-back, answered in the next message.
    let reply = say(&app, &user, &conv, "add a task").await;
    assert_eq!(reply["content"], "What should the task be called?");
    assert!(reply["tool_calls"].as_array().unwrap().is_empty());
    let reply = say(&app, &user, &conv, "water the plants").await;
    assert_eq!(reply["content"], "Added 'water the plants' to your tasks.");
    assert_eq!(tasks(&app, &user, "q=plants").await.len(), 1);

    // The wallet, through the tool every agent has.
    let (_, _, available) = app.wallet(&user.access_token).await;
    let reply = say(&app, &user, &conv, "how many credits do I have").await;
    let text = reply["content"].as_str().unwrap();
    assert!(
        text.starts_with("You have ") && text.ends_with(" credits available."),
        "{text}"
    );
    let said: i64 = text.split_whitespace().nth(2).unwrap().parse().unwrap();
    // The answer read the wallet before this reply was billed.
    assert!(said <= available && said > 0, "{said} vs {available}");

    // Outside the grammar: a clear refusal, and nothing is touched.
    let reply = say(&app, &user, &conv, "what's the weather like in Lisbon").await;
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .starts_with("Sorry, I can't do that offline yet: "),
        "{reply}"
    );
    assert!(reply["tool_calls"].as_array().unwrap().is_empty());
    assert_eq!(tasks(&app, &user, "").await.len(), 2);

    // The catalog says what it is.
    let body: Value = app
        .get("/api/v1/agents/providers", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    let commands = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "llm" && p["name"] == "commands")
        .unwrap()
        .clone();
    assert_eq!(commands["local"], true);
    assert_eq!(commands["configured"], true);
    assert_eq!(commands["development_only"], false);
    assert_eq!(commands["default_model"], "commands-1");
}

#[sqlx::test]
async fn another_users_task_is_never_found(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.new_user().await;
    let other = app.new_user().await;
    app.create(
        "/api/v1/tasks",
        &owner.access_token,
        &json!({"title": "secret plan"}),
    )
    .await;
    let conv: Value = app
        .post_json(
            "/api/v1/conversations",
            Some(&other.access_token),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let reply = say(
        &app,
        &other,
        conv["id"].as_str().unwrap(),
        "mark secret plan done",
    )
    .await;
    assert_eq!(
        reply["content"],
        "I couldn't find an open task called 'secret plan'."
    );
    let v: Value = app
        .get("/api/v1/tasks", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"][0]["status"], "todo");
}

#[sqlx::test]
async fn a_spoken_request_creates_the_task_and_is_answered_aloud(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let resp = app
        .post_json(
            "/api/v1/voice/sessions",
            Some(&user.access_token),
            &json!({"agent_id": ASSISTANT}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let s: Value = resp.json().await.unwrap();
    let path = format!(
        "/api/v1/voice/sessions/{}/ws?ticket={}",
        s["session_id"].as_str().unwrap(),
        s["ticket"].as_str().unwrap()
    );
    let mut ws = app.ws_connect(&path, None).await.expect("ws connect");
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    // The welcome message is spoken first; let it finish.
    read_until(
        &mut ws,
        |v| v["type"] == "metrics" || (v["type"] == "response" && v["final"] == true),
        true,
    )
    .await;

    let mut audio = vec![0i16; 4800];
    audio.extend(flite_16k("add a task called water the plants"));
    audio.extend(vec![0i16; 24000]);
    send_audio(&mut ws, &audio, 16000).await;
    let seen = read_until(&mut ws, |v| v["type"] == "metrics", true).await;
    let heard = of_type(&seen, "transcript")
        .into_iter()
        .filter(|t| t["final"] == true)
        .map(|t| t["text"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let call = of_type(&seen, "tool_call")
        .into_iter()
        .find(|c| c["name"] == "create_task")
        .unwrap_or_else(|| panic!("heard {heard:?}: {:?}", seen.events));
    assert_eq!(
        call["result"]["title"], "water the plants",
        "heard {heard:?}"
    );
    assert_eq!(call["result"]["source"], "voice");
    assert_eq!(call["result"]["source_reference"], s["call_id"]);
    let reply = of_type(&seen, "response")
        .into_iter()
        .find(|r| r["final"] == true)
        .unwrap();
    assert_eq!(reply["text"], "Added 'water the plants' to your tasks.");
    // The confirmation is spoken: eSpeak NG audio after the tool call.
    let audio_after = seen
        .events
        .iter()
        .skip_while(|e| e["type"] != "tool_call")
        .any(|e| e["type"] == "audio_start");
    assert!(audio_after && seen.audio_bytes > 16000, "{:?}", seen.events);
    let stored = tasks(&app, &user, "q=plants").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["source"], "voice");
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
}
