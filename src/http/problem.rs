//! Errors produced outside our handlers (axum rejections, tower-http layers, panics) come
//! back with plain bodies; this middleware renders every such 4xx/5xx as problem+json so
//! clients see one error shape everywhere.

use axum::{
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::error::{ApiError, PROBLEM_JSON, problem_response};

pub async fn middleware(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return resp;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => "no route matches this path".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this path".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => "request body is too large".to_string(),
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
            "the request took too long or the service is unavailable".to_string()
        }
        s if s.is_server_error() => "an internal error occurred".to_string(),
        s => s.canonical_reason().unwrap_or("request failed").to_string(),
    };
    let mut out = problem_response(status, detail, Vec::new());
    // Keep headers such as Allow, Retry-After and CORS headers.
    for (name, value) in resp.headers() {
        // The new body is plain JSON: drop headers that described the old one.
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && name != header::CONTENT_ENCODING
            && name != header::TRANSFER_ENCODING
        {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// Router fallback for unknown routes.
pub async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

/// Router fallback for a known path with a method it doesn't have.
pub async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, http::Request, routing::get};
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn rewritten_bodies_drop_the_old_encoding_and_keep_other_headers() {
        // What an axum rejection looks like after the compression layer.
        let app = Router::new()
            .route(
                "/",
                get(|| async {
                    (
                        StatusCode::BAD_REQUEST,
                        [
                            (header::CONTENT_ENCODING, "gzip"),
                            (header::CONTENT_TYPE, "text/plain"),
                            (header::RETRY_AFTER, "3"),
                        ],
                        "not really gzip, just text",
                    )
                }),
            )
            .layer(axum::middleware::from_fn(middleware));
        let resp = app
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(resp.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "3");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], "bad_request");
    }
}
