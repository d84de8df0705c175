//! `POST /api/v1/goals/{id}/plan` against the simulator.

use cadence::{
    sim::{Failure, Reply, Script, Service, SimUsage},
    wallet::pricing::{self, LlmUsage},
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{
    chat::{call, chat_app, tool_reply},
    helpers::{assert_problem, json_with},
};

fn plan_args() -> String {
    json!({"tasks": [
        {"title": "Buy running shoes", "priority": "high", "due_date": "2030-01-05"},
        {"title": "Run 5 km three times a week", "description": "easy pace"},
        {"title": "   "},
        {"title": "Sign up for the race", "priority": "urgent"}
    ]})
    .to_string()
}

async fn chat_debits(app: &crate::helpers::TestApp, token: &str) -> Vec<Value> {
    app.all_pages("/api/v1/wallet/transactions", token, 100)
        .await
        .into_iter()
        .filter(|t| t["kind"] == "chat_debit")
        .collect()
}

#[sqlx::test]
async fn a_goal_plan_creates_linked_tasks_and_bills_once(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let t = &user.access_token;
    let goal = app
        .create(
            "/api/v1/goals",
            t,
            &json!({"title": "Run a half marathon", "timeframe": "quarterly"}),
        )
        .await;
    let goal_id = goal["id"].as_str().unwrap();
    let (before, _, _) = app.wallet(t).await;
    let mut script = tool_reply(vec![call("p", "propose_plan", &plan_args())]);
    script.reply.usage = Some(SimUsage {
        input_tokens: 900,
        output_tokens: 400,
    });
    s.script(script);

    let resp = app
        .post_json(
            &format!("/api/v1/goals/{goal_id}/plan"),
            Some(t),
            &json!({}),
        )
        .await;
    let body = json_with(resp, StatusCode::CREATED).await;
    let tasks = body["tasks"].as_array().unwrap();
    let titles: Vec<&str> = tasks.iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "Buy running shoes",
            "Run 5 km three times a week",
            "Sign up for the race"
        ],
        "the blank title was skipped"
    );
    assert!(
        tasks
            .iter()
            .all(|t| t["source"] == "goal_plan" && t["goal_id"] == goal_id)
    );
    assert_eq!(tasks[0]["priority"], "high");
    assert_eq!(tasks[0]["due_date"], "2030-01-05");

    let linked = app
        .all_pages(&format!("/api/v1/goals/{goal_id}/tasks"), t, 20)
        .await;
    assert_eq!(linked.len(), 3);

    // The planner saw the goal and offered the plan tool.
    let req = &s.log_for("openai.chat")[0];
    assert_eq!(req.body["model"], "gpt-4o");
    let sent = req.body["messages"].to_string();
    assert!(sent.contains("Run a half marathon"));
    assert_eq!(req.body["tools"][0]["function"]["name"], "propose_plan");

    let expected = pricing::cost(
        &app.state.settings.pricing,
        &pricing::Usage {
            llm: vec![LlmUsage::new("gpt-4o", 900, 400)],
            ..Default::default()
        },
    )
    .total_credits;
    let debits = chat_debits(&app, t).await;
    assert_eq!(debits.len(), 1);
    assert_eq!(debits[0]["amount"], -expected);
    assert_eq!(debits[0]["reference_id"], goal_id);
    assert_eq!(app.wallet(t).await.0, before - expected);
}

#[sqlx::test]
async fn a_plan_given_as_json_text_works_and_empty_bodies_are_accepted(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let user = app.new_user().await;
    let t = &user.access_token;
    let goal = app
        .create("/api/v1/goals", t, &json!({"title": "Learn Italian"}))
        .await;
    let goal_id = goal["id"].as_str().unwrap();
    s.script(Script::llm_text(
        "```json\n{\"tasks\": [{\"title\": \"Install a language app\"}]}\n```",
    ));
    let resp = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/goals/{goal_id}/plan"),
            Some(t),
        )
        .send()
        .await
        .unwrap();
    let body = json_with(resp, StatusCode::CREATED).await;
    assert_eq!(body["tasks"][0]["title"], "Install a language app");
    assert_eq!(body["tasks"][0]["source"], "goal_plan");
}

#[sqlx::test]
async fn planning_refuses_other_users_goals_bad_bodies_and_provider_failures(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let owner = app.new_user().await;
    let other = app.new_user().await;
    let goal = app
        .create(
            "/api/v1/goals",
            &owner.access_token,
            &json!({"title": "Mine"}),
        )
        .await;
    let path = format!("/api/v1/goals/{}/plan", goal["id"].as_str().unwrap());
    assert_problem(
        app.post_json(&path, Some(&other.access_token), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.post_json(&path, Some(&owner.access_token), &json!({"goal": 1}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(s.log_for("openai.chat").is_empty());

    // A model that answers nonsense creates nothing.
    s.script(Script::new(
        Service::Llm,
        Reply {
            text: Some("I would rather not.".into()),
            ..Default::default()
        },
    ));
    assert_problem(
        app.post_json(&path, Some(&owner.access_token), &json!({}))
            .await,
        StatusCode::BAD_GATEWAY,
        "provider_error",
    )
    .await;
    // Every provider of the chain failing is a 502 as well.
    for _ in 0..2 {
        s.script(Script::fail(Service::Llm, Failure::Status { status: 500 }));
    }
    let agent = app
        .create(
            "/api/v1/agents",
            &owner.access_token,
            &json!({"name": "Solo", "llm": {"provider": "openai", "fallbacks": []}}),
        )
        .await;
    assert_problem(
        app.post_json(
            &path,
            Some(&owner.access_token),
            &json!({"agent_id": agent["id"]}),
        )
        .await,
        StatusCode::BAD_GATEWAY,
        "provider_error",
    )
    .await;
    let tasks = app
        .all_pages(
            &format!("/api/v1/goals/{}/tasks", goal["id"].as_str().unwrap()),
            &owner.access_token,
            20,
        )
        .await;
    assert!(tasks.is_empty());
}

#[sqlx::test]
async fn planning_with_an_empty_wallet_is_402(pool: PgPool) {
    let (app, s) = chat_app(pool, &[("CADENCE__BILLING__SIGNUP_CREDITS", "0")]).await;
    let user = app.new_user().await;
    let goal = app
        .create(
            "/api/v1/goals",
            &user.access_token,
            &json!({"title": "Save money"}),
        )
        .await;
    assert_problem(
        app.post_json(
            &format!("/api/v1/goals/{}/plan", goal["id"].as_str().unwrap()),
            Some(&user.access_token),
            &json!({}),
        )
        .await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_credits",
    )
    .await;
    assert!(s.log_for("openai.chat").is_empty());
}
