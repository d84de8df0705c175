//! Keyset pagination on `(created_at, id)` with opaque cursors.
//!
//! Repositories fetch `limit + 1` rows ordered by `(created_at, id)` (descending unless the
//! route says otherwise) after the cursor's position; `Page::from_rows` trims the extra row
//! and turns the last returned row into `next_cursor`. Rows inserted between page fetches
//! land before the first page, so later pages see no duplicates and no gaps.

use axum::{extract::FromRequestParts, http::request::Parts};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// A position in a `(created_at, id)` ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = format!("v1:{}:{}", self.created_at.timestamp_micros(), self.id);
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(s: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::validation("cursor", "is not a cursor returned by this API");
        if s.len() > 200 {
            return Err(bad());
        }
        let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = raw.splitn(3, ':');
        if parts.next() != Some("v1") {
            return Err(bad());
        }
        let micros: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let id: Uuid = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let created_at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
        Ok(Self { created_at, id })
    }
}

/// `?limit=` and `?cursor=` from the query string (other parameters are ignored here).
#[derive(Debug, Clone, Copy)]
pub struct Pagination {
    pub limit: i64,
    pub cursor: Option<Cursor>,
}

impl Default for Pagination {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

impl Pagination {
    /// Rows to fetch: one more than the page, to know whether there is a next page.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    pub fn cursor_ts(&self) -> Option<DateTime<Utc>> {
        self.cursor.map(|c| c.created_at)
    }

    pub fn cursor_id(&self) -> Option<Uuid> {
        self.cursor.map(|c| c.id)
    }
}

/// Documentation of the two query parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[allow(dead_code)]
pub struct PageParams {
    /// Page size, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// `limit` (validated, default 20) and the raw `cursor` of a query string; shared by
/// every pagination extractor so the rules and messages are the same everywhere.
pub fn page_params(query: &str) -> Result<(i64, Option<String>), ApiError> {
    let (mut limit, mut cursor) = (DEFAULT_LIMIT, None);
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "limit" => {
                limit = v
                    .parse()
                    .map_err(|_| ApiError::validation("limit", "must be an integer"))?;
                if !(1..=MAX_LIMIT).contains(&limit) {
                    return Err(ApiError::validation("limit", "must be between 1 and 100"));
                }
            }
            "cursor" if !v.is_empty() => cursor = Some(v.into_owned()),
            _ => {}
        }
    }
    Ok((limit, cursor))
}

impl<S: Send + Sync> FromRequestParts<S> for Pagination {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (limit, cursor) = page_params(parts.uri.query().unwrap_or(""))?;
        let cursor = cursor.map(|c| Cursor::decode(&c)).transpose()?;
        Ok(Self { limit, cursor })
    }
}

/// A page of results: `{"data": [...], "next_cursor": "..." | null}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Build a page from `limit + 1` fetched rows; `key` gives a row's `(created_at, id)`.
    pub fn from_rows(
        mut rows: Vec<T>,
        page: &Pagination,
        key: impl Fn(&T) -> (DateTime<Utc>, Uuid),
    ) -> Self {
        let limit = page.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| {
                let (created_at, id) = key(r);
                Cursor { created_at, id }.encode()
            })
        } else {
            None
        };
        Self {
            data: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let c = Cursor {
            created_at: Utc::now(),
            id: Uuid::now_v7(),
        };
        let back = Cursor::decode(&c.encode()).unwrap();
        assert_eq!(back.id, c.id);
        assert_eq!(
            back.created_at.timestamp_micros(),
            c.created_at.timestamp_micros()
        );
    }

    #[test]
    fn garbage_cursor_is_422() {
        for bad in ["", "!!", "djE6eDp5", &"a".repeat(500)] {
            assert!(
                matches!(Cursor::decode(bad), Err(ApiError::Validation(_))),
                "{bad}"
            );
        }
    }
}
