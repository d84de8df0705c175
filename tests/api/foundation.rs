//! The server skeleton: health, readiness, metrics, OpenAPI, problem bodies, request ids,
//! CORS, settings layering and graceful shutdown.

use std::{sync::Arc, time::Duration};

use cadence::config::{Environment, Settings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpStream},
    sync::Notify,
};

use crate::helpers::*;

#[sqlx::test]
async fn health_answers_without_io(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["service"], "cadence");
    assert!(body["version"].as_str().is_some());
}

#[sqlx::test]
async fn ready_is_200_with_a_database(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "up");
}

/// A TCP forwarder to PostgreSQL that can be cut and restored, to take the database away
/// from a running server and give it back.
struct Switch {
    port: u16,
    up: Arc<tokio::sync::watch::Sender<bool>>,
}

async fn db_switch(target: String) -> Switch {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::watch::channel(true);
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let mut rx = rx.clone();
            let target = target.clone();
            tokio::spawn(async move {
                if !*rx.borrow() {
                    return; // refuse while down
                }
                let Ok(mut outbound) = TcpStream::connect(&target).await else {
                    return;
                };
                tokio::select! {
                    _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = rx.wait_for(|up| !*up) => {}
                }
            });
        }
    });
    Switch {
        port,
        up: Arc::new(tx),
    }
}

#[sqlx::test]
async fn ready_is_503_while_the_database_is_down_and_recovers(pool: PgPool) {
    // Reach the test database through the switch.
    let opts = pool.connect_options();
    let target = format!("{}:{}", opts.get_host(), opts.get_port());
    let switch = db_switch(target).await;
    let via_switch = (*opts).clone().host("127.0.0.1").port(switch.port);
    let proxied = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .test_before_acquire(true)
        .connect_lazy_with(via_switch);
    let app = spawn_app(proxied).await;
    let ready = || async {
        app.client
            .get(app.url("/health/ready"))
            .send()
            .await
            .unwrap()
    };

    assert_eq!(ready().await.status(), StatusCode::OK);

    switch.up.send_replace(false);
    let body = assert_problem(
        ready().await,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    )
    .await;
    assert_eq!(body["checks"]["database"], "down");
    // Liveness does not depend on the database.
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // A data route fails fast with a 503 problem, not a hang or a 500.
    let login = app.login("nobody@example.com", "whatever-password").await;
    assert_problem(login, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;

    switch.up.send_replace(true);
    let mut recovered = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if ready().await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "server recovers by itself when the database returns"
    );
}

#[sqlx::test]
async fn ready_is_503_when_the_database_is_unreachable(pool: PgPool) {
    drop(pool);
    // Nothing listens on port 1.
    let dead = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap();
    let app = spawn_app(dead).await;
    let resp = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}

#[sqlx::test]
async fn metrics_expose_requests_by_route(pool: PgPool) {
    let app = spawn_app(pool).await;
    for _ in 0..3 {
        app.client.get(app.url("/health")).send().await.unwrap();
    }
    app.client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains("route=\"/health\"")
                && l.contains("status=\"200\"")
        })
        .expect("request counter for /health");
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "latency histogram"
    );
    assert!(
        text.contains("route=\"unmatched\""),
        "unknown paths share one label"
    );
    assert!(text.contains("db_pool_connections"), "pool gauge");
}

#[sqlx::test]
async fn openapi_is_3_1_and_lists_the_routes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc: Value = resp.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/health",
        "/health/ready",
        "/metrics",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/users/me",
        "/api/v1/users/preferences",
    ] {
        assert!(paths.contains_key(p), "openapi lists {p}");
    }
    // Every documented GET path without parameters is actually served (no 404/405).
    for (path, item) in paths {
        if path.contains('{') || item.get("get").is_none() {
            continue;
        }
        let status = app.client.get(app.url(path)).send().await.unwrap().status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{path}: {status}"
        );
    }
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "Swagger UI page"
    );
}

#[sqlx::test]
async fn errors_are_problem_json(pool: PgPool) {
    let app = spawn_app(pool).await;
    let c = &app.client;

    let body = assert_problem(
        c.get(app.url("/nope")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(body["title"], "Not Found");

    let resp = c
        .get(app.url("/api/v1/auth/register"))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("allow"), "405 keeps Allow");
    assert_problem(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;

    let big = vec![b'a'; 3 * 1024 * 1024];
    let resp = c
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_problem(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let resp = c
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "a@b.co", "password": "x", "is_superuser": true}))
        .send()
        .await
        .unwrap();
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), vec!["is_superuser"]);

    let resp = c
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(resp, StatusCode::BAD_REQUEST, "bad_request").await;

    let resp = c
        .post(app.url("/api/v1/auth/login"))
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_problem(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let resp = c.get(app.url("/api/v1/users/me")).send().await.unwrap();
    assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[sqlx::test]
async fn request_id_is_propagated(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "req-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "req-abc-123");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["request_id"], "req-abc-123");

    // Without one, the server makes one up.
    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    // A hostile value is replaced, not echoed.
    let resp = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.headers()["x-request-id"], "<script>");
}

