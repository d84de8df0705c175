//! Voice sessions end to end: the real server, real PostgreSQL, providers pointed at the
//! in-process vendor simulator (or the local engines). No timed assertions: timeouts only
//! keep a broken test from hanging.

use std::time::Duration;

use cadence::sim::{self, Failure, Reply, Script, Service, SimConfig, SimHandle};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, TestUser, WsStream, spawn_app_with};

const KEY: &str = "sk-sim-test";

pub struct VoiceEnv {
    pub app: TestApp,
    pub sim: SimHandle,
    pub user: TestUser,
}

pub async fn voice_env(pool: PgPool, extra: &[(&str, &str)]) -> VoiceEnv {
    let sim = sim::spawn(SimConfig {
        api_key: Some(KEY.into()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let overrides = sim.settings_overrides(KEY);
    let mut pairs: Vec<(&str, &str)> = overrides
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.push(("CADENCE__BILLING__CALL_CHECK_SECS", "1"));
    pairs.extend_from_slice(extra);
    let app = spawn_app_with(pool, &pairs).await;
    let user = app.new_user().await;
    VoiceEnv { app, sim, user }
}

/// An agent on the simulated cloud vendors, without fallbacks (errors surface).
pub async fn sim_agent(env: &VoiceEnv, extra: Value) -> String {
    let mut body = json!({"name": "Voice test", "system_prompt": "You are a test agent.",
        "welcome_message": null,
        "llm": {"provider": "openai", "model": "gpt-4o-mini", "fallbacks": []},
        "stt": {"provider": "deepgram", "fallbacks": []},
        "tts": {"provider": "elevenlabs", "fallbacks": []},
        "interruption": {"enabled": true, "min_words": 2},
        "silence_timeout_seconds": 60, "max_call_seconds": 600});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let resp = env
        .app
        .post_json("/api/v1/agents", Some(&env.user.access_token), &body)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let v: Value = resp.json().await.unwrap();
    v["id"].as_str().unwrap().to_string()
}

pub async fn open_session(env: &VoiceEnv, agent_id: &str) -> Value {
    let resp = env
        .app
        .post_json(
            "/api/v1/voice/sessions",
            Some(&env.user.access_token),
            &json!({"agent_id": agent_id}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json().await.unwrap()
}

pub async fn connect(env: &VoiceEnv, session: &Value) -> WsStream {
    let path = format!(
        "/api/v1/voice/sessions/{}/ws?ticket={}",
        session["session_id"].as_str().unwrap(),
        session["ticket"].as_str().unwrap()
    );
    env.app.ws_connect(&path, None).await.expect("ws connect")
}

/// Everything the server sent until `stop` matched (or the socket ended / 20 s passed).
pub struct Seen {
    pub events: Vec<Value>,
    pub audio_bytes: usize,
}

pub async fn read_until(ws: &mut WsStream, stop: impl Fn(&Value) -> bool, echo: bool) -> Seen {
    let mut seen = Seen {
        events: Vec::new(),
        audio_bytes: 0,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await else {
            return seen;
        };
        match msg {
            Message::Binary(b) => seen.audio_bytes += b.len(),
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if echo && v["type"] == "mark" {
                    let _ = ws
                        .send(Message::Text(
                            json!({"type": "mark", "name": v["name"]})
                                .to_string()
                                .into(),
                        ))
                        .await;
                }
                let done = stop(&v);
                seen.events.push(v);
                if done {
                    return seen;
                }
            }
            Message::Close(_) => return seen,
            _ => {}
        }
    }
}

pub(crate) fn of_type<'a>(seen: &'a Seen, t: &str) -> Vec<&'a Value> {
    seen.events.iter().filter(|e| e["type"] == t).collect()
}

pub(crate) fn tone(ms: u32, rate: u32) -> Vec<i16> {
    let n = (rate * ms / 1000) as usize;
    (0..n)
        .map(|i| {
            (8000.0 * (2.0 * std::f64::consts::PI * 300.0 * i as f64 / rate as f64).sin()) as i16
        })
        .collect()
}

/// Stream audio as 20 ms binary frames (faster than real time; the server does not care).
pub(crate) async fn send_audio(ws: &mut WsStream, samples: &[i16], rate: u32) {
    for chunk in samples.chunks((rate / 50) as usize) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|s| s.to_le_bytes()).collect();
        ws.send(Message::Binary(bytes.into())).await.unwrap();
    }
}

