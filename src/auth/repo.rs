//! The two queries the extractors need: is a session live, and redeem a WebSocket ticket.
//! Everything else about sessions is `accounts::repo`.

use sqlx::PgExecutor;
use uuid::Uuid;

pub async fn session_is_live(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<bool> {
    let live = sqlx::query_scalar!(
        r#"select exists(select 1 from sessions
             where id = $1 and user_id = $2 and revoked_at is null and expires_at > now()) as "live!""#,
        id,
        user_id
    )
    .fetch_one(db)
    .await?;
    Ok(live)
}

/// Redeem a ticket once: the user and session it was issued to, if it is unused, unexpired
/// and its session still live.
pub async fn redeem_ticket(
    db: impl PgExecutor<'_>,
    hash: &[u8],
) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    let row = sqlx::query!(
        r#"update ws_tickets t set used_at = now()
           from sessions s
           where t.ticket_hash = $1 and t.used_at is null and t.expires_at > now()
             and s.id = t.session_id and s.revoked_at is null and s.expires_at > now()
           returning t.user_id, t.session_id"#,
        hash
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.user_id, r.session_id)))
}