#[sqlx::test]
async fn cors_preflight_allows_configured_origins_only(pool: PgPool) {
    let app = spawn_app_with(
        pool,
        &[("CADENCE__SERVER__CORS_ORIGINS", "https://app.example.com")],
    )
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert!(ok.status().is_success());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let allowed = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");

    let refused = preflight("https://evil.example.net").await.unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[test]
fn settings_layer_files_then_environment() {
    // config/test.toml overrides default.toml ...
    let s = Settings::load_with_overrides(Environment::Test, &[]).unwrap();
    assert_eq!(s.server.host, "127.0.0.1");
    assert_eq!(s.server.request_timeout_secs, 30);
    // ... and CADENCE__* variables override both.
    let s = Settings::load_with_overrides(
        Environment::Test,
        &[
            ("CADENCE__SERVER__REQUEST_TIMEOUT_SECS", "7"),
            ("CADENCE__SERVER__HOST", "0.0.0.0"),
        ],
    )
    .unwrap();
    assert_eq!(s.server.request_timeout_secs, 7);
    assert_eq!(s.server.host, "0.0.0.0");
    assert_eq!(s.env, Environment::Test);
}

#[test]
fn settings_errors_name_the_setting() {
    let err =
        Settings::load_with_overrides(Environment::Test, &[("CADENCE__SERVER__PORT", "eighty")])
            .unwrap_err()
            .to_string();
    assert!(err.contains("port"), "{err}");

    let err = Settings::load_with_overrides(Environment::Production, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("CADENCE__AUTH__JWT_SECRET"), "{err}");

    let ok = Settings::load_with_overrides(
        Environment::Production,
        &[(
            "CADENCE__AUTH__JWT_SECRET",
            "0123456789abcdef0123456789abcdef",
        )],
    );
    assert!(ok.is_ok());

    let err = Settings::load_with_overrides(
        Environment::Test,
        &[("CADENCE__PAYMENTS__PROVIDER", "paypal")],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("payments.provider"), "{err}");
}

#[sqlx::test]
async fn graceful_shutdown_finishes_an_in_flight_request(pool: PgPool) {
    let mut app = spawn_app(pool).await;
    let body =
        serde_json::to_vec(&json!({"email": "slow@example.com", "password": "slow-password-1"}))
            .unwrap();
    let (first, rest) = body.split_at(10);
    let (first, rest) = (first.to_vec(), rest.to_vec());
    let sent_first = Arc::new(Notify::new());
    let notify = sent_first.clone();
    let stream = async_stream_body(first, rest, notify);
    let req = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let in_flight = tokio::spawn(req);
    sent_first.notified().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.trigger_shutdown();
    let resp = in_flight
        .await
        .unwrap()
        .expect("in-flight request completes during shutdown");
    // The request ran to completion: wrong credentials, a real answer.
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    app.shutdown().await;
    // New connections are refused once the server has stopped.
    assert!(app.client.get(app.url("/health")).send().await.is_err());
}

fn async_stream_body(
    first: Vec<u8>,
    rest: Vec<u8>,
    sent_first: Arc<Notify>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::unfold(0u8, move |step| {
        let (first, rest, sent_first) = (first.clone(), rest.clone(), sent_first.clone());
        async move {
            match step {
                0 => Some((Ok(first), 1)),
                1 => {
                    sent_first.notify_one();
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Some((Ok(rest), 2))
                }
                _ => None,
            }
        }
    })
}

#[test]
fn env_example_lists_every_setting() {
    let root = env!("CARGO_MANIFEST_DIR");
    let defaults = std::fs::read_to_string(format!("{root}/config/default.toml")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/.env.example")).unwrap();
    let mut section = String::new();
    let mut missing = Vec::new();
    for line in defaults.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.replace('.', "__").to_uppercase();
            continue;
        }
        if let Some((key, _)) = line.split_once('=') {
            let var = format!("CADENCE__{section}__{}=", key.trim().to_uppercase());
            if !example.contains(&var) {
                missing.push(var);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "run scripts/env-example.sh; .env.example lacks {missing:?}"
    );
}
