//! Request ids: taken from `x-request-id` when the client sends a sane one, else a UUIDv7.
//! The id is kept in a task-local for the request so error bodies can carry it.

use axum::{extract::Request, http::HeaderValue, middleware::Next, response::Response};

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The current request's id, when called inside a request.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

fn acceptable(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

/// Outermost middleware: assign the id, run the request inside its scope, echo it back.
pub async fn middleware(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let value = HeaderValue::from_str(&id).expect("validated header value");
    req.headers_mut().insert(HEADER, value.clone());
    let mut resp = REQUEST_ID.scope(id, next.run(req)).await;
    resp.headers_mut().insert(HEADER, value);
    resp
}