pub(crate) async fn send_json(ws: &mut WsStream, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

pub(crate) async fn call_of(env: &VoiceEnv, call_id: &str) -> Value {
    let resp = env
        .app
        .get(&format!("/api/v1/calls/{call_id}"), &env.user.access_token)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// Poll (bounded) until the call is completed.
pub(crate) async fn completed_call(env: &VoiceEnv, call_id: &str) -> Value {
    for _ in 0..200 {
        let c = call_of(env, call_id).await;
        if c["status"] == "completed" {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("call {call_id} never completed");
}

pub(crate) async fn call_debits(pool: &PgPool, call_id: &str) -> i64 {
    let id: uuid::Uuid = call_id.parse().unwrap();
    sqlx::query_scalar::<_, i64>(
        "select count(*) from ledger_entries e join wallet_holds h on h.transaction_id = e.transaction_id
         where h.reference_id = $1 and e.amount < 0",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

pub(crate) async fn hold_status(pool: &PgPool, call_id: &str) -> String {
    let id: uuid::Uuid = call_id.parse().unwrap();
    sqlx::query_scalar::<_, String>(
        "select h.status from wallet_holds h join calls c on c.hold_id = h.id where c.id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn typed_turn_streams_text_audio_and_marks_then_end_finalizes(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({"welcome_message": "Hello there."})).await;
    let s = open_session(&env, &agent).await;
    assert_eq!(s["audio"]["sample_rate"], 16000);
    assert!(s["ws_url"].as_str().unwrap().contains("/ws?ticket="));
    let call_id = s["call_id"].as_str().unwrap().to_string();
    let mut ws = connect(&env, &s).await;
    let ready = read_until(&mut ws, |v| v["type"] == "ready", false).await;
    assert_eq!(ready.events.last().unwrap()["call_id"], call_id.as_str());
    // The welcome is spoken first: audio then a mark.
    let welcome = read_until(&mut ws, |v| v["type"] == "mark", true).await;
    assert!(welcome.audio_bytes > 0, "welcome audio");
    env.sim.script(Script::llm_text(
        "Sure, I can help with that. What time works?",
    ));
    send_json(&mut ws, json!({"type": "text", "text": "book a meeting"})).await;
    let seen = read_until(&mut ws, |v| v["type"] == "metrics", true).await;
    let user_final = of_type(&seen, "transcript");
    assert!(
        user_final
            .iter()
            .any(|t| t["final"] == true && t["text"] == "book a meeting")
    );
    let final_text = of_type(&seen, "response")
        .into_iter()
        .find(|r| r["final"] == true)
        .expect("final response");
    assert_eq!(
        final_text["text"],
        "Sure, I can help with that. What time works?"
    );
    assert!(!of_type(&seen, "audio_start").is_empty());
    assert!(seen.audio_bytes > 0, "reply audio");
    assert!(of_type(&seen, "mark").len() >= 2, "a mark after each chunk");
    let m = of_type(&seen, "metrics")[0];
    assert!(m["turn"].as_u64().is_some());
    assert!(m["response_latency_ms"].is_u64());
    // The LLM got the system prompt and the user's text.
    let chat = env.sim.log_for("openai.chat");
    assert_eq!(chat.len(), 1);
    let msgs = chat[0].body["messages"].as_array().unwrap().clone();
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs.last().unwrap()["content"], "book a meeting");

    send_json(&mut ws, json!({"type": "end"})).await;
    let end = read_until(&mut ws, |v| v["type"] == "ended", true).await;
    let ended = end.events.last().unwrap();
    assert_eq!(ended["type"], "ended");
    assert_eq!(ended["reason"], "client_ended");
    let call = completed_call(&env, &call_id).await;
    assert_eq!(call["end_reason"], "client_ended");
    assert_eq!(call["channel"], "web");
    assert!(call["usage"]["tts_characters"].as_u64().unwrap() > 40);
    assert!(call["usage"]["llm_output_tokens"].as_u64().unwrap() > 0);
    assert!(call["cost_credits"].as_i64().unwrap() >= 1);
    assert_eq!(call["metrics"]["turns"], 1);
    assert_eq!(ended["cost_credits"], call["cost_credits"]);
    assert_eq!(hold_status(&pool, &call_id).await, "settled");
    assert_eq!(call_debits(&pool, &call_id).await, 1);
    // Transcript: the user turn and the agent's answer.
    let t: Value = env
        .app
        .get(
            &format!("/api/v1/calls/{call_id}/transcript"),
            &env.user.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    let turns = t["data"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0]["role"], "user");
    assert_eq!(
        turns[1]["content"],
        "Sure, I can help with that. What time works?"
    );
    // The transcript is also a conversation chat can continue.
    let conversation = call["conversation_id"].as_str().expect("a conversation");
    let msgs: Value = env
        .app
        .get(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &env.user.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    let msgs = msgs["data"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["content"], "book a meeting");
    assert_eq!(msgs[1]["role"], "assistant");
    // Wallet: charged what the call cost.
    let (balance, reserved, _) = env.app.wallet(&env.user.access_token).await;
    assert_eq!(reserved, 0);
    assert_eq!(balance, 1000 - call["cost_credits"].as_i64().unwrap());
}

#[sqlx::test]
async fn spoken_turn_goes_from_audio_to_transcript_to_reply_audio(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    // Client audio at 8 kHz: resampled for the STT.
    send_json(&mut ws, json!({"type": "start", "sample_rate": 8000})).await;
    env.sim.script(Script::transcript("remind me to call mom"));
    env.sim.script(Script::llm_text("Okay, I will remind you."));
    let mut audio = tone(800, 8000);
    audio.extend(vec![0i16; 8000]);
    send_audio(&mut ws, &audio, 8000).await;
    let seen = read_until(&mut ws, |v| v["type"] == "metrics", true).await;
    assert!(
        of_type(&seen, "transcript")
            .iter()
            .any(|t| t["final"] == true && t["text"] == "remind me to call mom"),
        "{:?}",
        seen.events
    );
    assert!(
        of_type(&seen, "response")
            .iter()
            .any(|r| r["text"] == "Okay, I will remind you.")
    );
    assert!(seen.audio_bytes > 0);
    assert!(!of_type(&seen, "mark").is_empty());
    let listen = env.sim.log_for("deepgram.listen");
    assert_eq!(listen.len(), 1);
    assert!(listen[0].query.contains("sample_rate=16000"));
    assert!(listen[0].audio_bytes > 0);
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
    let call = completed_call(&env, s["call_id"].as_str().unwrap()).await;
    assert!(call["usage"]["stt_seconds"].as_f64().unwrap() > 0.0);
}

#[sqlx::test]
async fn barge_in_clears_cancels_streams_and_keeps_only_heard_text(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let call_id = s["call_id"].as_str().unwrap().to_string();
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    // A long, slowly streamed answer: barge in after the first chunk was heard.
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
    let first = read_until(&mut ws, |v| v["type"] == "mark", true).await;
    assert!(first.audio_bytes > 0);
    // The user talks over the agent.
    env.sim.script(Script::transcript("wait stop please"));
    let mut audio = tone(600, 16000);
    audio.extend(vec![0i16; 16000]);
    send_audio(&mut ws, &audio, 16000).await;
    let seen = read_until(&mut ws, |v| v["type"] == "clear", false).await;
    assert_eq!(
        seen.events.last().unwrap()["type"],
        "clear",
        "{:?}",
        seen.events
    );
    // The LLM stream was closed before it finished.
    let log = env
        .sim
        .wait_for_log(
            |l| l.iter().any(|e| e.service == "openai.chat" && e.cancelled),
            Duration::from_secs(10),
        )
        .await;
    let chat: Vec<_> = log.iter().filter(|e| e.service == "openai.chat").collect();
    assert!(chat[0].cancelled && !chat[0].completed, "{chat:?}");
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
    let call = completed_call(&env, &call_id).await;
    assert_eq!(call["metrics"]["interruptions"], 1);
    // Usage of the cancelled stream is still billed (estimated).
    assert!(call["usage"]["llm_input_tokens"].as_u64().unwrap() > 0);
    let t: Value = env
        .app
        .get(
            &format!("/api/v1/calls/{call_id}/transcript"),
            &env.user.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    let assistant: Vec<&Value> = t["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect();
    assert_eq!(assistant[0]["interrupted"], true);
    assert_eq!(assistant[0]["content"], "First part is here.");
}

#[sqlx::test]
async fn abrupt_disconnect_completes_the_call_and_settles_once(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let call_id = s["call_id"].as_str().unwrap().to_string();
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    env.sim.script(Script::llm_text("Hi."));
    send_json(&mut ws, json!({"type": "text", "text": "hello"})).await;
    read_until(&mut ws, |v| v["type"] == "metrics", true).await;
    drop(ws);
    let call = completed_call(&env, &call_id).await;
    assert_eq!(call["end_reason"], "disconnected");
    // A DELETE afterwards changes nothing.
    let r = env
        .app
        .delete(
            &format!(
                "/api/v1/voice/sessions/{}",
                s["session_id"].as_str().unwrap()
            ),
            &env.user.access_token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(call_debits(&pool, &call_id).await, 1);
    assert_eq!(hold_status(&pool, &call_id).await, "settled");
    crate::helpers::assert_ledger_balanced(&pool).await;
    // The session cannot be reconnected.
    let again = connect_err(&env, &s).await;
    assert!(again, "a finished session refuses a new socket");
}

async fn connect_err(env: &VoiceEnv, s: &Value) -> bool {
    let ticket: Value = env
        .app
        .post_json(
            "/api/v1/auth/ws-ticket",
            Some(&env.user.access_token),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!(
        "/api/v1/voice/sessions/{}/ws?ticket={}",
        s["session_id"].as_str().unwrap(),
        ticket["ticket"].as_str().unwrap()
    );
    env.app.ws_connect(&path, None).await.is_err()
}

#[sqlx::test]
async fn delete_ends_a_live_session_and_finalizes_once(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let sid = s["session_id"].as_str().unwrap().to_string();
    let call_id = s["call_id"].as_str().unwrap().to_string();
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    let path = format!("/api/v1/voice/sessions/{sid}");
    let (a, b) = tokio::join!(
        env.app.delete(&path, &env.user.access_token),
        env.app.delete(&path, &env.user.access_token)
    );
    assert_eq!(a.status(), StatusCode::NO_CONTENT);
    assert_eq!(b.status(), StatusCode::NO_CONTENT);
    let seen = read_until(&mut ws, |v| v["type"] == "ended", false).await;
    assert_eq!(seen.events.last().unwrap()["reason"], "deleted");
    let call = completed_call(&env, &call_id).await;
    assert_eq!(call["end_reason"], "deleted");
    assert_eq!(call_debits(&pool, &call_id).await, 1);
    let sess: Value = env
        .app
        .get(&path, &env.user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sess["status"], "ended");
    assert_eq!(sess["call_status"], "completed");
}

#[sqlx::test]
async fn delete_of_a_never_connected_session_releases_the_hold(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let (_, reserved, _) = env.app.wallet(&env.user.access_token).await;
    assert!(
        reserved > 0,
        "a hold is reserved when the session is created"
    );
    let path = format!(
        "/api/v1/voice/sessions/{}",
        s["session_id"].as_str().unwrap()
    );
    assert_eq!(
        env.app.delete(&path, &env.user.access_token).await.status(),
        StatusCode::NO_CONTENT
    );
    let (balance, reserved, _) = env.app.wallet(&env.user.access_token).await;
    assert_eq!(reserved, 0);
    let call = completed_call(&env, s["call_id"].as_str().unwrap()).await;
    assert_eq!(balance, 1000 - call["cost_credits"].as_i64().unwrap());
}

#[sqlx::test]
async fn silence_timeout_ends_the_call(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({"silence_timeout_seconds": 5})).await;
    let s = open_session(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    let seen = read_until(&mut ws, |v| v["type"] == "ended", false).await;
    assert_eq!(seen.events.last().unwrap()["reason"], "silence_timeout");
    let call = completed_call(&env, s["call_id"].as_str().unwrap()).await;
    assert_eq!(call["end_reason"], "silence_timeout");
}

#[sqlx::test]
async fn max_duration_ends_the_call(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(
        &env,
        json!({"max_call_seconds": 10, "silence_timeout_seconds": 60}),
    )
    .await;
    let s = open_session(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    let seen = read_until(&mut ws, |v| v["type"] == "ended", false).await;
    assert_eq!(seen.events.last().unwrap()["reason"], "max_duration");
    let call = completed_call(&env, s["call_id"].as_str().unwrap()).await;
    assert!(call["duration_ms"].as_i64().unwrap() >= 10_000);
}

#[sqlx::test]
async fn wallet_exhaustion_speaks_a_notice_and_ends(pool: PgPool) {
    // A minute of platform time costs more than the signup credits.
    let env = voice_env(
        pool.clone(),
        &[("CADENCE__PRICING__PLATFORM_PER_MINUTE", "60000")],
    )
    .await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let call_id = s["call_id"].as_str().unwrap().to_string();
    let mut ws = connect(&env, &s).await;
    let seen = read_until(&mut ws, |v| v["type"] == "ended", true).await;
    let ended = seen.events.last().unwrap();
    assert_eq!(ended["reason"], "insufficient_credits", "{:?}", seen.events);
    assert!(seen.audio_bytes > 0, "the notice was spoken");
    let tts = env.sim.log_for("elevenlabs.stream");
    assert!(
        tts.iter()
            .any(|e| e.body.to_string().contains("credits have run out"))
    );
    let call = completed_call(&env, &call_id).await;
    assert_eq!(call["end_reason"], "insufficient_credits");
    let (balance, reserved, _) = env.app.wallet(&env.user.access_token).await;
    assert_eq!(reserved, 0);
    assert!(balance >= 0);
    assert_eq!(call_debits(&pool, &call_id).await, 1);
}

#[sqlx::test]
async fn provider_error_mid_turn_reports_and_the_session_continues(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    env.sim
        .script(Script::fail(Service::Llm, Failure::DieMidStream));
    send_json(&mut ws, json!({"type": "text", "text": "first"})).await;
    let seen = read_until(&mut ws, |v| v["type"] == "error", true).await;
    assert_eq!(seen.events.last().unwrap()["code"], "llm_failed");
    env.sim.script(Script::llm_text("Back again."));
    send_json(&mut ws, json!({"type": "text", "text": "second"})).await;
    let seen = read_until(
        &mut ws,
        |v| v["type"] == "response" && v["final"] == true && v["text"] == "Back again.",
        true,
    )
    .await;
    assert_eq!(seen.events.last().unwrap()["text"], "Back again.");
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
}

#[sqlx::test]
async fn session_creation_needs_credits_and_a_visible_agent(pool: PgPool) {
    let env = voice_env(
        pool.clone(),
        &[("CADENCE__BILLING__CALL_MIN_CREDITS", "5000")],
    )
    .await;
    let agent = sim_agent(&env, json!({})).await;
    let r = env
        .app
        .post_json(
            "/api/v1/voice/sessions",
            Some(&env.user.access_token),
            &json!({"agent_id": agent}),
        )
        .await;
    crate::helpers::assert_problem(r, StatusCode::PAYMENT_REQUIRED, "insufficient_credits").await;
    let r = env
        .app
        .post_json(
            "/api/v1/voice/sessions",
            Some(&env.user.access_token),
            &json!({"agent_id": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = env
        .app
        .post_json(
            "/api/v1/voice/sessions",
            Some(&env.user.access_token),
            &json!({"agent_id": agent, "conversation_id": uuid::Uuid::now_v7()}),
        )
        .await;
    let body =
        crate::helpers::assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            .await;
    assert!(crate::helpers::error_fields(&body).contains(&"conversation_id".to_string()));
}

#[sqlx::test]
async fn other_users_cannot_see_or_end_sessions_calls_or_transcripts(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let sid = s["session_id"].as_str().unwrap();
    let cid = s["call_id"].as_str().unwrap();
    let eve = env.app.new_user().await;
    for path in [
        format!("/api/v1/voice/sessions/{sid}"),
        format!("/api/v1/voice/sessions/{sid}/messages"),
        format!("/api/v1/calls/{cid}"),
        format!("/api/v1/calls/{cid}/transcript"),
        format!("/api/v1/calls/{cid}/recording"),
    ] {
        assert_eq!(
            env.app.get(&path, &eve.access_token).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let r = env
        .app
        .delete(&format!("/api/v1/voice/sessions/{sid}"), &eve.access_token)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Eve's ticket cannot open Alice's session; Eve's session cannot use Alice's agent.
    let ticket: Value = env
        .app
        .post_json(
            "/api/v1/auth/ws-ticket",
            Some(&eve.access_token),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!(
        "/api/v1/voice/sessions/{sid}/ws?ticket={}",
        ticket["ticket"].as_str().unwrap()
    );
    assert!(env.app.ws_connect(&path, None).await.is_err());
    let r = env
        .app
        .post_json(
            "/api/v1/voice/sessions",
            Some(&eve.access_token),
            &json!({"agent_id": agent}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let list: Value = env
        .app
        .get("/api/v1/calls", &eve.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    // The owner still has it, and the session is untouched.
    let list: Value = env
        .app
        .get(
            "/api/v1/calls?status=queued&channel=web",
            &env.user.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let r = env
        .app
        .get("/api/v1/calls?status=bogus", &env.user.access_token)
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

pub(crate) fn flite_16k(text: &str) -> Vec<i16> {
    let dir = std::env::temp_dir().join(format!("cadence-voice-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let raw = dir.join("flite.wav");
    let wav16 = dir.join("16k.wav");
    let ok = std::process::Command::new("flite")
        .args(["-voice", "rms", "-t", text, "-o"])
        .arg(&raw)
        .status()
        .expect("flite is installed");
    assert!(ok.success());
    let ok = std::process::Command::new("sox")
        .arg("-D")
        .arg(&raw)
        .args(["-r", "16000", "-c", "1", "-b", "16"])
        .arg(&wav16)
        .status()
        .expect("sox is installed");
    assert!(ok.success());
    let frame = cadence::audio::wav::read(&std::fs::read(&wav16).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    frame.samples
}

#[sqlx::test]
async fn offline_loop_with_local_engines(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(
        &env,
        json!({"llm": {"provider": "echo", "fallbacks": []},
               "stt": {"provider": "pocketsphinx", "fallbacks": []},
               "tts": {"provider": "espeak", "fallbacks": []}}),
    )
    .await;
    let s = open_session(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    let mut audio = vec![0i16; 4800];
    audio.extend(flite_16k("please add a task to buy milk tomorrow"));
    audio.extend(vec![0i16; 24000]);
    send_audio(&mut ws, &audio, 16000).await;
    let seen = read_until(&mut ws, |v| v["type"] == "metrics", true).await;
    let heard = of_type(&seen, "transcript")
        .into_iter()
        .find(|t| t["final"] == true)
        .map(|t| t["text"].as_str().unwrap().to_string())
        .unwrap_or_default();
    for word in ["milk", "tomorrow"] {
        assert!(
            heard.contains(word),
            "{word:?} in {heard:?} ({:?})",
            seen.events
        );
    }
    let reply = of_type(&seen, "response")
        .into_iter()
        .find(|r| r["final"] == true)
        .unwrap();
    assert!(reply["text"].as_str().unwrap().starts_with("You said:"));
    assert!(seen.audio_bytes > 16000, "eSpeak audio came out");
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
    // No cloud vendor was called.
    assert!(env.sim.log().is_empty());
}

#[sqlx::test]
async fn tool_calls_act_on_the_users_data_and_are_reported(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    env.sim.script(Script::new(
        Service::Llm,
        Reply {
            tool_calls: vec![sim::SimToolCall {
                id: Some("call_1".into()),
                name: "create_task".into(),
                arguments: r#"{"title":"Buy milk"}"#.into(),
            }],
            ..Default::default()
        },
    ));
    env.sim
        .script(Script::llm_text("Added buy milk to your tasks."));
    send_json(
        &mut ws,
        json!({"type": "text", "text": "add a task to buy milk"}),
    )
    .await;
    let seen = read_until(&mut ws, |v| v["type"] == "metrics", true).await;
    let call = of_type(&seen, "tool_call");
    assert_eq!(call.len(), 1, "{:?}", seen.events);
    assert_eq!(call[0]["name"], "create_task");
    let tasks: Value = env
        .app
        .get("/api/v1/tasks", &env.user.access_token)
        .await
        .json()
        .await
        .unwrap();
    let task = &tasks["data"][0];
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["source"], "voice");
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
}

#[sqlx::test]
async fn recording_holds_both_sides_when_the_agent_records(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(
        &env,
        json!({"recording": true, "welcome_message": "Hello, this call is being recorded."}),
    )
    .await;
    let s = open_session(&env, &agent).await;
    let call_id = s["call_id"].as_str().unwrap().to_string();
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "mark", true).await;
    send_audio(&mut ws, &tone(400, 16000), 16000).await;
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
    completed_call(&env, &call_id).await;
    let r = env
        .app
        .get(
            &format!("/api/v1/calls/{call_id}/recording"),
            &env.user.access_token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    let wav = cadence::audio::wav::read(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(wav.sample_rate, 16000);
    // The welcome (about 1.4 s of simulated speech) and then 400 ms of the user's tone.
    assert!(wav.samples.len() > 16000, "{}", wav.samples.len());
    assert!(wav.samples.iter().any(|s| s.unsigned_abs() > 1000));
}

#[sqlx::test]
async fn bolna_clients_talk_over_the_same_pipeline(pool: PgPool) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let mut ws = env
        .app
        .ws_connect(&format!("/chat/v1/{agent}"), Some(&env.user.access_token))
        .await
        .unwrap();
    send_json(&mut ws, json!({"type": "init", "meta_data": {}})).await;
    let ack = read_until(&mut ws, |v| v["type"] == "ack", false).await;
    assert_eq!(ack.events.last().unwrap()["type"], "ack");
    env.sim.script(Script::transcript("what is on my list"));
    env.sim.script(Script::llm_text("Nothing yet."));
    let mut audio = tone(600, 16000);
    audio.extend(vec![0i16; 16000]);
    for chunk in audio.chunks(320) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|s| s.to_le_bytes()).collect();
        send_json(&mut ws, json!({"type": "audio", "data": b64.encode(bytes)})).await;
    }
    let seen = read_until(&mut ws, |v| v["type"] == "text", false).await;
    assert_eq!(seen.events.last().unwrap()["data"], "Nothing yet.");
    let more = read_until(&mut ws, |v| v["type"] == "audio", true).await;
    let audio_frames: Vec<&Value> = seen
        .events
        .iter()
        .chain(more.events.iter())
        .filter(|e| e["type"] == "audio")
        .collect();
    assert!(!audio_frames.is_empty());
    assert!(
        !b64.decode(audio_frames[0]["data"].as_str().unwrap())
            .unwrap()
            .is_empty()
    );
    drop(ws);
    let calls: Value = env
        .app
        .get("/api/v1/calls?channel=bolna_ws", &env.user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(calls["data"].as_array().unwrap().len(), 1);
    let id = calls["data"][0]["id"].as_str().unwrap().to_string();
    let call = completed_call(&env, &id).await;
    assert_eq!(call["end_reason"], "disconnected");
    assert_eq!(call_debits(&pool, &id).await, 1);
}

#[sqlx::test]
async fn barge_in_during_the_first_audio_cancels_synthesis_and_keeps_nothing_unheard(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(
        &env,
        json!({"interruption": {"enabled": true, "min_words": 1}}),
    )
    .await;
    let s = open_session(&env, &agent).await;
    let call_id = s["call_id"].as_str().unwrap().to_string();
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    // Synthesis streams at real time: several seconds of audio for this sentence.
    env.sim.configure(|c| c.tts_realtime = true);
    env.sim.script(Script::llm_text(
        "This is a long sentence that takes the speech engine many seconds to say out loud.",
    ));
    send_json(&mut ws, json!({"type": "text", "text": "talk to me"})).await;
    // Wait for the first audio frame (not echoing marks: nothing was heard yet).
    let mut got_audio = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !got_audio {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Binary(_)))) => got_audio = true,
            Ok(Some(Ok(_))) => {}
            _ => panic!("no audio"),
        }
    }
    send_json(&mut ws, json!({"type": "interrupt"})).await;
    let seen = read_until(&mut ws, |v| v["type"] == "clear", false).await;
    assert_eq!(seen.events.last().unwrap()["type"], "clear");
    let log = env
        .sim
        .wait_for_log(
            |l| {
                l.iter()
                    .any(|e| e.service == "elevenlabs.stream" && e.cancelled)
            },
            Duration::from_secs(10),
        )
        .await;
    let tts: Vec<_> = log
        .iter()
        .filter(|e| e.service == "elevenlabs.stream")
        .collect();
    assert!(tts[0].cancelled && !tts[0].completed, "{tts:?}");
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
    let call = completed_call(&env, &call_id).await;
    assert_eq!(call["metrics"]["interruptions"], 1);
    // The characters sent to synthesis are billed even though it was cancelled.
    assert!(call["usage"]["tts_characters"].as_u64().unwrap() >= 80);
    let t: Value = env
        .app
        .get(
            &format!("/api/v1/calls/{call_id}/transcript"),
            &env.user.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    let assistant = t["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap()
        .clone();
    assert_eq!(assistant["interrupted"], true);
    assert_eq!(assistant["content"], "");
}

#[sqlx::test]
async fn server_shutdown_ends_live_calls_with_a_final_event(pool: PgPool) {
    let mut env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let call_id = s["call_id"].as_str().unwrap().to_string();
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    env.app.trigger_shutdown();
    let seen = read_until(&mut ws, |v| v["type"] == "ended", false).await;
    assert_eq!(seen.events.last().unwrap()["reason"], "server_shutdown");
    let status: String = sqlx::query_scalar("select status from calls where id = $1")
        .bind(call_id.parse::<uuid::Uuid>().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "completed");
    assert_eq!(call_debits(&pool, &call_id).await, 1);
    env.app.shutdown().await;
}

#[sqlx::test]
async fn local_vad_ends_the_turn_when_the_recognizer_never_does(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    // A recognizer without endpointing: final segments, never `speech_final`/`UtteranceEnd`.
    env.sim.configure(|c| c.stt_endpointing = false);
    env.sim.script(Script::transcript("what is on my list"));
    env.sim.script(Script::llm_text("Nothing yet."));
    let mut audio = tone(800, 16000);
    audio.extend(vec![0i16; 16000]);
    send_audio(&mut ws, &audio, 16000).await;
    let seen = read_until(&mut ws, |v| v["type"] == "metrics", true).await;
    assert!(
        of_type(&seen, "transcript")
            .iter()
            .any(|t| t["final"] == true && t["text"] == "what is on my list"),
        "{:?}",
        seen.events
    );
    assert!(
        of_type(&seen, "response")
            .iter()
            .any(|r| r["text"] == "Nothing yet.")
    );
    let listen = env.sim.log_for("deepgram.listen");
    assert!(!listen[0].messages.iter().any(|m| m.contains("Finalize")));

    // Final text still pending when the silence runs out: the recognizer is asked to
    // finalize and its next final segment ends the turn.
    env.sim.configure(|c| c.stt_latency_ms = 2500);
    env.sim.script(Script::transcript("and tomorrow"));
    env.sim.script(Script::llm_text("Also nothing."));
    send_audio(&mut ws, &audio, 16000).await;
    let seen = read_until(&mut ws, |v| v["type"] == "metrics", true).await;
    assert!(
        of_type(&seen, "response")
            .iter()
            .any(|r| r["text"] == "Also nothing."),
        "{:?}",
        seen.events
    );
    let listen = env.sim.log_for("deepgram.listen");
    assert!(
        listen[0].messages.iter().any(|m| m.contains("Finalize")),
        "{:?}",
        listen[0].messages
    );
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
}

#[sqlx::test]
async fn a_call_continuing_a_conversation_starts_from_its_history(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let token = env.user.access_token.clone();
    let r = env
        .app
        .post_json(
            "/api/v1/conversations",
            Some(&token),
            &json!({"title": "Plans", "agent_id": agent}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let conversation: Value = r.json().await.unwrap();
    let cid = conversation["id"].as_str().unwrap();
    env.sim
        .script(Script::llm_text("Noted: the zebra meeting is on Friday."));
    let r = env
        .app
        .post_json(
            &format!("/api/v1/conversations/{cid}/messages"),
            Some(&token),
            &json!({"content": "Remember the zebra meeting is on Friday"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let r = env
        .app
        .post_json(
            "/api/v1/voice/sessions",
            Some(&token),
            &json!({"agent_id": agent, "conversation_id": cid}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let s: Value = r.json().await.unwrap();
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    env.sim.script(Script::llm_text("On Friday."));
    send_json(
        &mut ws,
        json!({"type": "text", "text": "when is that meeting"}),
    )
    .await;
    read_until(&mut ws, |v| v["type"] == "metrics", true).await;
    send_json(&mut ws, json!({"type": "end"})).await;
    read_until(&mut ws, |v| v["type"] == "ended", false).await;
    // The voice turn's request to the model carried the earlier chat exchange.
    let chat = env.sim.log_for("openai.chat");
    let last = chat.last().unwrap().body.to_string();
    assert!(last.contains("zebra meeting is on Friday"), "{last}");
    assert!(last.contains("Noted: the zebra meeting"), "{last}");
    assert!(last.contains("when is that meeting"), "{last}");
    // And the call's transcript was added to the same conversation.
    let call = completed_call(&env, s["call_id"].as_str().unwrap()).await;
    assert_eq!(call["conversation_id"], cid);
    assert_eq!(
        call["metrics"]["turns"], 1,
        "earlier chat messages are not this call's turns"
    );
    let msgs: Value = env
        .app
        .get(&format!("/api/v1/conversations/{cid}/messages"), &token)
        .await
        .json()
        .await
        .unwrap();
    let contents: Vec<&str> = msgs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(contents.contains(&"when is that meeting"), "{contents:?}");
}

#[sqlx::test]
async fn a_session_has_a_location_and_its_call_is_started_then_ended_on_the_events_stream(
    pool: PgPool,
) {
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let mut events = env
        .app
        .ws_connect("/api/v1/events", Some(&env.user.access_token))
        .await
        .unwrap();
    let resp = env
        .app
        .post_json(
            "/api/v1/voice/sessions",
            Some(&env.user.access_token),
            &json!({"agent_id": agent}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let s: Value = resp.json().await.unwrap();
    let session_id = s["session_id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/voice/sessions/{session_id}"));
    let r = env.app.get(&location, &env.user.access_token).await;
    assert_eq!(r.status(), StatusCode::OK);

    let call_id = s["call_id"].as_str().unwrap().to_string();
    let mut ws = connect(&env, &s).await;
    read_until(&mut ws, |v| v["type"] == "ready", false).await;
    let started = crate::helpers::ws_next_of_type(&mut events, "call.started", 20)
        .await
        .expect("call.started on the events stream");
    assert_eq!(started["data"]["id"], call_id.as_str());
    assert_eq!(started["data"]["status"], "active");
    assert!(started["data"]["started_at"].is_string());
    send_json(&mut ws, json!({"type": "end"})).await;
    let ended = crate::helpers::ws_next_of_type(&mut events, "call.ended", 20)
        .await
        .expect("call.ended on the events stream");
    assert_eq!(ended["data"]["id"], call_id.as_str());
    let published: i64 = sqlx::query_scalar(
        "select count(*) from events where user_id = $1 and type = 'call.started'",
    )
    .bind(env.user.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(published, 1, "the call starts once");
}

/// What a Bolna-style client (Bolna's quick-start: a player fed whole `audio` packets at
/// 24 kHz) receives for one reply: each clause framed by marks, its audio at 24 kHz in
/// packets of the whole clause or at least `PACKET_MS`, nothing missing.
#[sqlx::test]
async fn bolna_clients_get_24khz_audio_in_whole_clause_packets(pool: PgPool) {
    use base64::Engine;
    use cadence::voice::bolna::{OUTPUT_RATE, PACKET_MS};
    let b64 = base64::engine::general_purpose::STANDARD;
    let env = voice_env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    let mut ws = env
        .app
        .ws_connect(&format!("/chat/v1/{agent}"), Some(&env.user.access_token))
        .await
        .unwrap();
    send_json(&mut ws, json!({"type": "init", "meta_data": {}})).await;
    read_until(&mut ws, |v| v["type"] == "ack", false).await;
    env.sim.script(Script::llm_text(
        "Sure. Here is a longer second sentence that takes well over a second to say.",
    ));
    send_json(&mut ws, json!({"type": "text", "data": "talk to me"})).await;

    // Frames in order until the reply's text and every clause's closing mark are in.
    let log = env
        .sim
        .wait_for_log(
            |l| {
                l.iter()
                    .filter(|e| e.service == "elevenlabs.stream" && e.completed)
                    .count()
                    >= 2
            },
            Duration::from_secs(20),
        )
        .await;
    let clauses: Vec<String> = log
        .iter()
        .filter(|e| e.service == "elevenlabs.stream")
        .map(|e| {
            assert!(e.query.contains("output_format=pcm_24000"), "{}", e.query);
            e.body["text"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(clauses.len(), 2, "{clauses:?}");
    // (marks, packets) per clause, read as the client would play them.
    let mut played: Vec<Vec<usize>> = Vec::new();
    let mut open: Option<Vec<usize>> = None;
    let mut got_text = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !(got_text && played.len() == clauses.len()) {
        let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout_at(deadline, ws.next()).await
        else {
            panic!("the reply did not arrive: {played:?} text={got_text}");
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        match v["type"].as_str().unwrap() {
            "mark" => {
                let name = v["name"].as_str().unwrap().to_string();
                match open.take() {
                    None => open = Some(Vec::new()),
                    Some(packets) => {
                        assert!(!packets.is_empty(), "a clause without audio");
                        played.push(packets);
                    }
                }
                // Echo as the client's player does when it reaches the mark.
                send_json(&mut ws, json!({"type": "mark", "name": name})).await;
            }
            "audio" => {
                let bytes = b64.decode(v["data"].as_str().unwrap()).unwrap();
                assert_eq!(bytes.len() % 2, 0);
                open.as_mut()
                    .expect("audio comes after a clause's opening mark")
                    .push(bytes.len() / 2);
            }
            "text" => {
                assert_eq!(
                    v["data"],
                    "Sure. Here is a longer second sentence that takes well over a second to say."
                );
                got_text = true;
            }
            other => panic!("unexpected frame {other}: {v}"),
        }
    }
    let min_packet = (OUTPUT_RATE as u64 * PACKET_MS / 1000) as usize;
    for (clause, packets) in clauses.iter().zip(&played) {
        // The simulator speaks 40 ms per character (at least 200 ms) at the asked rate.
        let ms = (clause.chars().count() as u64 * 40).max(200);
        let expected = (OUTPUT_RATE as u64 * ms / 1000) as usize;
        assert_eq!(
            packets.iter().sum::<usize>(),
            expected,
            "{clause}: {packets:?}"
        );
        let (last, whole) = packets.split_last().unwrap();
        assert!(*last > 0);
        assert!(
            whole.iter().all(|&n| n >= min_packet),
            "{clause}: packets before the clause's last hold at least {PACKET_MS} ms: {packets:?}"
        );
    }
    assert!(
        played[1].len() < played[1].iter().sum::<usize>() / min_packet + 2,
        "the long clause is not cut into 20 ms frames: {:?}",
        played[1]
    );
    drop(ws);
}
