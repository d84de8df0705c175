//! Verified phone numbers (`/api/v1/users/me/phone`) against the simulator's Twilio
//! Messages API: the code message Twilio gets, verification, expiry, tries, rate limits,
//! provider refusals and BOLA.

use cadence::sim::{Failure, LogEntry, Script, Service};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestUser, assert_problem, error_fields};
use crate::voice::{VoiceEnv, voice_env};

pub(crate) const PUBLIC: &str = "https://cadence.example";
pub(crate) const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub(crate) const SENDER: &str = "+15550001111";
pub(crate) const PHONE: &str = "+14155550123";

pub(crate) async fn env(pool: PgPool, extra: &[(&str, &str)]) -> VoiceEnv {
    let sender = format!("whatsapp:{SENDER}");
    let mut pairs = vec![
        ("CADENCE__SERVER__PUBLIC_URL", PUBLIC),
        ("CADENCE__TELEPHONY__TWILIO__ACCOUNT_SID", ACCOUNT),
        ("CADENCE__TELEPHONY__TWILIO__FROM_NUMBER", SENDER),
        (
            "CADENCE__TELEPHONY__TWILIO__MESSAGING_FROM",
            sender.as_str(),
        ),
    ];
    pairs.extend_from_slice(extra);
    voice_env(pool, &pairs).await
}

pub(crate) async fn start(env: &VoiceEnv, user: &TestUser, body: Value) -> reqwest::Response {
    env.app
        .post_json("/api/v1/users/me/phone", Some(&user.access_token), &body)
        .await
}

pub(crate) async fn verify(env: &VoiceEnv, user: &TestUser, code: &str) -> reqwest::Response {
    env.app
        .post_json(
            "/api/v1/users/me/phone/verify",
            Some(&user.access_token),
            &json!({"code": code}),
        )
        .await
}

/// Messages Twilio accepted so far.
pub(crate) fn sent(env: &VoiceEnv) -> Vec<LogEntry> {
    env.sim
        .log_for("twilio.messages")
        .into_iter()
        .filter(|e| e.status == 201)
        .collect()
}

/// The 6-digit code in a message body.
pub(crate) fn code_in(entry: &LogEntry) -> String {
    let body = entry.body["Body"].as_str().unwrap();
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {body:?}"))
        .to_string()
}

/// A code different from `code`.
fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

/// Verify `number` for `user` end to end; returns the verified phone.
pub(crate) async fn verify_number(
    env: &VoiceEnv,
    user: &TestUser,
    number: &str,
    channel: &str,
) -> Value {
    let r = start(env, user, json!({"number": number, "channel": channel})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let msg = sent(env).pop().expect("the code was sent");
    let r = verify(env, user, &code_in(&msg)).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[sqlx::test]
async fn a_code_by_whatsapp_verifies_the_number(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let u = &env.user;
    let r = env.app.get("/api/v1/users/me/phone", &u.access_token).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;

    let r = start(&env, u, json!({"number": PHONE, "channel": "whatsapp"})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let pending: Value = r.json().await.unwrap();
    assert_eq!(pending["number"], PHONE);
    assert_eq!(pending["channel"], "whatsapp");
    assert_eq!(pending["tries_left"], 5);

    // What Twilio was asked.
    let msgs = sent(&env);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(
        m.path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    );
    assert_eq!(
        m.auth.as_deref(),
        Some(ACCOUNT),
        "basic auth with the account SID"
    );
    assert_eq!(m.body["To"], format!("whatsapp:{PHONE}"));
    assert_eq!(m.body["From"], format!("whatsapp:{SENDER}"));
    let code = code_in(m);

    // Only a keyed hash is stored.
    let stored: Vec<u8> = sqlx::query_scalar("select code_hash from phone_verifications")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_ne!(stored, code.as_bytes());
    assert!(!String::from_utf8_lossy(&stored).contains(&code));

    let r = verify(&env, u, &wrong(&code)).await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), ["code"]);
    let r = verify(&env, u, "12a456").await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), ["code"]);

    let r = verify(&env, u, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let phone: Value = r.json().await.unwrap();
    assert_eq!(phone["number"], PHONE);
    assert_eq!(phone["channel"], "whatsapp");
    assert!(phone["verified_at"].is_string());

    let r = env.app.get("/api/v1/users/me/phone", &u.access_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let got: Value = r.json().await.unwrap();
    assert_eq!(got, phone);

    // A used code does not verify again.
    let r = verify(&env, u, &code).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // SMS sends from the plain number.
    let r = start(&env, u, json!({"number": "+14155550999"})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let m = sent(&env).pop().unwrap();
    assert_eq!(m.body["To"], "+14155550999");
    assert_eq!(m.body["From"], SENDER);
    // Until the new number is verified the old one stays.
    let r = env.app.get("/api/v1/users/me/phone", &u.access_token).await;
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["number"], PHONE);
    let r = verify(&env, u, &code_in(&m)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let phone: Value = r.json().await.unwrap();
    assert_eq!(phone["number"], "+14155550999");
    assert_eq!(phone["channel"], "sms");

    let r = env
        .app
        .delete("/api/v1/users/me/phone", &u.access_token)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = env.app.get("/api/v1/users/me/phone", &u.access_token).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[sqlx::test]
async fn bad_numbers_and_bodies_are_422_and_nothing_is_sent(pool: PgPool) {
    let env = env(pool, &[]).await;
    let u = &env.user;
    for number in [
        "4155550123",
        "+0155550123",
        "+1",
        "+1415555012345678",
        "+1 415 555",
        "",
    ] {
        let r = start(&env, u, json!({"number": number})).await;
        let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&body), ["number"], "{number:?}");
    }
    let r = start(&env, u, json!({"number": PHONE, "channel": "pigeon"})).await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), ["channel"]);
    let r = start(&env, u, json!({"number": PHONE, "extra": 1})).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(env.sim.log_for("twilio.messages").is_empty());

    let r = verify(&env, u, "123456").await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), ["code"], "no code was requested");

    let r = env
        .app
        .post_json("/api/v1/users/me/phone", None, &json!({"number": PHONE}))
        .await;
    assert_problem(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[sqlx::test]
async fn a_code_expires_after_ten_minutes(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let u = &env.user;
    let r = start(&env, u, json!({"number": PHONE})).await;
    let pending: Value = r.json().await.unwrap();
    let expires: chrono::DateTime<chrono::Utc> =
        pending["expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = expires - chrono::Utc::now();
    assert!(
        ttl > chrono::Duration::minutes(9) && ttl <= chrono::Duration::minutes(10),
        "{ttl}"
    );
    let code = code_in(&sent(&env)[0]);
    // Ten minutes pass.
    sqlx::query("update phone_verifications set expires_at = now() - interval '1 second', created_at = created_at - interval '10 minutes'")
        .execute(&pool)
        .await
        .unwrap();
    let r = verify(&env, u, &code).await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), ["code"]);
    assert!(body.to_string().contains("expired"), "{body}");
    let r = env.app.get("/api/v1/users/me/phone", &u.access_token).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test]
