//! Outbound phone calls (`POST /api/v1/calls`) against the simulator's Twilio REST API:
//! the request Twilio gets, the call's lifecycle through signed status callbacks and the
//! voice webhook, idempotency, wallet checks, provider failures and BOLA.

use cadence::sim::{Failure, Script, Service};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{assert_ledger_balanced, assert_problem, error_fields};
use crate::telephony::{attr, twilio_sign};
use crate::voice::{VoiceEnv, sim_agent, voice_env};

const PUBLIC: &str = "https://cadence.example";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const FROM: &str = "+15550001111";
const TO: &str = "+14155550123";

async fn env(pool: PgPool, extra: &[(&str, &str)]) -> VoiceEnv {
    let mut pairs = vec![
        ("CADENCE__SERVER__PUBLIC_URL", PUBLIC),
        ("CADENCE__TELEPHONY__TWILIO__ACCOUNT_SID", ACCOUNT),
        ("CADENCE__TELEPHONY__TWILIO__FROM_NUMBER", FROM),
    ];
    pairs.extend_from_slice(extra);
    voice_env(pool, &pairs).await
}

/// A signed webhook to `url` (a full public URL, as Twilio calls it).
async fn signed(env: &VoiceEnv, url: &str, params: &[(&str, &str)]) -> reqwest::Response {
    let path = url
        .strip_prefix(PUBLIC)
        .expect("a URL under the public URL");
    let sig = twilio_sign(url, params);
    reqwest::Client::new()
        .post(env.app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(serde_urlencoded::to_string(params).unwrap())
        .send()
        .await
        .unwrap()
}

async fn place(env: &VoiceEnv, key: Option<&str>, body: &Value) -> reqwest::Response {
    env.app
        .post_idem("/api/v1/calls", &env.user.access_token, key, body)
        .await
}

async fn get_call(env: &VoiceEnv, id: &str) -> Value {
    let r = env
        .app
        .get(&format!("/api/v1/calls/{id}"), &env.user.access_token)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn call_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from calls")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn call_sid(pool: &PgPool, id: &str) -> Option<String> {
    sqlx::query_scalar("select provider_call_sid from calls where id = $1")
        .bind(Uuid::parse_str(id).unwrap())
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The call's wallet holds: (status, settled amount).
async fn holds_of(pool: &PgPool, id: &str) -> Vec<(String, Option<i64>)> {
    sqlx::query_as(
        "select status, settled_amount from wallet_holds where reference_id = $1 order by created_at",
    )
    .bind(Uuid::parse_str(id).unwrap())
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn call_debits(pool: &PgPool, id: &str) -> Vec<i64> {
    sqlx::query_scalar(
        "select amount from ledger_entries e join ledger_accounts a on a.id = e.account_id
         where a.kind = 'user' and e.kind = 'call_debit' and e.reference_id = $1",
    )
    .bind(Uuid::parse_str(id).unwrap())
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn outbound_call_lifecycle_from_request_to_settlement(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let t = &env.user.access_token;
    let (balance_before, _, _) = env.app.wallet(t).await;

    let r = place(
        &env,
        Some("call-1"),
        &json!({"agent_id": agent, "to_number": TO}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let call: Value = r.json().await.unwrap();
    let id = call["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/v1/calls/{id}"));
    assert_eq!(call["status"], "queued");
    assert_eq!(call["direction"], "outbound");
    assert_eq!(call["channel"], "twilio");
    assert_eq!(call["to_number"], TO);
    assert_eq!(call["from_number"], FROM);
    assert_eq!(call["agent_id"], agent.as_str());
    let (_, reserved, _) = env.app.wallet(t).await;
    assert!(reserved > 0, "a hold is reserved while the phone rings");

    // What Twilio was asked.
    let reqs = env.sim.log_for("twilio.calls");
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.status, 201);
    assert_eq!(
        req.auth.as_deref(),
        Some(ACCOUNT),
        "basic auth with the account SID"
    );
    assert_eq!(
        req.path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json")
    );
    assert_eq!(req.body["To"], TO);
    assert_eq!(req.body["From"], FROM);
    let url = req.body["Url"].as_str().unwrap().to_string();
    assert_eq!(
        url,
        format!("{PUBLIC}/api/v1/telephony/twilio/voice?call_id={id}")
    );
    let status_url = req.body["StatusCallback"].as_str().unwrap().to_string();
    assert!(
        status_url.starts_with(&format!("{PUBLIC}/api/v1/telephony/twilio/status")),
        "{status_url}"
    );
    let sid = call_sid(&pool, &id).await.expect("the CallSid is stored");
    assert!(sid.starts_with("CA"), "{sid}");

    // Twilio reports progress.
    let r = signed(
        &env,
        &status_url,
        &[("CallSid", &sid), ("CallStatus", "ringing")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(get_call(&env, &id).await["status"], "ringing");
    let r = signed(
        &env,
        &status_url,
        &[("CallSid", &sid), ("CallStatus", "in-progress")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let c = get_call(&env, &id).await;
    assert_eq!(c["status"], "active");
    assert!(c["started_at"].is_string());

    // The callee answered: Twilio fetches the Url and gets our stream for the SAME call.
    let r = signed(
        &env,
        &url,
        &[
            ("AccountSid", ACCOUNT),
            ("CallSid", &sid),
            ("From", FROM),
            ("To", TO),
            ("CallStatus", "in-progress"),
            ("Direction", "outbound-api"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let xml = r.text().await.unwrap();
    assert!(xml.contains("<Response><Connect><Stream "), "{xml}");
    assert_eq!(
        attr(&xml, "Stream", "url").unwrap(),
        "wss://cadence.example/api/v1/telephony/twilio/stream"
    );
    let token = attr(&xml, "Parameter", "value").unwrap();
    assert!(token.starts_with(&format!("{id}.{agent}.")), "{token}");
    assert_eq!(call_count(&pool).await, 1, "no second call was opened");
    // The session can still be claimed by the stream after ringing (longer than a ticket).
    let ttl: f64 = sqlx::query_scalar(
        "select extract(epoch from expires_at - now())::float8 from voice_sessions where call_id = $1",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(ttl > 120.0, "session expires in {ttl} s");

    // Hang-up: completed, settled once however often Twilio repeats itself.
    for _ in 0..2 {
        let r = signed(
            &env,
            &status_url,
            &[("CallSid", &sid), ("CallStatus", "completed")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    let c = get_call(&env, &id).await;
    assert_eq!(c["status"], "completed");
    assert_eq!(c["end_reason"], "remote_hangup");
    assert_eq!(c["direction"], "outbound");
    let cost = c["cost_credits"].as_i64().unwrap();
    let (balance, reserved, _) = env.app.wallet(t).await;
    assert_eq!(reserved, 0);
    assert_eq!(balance, balance_before - cost);
    let holds = holds_of(&pool, &id).await;
    assert_eq!(holds.len(), 1);
    assert_eq!(holds[0].0, "settled");
    assert_eq!(holds[0].1, Some(cost));
    let debits = call_debits(&pool, &id).await;
    assert_eq!(debits, if cost > 0 { vec![-cost] } else { vec![] });
    assert_ledger_balanced(&pool).await;

    // The ended call cannot be connected again: a late webhook hangs up.
    let r = signed(
        &env,
        &url,
        &[("CallSid", &sid), ("Direction", "outbound-api")],
    )
    .await;
    let xml = r.text().await.unwrap();
    assert!(
        xml.contains("<Hangup/>") && !xml.contains("<Stream"),
        "{xml}"
    );
    assert_eq!(env.sim.log_for("twilio.calls").len(), 1);
}

#[sqlx::test]
async fn an_idempotent_replay_returns_the_same_call_and_dials_once(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let body = json!({"agent_id": agent, "to_number": TO});
    let r1 = place(&env, Some("dial-once"), &body).await;
    assert_eq!(r1.status(), StatusCode::CREATED);
    let first: Value = r1.json().await.unwrap();
    let r2 = place(&env, Some("dial-once"), &body).await;
    assert_eq!(r2.status(), StatusCode::CREATED);
    assert_eq!(r2.headers()["idempotent-replayed"], "true");
    let second: Value = r2.json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(
        env.sim.log_for("twilio.calls").len(),
        1,
        "one Twilio request"
    );
    assert_eq!(call_count(&pool).await, 1);
    // The same key for another request is refused; a new key is a new call.
    let r = place(
        &env,
        Some("dial-once"),
        &json!({"agent_id": agent, "to_number": "+14155550124"}),
    )
    .await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&p), vec!["Idempotency-Key"]);
    let r = place(&env, Some("dial-twice"), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(env.sim.log_for("twilio.calls").len(), 2);
    assert_eq!(call_count(&pool).await, 2);
}

#[sqlx::test]
async fn an_empty_wallet_answers_402_and_dials_nobody(pool: PgPool) {
    let env = env(
        pool.clone(),
        &[("CADENCE__BILLING__CALL_MIN_CREDITS", "5000000")],
    )
    .await;
    let agent = sim_agent(&env, json!({})).await;
    let r = place(
        &env,
        Some("k"),
        &json!({"agent_id": agent, "to_number": TO}),
    )
    .await;
    assert_problem(r, StatusCode::PAYMENT_REQUIRED, "insufficient_credits").await;
    assert!(env.sim.log_for("twilio.calls").is_empty());
    assert_eq!(call_count(&pool).await, 0);
    let (_, reserved, _) = env.app.wallet(&env.user.access_token).await;
    assert_eq!(reserved, 0);
}

#[sqlx::test]
async fn bad_numbers_unknown_agents_and_other_users_agents_are_refused(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    for bad in [
        "14155550123",
        "+0123",
        "+1",
        "+12",
        "+1015550123",
        "+2591234567",
        "+1415555012312345",
        "+1415abc0123",
        "",
    ] {
        let r = place(&env, None, &json!({"agent_id": agent, "to_number": bad})).await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&p), vec!["to_number"], "{bad}");
    }
    let r = place(&env, None, &json!({"agent_id": agent})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = place(
        &env,
        None,
        &json!({"agent_id": agent, "to_number": TO, "from_number": "+15550000000"}),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields"
    );
    let r = place(
        &env,
        None,
        &json!({"agent_id": Uuid::now_v7(), "to_number": TO}),
    )
    .await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;

    // BOLA: another user's agent is answered like a missing one, and costs its owner nothing.
    let other = env.app.new_user().await;
    let (owner_before, _, _) = env.app.wallet(&env.user.access_token).await;
    let r = env
        .app
        .post_idem(
            "/api/v1/calls",
            &other.access_token,
            Some("theirs"),
            &json!({"agent_id": agent, "to_number": TO}),
        )
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    assert!(env.sim.log_for("twilio.calls").is_empty());
    assert_eq!(call_count(&pool).await, 0);
    let (owner_after, owner_reserved, _) = env.app.wallet(&env.user.access_token).await;
    assert_eq!((owner_after, owner_reserved), (owner_before, 0));

    // And a call of mine is not theirs to read.
    let r = place(&env, None, &json!({"agent_id": agent, "to_number": TO})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = env
        .app
        .get(&format!("/api/v1/calls/{id}"), &other.access_token)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Unauthenticated: 401.
    let r = env
        .app
        .post_json(
            "/api/v1/calls",
            None,
            &json!({"agent_id": agent, "to_number": TO}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn without_twilio_settings_outbound_calls_answer_503(pool: PgPool) {
    let env = env(
        pool.clone(),
        &[("CADENCE__TELEPHONY__TWILIO__FROM_NUMBER", "")],
    )
    .await;
    let agent = sim_agent(&env, json!({})).await;
    let r = place(
        &env,
        Some("k"),
        &json!({"agent_id": agent, "to_number": TO}),
    )
    .await;
    let p = assert_problem(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(p["detail"].as_str().unwrap().contains("FROM_NUMBER"), "{p}");
    assert_eq!(call_count(&pool).await, 0);
    assert!(env.sim.log_for("twilio.calls").is_empty());
}

#[sqlx::test]
async fn twilio_refusing_the_call_fails_it_and_releases_the_hold(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let t = &env.user.access_token;
    let (balance_before, _, _) = env.app.wallet(t).await;

    // Twilio is down: 502, the call failed, the hold released, the key free for a retry.
    env.sim.script(Script::fail(
        Service::Twilio,
        Failure::Status { status: 500 },
    ));
    let body = json!({"agent_id": agent, "to_number": TO});
    let r = place(&env, Some("retry-me"), &body).await;
    let p = assert_problem(r, StatusCode::BAD_GATEWAY, "provider_error").await;
    assert!(!p["detail"].as_str().unwrap().contains("sk-sim"), "{p}");
    let calls: Value = env.app.get("/api/v1/calls", t).await.json().await.unwrap();
    let failed = &calls["data"][0];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["end_reason"], "provider_error");
    assert_eq!(failed["direction"], "outbound");
    assert_eq!(failed["cost_credits"], 0);
    let id = failed["id"].as_str().unwrap();
    assert_eq!(holds_of(&pool, id).await, vec![("settled".into(), Some(0))]);
    assert!(call_debits(&pool, id).await.is_empty());
    let (balance, reserved, _) = env.app.wallet(t).await;
    assert_eq!((balance, reserved), (balance_before, 0));
    let r = place(&env, Some("retry-me"), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "a 5xx is not stored");
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "queued");

    // Twilio rejects the number: 422 on to_number, the call failed, nothing charged.
    let r = place(
        &env,
        Some("bad-number"),
        &json!({"agent_id": agent, "to_number": "+15005550001"}),
    )
    .await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&p), vec!["to_number"]);
    assert!(p["detail"].as_str().unwrap().contains("21217"), "{p}");
    let calls: Value = env.app.get("/api/v1/calls", t).await.json().await.unwrap();
    assert_eq!(calls["data"][0]["status"], "failed");
    assert_eq!(calls["data"][0]["to_number"], "+15005550001");
    // Another refusal (Twilio rejects our account's request): 502.
    env.sim.script(Script::fail(
        Service::Twilio,
        Failure::Status { status: 401 },
    ));
    let r = place(&env, None, &body).await;
    assert_problem(r, StatusCode::BAD_GATEWAY, "provider_error").await;

    let statuses: Vec<String> = sqlx::query_scalar("select status from calls order by created_at")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(statuses, vec!["failed", "queued", "failed", "failed"]);
    // Only the live call holds credits; the failed ones charged nothing.
    let (balance, reserved, _) = env.app.wallet(t).await;
    assert_eq!(balance, balance_before);
    assert_eq!(
        reserved,
        env.app.state.settings.billing.call_min_credits.max(1)
    );
    assert_ledger_balanced(&pool).await;
}

#[sqlx::test]
async fn busy_and_unanswered_calls_end_with_that_status_at_no_cost(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let t = &env.user.access_token;
    let (balance_before, _, _) = env.app.wallet(t).await;
    for (outcome, expected) in [
        ("busy", "busy"),
        ("no-answer", "no_answer"),
        ("failed", "failed"),
    ] {
        let r = place(&env, None, &json!({"agent_id": agent, "to_number": TO})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let log = env.sim.log_for("twilio.calls");
        let status_url = log.last().unwrap().body["StatusCallback"]
            .as_str()
            .unwrap()
            .to_string();
        let sid = call_sid(&pool, &id).await.unwrap();
        let r = signed(
            &env,
            &status_url,
            &[("CallSid", &sid), ("CallStatus", "ringing")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        for _ in 0..2 {
            let r = signed(
                &env,
                &status_url,
                &[("CallSid", &sid), ("CallStatus", outcome)],
            )
            .await;
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
        }
        let c = get_call(&env, &id).await;
        assert_eq!(c["status"], expected, "{outcome}");
        assert_eq!(c["cost_credits"], 0, "{outcome}");
        assert_eq!(
            holds_of(&pool, &id).await,
            vec![("settled".into(), Some(0))]
        );
        assert!(call_debits(&pool, &id).await.is_empty());
    }
    let (balance, reserved, _) = env.app.wallet(t).await;
    assert_eq!((balance, reserved), (balance_before, 0));
    assert_ledger_balanced(&pool).await;
}

#[sqlx::test]
async fn a_callback_that_races_the_create_answer_finds_its_call(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let r = place(&env, None, &json!({"agent_id": agent, "to_number": TO})).await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let log = env.sim.log_for("twilio.calls");
    let status_url = log[0].body["StatusCallback"].as_str().unwrap().to_string();
    assert_eq!(
        status_url,
        format!("{PUBLIC}/api/v1/telephony/twilio/status?call_id={id}")
    );
    // As if the callback came before the CallSid was stored.
    sqlx::query("update calls set provider_call_sid = null where id = $1")
        .bind(Uuid::parse_str(&id).unwrap())
        .execute(&pool)
        .await
        .unwrap();
    let r = signed(
        &env,
        &status_url,
        &[("CallSid", "CAearly"), ("CallStatus", "ringing")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(get_call(&env, &id).await["status"], "ringing");
    assert_eq!(call_sid(&pool, &id).await.as_deref(), Some("CAearly"));
    // A callback naming another call's id with a different CallSid changes nothing.
    let r = signed(
        &env,
        &status_url,
        &[("CallSid", "CAother"), ("CallStatus", "completed")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(get_call(&env, &id).await["status"], "ringing");
    // Unsigned (or signed for another URL) callbacks are refused.
    let r = reqwest::Client::new()
        .post(env.app.url(status_url.strip_prefix(PUBLIC).unwrap()))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            twilio_sign(
                &format!("{PUBLIC}/api/v1/telephony/twilio/status"),
                &[("CallSid", "CAearly"), ("CallStatus", "completed")],
            ),
        )
        .body("CallSid=CAearly&CallStatus=completed")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(get_call(&env, &id).await["status"], "ringing");
}

#[sqlx::test]
async fn the_rest_client_hangs_up_with_status_completed(pool: PgPool) {
    let env = env(pool, &[]).await;
    cadence::telephony::rest::hangup(&env.app.state, "CA42")
        .await
        .expect("hang up");
    let log = env.sim.log_for("twilio.call_update");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].auth.as_deref(), Some(ACCOUNT));
    assert_eq!(
        log[0].path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/CA42.json")
    );
    assert_eq!(log[0].body["Status"], "completed");
}

#[sqlx::test]
async fn an_answered_outbound_call_talks_over_the_media_stream(pool: PgPool) {
    use crate::telephony::{Phone, events, utterance};
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let r = place(&env, None, &json!({"agent_id": agent, "to_number": TO})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let req = env.sim.log_for("twilio.calls").remove(0);
    let url = req.body["Url"].as_str().unwrap().to_string();
    let status_url = req.body["StatusCallback"].as_str().unwrap().to_string();
    let sid = call_sid(&pool, &id).await.unwrap();
    // Ringing, then the callee answers: the webhook connects the stream while the call is
    // still `ringing` (Twilio's in-progress callback may come later).
    signed(
        &env,
        &status_url,
        &[("CallSid", &sid), ("CallStatus", "ringing")],
    )
    .await;
    let r = signed(
        &env,
        &url,
        &[
            ("CallSid", &sid),
            ("To", TO),
            ("From", FROM),
            ("Direction", "outbound-api"),
        ],
    )
    .await;
    let xml = r.text().await.unwrap();
    let token = attr(&xml, "Parameter", "value").unwrap();
    let mut phone = Phone::stream(&env, &sid, &token).await;
    env.sim.script(Script::transcript("who is this"));
    env.sim.script(Script::llm_text(
        "Your assistant, calling about your tasks.",
    ));
    phone.speak(&utterance()).await;
    let heard = phone.listen(|v| v["event"] == "mark").await;
    assert!(heard.media_bytes > 0, "{heard:?}");
    assert_eq!(events(&heard, "mark").len(), 1);
    let c = get_call(&env, &id).await;
    assert_eq!(c["status"], "active");
    assert!(c["started_at"].is_string());
    // The callee hangs up: Twilio's completed callback ends the live stream, settled once.
    signed(
        &env,
        &status_url,
        &[("CallSid", &sid), ("CallStatus", "in-progress")],
    )
    .await;
    signed(
        &env,
        &status_url,
        &[("CallSid", &sid), ("CallStatus", "completed")],
    )
    .await;
    let heard = phone.listen(|_| false).await;
    assert!(heard.closed);
    let c = crate::voice::completed_call(&env, &id).await;
    assert_eq!(c["end_reason"], "remote_hangup");
    assert!(c["usage"]["stt_seconds"].as_f64().unwrap() > 0.0);
    let cost = c["cost_credits"].as_i64().unwrap();
    assert!(cost > 0);
    assert_eq!(call_debits(&pool, &id).await, vec![-cost]);
    assert_ledger_balanced(&pool).await;
    // Twilio ended it: nobody hangs up again through the REST API.
    assert!(env.sim.log_for("twilio.call_update").is_empty());
}
