//! Faults the server must survive (found by `make test-faults`, reproduced here): the
//! database ending a connection mid-query, and a voice client that stops reading. No timed
//! assertions: the bounds only keep a broken test from hanging.

use std::time::Duration;

use cadence::{error::ApiError, sim::Script};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;

use crate::voice::{open_session, sim_agent, voice_env};

/// PostgreSQL shutting down (or an administrator) terminates a connection mid-query:
/// SQLSTATE 57P01. That is an outage (503 `unavailable`), not an internal error.
#[sqlx::test]
async fn a_terminated_database_connection_is_unavailable_not_internal(pool: PgPool) {
    let mut victim = pool.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut *victim)
        .await
        .unwrap();
    let killed: bool = sqlx::query_scalar("select pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(killed);
    let err = sqlx::query("select pg_sleep(0)")
        .execute(&mut *victim)
        .await
        .expect_err("the connection was terminated");
    let api = ApiError::from(err);
    assert_eq!(
        api.status_code(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{api:?}"
    );
    assert_eq!(api.code(), "unavailable");
}

async fn call_of(env: &crate::voice::VoiceEnv, call_id: &str) -> Value {
    let resp = env
        .app
        .get(&format!("/api/v1/calls/{call_id}"), &env.user.access_token)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// A client that stops reading while the agent speaks fills the socket's buffers; the
/// server must drop it (not stall the session forever), finalize the call and settle it
/// once.
#[sqlx::test]
async fn a_voice_client_that_stops_reading_is_closed_and_its_call_settled_once(pool: PgPool) {
    let env = voice_env(pool.clone(), &[("CADENCE__EVENTS__SEND_TIMEOUT_SECS", "1")]).await;
    let agent = sim_agent(&env, json!({})).await;
    let s = open_session(&env, &agent).await;
    let call_id = s["call_id"].as_str().unwrap().to_string();
    // A tiny receive window, so the server's writes block after a few kilobytes.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(env.app.addr).await.unwrap();
    let url = format!(
        "ws://{}/api/v1/voice/sessions/{}/ws?ticket={}",
        env.app.addr,
        s["session_id"].as_str().unwrap(),
        s["ticket"].as_str().unwrap()
    );
    let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), tcp)
        .await
        .unwrap();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("ready")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg
            && serde_json::from_str::<Value>(&t).unwrap()["type"] == "ready"
        {
            break;
        }
    }
    // The server's send buffer grows to the kernel's maximum (4 MiB by default) before its
    // writes block: 48 kHz audio fills it in well under a minute of a long answer.
    ws.send(Message::Text(
        json!({"type": "start", "sample_rate": 48000})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let sentence = "This is a long answer that keeps the speech engine busy for a while. ";
    env.sim.script(Script::llm_text(&sentence.repeat(60)));
    ws.send(Message::Text(
        json!({"type": "text", "text": "tell me a story"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    // Never read again: the call must still end.
    let mut call = Value::Null;
    for _ in 0..1500 {
        call = call_of(&env, &call_id).await;
        if call["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(call["end_reason"], "disconnected");
    // What the kernel buffered drains, then the stream ends: the server closed it.
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server never closed the socket");
    let debits: i64 = sqlx::query_scalar(
        "select count(*) from ledger_entries e join wallet_holds h on h.transaction_id = e.transaction_id
         where h.reference_id = $1 and e.amount < 0",
    )
    .bind(call_id.parse::<uuid::Uuid>().unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(debits, 1);
}