async fn five_wrong_tries_burn_the_code(pool: PgPool) {
    let env = env(pool, &[]).await;
    let u = &env.user;
    start(&env, u, json!({"number": PHONE})).await;
    let code = code_in(&sent(&env)[0]);
    for left in (0..5).rev() {
        let r = verify(&env, u, &wrong(&code)).await;
        let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&body), ["code"]);
        if left > 0 {
            assert!(
                body.to_string().contains(&format!("{left} tries left")),
                "{body}"
            );
        }
    }
    let r = verify(&env, u, &code).await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(body.to_string().contains("too many"), "{body}");
    let r = env.app.get("/api/v1/users/me/phone", &u.access_token).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The fifth try may still be right.
    let other = env.app.new_user().await;
    start(&env, &other, json!({"number": "+14155550777"})).await;
    let code = code_in(&sent(&env).pop().unwrap());
    for _ in 0..4 {
        let r = verify(&env, &other, &wrong(&code)).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = verify(&env, &other, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[sqlx::test]
async fn codes_are_rate_limited_per_user_and_per_number(pool: PgPool) {
    let env = env(pool, &[]).await;
    let u = &env.user;
    // Per user: 5 an hour, whatever the number.
    for i in 0..5 {
        let r = start(&env, u, json!({"number": format!("+1415555100{i}")})).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    let r = start(&env, u, json!({"number": "+14155551009"})).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(sent(&env).len(), 5);

    // Per number: 10 an hour, whoever asks.
    let (a, b, c) = (
        env.app.new_user().await,
        env.app.new_user().await,
        env.app.new_user().await,
    );
    for user in [&a, &b] {
        for _ in 0..5 {
            let r = start(&env, user, json!({"number": PHONE})).await;
            assert_eq!(r.status(), StatusCode::ACCEPTED);
        }
    }
    let r = start(&env, &c, json!({"number": PHONE})).await;
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let r = start(&env, &c, json!({"number": "+14155552000"})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED, "other numbers still work");
    assert_eq!(sent(&env).len(), 16);
}

#[sqlx::test]
async fn twilio_refusals_and_outages_map_to_errors(pool: PgPool) {
    let env = env(pool, &[]).await;
    let u = &env.user;
    for number in ["+15005550001", "+15005550009", "+15005550004"] {
        let r = start(&env, u, json!({"number": number, "channel": "sms"})).await;
        let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&body), ["number"]);
    }
    env.sim.script(Script::fail(
        Service::TwilioMessages,
        Failure::Status { status: 500 },
    ));
    let r = start(&env, u, json!({"number": PHONE})).await;
    assert_problem(r, StatusCode::BAD_GATEWAY, "provider_error").await;
    // Nothing reached a phone: no code is pending, and the failures used no quota.
    let r = verify(&env, u, "123456").await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(body.to_string().contains("no code"), "{body}");
    let r = start(&env, u, json!({"number": PHONE})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // Not configured: 503 and nothing stored.
    let off = crate::voice::voice_env(env.app.pool.clone(), &[]).await;
    let r = start(&off, &off.user, json!({"number": PHONE})).await;
    assert_problem(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(off.sim.log_for("twilio.messages").is_empty());
}

#[sqlx::test]
async fn phone_routes_act_only_on_the_callers_number(pool: PgPool) {
    let env = env(pool, &[]).await;
    let (a, b) = (&env.user, env.app.new_user().await);
    start(&env, a, json!({"number": PHONE})).await;
    let code = code_in(&sent(&env)[0]);
    // B cannot use A's code, see A's number, or delete it.
    let r = verify(&env, &b, &code).await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let r = verify(&env, a, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = env.app.get("/api/v1/users/me/phone", &b.access_token).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = env
        .app
        .delete("/api/v1/users/me/phone", &b.access_token)
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = env.app.get("/api/v1/users/me/phone", &a.access_token).await;
    assert_eq!(r.status(), StatusCode::OK);

    // Whoever proves they hold the phone last owns the number.
    verify_number(&env, &b, PHONE, "sms").await;
    let r = env.app.get("/api/v1/users/me/phone", &a.access_token).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = env.app.get("/api/v1/users/me/phone", &b.access_token).await;
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["number"], PHONE);
}
