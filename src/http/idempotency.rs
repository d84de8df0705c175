//! `Idempotency-Key` for money-moving POSTs, implemented once.
//!
//! The first response to a (user, key) is stored for 24 h and replayed (with
//! `Idempotent-Replayed: true`) for the same user, key and request; the same key with a
//! different request (method, path or JSON body) answers `422`; while the first request is
//! still running, others answer `409`. Keys of different users are independent.
//!
//! Exactly-once: the operation runs inside a database transaction that also stores its
//! response, so either both commit or neither does. A server that dies mid-request leaves
//! the key "in flight" until its lease (`request_timeout_secs` + 60 s) ends; then the same
//! request may run again (its first attempt rolled back). Responses with a 5xx status are
//! not stored: the key is freed so the client can retry. A request without the header runs
//! the operation once, in a transaction, with nothing stored.
//!
//! ```ignore
//! let resp = idempotency::run(&state, auth.user_id, &key, &input, async |tx| {
//!     let entry = wallet::service::credit(tx, auth.user_id, posting).await?;
//!     Ok((StatusCode::OK, Json(entry)).into_response())
//! })
//! .await?;
//! ```

use axum::{
    body::Body,
    extract::{FromRef, FromRequestParts},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use uuid::Uuid;

use crate::{
    config::Settings,
    error::{ApiError, ApiResult},
};

pub const HEADER: &str = "idempotency-key";
/// Set on a response that is a replay of a stored one.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// How long a response is kept and replayed.
pub const RETENTION_HOURS: i64 = 24;
pub const MAX_KEY_CHARS: usize = 255;
/// Headers of a response that are stored with it and replayed.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// The request's `Idempotency-Key` (None when absent) and its method and path, which are
/// part of what "the same request" means.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: Option<String>,
    route: String,
}

impl IdempotencyKey {
    /// A key for work that does not come from an HTTP request (e.g. a job).
    pub fn new(key: Option<String>, route: &str) -> Result<Self, ApiError> {
        if let Some(k) = &key {
            check_key(k)?;
        }
        Ok(Self {
            key,
            route: route.to_string(),
        })
    }
}

fn check_key(key: &str) -> Result<(), ApiError> {
    let n = key.chars().count();
    if n == 0 || n > MAX_KEY_CHARS {
        return Err(ApiError::validation(
            "Idempotency-Key",
            "must be 1 to 255 characters",
        ));
    }
    Ok(())
}

/// The key in an `Idempotency-Key` header value (422 when it is not 1..=255 characters of
/// visible ASCII). Reads untrusted bytes: fuzzed (`fuzz/`).
pub fn parse_header(raw: &HeaderValue) -> Result<String, ApiError> {
    let key = raw
        .to_str()
        .map_err(|_| ApiError::validation("Idempotency-Key", "must be printable ASCII text"))?;
    check_key(key)?;
    Ok(key.to_string())
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Nested routers see their path with the prefix removed; fingerprint the full one.
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map(|u| u.0.path().to_string())
            .unwrap_or_else(|| parts.uri.path().to_string());
        let route = format!("{} {path}", parts.method);
        let key = parts.headers.get(HEADER).map(parse_header).transpose()?;
        Ok(Self { key, route })
    }
}

/// Run `op` at most once per (user, key, request) and answer with its response, or replay
/// the stored response. `request` is the parsed body (its JSON form is fingerprinted).
/// `op` gets a connection inside the transaction that will also store its response.
pub async fn run<S, T, F>(
    state: &S,
    user_id: Uuid,
    key: &IdempotencyKey,
    request: &T,
    op: F,
) -> ApiResult<Response>
where
    PgPool: FromRef<S>,
    Arc<Settings>: FromRef<S>,
    T: Serialize + ?Sized,
    F: AsyncFnOnce(&mut PgConnection) -> ApiResult<Response>,
{
    let db = &PgPool::from_ref(state);
    let request_timeout_secs = Arc::<Settings>::from_ref(state).server.request_timeout_secs;
    let Some(k) = key.key.as_deref() else {
        let mut tx = db.begin().await?;
        let resp = op(&mut tx).await?;
        tx.commit().await?;
        return Ok(resp);
    };
    let hash = fingerprint(&key.route, request)?;
    let owner = Uuid::now_v7();
    let lease = request_timeout_secs as f64 + 60.0;
    if !acquire(db, user_id, k, &hash, owner, lease).await? {
        return existing(db, user_id, k, &hash).await;
    }

    let mut tx = db.begin().await?;
    match op(&mut tx).await {
        Ok(resp) if !resp.status().is_server_error() => {
            let (status, headers, body) = split(resp).await?;
            if !store(&mut tx, user_id, k, owner, status, &headers, &body).await? {
                // Our lease ran out and another request took the key over: this one must
                // not take effect.
                tx.rollback().await?;
                return Err(in_flight());
            }
            tx.commit().await?;
            Ok(rebuild(status, &headers, body, false))
        }
        Ok(resp) => {
            tx.rollback().await?;
            forget(db, user_id, k, owner).await;
            Ok(resp)
        }
        Err(e) if e.status_code().is_server_error() => {
            drop(tx);
            forget(db, user_id, k, owner).await;
            Err(e)
        }
        Err(e) => {
            tx.rollback().await?;
            let (status, headers, body) = split(e.into_response()).await?;
            let mut conn = db.acquire().await?;
            store(&mut conn, user_id, k, owner, status, &headers, &body).await?;
            Ok(rebuild(status, &headers, body, false))
        }
    }
}

