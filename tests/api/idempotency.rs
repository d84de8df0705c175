//! `Idempotency-Key` on money-moving POSTs.

use std::sync::Arc;

use axum::{Json, http::StatusCode as AxumStatus, response::IntoResponse};
use cadence::{
    error::ApiError,
    http::{IdempotencyKey, idempotency},
    wallet::{
        model::{AddCredits, EntryKind, Posting},
        service,
    },
};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::oneshot;

use crate::helpers::*;

const ADD: &str = "/api/v1/wallet/add-credits";

async fn top_up_entries(pool: &PgPool, user: uuid::Uuid) -> i64 {
    sqlx::query_scalar(
        "select count(*) from ledger_entries e join ledger_accounts a on a.id = e.account_id
         where a.user_id = $1 and e.kind = 'top_up'",
    )
    .bind(user)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn stored_keys(pool: &PgPool, user: uuid::Uuid) -> Vec<(String, Option<i16>)> {
    sqlx::query_as("select key, status from idempotency_keys where user_id = $1 order by key")
        .bind(user)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn fifty_parallel_identical_requests_move_money_once(pool: PgPool) {
    let app = Arc::new(spawn_app(pool.clone()).await);
    let user = app.new_user().await;
    let requests = (0..50).map(|_| {
        let app = app.clone();
        let token = user.access_token.clone();
        tokio::spawn(async move {
            let resp = app
                .post_idem(ADD, &token, Some("top-up-1"), &json!({"amount": 25}))
                .await;
            let status = resp.status();
            let body: Value = resp.json().await.unwrap();
            (status, body)
        })
    });
    let results: Vec<(StatusCode, Value)> = join_all(requests)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let ok: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, b)| b)
        .collect();
    assert!(!ok.is_empty());
    for (status, body) in &results {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::CONFLICT,
            "{status} {body}"
        );
        if *status == StatusCode::CONFLICT {
            assert_eq!(body["code"], "conflict");
        }
    }
    // Every success is the same response (the first one, replayed).
    assert!(
        ok.iter()
            .all(|b| b["transaction"]["id"] == ok[0]["transaction"]["id"])
    );
    assert_eq!(top_up_entries(&pool, user.id).await, 1);
    assert_eq!(
        stored_keys(&pool, user.id).await,
        vec![("top-up-1".to_string(), Some(200))]
    );
    assert_eq!(app.wallet(&user.access_token).await.0, 1025);

    // Afterwards: a replay, marked as such, identical body.
    let resp = app
        .post_idem(
            ADD,
            &user.access_token,
            Some("top-up-1"),
            &json!({"amount": 25}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["idempotent-replayed"], "true");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["transaction"]["id"], ok[0]["transaction"]["id"]);
    assert_eq!(body["wallet"]["balance"], 1025);
    assert_eq!(app.wallet(&user.access_token).await.0, 1025);
}

