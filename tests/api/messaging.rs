//! Notifications over the phone: the Twilio messaging webhook (signature, replies "done",
//! "ok", "snooze 10" from a verified number), the WhatsApp/SMS escalation step (only ever
//! to a verified number), and the call step (a call through the simulator's Twilio whose
//! agent completes the task on "done", said or pressed).

use std::time::Duration;

use cadence::{
    notifications::{
        model::{NewNotification, NotificationKind, NotificationPriority},
        service as notifications,
    },
    sim::{InboundMessage, Script, WebhookAnswer},
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::phone::{PHONE, PUBLIC, SENDER, env, sent, verify_number};
use crate::telephony::{Phone, attr, twilio_sign};
use crate::voice::VoiceEnv;

const WEBHOOK: &str = "/api/v1/telephony/twilio/messages";

async fn set_steps(env: &VoiceEnv, steps: Value) {
    let r = env
        .app
        .patch_json(
            "/api/v1/users/preferences",
            &env.user.access_token,
            &json!({"notifications": {"quiet_hours": null, "steps": steps}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
}

async fn task(env: &VoiceEnv, title: &str) -> String {
    let r = env
        .app
        .post_json(
            "/api/v1/tasks",
            Some(&env.user.access_token),
            &json!({"title": title}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    v["id"].as_str().unwrap().to_string()
}

/// Raise an urgent reminder about a task (as the reminder job does).
async fn raise(env: &VoiceEnv, task_id: &str, title: &str) -> Uuid {
    let n = notifications::raise(
        &env.app.state,
        NewNotification {
            user_id: env.user.id,
            kind: NotificationKind::Reminder,
            title: title.into(),
            body: "Due now.".into(),
            priority: NotificationPriority::Urgent,
            source_type: Some("task".into()),
            source_id: Some(task_id.into()),
            dedupe_key: format!("test:{task_id}"),
        },
    )
    .await
    .unwrap();
    n.id
}

async fn get(env: &VoiceEnv, path: &str) -> Value {
    let r = env.app.get(path, &env.user.access_token).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.unwrap()
}

async fn notification(env: &VoiceEnv, id: Uuid) -> Value {
    get(env, &format!("/api/v1/notifications/{id}")).await
}

/// Wait (bounded) until `pred` holds for the notification.
async fn notification_until(env: &VoiceEnv, id: Uuid, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let n = notification(env, id).await;
        if pred(&n) || tokio::time::Instant::now() >= deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The channel's delivery has its outcome (a phone step claims it as "sending" first).
fn settled(n: &Value, channel: &str) -> bool {
    delivery(n, channel).is_some_and(|d| d["detail"] != "sending")
}

fn delivery<'a>(n: &'a Value, channel: &str) -> Option<&'a Value> {
    n["deliveries"]
        .as_array()?
        .iter()
        .find(|d| d["channel"] == channel)
}

/// A WhatsApp message from `from` to our sender, posted by the simulator like Twilio.
async fn reply(env: &VoiceEnv, from: &str, body: &str) -> WebhookAnswer {
    env.sim
        .deliver_message(InboundMessage {
            url: format!("{PUBLIC}{WEBHOOK}"),
            deliver_to: Some(env.app.url(WEBHOOK)),
            from: format!("whatsapp:{from}"),
            to: format!("whatsapp:{SENDER}"),
            body: body.into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

#[sqlx::test]
async fn whatsapp_reply_done_completes_the_task_and_acknowledges(pool: PgPool) {
    let env = env(pool, &[]).await;
    set_steps(&env, json!([{"channel": "in_app", "after_minutes": 0}])).await;
    verify_number(&env, &env.user, PHONE, "whatsapp").await;
    let older_task = task(&env, "water the plants").await;
    let older = raise(&env, &older_task, "water the plants").await;
    let t = task(&env, "call mum").await;
    let n = raise(&env, &t, "call mum").await;

    let a = reply(&env, PHONE, "Done").await;
    assert_eq!(a.status, 200);
    assert!(a.content_type.unwrap().starts_with("text/xml"));
    assert!(
        a.body
            .contains("<Message>Done: &apos;call mum&apos; is complete."),
        "{}",
        a.body
    );

    let task_now = get(&env, &format!("/api/v1/tasks/{t}")).await;
    assert_eq!(task_now["status"], "done");
    let n_now = notification(&env, n).await;
    assert_eq!(n_now["status"], "acknowledged");
    assert!(n_now["acknowledged_at"].is_string());
    // Only the newest open notification was answered.
    assert_ne!(notification(&env, older).await["status"], "acknowledged");
    assert_eq!(
        get(&env, &format!("/api/v1/tasks/{older_task}")).await["status"],
        "todo"
    );

    // The next reply answers the next open one.
    let a = reply(&env, PHONE, "ok").await;
    assert!(a.body.contains("Okay"), "{}", a.body);
    assert_eq!(notification(&env, older).await["status"], "acknowledged");
    assert_eq!(
        get(&env, &format!("/api/v1/tasks/{older_task}")).await["status"],
        "todo"
    );
    let a = reply(&env, PHONE, "ok").await;
    assert!(a.body.contains("nothing"), "{}", a.body);
}

#[sqlx::test]
async fn whatsapp_reply_snooze_moves_the_reminder(pool: PgPool) {
    let env = env(pool, &[]).await;
    set_steps(&env, json!([{"channel": "in_app", "after_minutes": 0}])).await;
    verify_number(&env, &env.user, PHONE, "whatsapp").await;
    let t = task(&env, "stretch").await;
    let n = raise(&env, &t, "stretch").await;
    let before = chrono::Utc::now();
    let a = reply(&env, PHONE, "snooze 10").await;
    assert!(
        a.body
            .contains("Snoozed &apos;stretch&apos; for 10 minutes"),
        "{}",
        a.body
    );
    let task_now = get(&env, &format!("/api/v1/tasks/{t}")).await;
    assert_eq!(task_now["status"], "todo");
    let until: chrono::DateTime<chrono::Utc> =
        task_now["snoozed_until"].as_str().unwrap().parse().unwrap();
    let d = until - before;
    assert!(
        d >= chrono::Duration::minutes(10) && d < chrono::Duration::minutes(11),
        "{d}"
    );
    assert_eq!(notification(&env, n).await["status"], "acknowledged");
}

#[sqlx::test]
async fn messaging_webhook_needs_twilios_signature_and_a_verified_number(pool: PgPool) {
    let env = env(pool, &[]).await;
    set_steps(&env, json!([{"channel": "in_app", "after_minutes": 0}])).await;
    let t = task(&env, "pay rent").await;
    let n = raise(&env, &t, "pay rent").await;

    // Not verified yet (a code is pending): the reply is ignored, nothing is sent back.
    let r = env
        .app
        .post_json(
            "/api/v1/users/me/phone",
            Some(&env.user.access_token),
            &json!({"number": PHONE}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let a = reply(&env, PHONE, "done").await;
    assert_eq!(a.status, 200);
    assert!(!a.body.contains("<Message>"), "{}", a.body);
    assert_eq!(
        get(&env, &format!("/api/v1/tasks/{t}")).await["status"],
        "todo"
    );

    verify_number(&env, &env.user, PHONE, "whatsapp").await;
    // Wrong token, missing signature, tampered body: 403 and nothing happens.
    let a = env
        .sim
        .deliver_message(InboundMessage {
            url: format!("{PUBLIC}{WEBHOOK}"),
            deliver_to: Some(env.app.url(WEBHOOK)),
            from: format!("whatsapp:{PHONE}"),
            to: format!("whatsapp:{SENDER}"),
            body: "done".into(),
            auth_token: Some("not-the-token".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(a.status, 403);
    let params = [("From", PHONE), ("To", SENDER), ("Body", "done")];
    let body = serde_urlencoded::to_string(params).unwrap();
    let r = reqwest::Client::new()
        .post(env.app.url(WEBHOOK))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let sig = twilio_sign(
        &format!("{PUBLIC}{WEBHOOK}"),
        &[("From", PHONE), ("To", SENDER), ("Body", "ok")],
    );
    let r = reqwest::Client::new()
        .post(env.app.url(WEBHOOK))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get(&env, &format!("/api/v1/tasks/{t}")).await["status"],
        "todo"
    );
    assert_ne!(notification(&env, n).await["status"], "acknowledged");

    // Someone else's number cannot answer this user's notification.
    let a = reply(&env, "+14155550999", "done").await;
    assert!(!a.body.contains("<Message>"), "{}", a.body);
    // Text we do not understand gets help, and changes nothing.
    let a = reply(&env, PHONE, "what?").await;
    assert!(a.body.contains("DONE"), "{}", a.body);
    assert_eq!(
        get(&env, &format!("/api/v1/tasks/{t}")).await["status"],
        "todo"
    );
    // SMS from the same verified number works too.
    let a = env
        .sim
        .deliver_message(InboundMessage {
            url: format!("{PUBLIC}{WEBHOOK}"),
            deliver_to: Some(env.app.url(WEBHOOK)),
            from: PHONE.into(),
            to: SENDER.into(),
            body: "done".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(
        get(&env, &format!("/api/v1/tasks/{t}")).await["status"],
        "done"
    );
}

#[sqlx::test]
async fn the_whatsapp_step_messages_only_a_verified_number(pool: PgPool) {
    let env = env(pool, &[]).await;
    set_steps(&env, json!([{"channel": "whatsapp", "after_minutes": 0}, {"channel": "sms", "after_minutes": 0}])).await;
    // A code is pending for the number, but it is not verified: nothing goes to it.
    let r = env
        .app
        .post_json(
            "/api/v1/users/me/phone",
            Some(&env.user.access_token),
            &json!({"number": PHONE}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let codes = sent(&env).len();
    let t = task(&env, "take pills").await;
    let n = raise(&env, &t, "take pills").await;
    let got = notification_until(&env, n, |v| settled(v, "sms")).await;
    let d = delivery(&got, "whatsapp").expect("a whatsapp delivery");
    assert_eq!(d["status"], "skipped", "{got}");
    assert!(d["detail"].as_str().unwrap().contains("verified"), "{d}");
    assert_eq!(delivery(&got, "sms").unwrap()["status"], "skipped");
    assert_eq!(sent(&env).len(), codes, "nothing but the code was sent");

    // Verified: the step messages it with the notification's text.
    verify_number(&env, &env.user, PHONE, "whatsapp").await;
    let before = sent(&env).len();
    let t2 = task(&env, "call the bank").await;
    let n2 = raise(&env, &t2, "call the bank").await;
    let got = notification_until(&env, n2, |v| settled(v, "sms")).await;
    assert_eq!(
        delivery(&got, "whatsapp").unwrap()["status"],
        "sent",
        "{got}"
    );
    assert_eq!(delivery(&got, "sms").unwrap()["status"], "sent", "{got}");
    let msgs = sent(&env);
    assert_eq!(msgs.len(), before + 2);
    let wa = &msgs[before];
    assert_eq!(wa.body["To"], format!("whatsapp:{PHONE}"));
    assert_eq!(wa.body["From"], format!("whatsapp:{SENDER}"));
    let text = wa.body["Body"].as_str().unwrap();
    assert!(
        text.contains("call the bank") && text.contains("DONE"),
        "{text}"
    );
    let sms = &msgs[before + 1];
    assert_eq!(sms.body["To"], PHONE);
    assert_eq!(sms.body["From"], SENDER);

    // The step's job runs again (its lease expired after it sent): nothing is sent twice.
    for step in [0, 1] {
        cadence::messaging::escalation::run_step(
            env.app.state.clone(),
            cadence::jobs::Job {
                id: Uuid::now_v7(),
                kind: "notification.step".into(),
                key: format!("{n2}:{step}"),
                payload: json!({"notification_id": n2, "step": step}),
                run_at: chrono::Utc::now(),
                attempts: 2,
                max_attempts: 5,
                lag_secs: 0.0,
            },
        )
        .await
        .unwrap();
    }
    assert_eq!(sent(&env).len(), before + 2, "no message was sent twice");
    let again = notification(&env, n2).await;
    assert_eq!(again["deliveries"].as_array().unwrap().len(), 2, "{again}");
}

#[sqlx::test]
async fn a_twilio_outage_fails_the_delivery_and_the_next_step_runs(pool: PgPool) {
    let env = env(pool, &[]).await;
    set_steps(&env, json!([{"channel": "whatsapp", "after_minutes": 0}, {"channel": "in_app", "after_minutes": 0}])).await;
    verify_number(&env, &env.user, PHONE, "whatsapp").await;
    env.sim.script(cadence::sim::Script::fail(
        cadence::sim::Service::TwilioMessages,
        cadence::sim::Failure::Status { status: 503 },
    ));
    let t = task(&env, "renew passport").await;
    let n = raise(&env, &t, "renew passport").await;
    let got = notification_until(&env, n, |v| delivery(v, "in_app").is_some()).await;
    let d = delivery(&got, "whatsapp").expect("a whatsapp delivery");
    assert_eq!(d["status"], "failed", "{got}");
    assert_eq!(delivery(&got, "in_app").unwrap()["status"], "delivered");
}

/// Place the call step for a fresh notification and answer it as the callee: the signed
/// voice webhook, then the media stream.
async fn answered_call(env: &VoiceEnv, title: &str) -> (String, Uuid, Phone) {
    let agent = crate::voice::sim_agent(
        env,
        json!({"llm": {"provider": "commands", "fallbacks": []}, "tools": ["tasks"]}),
    )
    .await;
    set_steps(
        env,
        json!([{"channel": "call", "after_minutes": 0, "agent_id": agent}]),
    )
    .await;
    verify_number(env, &env.user, PHONE, "sms").await;
    let t = task(env, title).await;
    let n = raise(env, &t, title).await;
    let log = env
        .sim
        .wait_for_log(
            |l| l.iter().any(|e| e.service == "twilio.calls"),
            Duration::from_secs(30),
        )
        .await;
    let req = log
        .iter()
        .find(|e| e.service == "twilio.calls")
        .expect("a call was placed");
    assert_eq!(req.status, 201);
    assert_eq!(req.body["To"], PHONE, "the verified number is called");
    let url = req.body["Url"].as_str().unwrap().to_string();
    // Claimed ("sending") before Twilio is asked, settled once the call is placed.
    let got = notification_until(env, n, |v| settled(v, "call")).await;
    let d = delivery(&got, "call").unwrap();
    assert_eq!(d["status"], "sent", "{got}");
    assert!(d["detail"].as_str().unwrap().starts_with("call "), "{d}");

    // The callee answers: Twilio fetches the TwiML (signed, for the CallSid it created),
    // then opens the media stream.
    let call_id: Uuid = url.split("call_id=").nth(1).unwrap().parse().unwrap();
    let call_sid: String = sqlx::query_scalar("select provider_call_sid from calls where id = $1")
        .bind(call_id)
        .fetch_one(&env.app.pool)
        .await
        .unwrap();
    let path = url.strip_prefix(PUBLIC).unwrap().to_string();
    let params = [
        ("CallSid", call_sid.as_str()),
        ("From", SENDER),
        ("To", PHONE),
        ("Direction", "outbound-api"),
        ("AccountSid", crate::phone::ACCOUNT),
    ];
    let sig = twilio_sign(&url, &params);
    let r = reqwest::Client::new()
        .post(env.app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(serde_urlencoded::to_string(params).unwrap())
        .send()
        .await
        .unwrap();
    let xml = r.text().await.unwrap();
    let token =
        attr(&xml, "Parameter", "value").unwrap_or_else(|| panic!("a stream token in {xml}"));
    let phone = Phone::stream(env, &call_sid, &token).await;
    (t, n, phone)
}

async fn task_until_done(env: &VoiceEnv, t: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = get(env, &format!("/api/v1/tasks/{t}")).await;
        if v["status"] == "done" || tokio::time::Instant::now() >= deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test]
async fn the_call_step_reads_the_notification_and_pressing_1_completes_it(pool: PgPool) {
    let env = env(pool, &[]).await;
    let (t, n, mut phone) = answered_call(&env, "feed the cat").await;
    // The agent opens by reading the notification.
    let heard = phone.listen(|v| v["event"] == "mark").await;
    assert!(!heard.closed);
    let tts = env.sim.log_for("elevenlabs.stream");
    let spoken: String = tts
        .iter()
        .map(|e| e.body["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(spoken.contains("feed the cat"), "{spoken:?}");
    phone
        .send(json!({"event": "dtmf", "streamSid": phone.stream_sid, "dtmf": {"track": "inbound_track", "digit": "1"}}))
        .await;
    assert_eq!(task_until_done(&env, &t).await["status"], "done");
    let got = notification_until(&env, n, |v| v["status"] == "acknowledged").await;
    assert_eq!(got["status"], "acknowledged");
}

#[sqlx::test]
async fn the_call_steps_agent_completes_the_task_when_told_done(pool: PgPool) {
    let env = env(pool, &[]).await;
    let (t, n, mut phone) = answered_call(&env, "book the dentist").await;
    phone.listen(|v| v["event"] == "mark").await;
    env.sim.script(Script::transcript("done"));
    phone.speak(&crate::telephony::utterance()).await;
    assert_eq!(task_until_done(&env, &t).await["status"], "done");
    let got = notification_until(&env, n, |v| v["status"] == "acknowledged").await;
    assert_eq!(got["status"], "acknowledged");
}

#[sqlx::test]
async fn the_call_step_never_dials_an_unverified_number(pool: PgPool) {
    let env = env(pool, &[]).await;
    set_steps(
        &env,
        json!([{"channel": "call", "after_minutes": 0}, {"channel": "in_app", "after_minutes": 0}]),
    )
    .await;
    let t = task(&env, "water the garden").await;
    let n = raise(&env, &t, "water the garden").await;
    let got = notification_until(&env, n, |v| delivery(v, "in_app").is_some()).await;
    assert_eq!(
        delivery(&got, "call").unwrap()["status"],
        "skipped",
        "{got}"
    );
    assert!(env.sim.log_for("twilio.calls").is_empty());
}
