//! One error type for the whole API, rendered as RFC 9457 `application/problem+json`.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

pub type ApiResult<T> = Result<T, ApiError>;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("resource not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("the resource was changed by someone else (If-Match does not match)")]
    PreconditionFailed,
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{}", validation_detail(.0))]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    InsufficientCredits(String),
    /// 402 with code `quota_exceeded`: a monthly allowance (avatar minutes) is used up.
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("too many requests, retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Provider(String),
    #[error("an internal error occurred")]
    Internal(#[source] anyhow::Error),
}

fn validation_detail(errors: &[FieldError]) -> String {
    match errors.first() {
        Some(e) if errors.len() == 1 => format!("{} {}", e.field, e.message),
        Some(_) => format!("{} fields are invalid", errors.len()),
        None => "the request is invalid".into(),
    }
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InsufficientCredits(_) | Self::QuotaExceeded(_) => StatusCode::PAYMENT_REQUIRED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Provider(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::QuotaExceeded(_) => "quota_exceeded",
            _ => code_for_status(self.status_code()),
        }
    }
}

/// `code` for a status, as the contract lists them.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        402 => "insufficient_credits",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        409 => "conflict",
        412 => "precondition_failed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "validation_failed",
        429 => "rate_limited",
        502 => "provider_error",
        503 | 504 => "unavailable",
        s if s >= 500 => "internal",
        _ => "bad_request",
    }
}

fn title_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        402 => "Insufficient credits",
        422 => "Validation failed",
        502 => "Provider error",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

/// The problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    pub request_id: String,
    /// Extension members (RFC 9457 §3.2), e.g. readiness checks.
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// Render a problem response for `status` with a human `detail`.
pub fn problem_response(status: StatusCode, detail: String, errors: Vec<FieldError>) -> Response {
    problem_response_ext(status, detail, errors, serde_json::Map::new())
}

/// A problem response with extension members.
pub fn problem_response_ext(
    status: StatusCode,
    detail: String,
    errors: Vec<FieldError>,
    extensions: serde_json::Map<String, serde_json::Value>,
) -> Response {
    problem_response_coded(status, code_for_status(status), detail, errors, extensions)
}

fn problem_response_coded(
    status: StatusCode,
    code: &str,
    detail: String,
    errors: Vec<FieldError>,
    extensions: serde_json::Map<String, serde_json::Value>,
) -> Response {
    let body = Problem {
        type_: format!("urn:cadence:problem:{code}"),
        title: match code {
            "quota_exceeded" => "Quota exceeded".to_string(),
            _ => title_for_status(status).to_string(),
        },
        status: status.as_u16(),
        detail,
        code: code.to_string(),
        errors,
        request_id: crate::request_id::current().unwrap_or_default(),
        extensions,
    };
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let detail = match &self {
            Self::Internal(e) => {
                // Logged here, inside the request span; the client gets no details.
                tracing::error!(error = ?e, "internal error");
                self.to_string()
            }
            other => other.to_string(),
        };
        let retry_after = match &self {
            Self::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        };
        let code = self.code();
        let errors = match self {
            Self::Validation(errors) => errors,
            _ => Vec::new(),
        };
        let mut resp = problem_response_coded(status, code, detail, errors, serde_json::Map::new());
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %e, "database unavailable");
                Self::Unavailable("the database is unavailable, try again shortly".into())
            }
            // The server going away mid-query (shutdown, crash, restart: SQLSTATE 57P01-57P03)
            // or a broken connection (class 08) is an outage, not a bug.
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
            {
                tracing::warn!(error = %e, "database unavailable");
                Self::Unavailable("the database is unavailable, try again shortly".into())
            }
            _ => Self::Internal(e.into()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

/// Turn specific database constraint violations into client errors.
pub trait ResultExt<T> {
    /// If the error is a violation of `name`, answer with `f(e)` instead of a 500.
    fn on_constraint(self, name: &str, f: impl FnOnce() -> ApiError) -> Result<T, ApiError>;
}

impl<T, E: Into<ApiError>> ResultExt<T> for Result<T, E> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> ApiError) -> Result<T, ApiError> {
        self.map_err(|e| {
            let e: ApiError = e.into();
            if let ApiError::Internal(inner) = &e
                && let Some(sqlx::Error::Database(db)) = inner.downcast_ref::<sqlx::Error>()
                && db.constraint() == Some(name)
            {
                return f();
            }
            e
        })
    }
}
