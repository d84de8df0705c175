//! Telephony: phone numbers (validation, uniqueness, BOLA), Twilio webhook signatures,
//! the voice webhook's TwiML, status callbacks driving a call to its settlement, and
//! whole phone calls over the Media Streams WebSocket.

use base64::{Engine, engine::general_purpose::STANDARD};
use cadence::sim::{Reply, Script, Service};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::Sha1;
use sqlx::PgPool;

use crate::helpers::{assert_problem, error_fields};
use crate::voice::{VoiceEnv, sim_agent, voice_env};

const PUBLIC: &str = "https://cadence.example";
/// The simulator's key doubles as the Twilio auth token, so REST hang-ups are accepted.
const TOKEN: &str = "sk-sim-test";

async fn env(pool: PgPool, extra: &[(&str, &str)]) -> VoiceEnv {
    let mut pairs = vec![
        ("CADENCE__SERVER__PUBLIC_URL", PUBLIC),
        ("CADENCE__TELEPHONY__TWILIO__AUTH_TOKEN", TOKEN),
        ("CADENCE__TELEPHONY__TWILIO__ACCOUNT_SID", "AC123"),
    ];
    pairs.extend_from_slice(extra);
    voice_env(pool, &pairs).await
}

/// Twilio's signature, computed independently of the server's code.
pub(crate) fn twilio_sign(url: &str, params: &[(&str, &str)]) -> String {
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
pub(crate) fn attr(xml: &str, tag: &str, attr: &str) -> Option<String> {
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

/// The phone side of a media stream, as Twilio speaks it.
pub(crate) struct Phone {
    ws: crate::helpers::WsStream,
    pub(crate) stream_sid: &'static str,
}

/// What the server sent the phone until `stop` matched (or the socket ended / 20 s passed).
#[derive(Debug, Default)]
pub(crate) struct Heard {
    pub events: Vec<Value>,
    /// μ-law bytes received in `media` frames.
    pub media_bytes: usize,
    pub closed: bool,
}

impl Phone {
    /// Answer the voice webhook for `to`, then open the stream the TwiML names.
    async fn call(env: &VoiceEnv, sid: &'static str, to: &'static str) -> (Phone, String) {
        let r = signed(env, "/api/v1/telephony/twilio/voice", &inbound(sid, to)).await;
        let xml = r.text().await.unwrap();
        let token = attr(&xml, "Parameter", "value").expect("a stream token");
        let call_id = token.split('.').next().unwrap().to_string();
        (Phone::stream(env, sid, &token).await, call_id)
    }

    /// Open the media stream Twilio opens for `call_sid` with the TwiML's `token`.
    pub(crate) async fn stream(env: &VoiceEnv, call_sid: &str, token: &str) -> Phone {
        let ws = env
            .app
            .ws_connect("/api/v1/telephony/twilio/stream", None)
            .await
            .expect("ws connect");
        let mut phone = Phone {
            ws,
            stream_sid: "MZ00000000000000000000000000000001",
        };
        phone
            .send(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            .await;
        phone
            .send(json!({"event": "start", "sequenceNumber": "1", "streamSid": phone.stream_sid,
                "start": {"streamSid": phone.stream_sid, "accountSid": "AC123", "callSid": call_sid,
                    "tracks": ["inbound"], "customParameters": {"token": token},
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
            .await;
        phone
    }

    pub(crate) async fn send(&mut self, v: Value) {
        use futures::SinkExt;
        self.ws
            .send(tokio_tungstenite::tungstenite::Message::Text(
                v.to_string().into(),
            ))
            .await
            .unwrap();
    }

    /// Speak PCM16 at 8 kHz as 20 ms μ-law `media` frames.
    pub(crate) async fn speak(&mut self, pcm: &[i16]) {
        for (i, chunk) in pcm.chunks(160).enumerate() {
            let payload = STANDARD.encode(cadence::audio::mulaw::encode(chunk));
            let v = json!({"event": "media", "sequenceNumber": (i + 2).to_string(),
                "streamSid": self.stream_sid,
                "media": {"track": "inbound", "chunk": (i + 1).to_string(),
                    "timestamp": (i * 20).to_string(), "payload": payload}});
            self.send(v).await;
        }
    }

    /// Read until `stop` matches; marks are echoed back as Twilio does once played.
    pub(crate) async fn listen(&mut self, stop: impl Fn(&Value) -> bool) -> Heard {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let mut heard = Heard::default();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, self.ws.next()).await else {
                heard.closed = true;
                return heard;
            };
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    assert_eq!(v["streamSid"], self.stream_sid, "{v}");
                    match v["event"].as_str().unwrap() {
                        "media" => {
                            let bytes = STANDARD
                                .decode(v["media"]["payload"].as_str().unwrap())
                                .unwrap();
                            heard.media_bytes += bytes.len();
                        }
                        "mark" => {
                            self.send(json!({"event": "mark", "streamSid": self.stream_sid,
                                "mark": {"name": v["mark"]["name"]}}))
                                .await;
                        }
                        "clear" => {}
                        other => panic!("unexpected event {other}: {v}"),
                    }
                    let done = stop(&v);
                    heard.events.push(v);
                    if done {
                        return heard;
                    }
                }
                Message::Close(_) => {
                    heard.closed = true;
                    return heard;
                }
                _ => {}
            }
        }
    }
}

pub(crate) fn events<'a>(heard: &'a Heard, event: &str) -> Vec<&'a Value> {
    heard
        .events
        .iter()
        .filter(|e| e["event"] == event)
        .collect()
}

/// Speech then silence at 8 kHz, long enough for the simulated recognizer's endpointing.
pub(crate) fn utterance() -> Vec<i16> {
    let mut pcm = crate::voice::tone(800, 8000);
    pcm.extend(vec![0i16; 8000]);
    pcm
}

#[sqlx::test]
async fn media_stream_call_talks_barges_in_and_settles_once_on_stop(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    add_number(&env, "+14155550100", &agent).await;
    let (mut phone, call_id) = Phone::call(&env, "CA100", "+14155550100").await;

    // A spoken turn: μ-law in → transcript → reply as μ-law media with our streamSid, then a mark.
    env.sim.script(Script::transcript("remind me to call mom"));
    env.sim.script(Script::llm_text("Okay, I will remind you."));
    phone.speak(&utterance()).await;
    let heard = phone.listen(|v| v["event"] == "mark").await;
    assert!(heard.media_bytes > 0, "{heard:?}");
    assert!(!events(&heard, "media").is_empty());
    assert_eq!(events(&heard, "mark").len(), 1);
    // 20 ms frames of 8 kHz μ-law: 160 bytes each.
    assert!(
        heard.media_bytes.is_multiple_of(160),
        "{}",
        heard.media_bytes
    );
    let listen = env.sim.log_for("deepgram.listen");
    assert_eq!(listen.len(), 1);
    assert!(listen[0].audio_bytes > 0);
    let call = crate::voice::call_of(&env, &call_id).await;
    assert_eq!(call["status"], "active");
    assert_eq!(call["channel"], "twilio");

    // Barge-in: the caller talks over a long answer → `clear` for this stream.
    env.sim.script(Script::transcript("tell me a story"));
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
    phone.speak(&utterance()).await;
    let first = phone.listen(|v| v["event"] == "mark").await;
    assert!(first.media_bytes > 0);
    env.sim.script(Script::transcript("wait stop please"));
    phone.speak(&utterance()).await;
    let seen = phone.listen(|v| v["event"] == "clear").await;
    assert_eq!(seen.events.last().unwrap()["event"], "clear", "{seen:?}");

    // The caller hangs up: `stop` → the call completes, settled exactly once, and we do
    // not hang up a call that is already gone.
    phone
        .send(
            json!({"event": "stop", "sequenceNumber": "99", "streamSid": phone.stream_sid,
            "stop": {"accountSid": "AC123", "callSid": "CA100"}}),
        )
        .await;
    let call = crate::voice::completed_call(&env, &call_id).await;
    assert_eq!(call["end_reason"], "remote_hangup");
    // The barge-in; hanging up while the agent answers it may count as a second one.
    assert!(
        call["metrics"]["interruptions"].as_u64().unwrap() >= 1,
        "{call}"
    );
    assert!(call["usage"]["stt_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(crate::voice::call_debits(&pool, &call_id).await, 1);
    assert_eq!(crate::voice::hold_status(&pool, &call_id).await, "settled");
    crate::helpers::assert_ledger_balanced(&pool).await;
    // A late status callback changes nothing.
    let r = signed(
        &env,
        "/api/v1/telephony/twilio/status",
        &[
            ("CallSid", "CA100"),
            ("CallStatus", "completed"),
            ("CallDuration", "9"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(crate::voice::call_debits(&pool, &call_id).await, 1);
    assert!(env.sim.log_for("twilio.call_update").is_empty());
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
    let texts: Vec<&str> = t["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"remind me to call mom"), "{texts:?}");
}

#[sqlx::test]
async fn media_stream_needs_a_valid_token_and_claims_its_call_once(pool: PgPool) {
    let env = env(pool.clone(), &[]).await;
    let agent = sim_agent(&env, json!({})).await;
    add_number(&env, "+14155550100", &agent).await;
    let r = signed(
        &env,
        "/api/v1/telephony/twilio/voice",
        &inbound("CA7", "+14155550100"),
    )
    .await;
    let xml = r.text().await.unwrap();
    let token = attr(&xml, "Parameter", "value").unwrap();
    let start = |token: &str| {
        json!({"event": "start", "streamSid": "MZ7", "start": {"streamSid": "MZ7", "callSid": "CA7",
            "customParameters": {"token": token}}})
    };
    // A forged token (one character of the signature changed), none at all: closed, policy violation.
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [
        start(&forged),
        json!({"event": "start", "streamSid": "MZ7", "start": {"customParameters": {}}}),
    ] {
        let mut ws = env
            .app
            .ws_connect("/api/v1/telephony/twilio/stream", None)
            .await
            .unwrap();
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        ws.send(Message::Text(bad.to_string().into()))
            .await
            .unwrap();
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .unwrap();
        match msg {
            Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 1008),
            other => panic!("expected a policy close, got {other:?}"),
        }
    }
    let call = crate::voice::call_of(&env, token.split('.').next().unwrap()).await;
    assert_eq!(call["status"], "queued");

    // The real token works once; a second stream with it is refused.
    let call_id = token.split('.').next().unwrap().to_string();
    let mut phone = Phone {
        ws: env
            .app
            .ws_connect("/api/v1/telephony/twilio/stream", None)
            .await
            .unwrap(),
        stream_sid: "MZ7",
    };
    phone.send(start(&token)).await;
    env.sim.script(Script::transcript("hello there"));
    env.sim.script(Script::llm_text("Hi."));
    phone.speak(&utterance()).await;
    phone.listen(|v| v["event"] == "mark").await;
    let mut again = env
        .app
        .ws_connect("/api/v1/telephony/twilio/stream", None)
        .await
        .unwrap();
    {
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        again
            .send(Message::Text(start(&token).to_string().into()))
            .await
            .unwrap();
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), again.next())
            .await
            .unwrap();
        assert!(
            matches!(msg, Some(Ok(Message::Close(Some(ref f)))) if u16::from(f.code) == 1008),
            "{msg:?}"
        );
    }

    // Ending from our side (the user deletes the session) hangs the phone up through the REST API.
    let session_id: uuid::Uuid =
        sqlx::query_scalar("select id from voice_sessions where call_id = $1")
            .bind(call_id.parse::<uuid::Uuid>().unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
    let r = env
        .app
        .delete(
            &format!("/api/v1/voice/sessions/{session_id}"),
            &env.user.access_token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let heard = phone.listen(|_| false).await;
    assert!(heard.closed);
    let call = crate::voice::completed_call(&env, &call_id).await;
    assert_eq!(call["end_reason"], "deleted");
    let log = env
        .sim
        .wait_for_log(
            |l| l.iter().any(|e| e.service == "twilio.call_update"),
            std::time::Duration::from_secs(10),
        )
        .await;
    let hangup: Vec<_> = log
        .iter()
        .filter(|e| e.service == "twilio.call_update")
        .collect();
    assert_eq!(hangup.len(), 1, "{hangup:?}");
    assert!(
        hangup[0].path.ends_with("/Calls/CA7.json"),
        "{}",
        hangup[0].path
    );
    assert_eq!(hangup[0].body["Status"], "completed");
    assert_eq!(hangup[0].status, 200);
    assert_eq!(crate::voice::call_debits(&pool, &call_id).await, 1);
}
