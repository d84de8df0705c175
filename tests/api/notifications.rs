//! Notifications: the raise API (function and job), list/get/ack with filters and BOLA,
//! events, escalation steps in order that stop at ack, quiet hours, the preference's 422s.

use std::time::{Duration, Instant};

use cadence::{
    jobs::{self, NewJob},
    notifications::{
        NewNotification, Notification,
        model::{NotificationKind, NotificationPriority},
    },
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::*;

/// Poll until `f` holds, failing after `secs`.
pub async fn wait_for(secs: u64, what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Fast job sweeps and one escalation minute = one second.
pub const FAST: &[(&str, &str)] = &[
    ("CADENCE__JOBS__SWEEP_SECS", "0.2"),
    ("CADENCE__NOTIFICATIONS__MINUTE_SECS", "1"),
];

pub fn new(user: Uuid, key: &str, priority: NotificationPriority) -> NewNotification {
    NewNotification {
        user_id: user,
        kind: NotificationKind::System,
        title: format!("about {key}"),
        body: "body".into(),
        priority,
        source_type: Some("test".into()),
        source_id: Some(key.into()),
        dedupe_key: key.into(),
    }
}

pub async fn job_status(pool: &PgPool, kind: &str, key: &str) -> Option<String> {
    sqlx::query_scalar("select status from jobs where kind = $1 and key = $2")
        .bind(kind)
        .bind(key)
        .fetch_optional(pool)
        .await
        .unwrap()
}

impl TestApp {
    pub async fn notifications(&self, token: &str, query: &str) -> Vec<Value> {
        let resp = self
            .get(&format!("/api/v1/notifications{query}"), token)
            .await;
        let body = json_with(resp, StatusCode::OK).await;
        body["data"].as_array().unwrap().clone()
    }

    pub async fn notification(&self, token: &str, id: &str) -> Value {
        let resp = self
            .get(&format!("/api/v1/notifications/{id}"), token)
            .await;
        json_with(resp, StatusCode::OK).await
    }

    async fn set_escalation(&self, token: &str, escalation: Value) {
        let resp = self
            .patch_json(
                "/api/v1/users/preferences",
                token,
                &json!({"notifications": escalation}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
}

fn channels(n: &Value) -> Vec<(String, String, String)> {
    n["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["channel"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
                d["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[sqlx::test]
async fn raise_is_idempotent_listed_filtered_and_acknowledged(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), FAST).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let mut ws = app
        .ws_connect("/api/v1/events", Some(t))
        .await
        .expect("events socket");

    let a: Notification =
        cadence::notifications::raise(&app.state, new(u.id, "a", NotificationPriority::High))
            .await
            .unwrap();
    let again =
        cadence::notifications::raise(&app.state, new(u.id, "a", NotificationPriority::High))
            .await
            .unwrap();
    assert_eq!(a.id, again.id, "the same dedupe key raises once");
    let b = cadence::notifications::raise(&app.state, new(u.id, "b", NotificationPriority::Low))
        .await
        .unwrap();

    // One `notification.created` per notification.
    let mut created = Vec::new();
    while created.len() < 2 {
        let ev = ws_next_json(&mut ws, 30).await.expect("an event");
        if ev["type"] == "notification.created" {
            created.push(ev["data"]["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(created, [a.id.to_string(), b.id.to_string()]);

    // In-app delivery is recorded by the first step.
    let a_id = a.id.to_string();
    wait_for(10, "the in-app delivery", async || {
        let n = app.notification(t, &a_id).await;
        n["status"] == "delivered"
            && channels(&n)
                .iter()
                .any(|(c, s, _)| c == "in_app" && s == "delivered")
    })
    .await;
    let one = app.notification(t, &a_id).await;
    assert_eq!(one["status"], "delivered");
    assert_eq!(one["kind"], "system");
    assert_eq!(one["priority"], "high");
    assert_eq!(one["source_type"], "test");
    assert_eq!(one["source_id"], "a");
    assert!(one["acknowledged_at"].is_null());

    let all = app.notifications(t, "").await;
    assert_eq!(ids_of(&json!(all)), [b.id.to_string(), a_id.clone()]);
    let page = app.all_pages("/api/v1/notifications", t, 1).await;
    assert_eq!(page.len(), 2);
    assert!(app.notifications(t, "?kind=reminder").await.is_empty());
    assert_eq!(app.notifications(t, "?kind=system").await.len(), 2);

    let resp = app
        .post_json(
            &format!("/api/v1/notifications/{a_id}/ack"),
            Some(t),
            &json!({}),
        )
        .await;
    let acked = json_with(resp, StatusCode::OK).await;
    assert_eq!(acked["status"], "acknowledged");
    assert!(acked["acknowledged_at"].is_string());
    let unread = app.notifications(t, "?unread=true").await;
    assert_eq!(ids_of(&json!(unread)), [b.id.to_string()]);
    let acked_list = app.notifications(t, "?status=acknowledged").await;
    assert_eq!(ids_of(&json!(acked_list)), [a_id.as_str()]);

    let ev = ws_next_matching(&mut ws, 30, |ev| {
        ev["type"] == "notification.updated" && ev["data"]["status"] == "acknowledged"
    })
    .await
    .expect("the update event");
    assert_eq!(ev["data"]["id"], a_id.as_str());

    let resp = app.get("/api/v1/notifications?status=nope", t).await;
    assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let resp = app.get("/api/v1/notifications?kind=nope", t).await;
    assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[sqlx::test]
async fn the_raise_job_notifies_once_per_key(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), FAST).await;
    let u = app.new_user().await;
    let payload = json!({"user_id": u.id, "kind": "schedule", "title": "Deep work starts",
        "body": "09:00–10:30", "priority": "normal", "source_type": "schedule_block",
        "source_id": Uuid::now_v7()});
    for _ in 0..3 {
        jobs::enqueue(
            &pool,
            NewJob::new("notification.raise", "block:x:0900", payload.clone()),
        )
        .await
        .unwrap();
    }
    wait_for(10, "the raise job", async || {
        job_status(&pool, "notification.raise", "block:x:0900")
            .await
            .as_deref()
            == Some("done")
    })
    .await;
    // The same key through the function returns the job's notification.
    let mut n = new(u.id, "block:x:0900", NotificationPriority::Urgent);
    n.kind = NotificationKind::Schedule;
    let via_fn = cadence::notifications::raise(&app.state, n).await.unwrap();
    let list = app.notifications(&u.access_token, "").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], via_fn.id.to_string());
    assert_eq!(list[0]["kind"], "schedule");
    assert_eq!(list[0]["title"], "Deep work starts");

    // A payload that cannot be raised fails the job instead of retrying forever.
    jobs::enqueue(
        &pool,
        NewJob::new(
            "notification.raise",
            "bad",
            json!({"user_id": u.id, "kind": "nope"}),
        ),
    )
    .await
    .unwrap();
    wait_for(10, "the bad job to fail", async || {
        job_status(&pool, "notification.raise", "bad")
            .await
            .as_deref()
            == Some("failed")
    })
    .await;
}

#[sqlx::test]
async fn another_users_notifications_are_404(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), FAST).await;
    let owner = app.new_user().await;
    let other = app.new_user().await;
    let n = cadence::notifications::raise(
        &app.state,
        new(owner.id, "mine", NotificationPriority::Normal),
    )
    .await
    .unwrap();
    let t = &other.access_token;
    let resp = app.get(&format!("/api/v1/notifications/{}", n.id), t).await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .post_json(
            &format!("/api/v1/notifications/{}/ack", n.id),
            Some(t),
            &json!({}),
        )
        .await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert!(app.notifications(t, "").await.is_empty());
    let mine = app
        .notification(&owner.access_token, &n.id.to_string())
        .await;
    assert!(
        mine["acknowledged_at"].is_null(),
        "the other user's ack changed nothing"
    );
    let resp = app
        .request(reqwest::Method::GET, "/api/v1/notifications", None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn escalation_runs_step_by_step_and_stops_at_ack(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), FAST).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    app.set_escalation(
        t,
        json!({"quiet_hours": null, "steps": [
            {"channel": "in_app", "after_minutes": 0},
            {"channel": "sms", "after_minutes": 0.3},
            {"channel": "whatsapp", "after_minutes": 0.5, "min_priority": "urgent"},
            {"channel": "call", "after_minutes": 4}]}),
    )
    .await;
    let n = cadence::notifications::raise(&app.state, new(u.id, "esc", NotificationPriority::High))
        .await
        .unwrap();
    let id = n.id.to_string();
    wait_for(10, "the sms step", async || {
        channels(&app.notification(t, &id).await).len() >= 2
    })
    .await;
    let resp = app
        .post_json(
            &format!("/api/v1/notifications/{id}/ack"),
            Some(t),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Step 2 runs (at 0.5 s); if it ran before the ack it queued the call step (at 4 s),
    // which then sees the ack; after the ack, nothing more is queued.
    wait_for(15, "the whatsapp step's job", async || {
        job_status(&pool, "notification.step", &format!("{id}:2"))
            .await
            .as_deref()
            == Some("done")
    })
    .await;
    if job_status(&pool, "notification.step", &format!("{id}:3"))
        .await
        .is_some()
    {
        wait_for(15, "the call step's job", async || {
            job_status(&pool, "notification.step", &format!("{id}:3"))
                .await
                .as_deref()
                == Some("done")
        })
        .await;
    }
    let after = app.notification(t, &id).await;
    assert_eq!(
        channels(&after),
        [
            ("in_app".into(), "delivered".into(), "".into()),
            (
                "sms".into(),
                "skipped".into(),
                "no verified phone number".into()
            ),
        ],
        "in order; whatsapp is below its min_priority; the call never happened after the ack"
    );
    assert_eq!(after["status"], "acknowledged");
}

#[sqlx::test]
async fn quiet_hours_hold_back_all_but_urgent(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), FAST).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    // A window around now in the user's zone (Asia/Tokyo, no DST).
    let resp = app
        .patch_json("/api/v1/users/me", t, &json!({"timezone": "Asia/Tokyo"}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokyo = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Tokyo);
    let start = (tokyo - chrono::Duration::hours(1))
        .format("%H:%M")
        .to_string();
    let end = (tokyo + chrono::Duration::hours(1))
        .format("%H:%M")
        .to_string();
    app.set_escalation(
        t,
        json!({"quiet_hours": {"start": start, "end": end}, "steps": [
            {"channel": "in_app", "after_minutes": 0},
            {"channel": "web_push", "after_minutes": 0},
            {"channel": "whatsapp", "after_minutes": 0}]}),
    )
    .await;
    let normal =
        cadence::notifications::raise(&app.state, new(u.id, "n", NotificationPriority::High))
            .await
            .unwrap();
    let urgent =
        cadence::notifications::raise(&app.state, new(u.id, "u", NotificationPriority::Urgent))
            .await
            .unwrap();
    for n in [&normal, &urgent] {
        let key = format!("{}:2", n.id);
        wait_for(10, "the last step", async || {
            job_status(&pool, "notification.step", &key)
                .await
                .as_deref()
                == Some("done")
        })
        .await;
    }
    let quiet = "quiet hours".to_string();
    assert_eq!(
        channels(&app.notification(t, &normal.id.to_string()).await),
        [
            ("in_app".into(), "delivered".into(), "".into()),
            ("web_push".into(), "skipped".into(), quiet.clone()),
            ("whatsapp".into(), "skipped".into(), quiet.clone()),
        ]
    );
    assert_eq!(
        channels(&app.notification(t, &urgent.id.to_string()).await),
        [
            ("in_app".into(), "delivered".into(), "".into()),
            (
                "web_push".into(),
                "skipped".into(),
                "no push subscriptions".into()
            ),
            (
                "whatsapp".into(),
                "skipped".into(),
                "no verified phone number".into()
            ),
        ]
    );
}

#[sqlx::test]
async fn the_notifications_preference_is_validated(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    for (bad, field) in [
        (
            json!({"quiet_hours": {"start": "7pm", "end": "07:00"}}),
            "notifications.quiet_hours.start",
        ),
        (
            json!({"steps": [{"channel": "fax"}]}),
            "notifications.steps[0].channel",
        ),
        (
            json!({"steps": [{"channel": "sms", "after_minutes": 99999}]}),
            "notifications.steps[0].after_minutes",
        ),
        (
            json!({"steps": [{"channel": "sms", "min_priority": "meh"}]}),
            "notifications.steps[0].min_priority",
        ),
        (json!({"steps": "all"}), "notifications.steps"),
        (json!({"sound": true}), "notifications.sound"),
    ] {
        let resp = app
            .patch_json(
                "/api/v1/users/preferences",
                t,
                &json!({"notifications": bad}),
            )
            .await;
        let body =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&body), [field]);
    }
    let resp = app
        .put_json(
            "/api/v1/users/preferences",
            t,
            &json!({"notifications": {"quiet_hours": null, "steps": [{"channel": "in_app"}]}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

mod web_push {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    use cadence::{notifications::webpush, sim};
    use p256::elliptic_curve::sec1::ToEncodedPoint;

    use super::*;

    /// A browser's subscription at the simulated push service: its endpoint and the body
    /// `PushSubscription.toJSON()` would give.
    fn browser(sim: &sim::SimHandle) -> (String, Value) {
        let secret = webpush::random_secret();
        let auth: [u8; 16] = rand::random();
        let p256dh = B64.encode(secret.public_key().to_encoded_point(false).as_bytes());
        let endpoint = sim.push_subscription(secret, auth);
        let body = json!({"endpoint": endpoint, "expirationTime": null,
                          "keys": {"p256dh": p256dh, "auth": B64.encode(auth)}});
        (endpoint, body)
    }

    #[sqlx::test]
    async fn pushes_are_encrypted_vapid_signed_and_410_removes_the_subscription(pool: PgPool) {
        let sim = sim::spawn(sim::SimConfig::default()).await.unwrap();
        let app = spawn_app_with(pool.clone(), FAST).await;
        let other_instance = spawn_app_with(pool.clone(), FAST).await;
        let u = app.new_user().await;
        let t = &u.access_token;

        let key = json_with(
            app.get("/api/v1/notifications/vapid-public-key", t).await,
            StatusCode::OK,
        )
        .await["key"]
            .as_str()
            .unwrap()
            .to_string();
        let raw = B64.decode(&key).unwrap();
        assert_eq!((raw.len(), raw[0]), (65, 4), "an uncompressed P-256 point");
        let again = json_with(
            other_instance
                .get("/api/v1/notifications/vapid-public-key", t)
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            again["key"],
            key.as_str(),
            "every instance signs with one key"
        );

        let (endpoint, sub) = browser(&sim);
        let created = app
            .create("/api/v1/notifications/push-subscriptions", t, &sub)
            .await;
        assert_eq!(created["endpoint"], endpoint.as_str());
        let listed = json_with(
            app.get("/api/v1/notifications/push-subscriptions", t).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(ids_of(&listed["data"]), [created["id"].as_str().unwrap()]);

        app.set_escalation(
            t,
            json!({"quiet_hours": null, "steps": [
                {"channel": "in_app", "after_minutes": 0},
                {"channel": "web_push", "after_minutes": 0}]}),
        )
        .await;
        let n = cadence::notifications::raise(
            &app.state,
            new(u.id, "push", NotificationPriority::Urgent),
        )
        .await
        .unwrap();
        wait_for(15, "the push", async || sim.push_messages().len() == 1).await;
        let m = &sim.push_messages()[0];
        let payload: Value = serde_json::from_str(&m.payload).unwrap();
        assert_eq!(
            payload,
            json!({"id": n.id, "kind": "system", "title": "about push", "body": "body",
                   "priority": "urgent", "source_type": "test", "source_id": "push"}),
            "the stand-in decrypted exactly what we sent"
        );
        assert_eq!(m.urgency.as_deref(), Some("high"));
        assert_eq!(m.vapid["aud"], sim.base_url().as_str());
        assert_eq!(m.vapid["sub"], "mailto:admin@localhost");
        let auth = sim.log_for("webpush.push")[0].auth.clone().unwrap();
        assert!(
            auth.ends_with(&format!("k={key}")),
            "signed with the published key: {auth}"
        );
        let id = n.id.to_string();
        wait_for(10, "the push delivery", async || {
            channels(&app.notification(t, &id).await).contains(&(
                "web_push".into(),
                "sent".into(),
                "".into(),
            ))
        })
        .await;

        // The browser unsubscribed: the push service answers 410, we forget the subscription.
        sim.push_gone(&endpoint);
        let n2 = cadence::notifications::raise(
            &app.state,
            new(u.id, "push2", NotificationPriority::Urgent),
        )
        .await
        .unwrap();
        let id2 = n2.id.to_string();
        wait_for(10, "the failed push", async || {
            channels(&app.notification(t, &id2).await)
                .iter()
                .any(|(c, s, d)| c == "web_push" && s == "failed" && d.contains("410"))
        })
        .await;
        let listed = json_with(
            app.get("/api/v1/notifications/push-subscriptions", t).await,
            StatusCode::OK,
        )
        .await;
        assert!(listed["data"].as_array().unwrap().is_empty());
        assert_eq!(sim.push_messages().len(), 1);
    }

    #[sqlx::test]
    async fn push_subscriptions_are_validated_and_private(pool: PgPool) {
        let sim = sim::spawn(sim::SimConfig::default()).await.unwrap();
        let app = spawn_app(pool).await;
        let u = app.new_user().await;
        let other = app.new_user().await;
        let (_, sub) = browser(&sim);
        let path = "/api/v1/notifications/push-subscriptions";
        for (patch, field) in [
            (json!({"endpoint": "http://push.example.com/x"}), "endpoint"),
            (json!({"endpoint": "not a url"}), "endpoint"),
            (
                json!({"keys": {"p256dh": "AAAA", "auth": sub["keys"]["auth"]}}),
                "keys.p256dh",
            ),
            (
                json!({"keys": {"p256dh": sub["keys"]["p256dh"], "auth": "AAAA"}}),
                "keys.auth",
            ),
        ] {
            let mut body = sub.clone();
            for (k, v) in patch.as_object().unwrap() {
                body[k] = v.clone();
            }
            let resp = app.post_json(path, Some(&u.access_token), &body).await;
            let problem =
                assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(error_fields(&problem), [field]);
        }
        let created = app.create(path, &u.access_token, &sub).await;
        let one = format!("{path}/{}", created["id"].as_str().unwrap());
        let theirs = json_with(app.get(path, &other.access_token).await, StatusCode::OK).await;
        assert!(theirs["data"].as_array().unwrap().is_empty());
        let resp = app.delete(&one, &other.access_token).await;
        assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
        let resp = app.delete(&one, &u.access_token).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let resp = app.delete(&one, &u.access_token).await;
        assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
}