#[sqlx::test]
async fn a_key_is_bound_to_its_request_and_its_user(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let resp = app
        .post_idem(ADD, &alice.access_token, Some("k"), &json!({"amount": 5}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Same key, different body (or different route): 422, nothing moves.
    let resp = app
        .post_idem(ADD, &alice.access_token, Some("k"), &json!({"amount": 6}))
        .await;
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), vec!["Idempotency-Key"]);
    let resp = app
        .post_idem(
            "/api/v1/payments/checkout",
            &alice.access_token,
            Some("k"),
            &json!({"amount_credits": 5}),
        )
        .await;
    assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(app.wallet(&alice.access_token).await.0, 1005);

    // Another user's identical key is theirs alone.
    let resp = app
        .post_idem(ADD, &bob.access_token, Some("k"), &json!({"amount": 6}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("idempotent-replayed").is_none());
    assert_eq!(app.wallet(&bob.access_token).await.0, 1006);
    assert_eq!(app.wallet(&alice.access_token).await.0, 1005);

    // Without a key every request counts.
    for _ in 0..2 {
        let resp = app
            .post_idem(ADD, &bob.access_token, None, &json!({"amount": 1}))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    assert_eq!(app.wallet(&bob.access_token).await.0, 1008);

    // Key length 1..=255.
    for bad in [String::new(), "x".repeat(256)] {
        let resp = app
            .post_idem(ADD, &bob.access_token, Some(&bad), &json!({"amount": 1}))
            .await;
        let body =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&body), vec!["Idempotency-Key"]);
    }
    let resp = app
        .post_idem(
            ADD,
            &bob.access_token,
            Some(&"x".repeat(255)),
            &json!({"amount": 1}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.wallet(&bob.access_token).await.0, 1009);
}

#[sqlx::test]
async fn a_request_in_flight_answers_409_then_its_response_is_replayed(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.new_user().await;
    let input = AddCredits { amount: 30 };
    let key = IdempotencyKey::new(Some("slow".into()), &format!("POST {ADD}")).unwrap();
    let (started_tx, started) = oneshot::channel::<()>();
    let (finish, finish_rx) = oneshot::channel::<()>();
    let state = app.state.clone();
    let user_id = user.id;
    // The same operation the route runs, held open until we let it finish.
    let slow = tokio::spawn(async move {
        idempotency::run(&state, user_id, &key, &input, async |tx| {
            let e = service::credit(tx, user_id, Posting::new(EntryKind::TopUp, 30)).await?;
            let _ = started_tx.send(());
            let _ = finish_rx.await;
            Ok((AxumStatus::OK, Json(json!({"transaction": {"id": e.id}}))).into_response())
        })
        .await
        .map(|r| r.status())
    });
    started.await.unwrap();
    let resp = app
        .post_idem(
            ADD,
            &user.access_token,
            Some("slow"),
            &json!({"amount": 30}),
        )
        .await;
    assert_problem(resp, StatusCode::CONFLICT, "conflict").await;
    // Uncommitted: the credit is not visible yet.
    assert_eq!(app.wallet(&user.access_token).await.0, 1000);
    finish.send(()).unwrap();
    assert_eq!(slow.await.unwrap().unwrap(), AxumStatus::OK);
    let resp = app
        .post_idem(
            ADD,
            &user.access_token,
            Some("slow"),
            &json!({"amount": 30}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["idempotent-replayed"], "true");
    assert_eq!(app.wallet(&user.access_token).await.0, 1030);
    assert_eq!(top_up_entries(&pool, user.id).await, 1);
}

#[sqlx::test]
async fn failures_roll_back_and_only_client_errors_are_kept(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.new_user().await;
    let route = format!("POST {ADD}");

    // A server error after the money moved: rolled back, key freed, retry runs.
    let key = IdempotencyKey::new(Some("flaky".into()), &route).unwrap();
    let r = idempotency::run(
        &app.state,
        user.id,
        &key,
        &json!({"amount": 9}),
        async |tx| {
            service::credit(tx, user.id, Posting::new(EntryKind::TopUp, 9)).await?;
            Err(ApiError::internal(anyhow::anyhow!("boom")))
        },
    )
    .await;
    assert!(matches!(r, Err(ApiError::Internal(_))));
    assert_eq!(app.wallet(&user.access_token).await.0, 1000);
    assert!(stored_keys(&pool, user.id).await.is_empty());
    let r = idempotency::run(
        &app.state,
        user.id,
        &key,
        &json!({"amount": 9}),
        async |tx| {
            service::credit(tx, user.id, Posting::new(EntryKind::TopUp, 9)).await?;
            Ok(AxumStatus::OK.into_response())
        },
    )
    .await
    .unwrap();
    assert_eq!(r.status(), AxumStatus::OK);
    assert_eq!(app.wallet(&user.access_token).await.0, 1009);

    // A client error (402) is stored and replayed like a success.
    let admin = app.new_user().await;
    make_superuser(&pool, admin.id).await;
    let path = format!("/api/v1/admin/users/{}/credits", user.id);
    let body = json!({"amount": -5000, "reason": "too much"});
    let resp = app
        .post_idem(&path, &admin.access_token, Some("take"), &body)
        .await;
    let first = assert_problem(resp, StatusCode::PAYMENT_REQUIRED, "insufficient_credits").await;
    let resp = app
        .post_idem(&path, &admin.access_token, Some("take"), &body)
        .await;
    assert_eq!(resp.headers()["idempotent-replayed"], "true");
    let again = assert_problem(resp, StatusCode::PAYMENT_REQUIRED, "insufficient_credits").await;
    assert_eq!(first, again);
    assert_eq!(app.wallet(&user.access_token).await.0, 1009);

    // A claim whose lease ran out (its server died) can be taken over by the same request.
    sqlx::query(
        "insert into idempotency_keys (user_id, key, request_hash, owner, locked_until, expires_at)
         select $1, 'orphan', request_hash, gen_random_uuid(), now() - interval '1 second',
                now() + interval '1 day'
         from idempotency_keys where user_id = $1 and key = 'flaky'",
    )
    .bind(user.id)
    .execute(&pool)
    .await
    .unwrap();
    let orphan = IdempotencyKey::new(Some("orphan".into()), &route).unwrap();
    let r = idempotency::run(
        &app.state,
        user.id,
        &orphan,
        &json!({"amount": 9}),
        async |_tx| Ok(AxumStatus::ACCEPTED.into_response()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), AxumStatus::ACCEPTED);
}
