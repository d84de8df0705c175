//! Avatar sessions end to end: the real server and PostgreSQL, LiveAvatar stood in for by the
//! simulator (which records every command it got), driven by a real voice session.

use std::time::Duration;

use cadence::sim::{AvatarRecord, Failure, Reply, Script, Service};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    helpers::{WsStream, assert_problem},
    voice::{
        VoiceEnv, call_debits, completed_call, hold_status, of_type, read_until, send_audio,
        send_json, sim_agent, tone, voice_env,
    },
};

async fn start(env: &VoiceEnv, agent: &str) -> reqwest::Response {
    env.app
        .post_json(
            "/api/v1/avatar/sessions",
            Some(&env.user.access_token),
            &json!({"agent_id": agent, "avatar_id": "anna-lite"}),
        )
        .await
}

async fn started(env: &VoiceEnv, agent: &str) -> Value {
    let r = start(env, agent).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

async fn connect(env: &VoiceEnv, s: &Value) -> WsStream {
    let v = &s["voice"];
    let path = format!(
        "/api/v1/voice/sessions/{}/ws?ticket={}",
        v["session_id"].as_str().unwrap(),
        v["ticket"].as_str().unwrap()
    );
    let mut ws = env.app.ws_connect(&path, None).await.expect("ws connect");
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    ws
}

async fn get(env: &VoiceEnv, path: &str) -> Value {
    let r = env.app.get(path, &env.user.access_token).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.unwrap()
}

async fn session(env: &VoiceEnv, s: &Value) -> Value {
    get(
        env,
        &format!("/api/v1/avatar/sessions/{}", s["id"].as_str().unwrap()),
    )
    .await
}

async fn quota(env: &VoiceEnv) -> Value {
    get(env, "/api/v1/avatar/quota").await
}

async fn delete(env: &VoiceEnv, s: &Value) -> StatusCode {
    env.app
        .delete(
            &format!("/api/v1/avatar/sessions/{}", s["id"].as_str().unwrap()),
            &env.user.access_token,
        )
        .await
        .status()
}

/// Poll (bounded) until the avatar session has ended.
async fn ended_session(env: &VoiceEnv, s: &Value) -> Value {
    for _ in 0..200 {
        let v = session(env, s).await;
        if v["status"] == "ended" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("avatar session never ended");
}

fn record_of(env: &VoiceEnv, s: &Value) -> AvatarRecord {
    let sid = s["avatar"]["session_id"].as_str().unwrap();
    env.sim
        .avatar_sessions()
        .into_iter()
        .find(|r| r.session_id == sid)
        .expect("the stand-in saw the session")
}

async fn stopped_record(env: &VoiceEnv, s: &Value) -> AvatarRecord {
    let sid = s["avatar"]["session_id"].as_str().unwrap().to_string();
    let all = env
        .sim
        .wait_for_avatars(
            |a| a.iter().any(|r| r.session_id == sid && r.stopped),
            Duration::from_secs(10),
        )
        .await;
    all.into_iter().find(|r| r.session_id == sid).unwrap()
}

async fn connected_record(env: &VoiceEnv, s: &Value) -> AvatarRecord {
    let sid = s["avatar"]["session_id"].as_str().unwrap().to_string();
    let all = env
        .sim
        .wait_for_avatars(
            |a| a.iter().any(|r| r.session_id == sid && r.ws_connected),
            Duration::from_secs(10),
        )
        .await;
    let r = all.into_iter().find(|r| r.session_id == sid).unwrap();
    assert!(r.ws_connected, "the avatar's WebSocket connected");
    r
}

/// The session ended with `reason`, was charged its stored start → end minutes, once (a
/// second DELETE adds nothing), with the call; `total` is the month's running sum.
async fn check(env: &VoiceEnv, pool: &PgPool, total: &mut i64, s: &Value, reason: &str) {
    let a = ended_session(env, s).await;
    assert_eq!(a["end_reason"], reason);
    let expected = stored_minutes(pool, s, 1.0).await;
    assert_eq!(a["minutes_charged"], expected, "{reason}");
    *total += expected as i64;
    let call_id = s["voice"]["call_id"].as_str().unwrap();
    let call = completed_call(env, call_id).await;
    assert_eq!(call["cost_breakdown"]["avatar_minutes"], expected);
    assert!(stopped_record(env, s).await.stopped);
    assert_eq!(delete(env, s).await, StatusCode::NO_CONTENT);
    let q = quota(env).await;
    assert_eq!(q["minutes_used"], *total, "{reason}");
    assert_eq!(q["minutes_reserved"], 0, "{reason}");
    assert_eq!(call_debits(pool, call_id).await, 1);
}

/// Minutes from start to end, rounded up, as stored.
async fn stored_minutes(pool: &PgPool, s: &Value, minute_secs: f64) -> i32 {
    let id: Uuid = s["id"].as_str().unwrap().parse().unwrap();
    sqlx::query_scalar::<_, i32>(
        "select greatest(1, ceil(extract(epoch from (ended_at - started_at))::float8 / $2))::int
         from avatar_sessions where id = $1",
    )
    .bind(id)
    .bind(minute_secs)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn the_avatar_gets_the_spoken_audio_at_24khz_and_ending_the_call_ends_it(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = started(&env, &agent).await;
    assert!(
        s["avatar"]["livekit_url"]
            .as_str()
            .unwrap()
            .starts_with("ws")
    );
    assert!(!s["avatar"]["livekit_token"].as_str().unwrap().is_empty());
    assert!(
        s["voice"]["ws_url"]
            .as_str()
            .unwrap()
            .contains("/ws?ticket=")
    );
    let rec = record_of(&env, &s);
    assert_eq!(rec.mode, "LITE");
    assert_eq!(rec.avatar_id, "anna-lite");
    assert!(rec.started && !rec.stopped);
    let token_req = &env.sim.log_for("liveavatar.token")[0];
    assert_eq!(token_req.auth.as_deref(), Some("sk-sim-test"), "X-API-KEY");
    let q = quota(&env).await;
    assert_eq!(q["minutes_allowed"], 30);
    assert_eq!(q["minutes_reserved"], 1);
    assert_eq!(q["minutes_used"], 0);
    assert_eq!(
        q["period"],
        chrono::Utc::now().format("%Y-%m").to_string().as_str()
    );

    let mut ws = connect(&env, &s).await;
    connected_record(&env, &s).await;
    env.sim.script(Script::llm_text(
        "Sure. Here is a longer answer so that there is a good second of speech to compare.",
    ));
    send_json(&mut ws, json!({"type": "text", "text": "talk to me"})).await;
    let seen = read_until(&mut ws, |v| v["type"] == "metrics", true).await;
    assert!(seen.audio_bytes > 0);
    // The client heard PCM16 at 16 kHz; the avatar got the same speech at 24 kHz.
    let heard_secs = (seen.audio_bytes / 2) as f64 / 16000.0;
    let chunks = of_type(&seen, "mark").len() as u32;
    let rec = env
        .sim
        .wait_for_avatars(
            |a| a.iter().any(|r| r.speak_ends >= chunks),
            Duration::from_secs(10),
        )
        .await
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(
        rec.speak_ends, chunks,
        "one agent.speak_end per spoken chunk"
    );
    let got_secs = rec.samples as f64 / 24000.0;
    assert!(
        (got_secs - heard_secs).abs() < 0.01 * heard_secs + 0.005 * chunks as f64,
        "avatar got {got_secs:.3} s of 24 kHz audio, the client heard {heard_secs:.3} s"
    );
    assert!(
        rec.max_chunk_bytes <= 48_000,
        "about a second per agent.speak"
    );
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    assert_eq!(rec.events[0], "agent.speak");

    send_json(&mut ws, json!({"type": "end"})).await;
    let end = read_until(&mut ws, |v| v["type"] == "ended", true).await;
    assert_eq!(end.events.last().unwrap()["reason"], "client_ended");
    let call_id = s["voice"]["call_id"].as_str().unwrap();
    let call = completed_call(&env, call_id).await;
    let a = ended_session(&env, &s).await;
    assert_eq!(a["end_reason"], "client_ended");
    assert_eq!(a["minutes_charged"], 1);
    let rec = stopped_record(&env, &s).await;
    assert!(rec.ws_closed);
    let q = quota(&env).await;
    assert_eq!(
        (q["minutes_used"].as_i64(), q["minutes_reserved"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(q["minutes_remaining"], 29);
    // Priced in credits and settled with the call, once.
    assert_eq!(call["cost_breakdown"]["avatar_minutes"], 1);
    assert_eq!(call["cost_breakdown"]["avatar_credits"], 10);
    assert!(call["cost_credits"].as_i64().unwrap() >= 10);
    assert_eq!(call_debits(&pool, call_id).await, 1);
    let prices = env
        .app
        .client
        .get(env.app.url("/api/v1/pricing"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(prices["avatar_per_minute"], 10);
    assert!(
        prices["units"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["unit"] == "avatar_minute" && u["credits"] == 10)
    );
    // A DELETE afterwards changes nothing.
    assert_eq!(delete(&env, &s).await, StatusCode::NO_CONTENT);
    assert_eq!(quota(&env).await["minutes_used"], 1);
    assert_eq!(call_debits(&pool, call_id).await, 1);
    crate::helpers::assert_ledger_balanced(&pool).await;
}

#[sqlx::test]
async fn a_24khz_client_streams_to_the_avatar_unresampled(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = started(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    send_json(&mut ws, json!({"type": "start", "sample_rate": 24000})).await;
    env.sim
        .script(Script::llm_text("One short sentence to say."));
    send_json(&mut ws, json!({"type": "text", "text": "hi"})).await;
    let seen = read_until(&mut ws, |v| v["type"] == "metrics", true).await;
    let heard = (seen.audio_bytes / 2) as u64;
    assert!(heard > 0);
    let rec = env
        .sim
        .wait_for_avatars(
            |a| a.iter().any(|r| r.samples >= heard),
            Duration::from_secs(10),
        )
        .await
        .remove(0);
    assert_eq!(rec.samples, heard, "every sample, as heard");
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
}

#[sqlx::test]
async fn barge_in_interrupts_the_avatar(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = started(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    env.sim.script(Script::new(
        Service::Llm,
        Reply {
            text: Some("First part is here. Then a much longer second sentence follows that keeps going and going for a long while.".into()),
            token_delay_ms: Some(150),
            omit_usage: true,
            ..Default::default()
        },
    ));
    env.sim.configure(|c| c.tts_realtime = true);
    send_json(&mut ws, json!({"type": "text", "text": "tell me a story"})).await;
    read_until(&mut ws, |v| v["type"] == "mark", true).await;
    env.sim.script(Script::transcript("wait stop please"));
    let mut audio = tone(600, 16000);
    audio.extend(vec![0i16; 16000]);
    send_audio(&mut ws, &audio, 16000).await;
    let seen = read_until(&mut ws, |v| v["type"] == "clear", false).await;
    assert_eq!(seen.events.last().unwrap()["type"], "clear");
    let rec = env
        .sim
        .wait_for_avatars(
            |a| a.iter().any(|r| r.interrupts >= 1),
            Duration::from_secs(10),
        )
        .await
        .remove(0);
    assert_eq!(rec.interrupts, 1);
    assert!(rec.samples_at_interrupts[0] > 0, "it was speaking");
    let i = rec
        .events
        .iter()
        .position(|e| e == "agent.interrupt")
        .unwrap();
    assert!(rec.events[..i].iter().any(|e| e == "agent.speak"));
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
    assert!(record_of(&env, &s).errors.is_empty());
}

#[sqlx::test]
async fn minutes_are_counted_start_to_end_rounded_up_and_charged_once_on_every_ending(
    pool: PgPool,
) {
    let env = voice_env(
        pool.clone(),
        &[
            ("CADENCE__AVATAR__MINUTE_SECS", "1"),
            ("CADENCE__AVATAR__CHECK_SECS", "1"),
            ("CADENCE__AVATAR__MINUTES_PER_MONTH", "1000"),
        ],
    )
    .await;
    let agent = sim_agent(&env, json!({})).await;
    let mut total = 0i64;

    // The client ends a session that ran a few (shortened) minutes.
    let s = started(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
    check(&env, &pool, &mut total, &s, "client_ended").await;
    assert!(total >= 3, "2.3 s of 1 s minutes rounds up to at least 3");

    // DELETE of a live session.
    let s = started(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    assert_eq!(delete(&env, &s).await, StatusCode::NO_CONTENT);
    let seen = read_until(&mut ws, |v| v["type"] == "ended", false).await;
    assert_eq!(seen.events.last().unwrap()["reason"], "deleted");
    check(&env, &pool, &mut total, &s, "deleted").await;

    // DELETE of a session whose voice side never connected.
    let s = started(&env, &agent).await;
    assert_eq!(delete(&env, &s).await, StatusCode::NO_CONTENT);
    check(&env, &pool, &mut total, &s, "deleted").await;
    assert_eq!(
        hold_status(&pool, s["voice"]["call_id"].as_str().unwrap()).await,
        "settled"
    );

    // The client disappears.
    let s = started(&env, &agent).await;
    let ws = connect(&env, &s).await;
    drop(ws);
    check(&env, &pool, &mut total, &s, "disconnected").await;

    // LiveAvatar ends the avatar: the voice session ends with it.
    let s = started(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    connected_record(&env, &s).await;
    env.sim
        .avatar_close(s["avatar"]["session_id"].as_str().unwrap());
    let seen = read_until(&mut ws, |v| v["type"] == "ended", false).await;
    assert_eq!(seen.events.last().unwrap()["reason"], "avatar_ended");
    check(&env, &pool, &mut total, &s, "avatar_ended").await;
    crate::helpers::assert_ledger_balanced(&pool).await;
}

#[sqlx::test]
async fn a_session_whose_voice_never_connects_expires_and_is_charged_once(pool: PgPool) {
    let env = voice_env(pool.clone(), &[("CADENCE__AUTH__WS_TICKET_TTL_SECS", "1")]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = started(&env, &agent).await;
    let a = ended_session(&env, &s).await;
    assert_eq!(a["end_reason"], "expired");
    assert_eq!(a["minutes_charged"], 1);
    assert!(stopped_record(&env, &s).await.stopped);
    let q = quota(&env).await;
    assert_eq!(
        (q["minutes_used"].as_i64(), q["minutes_reserved"].as_i64()),
        (Some(1), Some(0))
    );
    let call_id = s["voice"]["call_id"].as_str().unwrap();
    assert_eq!(completed_call(&env, call_id).await["end_reason"], "expired");
    assert_eq!(call_debits(&pool, call_id).await, 1);
    assert_eq!(delete(&env, &s).await, StatusCode::NO_CONTENT);
    assert_eq!(quota(&env).await["minutes_used"], 1);
}

#[sqlx::test]
async fn server_shutdown_ends_the_avatar_and_charges_it(pool: PgPool) {
    let mut env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = started(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    env.app.trigger_shutdown();
    let seen = read_until(&mut ws, |v| v["type"] == "ended", false).await;
    assert_eq!(seen.events.last().unwrap()["reason"], "server_shutdown");
    env.app.shutdown().await;
    let id: Uuid = s["id"].as_str().unwrap().parse().unwrap();
    let (status, charged): (String, Option<i32>) =
        sqlx::query_as("select status, minutes_charged from avatar_sessions where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), charged), ("ended", Some(1)));
    let (used, reserved): (i32, i32) =
        sqlx::query_as("select minutes_used, minutes_reserved from avatar_usage")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((used, reserved), (1, 0));
    assert!(record_of(&env, &s).stopped);
    assert_eq!(
        call_debits(&pool, s["voice"]["call_id"].as_str().unwrap()).await,
        1
    );
}

#[sqlx::test]
async fn running_out_of_minutes_mid_session_says_so_and_ends(pool: PgPool) {
    let env = voice_env(
        pool.clone(),
        &[
            ("CADENCE__AVATAR__MINUTE_SECS", "3"),
            ("CADENCE__AVATAR__CHECK_SECS", "1"),
            ("CADENCE__AVATAR__MINUTES_PER_MONTH", "1"),
        ],
    )
    .await;
    let agent = sim_agent(&env, json!({})).await;
    let s = started(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    let seen = read_until(&mut ws, |v| v["type"] == "ended", true).await;
    assert_eq!(
        seen.events.last().unwrap()["reason"],
        "avatar_quota_exhausted"
    );
    assert!(seen.audio_bytes > 0, "the notice was spoken");
    let tts = env.sim.log_for("elevenlabs.stream");
    assert!(tts.iter().any(|e| {
        e.body
            .to_string()
            .contains("avatar minutes for this month are used up")
    }));
    // The avatar said it too.
    assert!(record_of(&env, &s).samples > 0);
    let a = ended_session(&env, &s).await;
    assert_eq!(a["minutes_charged"], 1);
    let q = quota(&env).await;
    assert_eq!(
        (q["minutes_used"].as_i64(), q["minutes_remaining"].as_i64()),
        (Some(1), Some(0))
    );
    // Nothing is left: a new start is refused and opens no call.
    let r = start(&env, &agent).await;
    assert_problem(r, StatusCode::PAYMENT_REQUIRED, "quota_exceeded").await;
    let calls: i64 = sqlx::query_scalar("select count(*) from calls")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(calls, 1);
}

#[sqlx::test]
async fn parallel_starts_cannot_take_more_minutes_than_the_month_has(pool: PgPool) {
    let env = voice_env(pool.clone(), &[("CADENCE__AVATAR__MINUTES_PER_MONTH", "3")]).await;
    let agent = sim_agent(&env, json!({})).await;
    let tries = futures::future::join_all((0..8).map(|_| start(&env, &agent))).await;
    let mut ok = Vec::new();
    for r in tries {
        match r.status() {
            StatusCode::CREATED => ok.push(r.json::<Value>().await.unwrap()),
            _ => {
                assert_problem(r, StatusCode::PAYMENT_REQUIRED, "quota_exceeded").await;
            }
        }
    }
    assert_eq!(ok.len(), 3);
    let q = quota(&env).await;
    assert_eq!(
        (
            q["minutes_reserved"].as_i64(),
            q["minutes_remaining"].as_i64()
        ),
        (Some(3), Some(0))
    );
    assert_eq!(
        env.sim.avatar_sessions().len(),
        3,
        "refused starts never reach LiveAvatar"
    );
    let calls: i64 = sqlx::query_scalar("select count(*) from calls")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(calls, 3);
    for s in &ok {
        assert_eq!(delete(&env, s).await, StatusCode::NO_CONTENT);
    }
    let q = quota(&env).await;
    assert_eq!(
        (q["minutes_used"].as_i64(), q["minutes_reserved"].as_i64()),
        (Some(3), Some(0))
    );
    let r = start(&env, &agent).await;
    assert_problem(r, StatusCode::PAYMENT_REQUIRED, "quota_exceeded").await;
    let list = get(&env, "/api/v1/avatar/sessions").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 3);
}

#[sqlx::test]
async fn a_failed_vendor_start_gives_the_minute_and_the_credits_back(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    env.sim.script(Script::fail(
        Service::Avatar,
        Failure::Status { status: 500 },
    ));
    let r = start(&env, &agent).await;
    assert_problem(r, StatusCode::BAD_GATEWAY, "provider_error").await;
    let q = quota(&env).await;
    assert_eq!(
        (q["minutes_used"].as_i64(), q["minutes_reserved"].as_i64()),
        (Some(0), Some(0))
    );
    let (_, reserved, _) = env.app.wallet(&env.user.access_token).await;
    assert_eq!(reserved, 0, "the call's hold is released");
    // Validation.
    let r = env
        .app
        .post_json(
            "/api/v1/avatar/sessions",
            Some(&env.user.access_token),
            &json!({"agent_id": agent}),
        )
        .await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(crate::helpers::error_fields(&body), vec!["avatar_id"]);
    let r = env
        .app
        .post_json(
            "/api/v1/avatar/sessions",
            Some(&env.user.access_token),
            &json!({"agent_id": Uuid::now_v7(), "avatar_id": "anna-lite"}),
        )
        .await;
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(crate::helpers::error_fields(&body), vec!["agent_id"]);
}

#[sqlx::test]
async fn other_users_cannot_see_or_end_an_avatar_session(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = started(&env, &agent).await;
    let other = env.app.new_user().await;
    let path = format!("/api/v1/avatar/sessions/{}", s["id"].as_str().unwrap());
    let r = env.app.get(&path, &other.access_token).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = env.app.delete(&path, &other.access_token).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let list: Value = env
        .app
        .get("/api/v1/avatar/sessions", &other.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(list["data"].as_array().unwrap().is_empty());
    let q: Value = env
        .app
        .get("/api/v1/avatar/quota", &other.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q["minutes_reserved"], 0);
    // Someone else's agent cannot be used.
    let r = env
        .app
        .post_json(
            "/api/v1/avatar/sessions",
            Some(&other.access_token),
            &json!({"agent_id": agent, "avatar_id": "anna-lite"}),
        )
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // The owner's session is untouched.
    let mine = session(&env, &s).await;
    assert_eq!(mine["status"], "active");
    assert!(
        mine["avatar"].get("livekit_token").is_none(),
        "the token is only in the POST answer"
    );
    assert!(!record_of(&env, &s).stopped);
    assert_eq!(delete(&env, &s).await, StatusCode::NO_CONTENT);
}
