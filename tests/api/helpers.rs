//! Test harness: spawn the real server on a random port around a test database.

#![allow(dead_code)]

use std::net::SocketAddr;

use cadence::{
    app::Application,
    config::{Environment, Settings},
    state::AppState,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

pub const PASSWORD: &str = "correct-horse-battery-staple";

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn test_settings(overrides: &[(&str, &str)]) -> Settings {
    Settings::load_with_overrides(Environment::Test, overrides).expect("test settings")
}

pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, &[]).await
}

/// Spawn with settings overrides, e.g. `("CADENCE__AUTH__LOGIN_RATE_PER_IP", "3")`.
pub async fn spawn_app_with(pool: PgPool, overrides: &[(&str, &str)]) -> TestApp {
    spawn_with_settings(pool, test_settings(overrides)).await
}

pub async fn spawn_with_settings(pool: PgPool, settings: Settings) -> TestApp {
    cadence::install_crypto_provider();
    let app = Application::build_with_pool(settings, pool.clone())
        .await
        .expect("build app");
    let addr = app.local_addr();
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        base: format!("http://{addr}"),
        client: reqwest::Client::builder().build().unwrap(),
        pool,
        state,
        stop: Some(tx),
        server: Some(server),
    }
}

/// A registered user with a live session.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Begin graceful shutdown and wait for the server to finish draining.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.expect("server task").expect("server result");
        }
    }

    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let mut rb = self.client.request(method, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, path, token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path, Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PUT, path, Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Register `email` with the standard test password.
    pub async fn register(&self, email: &str) -> TestUser {
        let resp = self
            .post_json(
                "/api/v1/auth/register",
                None,
                &json!({"email": email, "password": PASSWORD, "full_name": "Test User"}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "register {email}");
        let body: Value = resp.json().await.unwrap();
        TestUser {
            id: body["user"]["id"].as_str().unwrap().parse().unwrap(),
            email: email.to_string(),
            password: PASSWORD.to_string(),
            access_token: body["access_token"].as_str().unwrap().to_string(),
            refresh_token: body["refresh_token"].as_str().unwrap().to_string(),
        }
    }

    /// Register a user with a random email.
    pub async fn new_user(&self) -> TestUser {
        self.register(&format!("user-{}@example.com", Uuid::new_v4().simple()))
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": password}),
        )
        .await
    }
}

/// Assert a response is an RFC 9457 problem with this status and code; returns the body.
pub async fn assert_problem(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status, "status");
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type {ct}"
    );
    let has_id = resp.headers().contains_key("x-request-id");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], code, "code in {body}");
    assert_eq!(body["status"], status.as_u16(), "status in {body}");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:cadence:problem:")
    );
    assert!(
        !body["request_id"].as_str().unwrap_or("").is_empty(),
        "request_id in {body}"
    );
    assert!(has_id, "x-request-id header");
    body
}

/// The field names of a 422 problem.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

pub type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl TestApp {
    /// Open a WebSocket at `path` (may include a query), with a bearer token if given.
    pub async fn ws_connect(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<WsStream, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://{}{}", self.addr, path)
            .into_client_request()
            .unwrap();
        if let Some(t) = token {
            req.headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        tokio_tungstenite::connect_async(req)
            .await
            .map(|(ws, _)| ws)
    }
}

/// The next text frame parsed as JSON (skipping pings), or None when the stream ends or
/// nothing arrives within `secs`.
pub async fn ws_next_json(ws: &mut WsStream, secs: u64) -> Option<Value> {
    ws_next_json_by(
        ws,
        tokio::time::Instant::now() + std::time::Duration::from_secs(secs),
    )
    .await
}

/// The next JSON text frame whose `type` is `kind`, skipping every other frame (such as a
/// user's own signup `wallet.updated` that arrives late on a busy machine), or None when the
/// stream ends or nothing of that type arrives within `secs`.
pub async fn ws_next_of_type(ws: &mut WsStream, kind: &str, secs: u64) -> Option<Value> {
    ws_next_matching(ws, secs, |v| v["type"] == kind).await
}

/// The next JSON text frame for which `wanted` holds, skipping the others, within `secs`.
pub async fn ws_next_matching(
    ws: &mut WsStream,
    secs: u64,
    wanted: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let v = ws_next_json_by(ws, deadline).await?;
        if wanted(&v) {
            return Some(v);
        }
    }
}

/// Every JSON text frame that arrives within `secs` (for "nothing of this kind arrives").
pub async fn ws_frames_for(ws: &mut WsStream, secs: u64) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut frames = Vec::new();
    while let Some(v) = ws_next_json_by(ws, deadline).await {
        frames.push(v);
    }
    frames
}