/// SHA-256 of the method, path and JSON body.
fn fingerprint<T: Serialize + ?Sized>(route: &str, request: &T) -> ApiResult<Vec<u8>> {
    let body = serde_json::to_vec(request).map_err(ApiError::internal)?;
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update(b"\n");
    h.update(&body);
    Ok(h.finalize().to_vec())
}

fn in_flight() -> ApiError {
    ApiError::Conflict(
        "a request with this Idempotency-Key is still being processed; retry later".into(),
    )
}

/// Claim the key: a new row, or one whose stored response expired, or an in-flight claim
/// of the same request whose lease ran out. True when this request now owns the key.
async fn acquire(
    db: &PgPool,
    user_id: Uuid,
    key: &str,
    hash: &[u8],
    owner: Uuid,
    lease_secs: f64,
) -> ApiResult<bool> {
    let claimed = sqlx::query_scalar!(
        r#"insert into idempotency_keys
               (user_id, key, request_hash, owner, locked_until, expires_at)
           values ($1, $2, $3, $4, now() + make_interval(secs => $5),
                   now() + make_interval(hours => $6))
           on conflict (user_id, key) do update
              set request_hash = excluded.request_hash, owner = excluded.owner,
                  locked_until = excluded.locked_until, status = null,
                  response_headers = null, response_body = null, created_at = now(),
                  expires_at = excluded.expires_at
            where idempotency_keys.expires_at <= now()
               or (idempotency_keys.status is null
                   and idempotency_keys.locked_until <= now()
                   and idempotency_keys.request_hash = excluded.request_hash)
           returning owner"#,
        user_id,
        key,
        hash,
        owner,
        lease_secs,
        RETENTION_HOURS as i32,
    )
    .fetch_optional(db)
    .await?;
    Ok(claimed == Some(owner))
}

/// Answer for a key someone else holds: replay, 422 or 409.
async fn existing(db: &PgPool, user_id: Uuid, key: &str, hash: &[u8]) -> ApiResult<Response> {
    let row = sqlx::query!(
        r#"select request_hash, status, response_headers, response_body
           from idempotency_keys where user_id = $1 and key = $2"#,
        user_id,
        key
    )
    .fetch_optional(db)
    .await?;
    // Gone: the holder failed with a 5xx and freed the key a moment ago.
    let Some(row) = row else {
        return Err(in_flight());
    };
    if row.request_hash != hash {
        return Err(ApiError::validation(
            "Idempotency-Key",
            "was already used with a different request",
        ));
    }
    let (Some(status), Some(body)) = (row.status, row.response_body) else {
        return Err(in_flight());
    };
    let status = StatusCode::from_u16(status as u16).map_err(ApiError::internal)?;
    let mut headers = HeaderMap::new();
    if let Some(serde_json::Value::Object(map)) = row.response_headers {
        for (name, value) in map {
            if let (Ok(n), Some(Ok(v))) = (
                HeaderName::try_from(name.as_str()),
                value.as_str().map(HeaderValue::from_str),
            ) {
                headers.insert(n, v);
            }
        }
    }
    metrics::counter!("idempotency_replays_total").increment(1);
    Ok(rebuild(status, &headers, body.into(), true))
}

async fn split(resp: Response) -> ApiResult<(StatusCode, HeaderMap, bytes::Bytes)> {
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(ApiError::internal)?;
    let mut headers = HeaderMap::new();
    for name in KEPT_HEADERS {
        if let Some(v) = parts.headers.get(&name) {
            headers.insert(name, v.clone());
        }
    }
    Ok((parts.status, headers, body))
}

fn rebuild(
    status: StatusCode,
    headers: &HeaderMap,
    body: bytes::Bytes,
    replayed: bool,
) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().extend(headers.clone());
    if replayed {
        resp.headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    resp
}

/// Store the response on the key we own. False when we no longer own it.
async fn store(
    conn: &mut PgConnection,
    user_id: Uuid,
    key: &str,
    owner: Uuid,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<bool> {
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.into())))
        .collect();
    let r = sqlx::query!(
        r#"update idempotency_keys
              set status = $4, response_headers = $5, response_body = $6
            where user_id = $1 and key = $2 and owner = $3 and status is null"#,
        user_id,
        key,
        owner,
        status.as_u16() as i16,
        serde_json::Value::Object(headers),
        body
    )
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Free a key whose request failed on our side, so a retry can run.
async fn forget(db: &PgPool, user_id: Uuid, key: &str, owner: Uuid) {
    let r = sqlx::query!(
        "delete from idempotency_keys where user_id = $1 and key = $2 and owner = $3 and status is null",
        user_id,
        key,
        owner
    )
    .execute(db)
    .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, "could not free an idempotency key; it frees itself when its lease ends");
    }
}

/// Drop stored responses older than the retention period.
pub async fn purge_expired(db: &sqlx::PgPool) -> sqlx::Result<u64> {
    let r = sqlx::query!("delete from idempotency_keys where expires_at <= now()")
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}
