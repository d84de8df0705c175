//! SQL for sessions, refresh tokens, tickets and rate-limit counters.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::SessionRow;

pub async fn insert_session(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    user_agent: Option<&str>,
    ip: &str,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into sessions (id, user_id, user_agent, ip, expires_at) values ($1, $2, $3, $4, $5)",
        id,
        user_id,
        user_agent,
        ip,
        expires_at
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn insert_refresh_token(
    db: impl PgExecutor<'_>,
    hash: &[u8],
    session_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into refresh_tokens (token_hash, session_id) values ($1, $2)",
        hash,
        session_id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub struct PresentedToken {
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// Set when this call spent the token (it was unused).
    pub spent_now: bool,
    /// Seconds since it was spent, when it had been spent before this call.
    pub spent_secs_ago: Option<f64>,
    pub session_live: bool,
}

/// Spend a refresh token. Exactly one caller sees `spent_now` for a given token, however
/// many present it at once; the others learn when it was spent.
pub async fn spend_refresh_token(
    db: &mut sqlx::PgConnection,
    hash: &[u8],
) -> sqlx::Result<Option<PresentedToken>> {
    let spent = sqlx::query!(
        r#"update refresh_tokens set used_at = now()
           where token_hash = $1 and used_at is null
           returning session_id"#,
        hash
    )
    .fetch_optional(&mut *db)
    .await?;
    let row = sqlx::query!(
        r#"select t.session_id, s.user_id,
                  extract(epoch from (now() - t.used_at))::float8 as "spent_secs_ago",
                  (s.revoked_at is null and s.expires_at > now()) as "live!"
           from refresh_tokens t join sessions s on s.id = t.session_id
           where t.token_hash = $1"#,
        hash
    )
    .fetch_optional(&mut *db)
    .await?;
    Ok(row.map(|r| PresentedToken {
        session_id: r.session_id,
        user_id: r.user_id,
        spent_now: spent.is_some(),
        spent_secs_ago: if spent.is_some() {
            None
        } else {
            r.spent_secs_ago
        },
        session_live: r.live,
    }))
}

pub async fn touch_session(db: impl PgExecutor<'_>, id: Uuid, ip: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update sessions set last_used_at = now(), ip = $2 where id = $1",
        id,
        ip
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Revoke one session of a user. Returns whether a live session was revoked.
pub async fn revoke_session(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    reason: &str,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"update sessions set revoked_at = now(), revoke_reason = $3
           where id = $1 and user_id = $2 and revoked_at is null"#,
        id,
        user_id,
        reason
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Revoke every live session of a user except `keep`; returns the revoked ids.
pub async fn revoke_sessions_except(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> sqlx::Result<Vec<Uuid>> {
    let rows = sqlx::query_scalar!(
        r#"update sessions set revoked_at = now(), revoke_reason = $3
           where user_id = $1 and revoked_at is null and ($2::uuid is null or id <> $2)
           returning id"#,
        user_id,
        keep,
        reason
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

pub async fn list_sessions(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<SessionRow>> {
    sqlx::query_as!(
        SessionRow,
        r#"select id, created_at, last_used_at, expires_at, user_agent, ip from sessions
           where user_id = $1 and revoked_at is null and expires_at > now()
           order by created_at desc, id desc"#,
        user_id
    )
    .fetch_all(db)
    .await
}

pub async fn insert_ticket(
    db: impl PgExecutor<'_>,
    hash: &[u8],
    user_id: Uuid,
    session_id: Uuid,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into ws_tickets (ticket_hash, user_id, session_id, expires_at) values ($1, $2, $3, $4)",
        hash,
        user_id,
        session_id,
        expires_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Count a hit in the current fixed window; returns the count including this hit.
pub async fn rate_hit(
    db: impl PgExecutor<'_>,
    key: &str,
    window_start: DateTime<Utc>,
) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        r#"insert into rate_limits (key, window_start, count) values ($1, $2, 1)
           on conflict (key, window_start) do update set count = rate_limits.count + 1
           returning count"#,
        key,
        window_start
    )
    .fetch_one(db)
    .await
}

/// Delete what can no longer matter: old rate windows, used or expired tickets, spent
/// refresh tokens of dead sessions, sessions long expired or revoked.
pub async fn purge_expired(db: impl PgExecutor<'_> + Copy) -> sqlx::Result<()> {
    sqlx::query!("delete from rate_limits where window_start < now() - interval '1 day'")
        .execute(db)
        .await?;
    sqlx::query!("delete from ws_tickets where expires_at < now() - interval '1 hour'")
        .execute(db)
        .await?;
    sqlx::query!(
        "delete from sessions where coalesce(revoked_at, expires_at) < now() - interval '30 days'"
    )
    .execute(db)
    .await?;
    Ok(())
}
