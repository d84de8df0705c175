//! Telephony: phone numbers (validation, uniqueness, BOLA), Twilio webhook signatures,
//! the voice webhook's TwiML, and status callbacks driving a call to its settlement.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::Sha1;
use sqlx::PgPool;

use crate::helpers::{assert_problem, error_fields};
use crate::voice::{VoiceEnv, sim_agent, voice_env};

const PUBLIC: &str = "https://cadence.example";
const TOKEN: &str = "twilio-test-token";

async fn env(pool: PgPool, extra: &[(&str, &str)]) -> VoiceEnv {
    let mut pairs = vec![
        ("CADENCE__SERVER__PUBLIC_URL", PUBLIC),
        ("CADENCE__TELEPHONY__TWILIO__AUTH_TOKEN", TOKEN),
    ];
    pairs.extend_from_slice(extra);
    voice_env(pool, &pairs).await
}

/// Twilio's signature, computed independently of the server's code.
fn twilio_sign(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

async fn webhook(
    env: &VoiceEnv,
    path: &str,
    params: &[(&str, &str)],
    signature: Option<String>,
) -> reqwest::Response {
    let body = serde_urlencoded::to_string(params).unwrap();
    let mut req = reqwest::Client::new()
        .post(env.app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(s) = signature {
        req = req.header("x-twilio-signature", s);
    }
    req.send().await.unwrap()
}

async fn signed(env: &VoiceEnv, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
    let sig = twilio_sign(&format!("{PUBLIC}{path}"), params);
    webhook(env, path, params, Some(sig)).await
}

async fn add_number(env: &VoiceEnv, number: &str, agent: &str) -> Value {
    let r = env
        .app
        .post_json(
            "/api/v1/phone-numbers",
            Some(&env.user.access_token),
            &json!({"number": number, "agent_id": agent}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

/// The text between `<tag ` or `<tag>` and its attribute `attr="…"`.
fn attr(xml: &str, tag: &str, attr: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag} "))?;
    let rest = &xml[start..];
    let end = rest.find('>')?;
    let el = &rest[..end];
    let key = format!("{attr}=\"");
    let a = el.find(&key)? + key.len();
    let b = el[a..].find('"')?;
    Some(el[a..a + b].to_string())
}

fn inbound(sid: &'static str, to: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("AccountSid", "AC123"),
        ("CallSid", sid),
        ("From", "+15550009999"),
        ("To", to),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
    ]
}

#[sqlx::test]
async fn phone_numbers_validate_are_unique_and_owned(pool: PgPool) {
    let env = env(pool, &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let t = &env.user.access_token;
    for bad in [
        "14155550100",
        "+0123",
        "+1",
        "+1415555010012345",
        "+1415abc0100",
    ] {
        let r = env
            .app
            .post_json(
                "/api/v1/phone-numbers",
                Some(t),
                &json!({"number": bad, "agent_id": agent}),
            )
            .await;
        let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&body), vec!["number"], "{bad}");
    }
    let n = add_number(&env, "+14155550100", &agent).await;
    assert_eq!(n["number"], "+14155550100");
    assert_eq!(n["agent_id"], agent.as_str());
    // The same number again (by anyone) → 409.
    let other = env.app.new_user().await;
    let r = env
        .app
        .post_json(
            "/api/v1/phone-numbers",
            Some(t),
            &json!({"number": "+14155550100", "agent_id": agent}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // Another user's agent is not visible: 422 on agent_id.
    let r = env
        .app
        .post_json(
            "/api/v1/phone-numbers",
            Some(&other.access_token),
            &json!({"number": "+14155550101", "agent_id": agent}),
        )
        .await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), vec!["agent_id"]);
    // Lists are per user; another user's number cannot be deleted.
    let mine: Value = env
        .app
        .get("/api/v1/phone-numbers", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    let theirs: Value = env
        .app
        .get("/api/v1/phone-numbers", &other.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["data"].as_array().unwrap().len(), 0);
    let path = format!("/api/v1/phone-numbers/{}", n["id"].as_str().unwrap());
    assert_eq!(
        env.app.delete(&path, &other.access_token).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        env.app.delete(&path, t).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.app.delete(&path, t).await.status(),
        StatusCode::NOT_FOUND
    );
    let mine: Value = env
        .app
        .get("/api/v1/phone-numbers", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["data"].as_array().unwrap().len(), 0);
}

#[sqlx::test]
async fn voice_webhook_verifies_the_twilio_signature(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    add_number(&env, "+14155550100", &agent).await;
    let path = "/api/v1/telephony/twilio/voice";
    let params = inbound("CA1", "+14155550100");
    // Missing.
    let r = webhook(&env, path, &params, None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Wrong: signed for other params, or with another token.
    let mut tampered = params.clone();
    tampered[2] = ("From", "+15550000000");
    let sig = twilio_sign(&format!("{PUBLIC}{path}"), &tampered);
    let r = webhook(&env, path, &params, Some(sig)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = webhook(&env, path, &params, Some("bm90IGEgc2lnbmF0dXJl".into())).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let calls: i64 = sqlx::query_scalar("select count(*) from calls")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(calls, 0, "a refused webhook creates nothing");
    // Valid (params in any order).
    let mut reordered = params.clone();
    reordered.reverse();
    let r = signed(&env, path, &reordered).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[sqlx::test]
async fn voice_webhook_answers_twiml_stream_or_refuses(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    add_number(&env, "+14155550100", &agent).await;
    let path = "/api/v1/telephony/twilio/voice";
    let r = signed(&env, path, &inbound("CA1", "+14155550100")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("xml")
    );
    let xml = r.text().await.unwrap();
    assert!(xml.contains("<Response><Connect><Stream "), "{xml}");
    assert!(xml.contains("</Stream></Connect></Response>"), "{xml}");
    assert_eq!(
        attr(&xml, "Stream", "url").unwrap(),
        "wss://cadence.example/api/v1/telephony/twilio/stream"
    );
    assert_eq!(attr(&xml, "Parameter", "name").unwrap(), "token");
    let token = attr(&xml, "Parameter", "value").unwrap();
    // The call exists: twilio, inbound, numbers recorded, a hold reserved; the token names it.
    let calls: Value = env
        .app
        .get("/api/v1/calls", &env.user.access_token)
        .await
        .json()
        .await
        .unwrap();
    let call = &calls["data"][0];
    assert_eq!(call["channel"], "twilio");
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["from_number"], "+15550009999");
    assert_eq!(call["to_number"], "+14155550100");
    assert_eq!(call["agent_id"], agent.as_str());
    assert!(token.starts_with(call["id"].as_str().unwrap()), "{token}");
    let (_, reserved, _) = env.app.wallet(&env.user.access_token).await;
    assert!(reserved > 0);

    // Unknown number: a polite refusal, no call.
    let r = signed(&env, path, &inbound("CA2", "+14155550199")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let xml = r.text().await.unwrap();
    assert!(xml.contains("<Response><Say>"), "{xml}");
    assert!(xml.contains("</Say><Hangup/></Response>"), "{xml}");
    assert!(!xml.contains("<Stream"));
    let n: i64 = sqlx::query_scalar("select count(*) from calls")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[sqlx::test]
async fn voice_webhook_refuses_when_the_wallet_cannot_pay(pool: PgPool) {
    let env = env(
        pool.clone(),
        &[("CADENCE__BILLING__CALL_MIN_CREDITS", "5000000")],
    )
    .await;
    let agent = sim_agent(&env, json!({})).await;
    add_number(&env, "+14155550100", &agent).await;
    let r = signed(
        &env,
        "/api/v1/telephony/twilio/voice",
        &inbound("CA1", "+14155550100"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let xml = r.text().await.unwrap();
    assert!(xml.contains("<Say>") && xml.contains("<Hangup/>"), "{xml}");
    assert!(!xml.contains("<Stream"));
    let n: i64 = sqlx::query_scalar("select count(*) from calls")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let (_, reserved, _) = env.app.wallet(&env.user.access_token).await;
    assert_eq!(reserved, 0);
}

#[sqlx::test]
async fn status_callbacks_drive_the_call_and_settle_it_once(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    add_number(&env, "+14155550100", &agent).await;
    let t = &env.user.access_token;
    let (balance_before, _, _) = env.app.wallet(t).await;
    let r = signed(
        &env,
        "/api/v1/telephony/twilio/voice",
        &inbound("CA7", "+14155550100"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let status_path = "/api/v1/telephony/twilio/status";
    let call_status = || async {
        let v: Value = env.app.get("/api/v1/calls", t).await.json().await.unwrap();
        v["data"][0].clone()
    };
    // Unsigned callbacks change nothing.
    let r = webhook(
        &env,
        status_path,
        &[("CallSid", "CA7"), ("CallStatus", "completed")],
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(call_status().await["status"], "queued");

    let r = signed(
        &env,
        status_path,
        &[("CallSid", "CA7"), ("CallStatus", "ringing")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(call_status().await["status"], "ringing");
    let r = signed(
        &env,
        status_path,
        &[("CallSid", "CA7"), ("CallStatus", "in-progress")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let c = call_status().await;
    assert_eq!(c["status"], "active");
    assert!(c["started_at"].is_string());
    for _ in 0..2 {
        let r = signed(
            &env,
            status_path,
            &[("CallSid", "CA7"), ("CallStatus", "completed")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    let c = call_status().await;
    assert_eq!(c["status"], "completed");
    assert_eq!(c["end_reason"], "remote_hangup");
    // Settled exactly once: the hold is gone and the balance moved by the call's cost only.
    let (balance, reserved, _) = env.app.wallet(t).await;
    assert_eq!(reserved, 0);
    assert_eq!(
        balance,
        balance_before - c["cost_credits"].as_i64().unwrap()
    );
    crate::helpers::assert_ledger_balanced(&pool).await;

    // A call that is never answered ends as no_answer, its hold released.
    let r = signed(
        &env,
        "/api/v1/telephony/twilio/voice",
        &inbound("CA8", "+14155550100"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = signed(
        &env,
        status_path,
        &[("CallSid", "CA8"), ("CallStatus", "ringing")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = signed(
        &env,
        status_path,
        &[("CallSid", "CA8"), ("CallStatus", "no-answer")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let c = call_status().await;
    assert_eq!(c["status"], "no_answer");
    let (_, reserved, _) = env.app.wallet(t).await;
    assert_eq!(reserved, 0);
}
