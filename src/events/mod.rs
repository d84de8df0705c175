//! Realtime per-user change events across instances.
//!
//! `publish` writes an event row and `pg_notify`s its id inside the caller's transaction, so
//! the event exists and is announced only if the change commits. Each instance runs one
//! `PgListener` (the `Hub`) that loads announced events for users connected to it and fans
//! them out to their WebSockets (`WS /api/v1/events`, `crate::event_stream`). Clients that reconnect with
//! `?since=<id>` get what they missed from the table (kept for `events.retention_hours`).

pub mod hub;
pub mod repo;

use serde::Serialize;
use sqlx::PgExecutor;
use uuid::Uuid;

pub use hub::Hub;

pub const CHANNEL: &str = "cadence_events";

/// One change, as clients receive it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip)]
    pub user_id: Uuid,
}

/// Record and announce an event (delivered when the surrounding transaction commits).
/// `kind` is e.g. `task.created`; `data` is the resource as the REST API returns it (for
/// `*.deleted`, `{"id": …}`).
pub async fn publish(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    kind: &str,
    data: &impl Serialize,
) -> Result<i64, crate::error::ApiError> {
    let data = serde_json::to_value(data).map_err(crate::error::ApiError::internal)?;
    Ok(repo::insert(db, user_id, kind, &data).await?)
}
