//! Payments: checkout (test provider page, Stripe Checkout against a local fake Stripe),
//! the signed webhook, and crediting each payment exactly once.

use std::sync::{Arc, Mutex};

use axum::{Json, Router, extract::State, http::HeaderMap, routing::post};
use cadence::payments::signature;
use futures::future::join_all;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::*;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl TestApp {
    fn webhook_secret(&self) -> String {
        self.state
            .settings
            .payments
            .webhook_secret
            .expose_secret()
            .to_string()
    }

    async fn webhook(&self, body: &[u8], signature: Option<&str>) -> reqwest::Response {
        let mut rb = self
            .client
            .post(self.url("/api/v1/payments/webhook"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            rb = rb.header("Payment-Signature", s);
        }
        rb.send().await.unwrap()
    }

    async fn signed_webhook(&self, body: &[u8]) -> reqwest::Response {
        let sig = signature::sign(self.webhook_secret().as_bytes(), now(), body);
        self.webhook(body, Some(&sig)).await
    }

    async fn checkout(&self, token: &str, credits: i64) -> Value {
        let resp = self
            .post_idem(
                "/api/v1/payments/checkout",
                token,
                None,
                &json!({"amount_credits": credits}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            location,
            format!("/api/v1/payments/{}", body["payment_id"].as_str().unwrap())
        );
        assert_eq!(body["status"], "pending");
        body
    }
}

fn test_event(event_id: &str, payment_id: &str, credits: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": event_id,
        "type": "payment.succeeded",
        "data": {"payment_id": payment_id, "amount_credits": credits}
    }))
    .unwrap()
}

async fn payment_status(app: &TestApp, token: &str, id: &str) -> String {
    let resp = app.get(&format!("/api/v1/payments/{id}"), token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let p: Value = resp.json().await.unwrap();
    p["status"].as_str().unwrap().to_string()
}

async fn top_ups(pool: &PgPool, payment_id: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from ledger_entries e join ledger_accounts a on a.id = e.account_id
         where a.kind = 'user' and e.kind = 'top_up' and e.reference_id = $1",
    )
    .bind(payment_id.parse::<Uuid>().unwrap())
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn the_test_checkout_page_completes_a_payment_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.new_user().await;
    let checkout = app.checkout(&user.access_token, 250).await;
    let id = checkout["payment_id"].as_str().unwrap();
    let url = checkout["checkout_url"].as_str().unwrap();
    let path = url[url.find("/api/").unwrap()..].to_string();
    assert!(path.starts_with(&format!("/api/v1/payments/{id}/test-checkout?token=")));

    // The page shows the payment and a button that posts back to it.
    let resp = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("250") && html.contains("<form method=\"post\""));

    // A wrong token or another payment id is not found.
    let wrong = format!("/api/v1/payments/{id}/test-checkout?token=nope");
    let resp = app.client.post(app.url(&wrong)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        payment_status(&app, &user.access_token, id).await,
        "pending"
    );

    // A server that runs Stripe does not serve the test checkout, even for old payments.
    let stripe = spawn_app_with(pool.clone(), &[("CADENCE__PAYMENTS__PROVIDER", "stripe")]).await;
    let resp = stripe.client.post(stripe.url(&path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        payment_status(&app, &user.access_token, id).await,
        "pending"
    );

    // Paying: three at once, then twice more.
    let clicks = (0..3).map(|_| app.client.post(app.url(&path)).send());
    for r in join_all(clicks).await {
        assert_eq!(r.unwrap().status(), StatusCode::OK);
    }
    for _ in 0..2 {
        let resp = app.client.post(app.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.text().await.unwrap().contains("already"));
    }
    assert_eq!(app.wallet(&user.access_token).await.0, 1250);
    assert_eq!(top_ups(&pool, id).await, 1);
    assert_eq!(
        payment_status(&app, &user.access_token, id).await,
        "succeeded"
    );

    // Listed, with ownership.
    let list: Value = app
        .get("/api/v1/payments", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], id);
    assert_eq!(list["data"][0]["amount_credits"], 250);
    assert_eq!(list["data"][0]["provider"], "test");
    assert!(list["data"][0]["completed_at"].is_string());
    let other = app.new_user().await;
    let resp = app
        .get(&format!("/api/v1/payments/{id}"), &other.access_token)
        .await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    let list: Value = app
        .get("/api/v1/payments", &other.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);

    let resp = app
        .post_idem(
            "/api/v1/payments/checkout",
            &user.access_token,
            None,
            &json!({"amount_credits": 0}),
        )
        .await;
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), vec!["amount_credits"]);
    assert_ledger_balanced(&pool).await;
}

