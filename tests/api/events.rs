//! Realtime events: cross-instance delivery through LISTEN/NOTIFY, isolation, replay,
//! slow clients, ticket auth.

use std::time::Duration;

use cadence::events;
use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::helpers::*;

async fn wait_subscribed(app: &TestApp, users: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        if app.state.events.connected_users() >= users {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("subscriber never registered");
}

#[sqlx::test]
async fn a_change_on_instance_a_reaches_a_client_of_instance_b(pool: PgPool) {
    let a = spawn_app(pool.clone()).await;
    let b = spawn_app(pool).await;
    let user = a.new_user().await;
    let mut ws = b
        .ws_connect("/api/v1/events", Some(&user.access_token))
        .await
        .unwrap();
    wait_subscribed(&b, 1).await;

    let mut tx = a.pool.begin().await.unwrap();
    let id = events::publish(
        &mut *tx,
        user.id,
        "task.created",
        &json!({"id": "t1", "title": "Buy milk"}),
    )
    .await
    .unwrap();
    // Nothing is announced before the change commits (the user's own signup
    // `wallet.updated` may still arrive late: only task events count).
    let early = ws_frames_for(&mut ws, 1).await;
    assert!(
        early.iter().all(|e| e["type"] != "task.created"),
        "no event before commit: {early:?}"
    );
    tx.commit().await.unwrap();

    let event = ws_next_of_type(&mut ws, "task.created", 10)
        .await
        .expect("event delivered across instances");
    assert_eq!(event["id"], id);
    assert_eq!(event["type"], "task.created");
    assert_eq!(event["data"]["title"], "Buy milk");
    assert!(event["created_at"].is_string());
}

#[sqlx::test]
async fn rolled_back_changes_publish_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let mut ws = app
        .ws_connect("/api/v1/events", Some(&user.access_token))
        .await
        .unwrap();
    wait_subscribed(&app, 1).await;
    let mut tx = app.pool.begin().await.unwrap();
    events::publish(&mut *tx, user.id, "task.created", &json!({"id": "gone"}))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    events::publish(&app.pool, user.id, "task.created", &json!({"id": "kept"}))
        .await
        .unwrap();
    // The first task event is the committed one (a late `wallet.updated` from signing up
    // may come first on a busy machine).
    let event = ws_next_of_type(&mut ws, "task.created", 10).await.unwrap();
    assert_eq!(event["data"]["id"], "kept");
}

#[sqlx::test]
async fn users_only_see_their_own_events(pool: PgPool) {
    let app = spawn_app(pool).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let mut bob_ws = app
        .ws_connect("/api/v1/events", Some(&bob.access_token))
        .await
        .unwrap();
    wait_subscribed(&app, 1).await;
    events::publish(
        &app.pool,
        alice.id,
        "note.created",
        &json!({"id": "alice-note"}),
    )
    .await
    .unwrap();
    events::publish(
        &app.pool,
        bob.id,
        "note.created",
        &json!({"id": "bob-note"}),
    )
    .await
    .unwrap();
    // Events arrive in id order, so had alice's (published first) reached bob, it would be
    // his first note event. Other frames (bob's own signup `wallet.updated`, late on a busy
    // machine) are skipped by type.
    let first = ws_next_of_type(&mut bob_ws, "note.created", 10)
        .await
        .expect("bob's note event");
    assert_eq!(
        first["data"]["id"], "bob-note",
        "alice's event never reaches bob"
    );

    // Replay is per user too (it also holds bob's signup wallet.updated): every note event
    // up to bob's own, in order, is his.
    let mut replay = app
        .ws_connect("/api/v1/events?since=0", Some(&bob.access_token))
        .await
        .unwrap();
    let mut notes = Vec::new();
    while let Some(event) = ws_next_of_type(&mut replay, "note.created", 10).await {
        let id = event["data"]["id"].as_str().unwrap().to_string();
        notes.push(id.clone());
        if id == "bob-note" {
            break;
        }
    }
    assert_eq!(notes, vec!["bob-note"]);
}

#[sqlx::test]
async fn since_replays_missed_events_then_streams_live(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            events::publish(&app.pool, user.id, "memory.created", &json!({"n": n}))
                .await
                .unwrap(),
        );
    }
    let mut ws = app
        .ws_connect(
            &format!("/api/v1/events?since={}", ids[0]),
            Some(&user.access_token),
        )
        .await
        .unwrap();
    async fn memory(ws: &mut WsStream) -> Value {
        ws_next_of_type(ws, "memory.created", 10)
            .await
            .expect("a memory.created event")["id"]
            .clone()
    }
    assert_eq!(memory(&mut ws).await, ids[1]);
    assert_eq!(memory(&mut ws).await, ids[2]);
    wait_subscribed(&app, 1).await;
    let live = events::publish(&app.pool, user.id, "memory.created", &json!({"n": 3}))
        .await
        .unwrap();
    assert_eq!(
        memory(&mut ws).await,
        live,
        "no duplicates between replay and live"
    );
}

