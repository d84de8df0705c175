//! Memory that learns: background extraction of lasting facts from chat, with the
//! simulator's scripted extraction replies (the agent's own LLM, structured output through
//! the `record_facts` tool), restatements skipped, contradictions superseding, billing, the
//! user's preference and the offline `commands` model.

use std::time::Duration;

use cadence::{
    sim::{Reply, Script, Service, SimHandle, SimUsage},
    wallet::pricing::{self, LlmUsage},
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{
    chat::{call, chat_app},
    helpers::*,
};

const EXTRACTION_ON: (&str, &str) = ("CADENCE__MEMORY__EXTRACTION", "true");

/// The extraction model's answer: one `record_facts` call.
fn facts_reply(facts: Value, usage: Option<(u32, u32)>) -> Script {
    Script::new(
        Service::Llm,
        Reply {
            tool_calls: vec![call(
                "facts",
                "record_facts",
                &json!({ "facts": facts }).to_string(),
            )],
            usage: usage.map(|(i, o)| SimUsage {
                input_tokens: i,
                output_tokens: o,
            }),
            ..Default::default()
        },
    )
}

async fn conversation(app: &TestApp, user: &TestUser) -> String {
    let c = app
        .create("/api/v1/conversations", &user.access_token, &json!({}))
        .await;
    c["id"].as_str().unwrap().to_string()
}

async fn say(app: &TestApp, user: &TestUser, conv: &str, content: &str) -> Value {
    json_with(
        app.post_json(
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(&user.access_token),
            &json!({ "content": content }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await
}

/// (finished, all) extraction jobs.
async fn extraction_jobs(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        "select count(*) filter (where status in ('done', 'failed')), count(*)
         from jobs where kind = 'memory.extract'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Wait until `n` extraction jobs exist and all have finished; panics on a failed one.
async fn extractions_finished(pool: &PgPool, n: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (finished, all) = extraction_jobs(pool).await;
        if all == n && finished == n {
            let failed: i64 = sqlx::query_scalar(
                "select count(*) from jobs where kind = 'memory.extract' and status = 'failed'",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            assert_eq!(failed, 0, "an extraction job failed");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "extraction jobs: {finished} of {all} finished, waiting for {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn memories(app: &TestApp, user: &TestUser, query: &str) -> Vec<Value> {
    app.all_pages(&format!("/api/v1/memories{query}"), &user.access_token, 50)
        .await
}

/// The text the extraction request sent as its user message.
fn extraction_ask(s: &SimHandle, nth: usize) -> String {
    let extraction: Vec<_> = s
        .log_for("openai.chat")
        .into_iter()
        .filter(|e| {
            e.body["tools"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["function"]["name"] == "record_facts"))
        })
        .collect();
    let req = &extraction[nth];
    req.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap()
        .to_string()
}

#[sqlx::test]
async fn a_conversation_teaches_facts_once_and_corrections_supersede(pool: PgPool) {
    let (app, s) = chat_app(pool, &[EXTRACTION_ON]).await;
    let user = app.new_user().await;
    let conv = conversation(&app, &user).await;

    s.script(Script::llm_text("How nice!"));
    s.script(facts_reply(
        json!([{"content": "The user's sister is Ana.", "memory_type": "person", "importance": 4}]),
        Some((320, 24)),
    ));
    let first = say(&app, &user, &conv, "my sister is Ana").await;
    extractions_finished(&app.pool, 1).await;

    let learned = memories(&app, &user, "").await;
    assert_eq!(learned.len(), 1, "{learned:?}");
    let ana = &learned[0];
    assert_eq!(ana["content"], "The user's sister is Ana.");
    assert_eq!(ana["source"], "extracted");
    assert_eq!(ana["memory_type"], "person");
    assert_eq!(ana["importance"], 4);
    assert_eq!(ana["source_reference"], first["assistant_message"]["id"]);
    assert!(ana["valid_until"].is_null());
    let ask = extraction_ask(&s, 0);
    assert!(ask.contains("user: my sister is Ana"), "{ask}");
    assert!(ask.contains("assistant: How nice!"), "{ask}");

    // The extraction is billed like any LLM use, once, against the conversation.
    let expected = pricing::cost(
        &app.state.settings.pricing,
        &pricing::Usage {
            llm: vec![LlmUsage::new("gpt-4o-mini", 320, 24)],
            ..Default::default()
        },
    )
    .total_credits;
    assert!(expected > 0);
    let entries: Vec<Value> = app
        .all_pages("/api/v1/wallet/transactions", &user.access_token, 100)
        .await
        .into_iter()
        .filter(|t| t["reference_type"] == "conversation")
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["reference_id"], conv.as_str());
    assert_eq!(entries[0]["amount"], -expected);

    // Saying it again teaches nothing new, however the model words the restatement.
    s.script(Script::llm_text("You told me."));
    s.script(facts_reply(
        json!([{"content": "the user's  sister is ana", "memory_type": "person"}]),
        None,
    ));
    say(&app, &user, &conv, "my sister is Ana").await;
    extractions_finished(&app.pool, 2).await;
    assert_eq!(memories(&app, &user, "").await.len(), 1);
    // The model saw the known memory by id, and only the new messages.
    let ask = extraction_ask(&s, 1);
    let ana_id = ana["id"].as_str().unwrap();
    assert!(ask.contains(ana_id), "{ask}");
    assert!(
        !ask.contains("How nice!"),
        "old messages are not read again: {ask}"
    );

    // A correction closes the old fact instead of deleting it.
    s.script(Script::llm_text("Got it, Bea."));
    s.script(facts_reply(
        json!([{"content": "The user's sister is Bea.", "memory_type": "person", "replaces": ana_id}]),
        None,
    ));
    say(&app, &user, &conv, "actually my sister is Bea").await;
    extractions_finished(&app.pool, 3).await;
    let current = memories(&app, &user, "").await;
    assert_eq!(current.len(), 1, "{current:?}");
    let bea = &current[0];
    assert_eq!(bea["content"], "The user's sister is Bea.");
    assert_eq!(bea["source"], "extracted");
    let all = memories(&app, &user, "?include_superseded=true").await;
    assert_eq!(all.len(), 2);
    let old = json_with(
        app.get(&format!("/api/v1/memories/{ana_id}"), &user.access_token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(old["content"], "The user's sister is Ana.");
    assert!(old["valid_until"].is_string(), "{old}");
    assert_eq!(old["superseded_by"], bea["id"]);

    // The next reply's context knows Bea, not Ana.
    s.script(Script::llm_text("Say hi to Bea."));
    s.script(facts_reply(json!([]), None));
    say(&app, &user, &conv, "who is my sister?").await;
    let chat_req = s
        .log_for("openai.chat")
        .into_iter()
        .rfind(|e| {
            !e.body["tools"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["function"]["name"] == "record_facts"))
        })
        .unwrap();
    let system = chat_req.body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("sister is Bea"), "{system}");
    assert!(!system.contains("sister is Ana"), "{system}");
    extractions_finished(&app.pool, 4).await;
    assert_eq!(
        memories(&app, &user, "?include_superseded=true")
            .await
            .len(),
        2
    );
    assert_ledger_balanced(&app.pool).await;
}

#[sqlx::test]
async fn the_preference_turns_extraction_off(pool: PgPool) {
    let (app, s) = chat_app(pool, &[EXTRACTION_ON]).await;
    let user = app.new_user().await;
    let t = &user.access_token;
    let resp = app
        .patch_json(
            "/api/v1/users/preferences",
            t,
            &json!({"memory": {"auto_extract": "no"}}),
        )
        .await;
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), vec!["memory.auto_extract"]);
    let resp = app
        .patch_json(
            "/api/v1/users/preferences",
            t,
            &json!({"memory": {"auto_extract": false}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let conv = conversation(&app, &user).await;
    s.script(Script::llm_text("How nice!"));
    say(&app, &user, &conv, "my sister is Ana").await;
    // The job would have been queued with the reply, in the same transaction.
    assert_eq!(extraction_jobs(&app.pool).await, (0, 0));
    assert_eq!(s.log_for("openai.chat").len(), 1, "only the reply");
    assert!(memories(&app, &user, "").await.is_empty());

    // Back on: the next reply is read.
    app.patch_json(
        "/api/v1/users/preferences",
        t,
        &json!({"memory": {"auto_extract": true}}),
    )
    .await;
    s.script(Script::llm_text("Noted."));
    s.script(facts_reply(
        json!([{"content": "The user likes tea."}]),
        None,
    ));
    say(&app, &user, &conv, "I like tea").await;
    extractions_finished(&app.pool, 1).await;
    let learned = memories(&app, &user, "").await;
    assert_eq!(learned.len(), 1);
    assert_eq!(learned[0]["memory_type"], "fact");
}

#[sqlx::test]
async fn the_offline_commands_model_extracts_nothing(pool: PgPool) {
    // No provider key: the built-in agent answers with the local `commands` model.
    let app = spawn_app_with(pool, &[EXTRACTION_ON]).await;
    let user = app.new_user().await;
    let conv = conversation(&app, &user).await;
    let reply = say(&app, &user, &conv, "my sister is Ana").await;
    assert_eq!(reply["assistant_message"]["usage"]["model"], "commands-1");
    extractions_finished(&app.pool, 1).await;
    assert!(memories(&app, &user, "").await.is_empty());
    let entries: Vec<Value> = app
        .all_pages("/api/v1/wallet/transactions", &user.access_token, 100)
        .await
        .into_iter()
        .filter(|t| t["reference_type"] == "conversation")
        .collect();
    assert!(entries.is_empty(), "{entries:?}");
}
