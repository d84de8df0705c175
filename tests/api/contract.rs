//! The OpenAPI document as a contract (what `make schemathesis` checks responses against):
//! error responses are declared, as `application/problem+json`, and list parameters are
//! validated as documented.

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::*;

async fn openapi(app: &TestApp) -> Value {
    app.client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[sqlx::test]
async fn every_error_response_is_declared_as_problem_json(pool: PgPool) {
    let app = spawn_app(pool).await;
    let doc = openapi(&app).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else {
                continue;
            };
            let responses = op["responses"].as_object().unwrap();
            for (code, resp) in responses {
                if !(code.starts_with('4') || code.starts_with('5')) {
                    continue;
                }
                let Some(content) = resp.get("content").and_then(Value::as_object) else {
                    continue;
                };
                assert!(
                    content.contains_key("application/problem+json")
                        && !content.contains_key("application/json"),
                    "{method} {path} {code}: {:?}",
                    content.keys().collect::<Vec<_>>()
                );
                checked += 1;
            }
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            if secured {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} declares 401"
                );
            }
            let params = op
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if params.iter().any(|p| p["in"] == "query") || op.get("requestBody").is_some() {
                assert!(
                    responses.contains_key("422"),
                    "{method} {path} declares 422"
                );
                assert!(
                    responses.contains_key("400"),
                    "{method} {path} declares 400"
                );
            }
            if params.iter().any(|p| p["in"] == "path") {
                assert!(
                    responses.contains_key("404"),
                    "{method} {path} declares 404"
                );
            }
        }
    }
    assert!(checked > 50, "only {checked} error responses");
    // What the document says is what the server does: a missing token is a 401 problem.
    let resp = app
        .client
        .get(app.url("/api/v1/agents"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[sqlx::test]
async fn limit_must_be_an_integer_in_range_on_every_list(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let doc = openapi(&app).await;
    let mut lists = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let documents_limit = item["get"]["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "limit"));
        if documents_limit && !path.contains('{') {
            lists.push(path.clone());
        }
    }
    for p in ["/api/v1/agents", "/api/v1/payments", "/api/v1/notes"] {
        assert!(lists.contains(&p.to_string()), "{p} documents limit");
    }
    let mut checked = 0;
    for path in &lists {
        let resp = app
            .get(&format!("{path}?limit=2"), &user.access_token)
            .await;
        if resp.status() == StatusCode::FORBIDDEN {
            continue; // an admin list: the role is checked first
        }
        assert_eq!(resp.status(), StatusCode::OK, "{path}?limit=2");
        for bad in ["1.5", "abc", "0", "101", "-1", "1e2", "true"] {
            let resp = app
                .get(&format!("{path}?limit={bad}"), &user.access_token)
                .await;
            let body =
                assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(error_fields(&body), ["limit"], "{path}?limit={bad}");
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} lists");
}

#[sqlx::test]
async fn what_postgres_cannot_store_is_422_not_500(pool: PgPool) {
    // Schemathesis findings: each of these was a 500 from the database.
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let t = &user.access_token;
    for (path, field) in [
        ("/api/v1/notes?q=a%00b", "q"),
        ("/api/v1/memories?tag=%00", "tag"),
    ] {
        let body = assert_problem(
            app.get(path, t).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&body), [field], "{path}");
    }
    for (body, field) in [
        (serde_json::json!({"theme": "a\u{0}b"}), "theme"),
        (serde_json::json!({"k\u{0}": 1}), "k\\u0000"),
        (serde_json::json!({"n": [f64::MAX]}), "n[0]"),
    ] {
        let resp = app.put_json("/api/v1/users/preferences", t, &body).await;
        let problem =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    let resp = app
        .patch_json(
            "/api/v1/users/preferences",
            t,
            &serde_json::json!({"n": 1e300, "s": "ok"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let saved: Value = resp.json().await.unwrap();
    // jsonb gives the number back as 301 digits; it still reads as (about) 1e300.
    let n = saved["n"].as_f64().unwrap();
    assert!((n / 1e300 - 1.0).abs() < 1e-12, "{n}");
}
