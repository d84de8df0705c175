//! Optimistic concurrency: `ETag: "<version>"` on reads, `If-Match: "<version>"` on writes.

use axum::{
    extract::FromRequestParts,
    http::{HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};

use crate::error::ApiError;

/// The version the client expects, from `If-Match` (absent → no precondition).
#[derive(Debug, Clone, Copy, Default)]
pub struct IfMatch(pub Option<i32>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(raw) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let raw = raw
            .to_str()
            .map_err(|_| ApiError::BadRequest("If-Match is not valid text".into()))?
            .trim();
        let raw = raw.strip_prefix("W/").unwrap_or(raw);
        let version = raw
            .trim_matches('"')
            .parse::<i32>()
            .map_err(|_| ApiError::BadRequest("If-Match must be an ETag such as \"3\"".into()))?;
        Ok(Self(Some(version)))
    }
}

impl IfMatch {
    /// Fail with 412 when a precondition was given and does not match `current`.
    pub fn check(&self, current: i32) -> Result<(), ApiError> {
        match self.0 {
            Some(v) if v != current => Err(ApiError::PreconditionFailed),
            _ => Ok(()),
        }
    }
}

/// Attach `ETag: "<version>"` to a response.
pub fn with_etag(version: i32, resp: impl IntoResponse) -> Response {
    let mut resp = resp.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}