/// The next JSON text frame before `deadline` (skipping pings), or None.
pub async fn ws_next_json_by(ws: &mut WsStream, deadline: tokio::time::Instant) -> Option<Value> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).ok(),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// A pool of its own (not borrowed from the test harness's shared parent), for tests that
/// need more than the harness's 5 connections. Close it before the test returns.
pub async fn wide_pool(connect: sqlx::postgres::PgConnectOptions, connections: u32) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(std::time::Duration::from_secs(120))
        .connect_with(connect)
        .await
        .expect("wide test pool")
}

pub async fn make_superuser(pool: &PgPool, user_id: Uuid) {
    sqlx::query("update users set is_superuser = true where id = $1")
        .bind(user_id)
        .execute(pool)
        .await
        .unwrap();
}

impl TestApp {
    /// `GET /api/v1/wallet` → (balance, reserved, available).
    pub async fn wallet(&self, token: &str) -> (i64, i64, i64) {
        let resp = self.get("/api/v1/wallet", token).await;
        assert_eq!(resp.status(), StatusCode::OK, "GET /wallet");
        let w: Value = resp.json().await.unwrap();
        (
            w["balance"].as_i64().unwrap(),
            w["reserved"].as_i64().unwrap(),
            w["available"].as_i64().unwrap(),
        )
    }

    /// POST with an optional `Idempotency-Key`.
    pub async fn post_idem(
        &self,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut rb = self.request(Method::POST, path, Some(token)).json(body);
        if let Some(k) = key {
            rb = rb.header("Idempotency-Key", k);
        }
        rb.send().await.unwrap()
    }
}

/// The ledger's view of a user: (cached balance, cached reserved, sum of the user's entries,
/// number of the user's entries). Works for detached accounts too (by account id).
pub async fn ledger_of_account(pool: &PgPool, account_id: Uuid) -> (i64, i64, i64, i64) {
    let (balance, reserved): (i64, i64) =
        sqlx::query_as("select balance, reserved from ledger_accounts where id = $1")
            .bind(account_id)
            .fetch_one(pool)
            .await
            .unwrap();
    let (sum, count): (Option<i64>, i64) = sqlx::query_as(
        "select sum(amount)::bigint, count(*) from ledger_entries where account_id = $1",
    )
    .bind(account_id)
    .fetch_one(pool)
    .await
    .unwrap();
    (balance, reserved, sum.unwrap_or(0), count)
}

pub async fn account_id_of(pool: &PgPool, user_id: Uuid) -> Uuid {
    sqlx::query_scalar("select id from ledger_accounts where user_id = $1")
        .bind(user_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every ledger transaction sums to zero, so the whole ledger does.
pub async fn assert_ledger_balanced(pool: &PgPool) {
    let total: Option<i64> = sqlx::query_scalar("select sum(amount)::bigint from ledger_entries")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(total.unwrap_or(0), 0, "the whole ledger sums to zero");
    let unbalanced: i64 = sqlx::query_scalar(
        "select count(*) from (select transaction_id from ledger_entries group by transaction_id
         having sum(amount) <> 0) t",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(unbalanced, 0, "every transaction sums to zero");
}

// ---- Helpers for the user-data resources (notes, tasks, goals, reflections, memories).

/// The JSON body of a response that must have `status`.
pub async fn json_with(resp: Response, status: StatusCode) -> Value {
    let got = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(got, status, "status; body: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// The `ETag` header of a response.
pub fn etag(resp: &Response) -> Option<String> {
    resp.headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string())
}

impl TestApp {
    /// POST `body` to a collection and return the created resource (asserts 201 and Location).
    pub async fn create(&self, collection: &str, token: &str, body: &Value) -> Value {
        let resp = self.post_json(collection, Some(token), body).await;
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let created = json_with(resp, StatusCode::CREATED).await;
        let id = created["id"].as_str().expect("created id");
        assert_eq!(location.as_deref(), Some(&*format!("{collection}/{id}")));
        created
    }

    /// A request with `If-Match: "<version>"`.
    pub async fn send_if_match(
        &self,
        method: Method,
        path: &str,
        token: &str,
        version: i64,
        body: Option<&Value>,
    ) -> Response {
        let mut rb = self
            .request(method, path, Some(token))
            .header("if-match", format!("\"{version}\""));
        if let Some(b) = body {
            rb = rb.json(b);
        }
        rb.send().await.unwrap()
    }

    /// Every page of a list, following `next_cursor`; `path` may carry a query string.
    pub async fn all_pages(&self, path: &str, token: &str, limit: usize) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
                None => format!("{path}{sep}limit={limit}"),
            };
            let page = json_with(self.get(&url, token).await, StatusCode::OK).await;
            out.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
        panic!("pagination did not end");
    }

    /// The ids in one page of a list (`path` may carry a query string).
    pub async fn list_ids(&self, path: &str, token: &str) -> Vec<String> {
        let page = json_with(self.get(path, token).await, StatusCode::OK).await;
        ids_of(&page["data"])
    }
}

/// The `id`s of a JSON array of resources.
pub fn ids_of(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}