#[sqlx::test]
async fn the_webhook_credits_once_and_refuses_bad_signatures(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.new_user().await;
    let first = app.checkout(&user.access_token, 500).await;
    let id = first["payment_id"].as_str().unwrap();
    let body = test_event("evt_1", id, 500);

    let resp = app.signed_webhook(&body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let ack: Value = resp.json().await.unwrap();
    assert_eq!(ack, json!({"received": true, "duplicate": false}));
    assert_eq!(app.wallet(&user.access_token).await.0, 1500);

    // Five replays, three of them at once: acknowledged, nothing more credited.
    let concurrent = (0..3).map(|_| app.signed_webhook(&body));
    for r in join_all(concurrent).await {
        assert_eq!(r.status(), StatusCode::OK);
        let ack: Value = r.json().await.unwrap();
        assert_eq!(ack["duplicate"], true);
    }
    for _ in 0..2 {
        let r = app.signed_webhook(&body).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(app.wallet(&user.access_token).await.0, 1500);
    assert_eq!(top_ups(&pool, id).await, 1);
    // A different event about the same payment does not pay it twice either.
    let resp = app.signed_webhook(&test_event("evt_other", id, 500)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.wallet(&user.access_token).await.0, 1500);

    // Bad signatures on a second payment: 400 and nothing credited.
    let second = app.checkout(&user.access_token, 70).await;
    let id2 = second["payment_id"].as_str().unwrap();
    let body2 = test_event("evt_2", id2, 70);
    let secret = app.webhook_secret();
    let good = signature::sign(secret.as_bytes(), now(), &body2);
    let mut tampered = body2.clone();
    let pos = tampered.iter().position(|b| *b == b'7').unwrap();
    tampered[pos] = b'9'; // amount 70 → 90
    let cases: Vec<(Vec<u8>, Option<String>)> = vec![
        (tampered, Some(good.clone())),
        (
            body2.clone(),
            Some(signature::sign(secret.as_bytes(), now() - 301, &body2)),
        ),
        (
            body2.clone(),
            Some(signature::sign(secret.as_bytes(), now() + 301, &body2)),
        ),
        (
            body2.clone(),
            Some(signature::sign(b"whsec_wrong", now(), &body2)),
        ),
        (body2.clone(), Some("t=123".to_string())),
        (body2.clone(), Some("garbage".to_string())),
        (body2.clone(), None),
    ];
    for (body, sig) in cases {
        let resp = app.webhook(&body, sig.as_deref()).await;
        assert_problem(resp, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    assert_eq!(
        payment_status(&app, &user.access_token, id2).await,
        "pending"
    );
    assert_eq!(app.wallet(&user.access_token).await.0, 1500);

    // Several v1 signatures (secret rotation): any match is enough.
    let sig = format!("{},v1={}", good, "ab".repeat(32));
    let resp = app.webhook(&body2, Some(&sig)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.wallet(&user.access_token).await.0, 1570);
    assert_ledger_balanced(&pool).await;
}

#[sqlx::test]
async fn webhook_events_that_do_not_match_a_payment_are_refused(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.new_user().await;
    let checkout = app.checkout(&user.access_token, 100).await;
    let id = checkout["payment_id"].as_str().unwrap();

    // Wrong amount, unknown payment: 400, nothing recorded, nothing credited.
    let resp = app.signed_webhook(&test_event("evt_a", id, 1000)).await;
    assert_problem(resp, StatusCode::BAD_REQUEST, "bad_request").await;
    let resp = app
        .signed_webhook(&test_event("evt_b", &Uuid::now_v7().to_string(), 100))
        .await;
    assert_problem(resp, StatusCode::BAD_REQUEST, "bad_request").await;
    let resp = app.signed_webhook(b"{not json").await;
    assert_problem(resp, StatusCode::BAD_REQUEST, "bad_request").await;
    assert_eq!(app.wallet(&user.access_token).await.0, 1000);

    // The refused event id was not burnt: the corrected event is processed.
    let resp = app.signed_webhook(&test_event("evt_a", id, 100)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.wallet(&user.access_token).await.0, 1100);

    // Event types we do not act on are acknowledged.
    let other = serde_json::to_vec(&json!({"id": "evt_c", "type": "customer.created", "data": {}}))
        .unwrap();
    let resp = app.signed_webhook(&other).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// One request Stripe received: headers and form fields.
type StripeRequest = (HeaderMap, Vec<(String, String)>);

/// A local stand-in for Stripe's `POST /v1/checkout/sessions`.
#[derive(Clone, Default)]
struct FakeStripe {
    requests: Arc<Mutex<Vec<StripeRequest>>>,
    fail: bool,
}

async fn create_session(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    body: String,
) -> (axum::http::StatusCode, Json<Value>) {
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    fake.requests.lock().unwrap().push((headers, form.clone()));
    if fake.fail {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            Json(
                json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}),
            ),
        );
    }
    let reference = form
        .iter()
        .find(|(k, _)| k == "client_reference_id")
        .map(|(_, v)| v.clone())
        .unwrap();
    let id = format!("cs_test_{}", reference.replace('-', ""));
    (
        axum::http::StatusCode::OK,
        Json(json!({
            "id": id,
            "object": "checkout.session",
            "client_reference_id": reference,
            "mode": "payment",
            "payment_status": "unpaid",
            "status": "open",
            "url": format!("https://checkout.stripe.test/c/pay/{id}"),
        })),
    )
}

async fn fake_stripe(fail: bool) -> (String, FakeStripe) {
    let fake = FakeStripe {
        fail,
        ..Default::default()
    };
    let router = Router::new()
        .route("/v1/checkout/sessions", post(create_session))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}"), fake)
}

fn stripe_completed(event_id: &str, session_id: &str, payment_id: &str, paid: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "type": "checkout.session.completed",
        "data": {"object": {
            "id": session_id,
            "object": "checkout.session",
            "client_reference_id": payment_id,
            "payment_status": paid,
            "status": "complete",
            "amount_total": 300,
            "currency": "usd"
        }}
    }))
    .unwrap()
}

