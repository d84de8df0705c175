//! Agents: CRUD, validation against the providers catalog, read-only built-ins, BOLA, the
//! catalog itself and run-time resolution of an agent's providers.

use cadence::{
    agents::Agent,
    providers::{ProviderRegistry, llm::ChatMessage},
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::*;

const ASSISTANT: &str = "019a0000-0000-7000-8000-000000000001";

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let resp = app.post_json("/api/v1/agents", Some(token), &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let agent: Value = resp.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/agents/{}", agent["id"].as_str().unwrap())
    );
    agent
}

#[sqlx::test]
async fn builtins_are_listed_for_everyone_and_read_only(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let list: Value = app
        .get("/api/v1/agents", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["is_builtin"] == true)
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Assistant", "Planner", "Reflection coach"]);

    let path = format!("/api/v1/agents/{ASSISTANT}");
    let resp = app.get(&path, &user.access_token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let agent: Value = resp.json().await.unwrap();
    assert_eq!(agent["llm"]["provider"], "openai");
    assert_eq!(agent["llm"]["fallbacks"], json!(["anthropic", "commands"]));
    assert_eq!(agent["stt"]["fallbacks"][1], "pocketsphinx");
    assert_eq!(agent["tts"]["fallbacks"][1], "espeak");
    assert_eq!(
        agent["tools"],
        json!([
            "tasks",
            "notes",
            "goals",
            "memories",
            "reflections",
            "schedule"
        ])
    );

    let resp = app
        .patch_json(&path, &user.access_token, &json!({"name": "Mine now"}))
        .await;
    assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let resp = app
        .put_json(&path, &user.access_token, &json!({"name": "Mine now"}))
        .await;
    assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let resp = app.delete(&path, &user.access_token).await;
    assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let again: Value = app
        .get(&path, &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["name"], "Assistant");
}

#[sqlx::test]
async fn create_read_update_delete(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let t = &user.access_token;
    let agent = create(&app, t, json!({"name": "Coach", "description": "helps",
        "llm": {"provider": "anthropic"}, "tts": {"provider": "espeak", "voice": "en-gb", "speed": 1.2},
        "tools": ["tasks", "goals"], "interruption": {"min_words": 3}})).await;
    let id = agent["id"].as_str().unwrap();
    assert_eq!(agent["is_builtin"], false);
    // Omitted models and voices are filled with the provider's defaults.
    assert_eq!(agent["llm"]["model"], "claude-3-5-haiku-latest");
    assert_eq!(agent["llm"]["temperature"], 0.7);
    assert_eq!(agent["stt"]["provider"], "deepgram");
    assert_eq!(agent["stt"]["model"], "nova-3");
    assert_eq!(agent["tts"]["voice"], "en-gb");
    assert_eq!(agent["tts"]["model"], "espeak-ng");
    assert_eq!(
        agent["interruption"],
        json!({"enabled": true, "min_words": 3})
    );
    assert_eq!(agent["max_call_seconds"], 1800);

    let path = format!("/api/v1/agents/{id}");
    let got: Value = app.get(&path, t).await.json().await.unwrap();
    assert_eq!(got, agent);

    // Merge patch: nested objects merge, null clears.
    let resp = app
        .patch_json(
            &path,
            t,
            &json!({"llm": {"model": "claude-sonnet-4-0", "temperature": 0.2},
            "description": null, "recording": true}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let patched: Value = resp.json().await.unwrap();
    assert_eq!(patched["llm"]["provider"], "anthropic");
    assert_eq!(patched["llm"]["model"], "claude-sonnet-4-0");
    assert_eq!(patched["llm"]["max_tokens"], 512);
    assert!(patched["description"].is_null());
    assert_eq!(patched["recording"], true);
    assert_eq!(patched["tts"]["voice"], "en-gb");
    let seen: Value = app.get(&path, t).await.json().await.unwrap();
    assert_eq!(seen["llm"]["model"], "claude-sonnet-4-0");

    // Switching provider with a model of the old one is rejected, naming the field.
    let resp = app
        .patch_json(&path, t, &json!({"llm": {"provider": "openai"}}))
        .await;
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), vec!["llm.model"]);
    // ... and accepted with `model: null` (the new provider's default).
    let resp = app
        .patch_json(
            &path,
            t,
            &json!({"llm": {"provider": "openai", "model": null}}),
        )
        .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["llm"]["model"], "gpt-4o-mini");

    let list: Value = app.get("/api/v1/agents", t).await.json().await.unwrap();
    assert_eq!(list["data"][0]["id"], id, "newest first");

    assert_eq!(app.delete(&path, t).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, t).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[sqlx::test]
async fn unknown_providers_models_voices_and_fields_are_422(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let t = Some(user.access_token.as_str());
    let cases = [
        (
            json!({"name": "x", "llm": {"provider": "skynet"}}),
            "llm.provider",
        ),
        (
            json!({"name": "x", "llm": {"provider": "openai", "model": "gpt-9"}}),
            "llm.model",
        ),
        (
            json!({"name": "x", "stt": {"provider": "whisperx"}}),
            "stt.provider",
        ),
        (
            json!({"name": "x", "stt": {"provider": "deepgram", "fallbacks": ["nope"]}}),
            "stt.fallbacks[0]",
        ),
        (
            json!({"name": "x", "tts": {"provider": "espeak", "voice": "robot"}}),
            "tts.voice",
        ),
        (
            json!({"name": "x", "tts": {"provider": "echo"}}),
            "tts.provider",
        ),
        (
            json!({"name": "x", "tools": ["tasks", "email"]}),
            "tools[1]",
        ),
        (
            json!({"name": "x", "llm": {"provider": "openai", "temperature": 3.0}}),
            "llm.temperature",
        ),
        (json!({"name": " "}), "name"),
        (json!({"name": "x", "user_id": user.id}), "user_id"),
        (json!({"name": "x", "is_builtin": true}), "is_builtin"),
        (
            json!({"name": "x", "llm": {"provider": "openai", "api_key": "k"}}),
            "llm.api_key",
        ),
    ];
    for (body, field) in cases {
        let resp = app.post_json("/api/v1/agents", t, &body).await;
        let problem =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(
            error_fields(&problem).iter().any(|f| f == field),
            "{field} in {problem} for {body}"
        );
    }
    let list: Value = app
        .get("/api/v1/agents", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        3,
        "nothing was created"
    );
}

#[sqlx::test]
async fn another_users_agent_is_not_found(pool: PgPool) {
    let app = spawn_app(pool).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let agent = create(&app, &alice.access_token, json!({"name": "Alice's"})).await;
    let path = format!("/api/v1/agents/{}", agent["id"].as_str().unwrap());
    for resp in [
        app.get(&path, &bob.access_token).await,
        app.patch_json(&path, &bob.access_token, &json!({"name": "Bob's"}))
            .await,
        app.delete(&path, &bob.access_token).await,
    ] {
        assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    let bobs: Value = app
        .get("/api/v1/agents", &bob.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        bobs["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != agent["id"])
    );
    let still: Value = app
        .get(&path, &alice.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["name"], "Alice's");
    assert_eq!(
        app.request(reqwest::Method::GET, "/api/v1/agents", None)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test]
async fn list_pages_without_duplicates(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    for i in 0..3 {
        create(&app, &user.access_token, json!({"name": format!("a{i}")})).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/agents?limit=2&cursor={c}"),
            None => "/api/v1/agents?limit=2".into(),
        };
        let page: Value = app
            .get(&path, &user.access_token)
            .await
            .json()
            .await
            .unwrap();
        for a in page["data"].as_array().unwrap() {
            seen.push(a["name"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec!["a2", "a1", "a0", "Assistant", "Planner", "Reflection coach"]
    );
}

#[sqlx::test]
async fn providers_catalog_lists_local_engines_as_configured(pool: PgPool) {
    let app = spawn_app_with(pool, &[("CADENCE__PROVIDERS__DEEPGRAM__API_KEY", "dg-key")]).await;
    let user = app.new_user().await;
    // A static segment, not captured by `/{id}`.
    let resp = app
        .get("/api/v1/agents/providers", &user.access_token)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    let all = body["data"].as_array().unwrap();
    let find = |kind: &str, name: &str| {
        all.iter()
            .find(|p| p["kind"] == kind && p["name"] == name)
            .unwrap_or_else(|| panic!("{kind}/{name} in {body}"))
            .clone()
    };
    let ps = find("stt", "pocketsphinx");
    assert_eq!(
        (ps["local"].as_bool(), ps["configured"].as_bool()),
        (Some(true), Some(true))
    );
    let es = find("tts", "espeak");
    assert_eq!(
        (es["local"].as_bool(), es["configured"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(es["voices"].as_array().unwrap().contains(&json!("en-us")));
    let echo = find("llm", "echo");
    assert_eq!(echo["configured"], true);
    assert_eq!(echo["development_only"], true);
    let commands = find("llm", "commands");
    assert_eq!(
        (
            commands["local"].as_bool(),
            commands["configured"].as_bool(),
            commands["development_only"].as_bool()
        ),
        (Some(true), Some(true), Some(false))
    );
    let oai = find("llm", "openai");
    assert_eq!(
        (oai["local"].as_bool(), oai["configured"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(
        oai["models"]
            .as_array()
            .unwrap()
            .contains(&json!("gpt-4o-mini"))
    );
    assert_eq!(find("stt", "deepgram")["configured"], true);
    assert_eq!(
        find("tts", "openai")["voices"].as_array().unwrap().len(),
        10
    );
    for kind in ["stt", "llm", "tts"] {
        assert!(
            all.iter().filter(|p| p["kind"] == kind).count() >= 3,
            "{kind}"
        );
    }
    // Unit prices come from the pricing settings.
    let pricing = &app.state.settings.pricing;
    assert_eq!(
        ps["unit_price"],
        json!({"unit": "second", "credits": pricing.stt_per_second})
    );
    assert_eq!(
        es["unit_price"],
        json!({"unit": "1k_characters", "credits": pricing.tts_per_1k_chars})
    );
    assert_eq!(
        echo["unit_price"],
        json!({"unit": "1k_tokens", "credits": pricing.llm_default_input_per_1k,
               "output_credits": pricing.llm_default_output_per_1k})
    );
    // The OpenAPI document lists the routes.
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/api/v1/agents",
        "/api/v1/agents/{id}",
        "/api/v1/agents/providers",
    ] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
}

#[sqlx::test]
async fn builtin_agent_runs_on_local_engines_without_keys(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let agent: Agent = {
        let v: Value = app
            .get(&format!("/api/v1/agents/{ASSISTANT}"), &user.access_token)
            .await
            .json()
            .await
            .unwrap();
        cadence::agents::service::find(
            &app.pool,
            v["id"].as_str().unwrap().parse().unwrap(),
            user.id,
        )
        .await
        .unwrap()
    };
    let reg: &ProviderRegistry = &app.state.providers;
    let llm = agent.llm_provider(reg);
    let stream = llm
        .stream_chat(agent.llm_request(vec![ChatMessage::user("hello there")]))
        .await
        .unwrap();
    assert_eq!(stream.provider(), "commands");
    let (text, _) = stream.collect().await.unwrap();
    assert_eq!(text, "Hi! What can I do for you?");
    let tts = agent.tts_provider(reg);
    let pcm = tts
        .synthesize(agent.tts_request("Hi.", 16000))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert!(cadence::audio::rms(&pcm) > 0.01);
    assert!(
        agent
            .stt_provider(reg)
            .start(agent.stt_config(16000))
            .await
            .is_ok()
    );
}

#[sqlx::test]
async fn catalog_prices_language_models_like_the_wallet_bills_them(pool: sqlx::PgPool) {
    let app = crate::helpers::spawn_app_with(
        pool,
        &[
            (
                "CADENCE__PRICING__LLM_MODELS__GPT-4O-MINI__INPUT_PER_1K",
                "7",
            ),
            (
                "CADENCE__PRICING__LLM_MODELS__GPT-4O-MINI__OUTPUT_PER_1K",
                "9",
            ),
        ],
    )
    .await;
    let user = app.new_user().await;
    let catalog: serde_json::Value = app
        .get("/api/v1/agents/providers", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    let openai = catalog["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "openai" && p["kind"] == "llm")
        .expect("openai llm in catalog");
    assert_eq!(openai["default_model"], "gpt-4o-mini");
    assert_eq!(openai["unit_price"]["credits"], 7);
    assert_eq!(openai["unit_price"]["output_credits"], 9);
    let pricing: serde_json::Value = app
        .client
        .get(app.url("/api/v1/pricing"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(pricing.to_string().contains("gpt-4o-mini"), "{pricing}");
}
