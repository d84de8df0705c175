//! One error type for every provider.

use std::time::Duration;

/// What went wrong, for metrics labels and retry/fallback decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Auth,
    RateLimited,
    Timeout,
    Upstream,
    BadResponse,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::RateLimited => "rate_limited",
            Self::Timeout => "timeout",
            Self::Upstream => "upstream",
            Self::BadResponse => "bad_response",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    /// The key is missing, wrong or not allowed (401/403).
    #[error("provider rejected the credentials: {0}")]
    Auth(String),
    /// 429; `retry_after` when the vendor said.
    #[error("provider rate limit reached")]
    RateLimited { retry_after: Option<Duration> },
    /// Connect, first-byte or idle timeout.
    #[error("provider timed out: {0}")]
    Timeout(String),
    /// The vendor failed (5xx, other statuses, connection lost, process died).
    #[error("provider failed: {0}")]
    Upstream(String),
    /// The answer did not follow the vendor's protocol.
    #[error("provider sent a malformed answer: {0}")]
    BadResponse(String),
}

impl ProviderError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Auth(_) => ErrorKind::Auth,
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::Timeout(_) => ErrorKind::Timeout,
            Self::Upstream(_) => ErrorKind::Upstream,
            Self::BadResponse(_) => ErrorKind::BadResponse,
        }
    }

    pub fn from_status(status: u16, retry_after_secs: Option<u64>, body: &str) -> Self {
        match status {
            401 | 403 => Self::Auth(format!("HTTP {status}")),
            429 => Self::RateLimited {
                retry_after: retry_after_secs.map(Duration::from_secs),
            },
            408 | 504 => Self::Timeout(format!("HTTP {status}")),
            _ => Self::Upstream(if body.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {body}")
            }),
        }
    }

    pub fn bad_response(e: impl std::fmt::Display) -> Self {
        Self::BadResponse(e.to_string())
    }
}

impl From<ProviderError> for crate::error::ApiError {
    fn from(e: ProviderError) -> Self {
        // Details (which may quote the vendor) go to the log, not to the client.
        tracing::warn!(error = %e, "provider error");
        crate::error::ApiError::Provider(match e.kind() {
            ErrorKind::Auth => "the AI provider rejected the server's credentials".into(),
            ErrorKind::RateLimited => "the AI provider is rate limiting, try again shortly".into(),
            ErrorKind::Timeout => "the AI provider did not answer in time".into(),
            ErrorKind::Upstream => "the AI provider failed".into(),
            ErrorKind::BadResponse => "the AI provider sent an invalid answer".into(),
        })
    }
}