#[sqlx::test]
async fn stripe_checkout_and_its_webhook_credit_once(pool: PgPool) {
    let (base, fake) = fake_stripe(false).await;
    let app = spawn_app_with(
        pool.clone(),
        &[
            ("CADENCE__PAYMENTS__PROVIDER", "stripe"),
            ("CADENCE__PAYMENTS__STRIPE_API_KEY", "sk_test_cadence"),
            ("CADENCE__PAYMENTS__STRIPE_BASE_URL", &base),
            ("CADENCE__PAYMENTS__CREDITS_PER_UNIT", "2"),
        ],
    )
    .await;
    let user = app.new_user().await;
    let checkout = app.checkout(&user.access_token, 599).await;
    let id = checkout["payment_id"].as_str().unwrap().to_string();
    let session_id = format!("cs_test_{}", id.replace('-', ""));
    assert_eq!(
        checkout["checkout_url"],
        format!("https://checkout.stripe.test/c/pay/{session_id}")
    );

    // What Stripe received.
    let (headers, form) = fake.requests.lock().unwrap()[0].clone();
    assert_eq!(headers["authorization"], "Bearer sk_test_cadence");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(field("mode").as_deref(), Some("payment"));
    assert_eq!(field("client_reference_id"), Some(id.clone()));
    assert_eq!(
        field("line_items[0][price_data][unit_amount]").as_deref(),
        Some("300")
    );
    assert_eq!(
        field("line_items[0][price_data][currency]").as_deref(),
        Some("usd")
    );
    assert_eq!(field("line_items[0][quantity]").as_deref(), Some("1"));
    assert!(field("success_url").is_some() && field("cancel_url").is_some());

    let p: Value = app
        .get(&format!("/api/v1/payments/{id}"), &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["provider"], "stripe");
    assert_eq!(p["amount_minor"], 300);
    assert_eq!(p["status"], "pending");

    // Completed but not yet paid: nothing happens.
    let resp = app
        .signed_webhook(&stripe_completed("evt_s0", &session_id, &id, "unpaid"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.wallet(&user.access_token).await.0, 1000);
    // A session id that is not this payment's: refused.
    let resp = app
        .signed_webhook(&stripe_completed("evt_s1", "cs_other", &id, "paid"))
        .await;
    assert_problem(resp, StatusCode::BAD_REQUEST, "bad_request").await;
    // The paid event, delivered four times.
    let body = stripe_completed("evt_s2", &session_id, &id, "paid");
    let deliveries = (0..4).map(|_| app.signed_webhook(&body));
    for r in join_all(deliveries).await {
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(app.wallet(&user.access_token).await.0, 1599);
    assert_eq!(top_ups(&pool, &id).await, 1);
    assert_eq!(
        payment_status(&app, &user.access_token, &id).await,
        "succeeded"
    );
    // An expired session closes its payment; a late "paid" for it credits nothing.
    let second = app.checkout(&user.access_token, 40).await;
    let id2 = second["payment_id"].as_str().unwrap().to_string();
    let session2 = format!("cs_test_{}", id2.replace('-', ""));
    let mut expired: Value =
        serde_json::from_slice(&stripe_completed("evt_s4", &session2, &id2, "unpaid")).unwrap();
    expired["type"] = json!("checkout.session.expired");
    let resp = app
        .signed_webhook(&serde_json::to_vec(&expired).unwrap())
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        payment_status(&app, &user.access_token, &id2).await,
        "expired"
    );
    let resp = app
        .signed_webhook(&stripe_completed("evt_s5", &session2, &id2, "paid"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.wallet(&user.access_token).await.0, 1599);
    // A session that is not ours (no client_reference_id) is acknowledged and ignored.
    let resp = app
        .signed_webhook(&stripe_completed(
            "evt_s3",
            "cs_foreign",
            "not-a-uuid",
            "paid",
        ))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_ledger_balanced(&pool).await;
}

#[sqlx::test]
async fn a_stripe_refusal_is_a_502_and_leaves_nothing_behind(pool: PgPool) {
    let (base, fake) = fake_stripe(true).await;
    let app = spawn_app_with(
        pool.clone(),
        &[
            ("CADENCE__PAYMENTS__PROVIDER", "stripe"),
            ("CADENCE__PAYMENTS__STRIPE_API_KEY", "sk_test_bad"),
            ("CADENCE__PAYMENTS__STRIPE_BASE_URL", &base),
        ],
    )
    .await;
    let user = app.new_user().await;
    let resp = app
        .post_idem(
            "/api/v1/payments/checkout",
            &user.access_token,
            Some("buy-1"),
            &json!({"amount_credits": 10}),
        )
        .await;
    let body = assert_problem(resp, StatusCode::BAD_GATEWAY, "provider_error").await;
    assert!(!body.to_string().contains("sk_test_bad"));
    assert_eq!(fake.requests.lock().unwrap().len(), 1);
    let payments: i64 = sqlx::query_scalar("select count(*) from payments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(payments, 0);
    // The key was freed, so the client may retry with it.
    let resp = app
        .post_idem(
            "/api/v1/payments/checkout",
            &user.access_token,
            Some("buy-1"),
            &json!({"amount_credits": 10}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(fake.requests.lock().unwrap().len(), 2);

    // Without an API key, Stripe checkout is unavailable.
    let app = spawn_app_with(pool.clone(), &[("CADENCE__PAYMENTS__PROVIDER", "stripe")]).await;
    let user = app.new_user().await;
    let resp = app
        .post_idem(
            "/api/v1/payments/checkout",
            &user.access_token,
            None,
            &json!({"amount_credits": 10}),
        )
        .await;
    assert_problem(resp, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}
