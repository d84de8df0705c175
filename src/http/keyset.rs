//! Keyset pagination for lists that can be ordered more than one way: newest first
//! (`(created_at, id)`, the same cursor as [`super::Pagination`]), by full-text rank, or by due
//! date. The cursor records the ordering it belongs to, so a cursor from one ordering is
//! refused (422) by another instead of silently skipping rows.
//!
//! As with [`super::Pagination`], repositories fetch `limit + 1` rows strictly after the
//! cursor's position in the ordering; the extra row only tells whether there is a next page.

use axum::{extract::FromRequestParts, http::request::Parts};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use uuid::Uuid;

use super::pagination::{Cursor, DEFAULT_LIMIT, Page};
use crate::error::ApiError;

/// A position in one of the orderings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortCursor {
    /// `(created_at, id)`, newest first. Encoded exactly like [`Cursor`].
    Created(Cursor),
    /// `(rank, created_at, id)`, best match first.
    Rank {
        rank: f32,
        created_at: DateTime<Utc>,
        id: Uuid,
    },
    /// `(due_date nulls last, due_time nulls last, created_at, id)`, soonest first.
    Due {
        due_date: Option<NaiveDate>,
        due_time: Option<NaiveTime>,
        created_at: DateTime<Utc>,
        id: Uuid,
    },
}

fn bad() -> ApiError {
    ApiError::validation("cursor", "is not a cursor returned by this API")
}