#[sqlx::test]
async fn a_client_that_stops_reading_is_closed_not_buffered(pool: PgPool) {
    let app = spawn_app_with(
        pool,
        &[
            ("CADENCE__EVENTS__BUFFER", "4"),
            ("CADENCE__EVENTS__SEND_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    let user = app.new_user().await;
    let mut ws = app
        .ws_connect("/api/v1/events", Some(&user.access_token))
        .await
        .unwrap();
    wait_subscribed(&app, 1).await;
    let blob = "x".repeat(64 * 1024);
    for n in 0..300 {
        events::publish(
            &app.pool,
            user.id,
            "note.updated",
            &json!({"n": n, "blob": blob}),
        )
        .await
        .unwrap();
    }
    // The server gives up on the connection instead of queueing 19 MiB for it.
    let mut dropped = false;
    for _ in 0..200 {
        if app.state.events.connected_users() == 0 {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dropped, "slow subscriber was dropped");
    // The client sees its stream end (after whatever the kernel had buffered).
    let mut received = 0;
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Text(_)) => received += 1,
                Ok(Message::Close(frame)) => return frame.map(|f| f.reason.to_string()),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await;
    assert!(ended.is_ok(), "stream ended");
    assert!(
        received < 300,
        "not every event was queued for the slow client ({received})"
    );
}

#[sqlx::test]
async fn browsers_authenticate_with_a_single_use_ticket_and_an_allowed_origin(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let ticket = || async {
        let v: Value = app
            .post_json(
                "/api/v1/auth/ws-ticket",
                Some(&user.access_token),
                &json!({}),
            )
            .await
            .json()
            .await
            .unwrap();
        v["ticket"].as_str().unwrap().to_string()
    };
    let t = ticket().await;
    let ok = app
        .ws_connect(&format!("/api/v1/events?ticket={t}"), None)
        .await;
    assert!(ok.is_ok());
    let reused = app
        .ws_connect(&format!("/api/v1/events?ticket={t}"), None)
        .await;
    match reused {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("reused ticket: {other:?}"),
    }
    assert!(
        app.ws_connect("/api/v1/events", None).await.is_err(),
        "no credentials"
    );

    let t = ticket().await;
    let mut req = format!("ws://{}/api/v1/events?ticket={t}", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("origin", "https://evil.example.net".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("foreign origin: {:?}", other.map(|_| ())),
    }
    let mut req = format!("ws://{}/api/v1/events?ticket={t}", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("origin", "http://localhost:8080".parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(req).await.is_ok(),
        "allowed origin"
    );
}

#[sqlx::test]
async fn shutdown_closes_event_sockets_with_going_away(pool: PgPool) {
    let mut app = spawn_app(pool).await;
    let user = app.new_user().await;
    let mut ws = app
        .ws_connect("/api/v1/events", Some(&user.access_token))
        .await
        .unwrap();
    wait_subscribed(&app, 1).await;
    app.trigger_shutdown();
    let frame = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Close(f) = msg {
                return f;
            }
        }
        None
    })
    .await
    .unwrap()
    .expect("close frame");
    assert_eq!(u16::from(frame.code), 1001);
    app.shutdown().await;
}

#[sqlx::test]
async fn rest_changes_on_one_instance_stream_to_another(pool: PgPool) {
    let a = spawn_app(pool.clone()).await;
    let b = spawn_app(pool).await;
    let user = a.new_user().await;
    let other = a.new_user().await;
    let mut ws = b
        .ws_connect("/api/v1/events", Some(&user.access_token))
        .await
        .unwrap();
    let mut other_ws = b
        .ws_connect("/api/v1/events", Some(&other.access_token))
        .await
        .unwrap();
    wait_subscribed(&b, 2).await;

    let created: Value = a
        .post_json(
            "/api/v1/tasks",
            Some(&user.access_token),
            &json!({"title": "Call mom"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let event = ws_next_of_type(&mut ws, "task.created", 10)
        .await
        .expect("task.created");
    assert_eq!(event["data"]["id"], created["id"]);
    assert_eq!(event["data"]["title"], "Call mom");

    let id = created["id"].as_str().unwrap();
    let resp = a
        .patch_json(
            &format!("/api/v1/tasks/{id}"),
            &user.access_token,
            &json!({"priority": "high"}),
        )
        .await;
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let event = ws_next_of_type(&mut ws, "task.updated", 10)
        .await
        .expect("task.updated");
    assert_eq!(event["data"]["priority"], "high");

    a.delete(&format!("/api/v1/tasks/{id}"), &user.access_token)
        .await;
    let event = ws_next_of_type(&mut ws, "task.deleted", 10)
        .await
        .expect("task.deleted");
    assert_eq!(event["data"]["id"], id);

    let note: Value = a
        .post_json(
            "/api/v1/notes",
            Some(&user.access_token),
            &json!({"title": "Ideas"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let event = ws_next_of_type(&mut ws, "note.created", 10)
        .await
        .expect("note.created");
    assert_eq!(event["data"]["id"], note["id"]);

    // Money: a top-up announces the new wallet.
    let resp = a
        .request(
            reqwest::Method::POST,
            "/api/v1/wallet/add-credits",
            Some(&user.access_token),
        )
        .header("idempotency-key", "evt-topup-1")
        .json(&json!({"amount": 50}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let wallet: Value = a
        .get("/api/v1/wallet", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    // The top-up's event (skipping the signup one, should it come late).
    let event = ws_next_matching(&mut ws, 10, |e| {
        e["type"] == "wallet.updated" && e["data"]["balance"] == wallet["balance"]
    })
    .await
    .expect("wallet.updated after the top-up");
    assert_eq!(event["data"]["available"], wallet["available"]);

    // None of it reached the other user (whose own signup event may show up).
    let theirs = ws_frames_for(&mut other_ws, 1).await;
    assert!(
        theirs.iter().all(|e| {
            !["task.", "note."]
                .iter()
                .any(|p| e["type"].as_str().unwrap_or("").starts_with(p))
                && e["data"]["balance"] != wallet["balance"]
        }),
        "the other user saw: {theirs:?}"
    );
}
