//! The web console at `/`: served from the binary with a strict CSP, revalidated by ETag,
//! and kept out of the API's way (unknown API paths still answer problem+json).

use reqwest::{StatusCode, header};
use sqlx::PgPool;

use crate::helpers::{assert_problem, spawn_app};

#[sqlx::test]
async fn console_page_is_served_with_a_strict_csp(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "connect-src 'self' ws: wss:",
        "media-src 'self' blob:",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(h.contains_key(header::ETAG));
    let body = resp.text().await.unwrap();
    assert!(body.contains(r#"<script type="module" src="/assets/app.js"></script>"#));
    // No inline script: every <script> has a src.
    assert_eq!(
        body.matches("<script").count(),
        body.matches("<script type=\"module\" src=").count()
    );
}

#[sqlx::test]
async fn assets_have_content_types_and_revalidate_by_etag(pool: PgPool) {
    let app = spawn_app(pool).await;
    for (path, ctype) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/views/talk.js", "text/javascript; charset=utf-8"),
        (
            "/assets/pcm-capture-worklet.js",
            "text/javascript; charset=utf-8",
        ),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], ctype, "{path}");
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-cache", "{path}");
        let etag = resp.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert!(!resp.bytes().await.unwrap().is_empty());

        let again = app
            .client
            .get(app.url(path))
            .header(header::IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()[header::ETAG].to_str().unwrap(), etag);
        assert!(again.bytes().await.unwrap().is_empty());

        let stale = app
            .client
            .get(app.url(path))
            .header(header::IF_NONE_MATCH, "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::OK, "{path}");
    }
}

#[sqlx::test]
async fn unknown_assets_and_api_paths_are_problem_404s(pool: PgPool) {
    let app = spawn_app(pool).await;
    for path in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/index.html",
        "/api/v1/nope",
        "/api/v1/tasks-that-do-not-exist/1",
    ] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[sqlx::test]
async fn the_console_is_not_part_of_the_api_document(pool: PgPool) {
    let app = spawn_app(pool).await;
    let doc: serde_json::Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(!paths.contains_key("/"));
    assert!(paths.keys().all(|p| !p.starts_with("/assets")));
    assert!(paths.contains_key("/api/v1/auth/login"));
}