fn wrong_ordering() -> ApiError {
    ApiError::validation(
        "cursor",
        "belongs to a different ordering or search; start again without a cursor",
    )
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

fn parse_opt<T: std::str::FromStr>(s: &str) -> Result<Option<T>, ApiError> {
    if s == "-" {
        Ok(None)
    } else {
        s.parse().map(Some).map_err(|_| bad())
    }
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, ApiError> {
    let micros: i64 = s.parse().map_err(|_| bad())?;
    DateTime::from_timestamp_micros(micros).ok_or_else(bad)
}

impl SortCursor {
    pub fn encode(&self) -> String {
        let raw = match self {
            Self::Created(c) => return c.encode(),
            Self::Rank {
                rank,
                created_at,
                id,
            } => format!(
                "r1:{}:{}:{id}",
                rank.to_bits(),
                created_at.timestamp_micros()
            ),
            Self::Due {
                due_date,
                due_time,
                created_at,
                id,
            } => format!(
                "d1:{}:{}:{}:{id}",
                opt(*due_date),
                // `HH:MM:SS.f` has colons; store seconds since midnight instead.
                opt(due_time.map(|t| {
                    use chrono::Timelike;
                    t.num_seconds_from_midnight() as u64 * 1_000_000_000 + t.nanosecond() as u64
                })),
                created_at.timestamp_micros()
            ),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(s: &str) -> Result<Self, ApiError> {
        if s.len() > 300 {
            return Err(bad());
        }
        let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let parts: Vec<&str> = raw.split(':').collect();
        match parts.as_slice() {
            ["v1", ..] => Cursor::decode(s).map(Self::Created),
            ["r1", bits, ts, id] => Ok(Self::Rank {
                rank: f32::from_bits(bits.parse().map_err(|_| bad())?),
                created_at: parse_ts(ts)?,
                id: id.parse().map_err(|_| bad())?,
            }),
            ["d1", date, nanos, ts, id] => {
                let due_time = parse_opt::<u64>(nanos)?
                    .map(|n| {
                        NaiveTime::from_num_seconds_from_midnight_opt(
                            (n / 1_000_000_000) as u32,
                            (n % 1_000_000_000) as u32,
                        )
                        .ok_or_else(bad)
                    })
                    .transpose()?;
                Ok(Self::Due {
                    due_date: parse_opt(date)?,
                    due_time,
                    created_at: parse_ts(ts)?,
                    id: id.parse().map_err(|_| bad())?,
                })
            }
            _ => Err(bad()),
        }
    }
}

/// `?limit=` and `?cursor=` for lists with several orderings.
#[derive(Debug, Clone, Copy)]
pub struct KeysetPagination {
    pub limit: i64,
    pub cursor: Option<SortCursor>,
}

impl Default for KeysetPagination {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

impl KeysetPagination {
    /// Rows to fetch: one more than the page, to know whether there is a next page.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// The cursor of a newest-first list (`None` on the first page).
    pub fn created(&self) -> Result<Option<Cursor>, ApiError> {
        match self.cursor {
            None => Ok(None),
            Some(SortCursor::Created(c)) => Ok(Some(c)),
            Some(_) => Err(wrong_ordering()),
        }
    }

    /// The cursor of a ranked search: `(rank, created_at, id)`.
    pub fn rank(&self) -> Result<Option<(f32, DateTime<Utc>, Uuid)>, ApiError> {
        match self.cursor {
            None => Ok(None),
            Some(SortCursor::Rank {
                rank,
                created_at,
                id,
            }) => Ok(Some((rank, created_at, id))),
            Some(_) => Err(wrong_ordering()),
        }
    }

    /// The cursor of a due-date ordering.
    #[allow(clippy::type_complexity)]
    pub fn due(
        &self,
    ) -> Result<Option<(Option<NaiveDate>, Option<NaiveTime>, DateTime<Utc>, Uuid)>, ApiError> {
        match self.cursor {
            None => Ok(None),
            Some(SortCursor::Due {
                due_date,
                due_time,
                created_at,
                id,
            }) => Ok(Some((due_date, due_time, created_at, id))),
            Some(_) => Err(wrong_ordering()),
        }
    }

    /// Build a page from `limit + 1` fetched rows; `key` gives a row's position.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> SortCursor) -> Page<T> {
        let limit = self.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| key(r).encode())
        } else {
            None
        };
        Page {
            data: rows,
            next_cursor,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for KeysetPagination {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (limit, cursor) = super::pagination::page_params(parts.uri.query().unwrap_or(""))?;
        let cursor = cursor.map(|c| SortCursor::decode(&c)).transpose()?;
        Ok(Self { limit, cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(c: SortCursor) {
        assert_eq!(SortCursor::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn every_kind_round_trips() {
        let created_at = DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap();
        let id = Uuid::now_v7();
        round_trip(SortCursor::Created(Cursor { created_at, id }));
        round_trip(SortCursor::Rank {
            rank: 0.060_792_71,
            created_at,
            id,
        });
        round_trip(SortCursor::Due {
            due_date: NaiveDate::from_ymd_opt(2026, 11, 30),
            due_time: NaiveTime::from_hms_micro_opt(9, 30, 5, 250),
            created_at,
            id,
        });
        round_trip(SortCursor::Due {
            due_date: None,
            due_time: None,
            created_at,
            id,
        });
    }

    #[test]
    fn plain_cursors_are_created_cursors() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_790_000_000_000_000).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(
            SortCursor::decode(&c.encode()).unwrap(),
            SortCursor::Created(c)
        );
    }

    #[test]
    fn a_cursor_of_another_ordering_is_422() {
        let page = KeysetPagination {
            limit: 10,
            cursor: Some(SortCursor::Rank {
                rank: 1.0,
                created_at: Utc::now(),
                id: Uuid::now_v7(),
            }),
        };
        assert!(matches!(page.created(), Err(ApiError::Validation(_))));
        assert!(matches!(page.due(), Err(ApiError::Validation(_))));
        assert!(page.rank().is_ok());
    }

    #[test]
    fn garbage_is_422() {
        for bad in ["!!", "cjE6eDp5", &URL_SAFE_NO_PAD.encode("d1:x:-:1:2")] {
            assert!(
                matches!(SortCursor::decode(bad), Err(ApiError::Validation(_))),
                "{bad}"
            );
        }
    }
}
