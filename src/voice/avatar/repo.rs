//! SQL for avatar sessions and the monthly quota. Locks are always taken session row first,
//! then the usage row (starts lock only the usage row), so no two paths deadlock.

use chrono::NaiveDate;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::model::AvatarSessionRow;
use crate::http::Pagination;

/// This month (UTC) and the first instant of the next one.
pub async fn current_period(
    db: impl PgExecutor<'_>,
) -> sqlx::Result<(NaiveDate, chrono::DateTime<chrono::Utc>)> {
    let r = sqlx::query!(
        r#"select date_trunc('month', now() at time zone 'utc')::date as "period!",
                  (date_trunc('month', now() at time zone 'utc') + interval '1 month')
                      at time zone 'utc' as "resets_at!""#
    )
    .fetch_one(db)
    .await?;
    Ok((r.period, r.resets_at))
}

/// `(used, reserved)` minutes of a month.
pub async fn usage(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    period: NaiveDate,
) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query!(
        "select minutes_used, minutes_reserved from avatar_usage where user_id = $1 and period = $2",
        user_id,
        period
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map_or((0, 0), |r| {
        (r.minutes_used as i64, r.minutes_reserved as i64)
    }))
}

/// Hold `minutes` of the month if they fit in `allowed` (one statement: concurrent starts
/// serialize on the row). `false`: they do not fit.
pub async fn reserve(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    period: NaiveDate,
    minutes: i32,
    allowed: i64,
) -> sqlx::Result<bool> {
    if minutes as i64 > allowed {
        return Ok(false);
    }
    let r = sqlx::query_scalar!(
        "insert into avatar_usage (user_id, period, minutes_reserved) values ($1, $2, $3)
         on conflict (user_id, period) do update
            set minutes_reserved = avatar_usage.minutes_reserved + excluded.minutes_reserved
            where avatar_usage.minutes_used + avatar_usage.minutes_reserved
                  + excluded.minutes_reserved <= $4::bigint
         returning minutes_reserved",
        user_id,
        period,
        minutes,
        allowed
    )
    .fetch_optional(db)
    .await?;
    Ok(r.is_some())
}

pub struct NewSession<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub agent_id: Uuid,
    pub avatar_id: &'a str,
    pub period: NaiveDate,
    pub minutes_reserved: i32,
}

pub async fn insert(db: impl PgExecutor<'_>, s: &NewSession<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into avatar_sessions (id, user_id, agent_id, avatar_id, status, period, minutes_reserved)
         values ($1, $2, $3, $4, 'starting', $5, $6)",
        s.id,
        s.user_id,
        s.agent_id,
        s.avatar_id,
        s.period,
        s.minutes_reserved
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn attach_voice(
    db: impl PgExecutor<'_>,
    id: Uuid,
    voice_session_id: Uuid,
    call_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update avatar_sessions set voice_session_id = $2, call_id = $3 where id = $1",
        id,
        voice_session_id,
        call_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The vendor answered: the session is live. `false` when it ended meanwhile.
pub async fn activate(
    db: impl PgExecutor<'_>,
    id: Uuid,
    provider_session_id: &str,
    livekit_url: &str,
    ws_url: &str,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "update avatar_sessions set status = 'active', provider_session_id = $2, livekit_url = $3,
                ws_url = $4
         where id = $1 and status = 'starting'",
        id,
        provider_session_id,
        livekit_url,
        ws_url
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// End a session that never got going: nothing is charged, its hold is released.
pub async fn abort(conn: &mut PgConnection, id: Uuid, reason: &str) -> sqlx::Result<()> {
    let Some(s) = sqlx::query!(
        "update avatar_sessions set status = 'ended', minutes_charged = 0, end_reason = $2,
                ended_at = now(), ws_url = null
         where id = $1 and status <> 'ended'
         returning user_id, period, minutes_reserved",
        id,
        reason
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(());
    };
    sqlx::query!(
        "update avatar_usage set minutes_reserved = greatest(0, minutes_reserved - $3)
         where user_id = $1 and period = $2",
        s.user_id,
        s.period,
        s.minutes_reserved
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Hold one more minute for a live session if the month has it. `None`: it does not (or the
/// session is over); else the session's new reservation.
pub async fn extend(conn: &mut PgConnection, id: Uuid, allowed: i64) -> sqlx::Result<Option<i32>> {
    let Some(s) = sqlx::query!(
        "select user_id, period from avatar_sessions where id = $1 and status = 'active' for update",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    if !reserve(&mut *conn, s.user_id, s.period, 1, allowed).await? {
        return Ok(None);
    }
    let reserved = sqlx::query_scalar!(
        "update avatar_sessions set minutes_reserved = minutes_reserved + 1 where id = $1
         returning minutes_reserved",
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(reserved))
}

/// What ending a session charged.
#[derive(Debug, Clone)]
pub struct Settled {
    pub id: Uuid,
    pub minutes: i32,
    pub provider_session_id: Option<String>,
}

/// End the live avatar session of a call (once: the row is locked and must not be ended):
/// charge start → now rounded up to whole minutes (at least one), never more than the
/// month has left besides what the session held, and release its hold.
pub async fn settle(
    conn: &mut PgConnection,
    call_id: Uuid,
    reason: &str,
    minute_secs: f64,
    allowed: i64,
) -> sqlx::Result<Option<Settled>> {
    let Some(s) = sqlx::query!(
        r#"select id, user_id, period, minutes_reserved, provider_session_id,
                  ceil(extract(epoch from (now() - started_at))::float8 / $2::float8)::int as "elapsed!"
           from avatar_sessions where call_id = $1 and status <> 'ended' for update"#,
        call_id,
        minute_secs
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let row = sqlx::query!(
        "select minutes_used, minutes_reserved from avatar_usage
         where user_id = $1 and period = $2 for update",
        s.user_id,
        s.period
    )
    .fetch_optional(&mut *conn)
    .await?;
    let (used, reserved) = row.map_or((0, 0), |r| {
        (r.minutes_used as i64, r.minutes_reserved as i64)
    });
    let free = (allowed - used - reserved).max(0);
    let minutes = (s.elapsed.max(1) as i64).min(s.minutes_reserved as i64 + free) as i32;
    sqlx::query!(
        "update avatar_usage set minutes_used = minutes_used + $3,
                minutes_reserved = greatest(0, minutes_reserved - $4)
         where user_id = $1 and period = $2",
        s.user_id,
        s.period,
        minutes,
        s.minutes_reserved
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update avatar_sessions set status = 'ended', minutes_charged = $2, end_reason = $3,
                ended_at = now(), ws_url = null
         where id = $1",
        s.id,
        minutes,
        reason
    )
    .execute(&mut *conn)
    .await?;
    Ok(Some(Settled {
        id: s.id,
        minutes,
        provider_session_id: s.provider_session_id,
    }))
}

/// A session that has not ended, with its voice session's state.
pub struct Pending {
    pub call_id: Uuid,
    pub voice_status: String,
    /// Its voice session can no longer be connected.
    pub expired: bool,
}

pub async fn unconnected(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Pending>> {
    sqlx::query_as!(
        Pending,
        r#"select a.call_id as "call_id!", v.status as voice_status, v.expires_at <= now() as "expired!"
           from avatar_sessions a join voice_sessions v on v.id = a.voice_session_id
           where a.id = $1 and a.status <> 'ended'"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// What a voice session needs to attach its avatar.
pub struct Live {
    pub id: Uuid,
    pub ws_url: String,
    pub elapsed_ms: i64,
    pub minutes_reserved: i32,
}

pub async fn live_for_voice(
    db: impl PgExecutor<'_>,
    voice_session_id: Uuid,
) -> sqlx::Result<Option<Live>> {
    let r = sqlx::query!(
        r#"select id, ws_url as "ws_url!", minutes_reserved,
                  (extract(epoch from (now() - started_at)) * 1000)::bigint as "elapsed_ms!"
           from avatar_sessions
           where voice_session_id = $1 and status = 'active' and ws_url is not null"#,
        voice_session_id
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| Live {
        id: r.id,
        ws_url: r.ws_url,
        elapsed_ms: r.elapsed_ms,
        minutes_reserved: r.minutes_reserved,
    }))
}

pub async fn find(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<AvatarSessionRow>> {
    sqlx::query_as!(
        AvatarSessionRow,
        "select id, agent_id, avatar_id, voice_session_id, call_id, status, provider_session_id,
                livekit_url, period, minutes_reserved, minutes_charged, end_reason, started_at,
                ended_at, created_at
         from avatar_sessions where id = $1 and user_id = $2",
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// The user's sessions, newest first (`limit + 1` rows for the page).
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    page: &Pagination,
) -> sqlx::Result<Vec<AvatarSessionRow>> {
    sqlx::query_as!(
        AvatarSessionRow,
        "select id, agent_id, avatar_id, voice_session_id, call_id, status, provider_session_id,
                livekit_url, period, minutes_reserved, minutes_charged, end_reason, started_at,
                ended_at, created_at
         from avatar_sessions
         where user_id = $1
           and ($2::timestamptz is null or (created_at, id) < ($2, $3::uuid))
         order by created_at desc, id desc
         limit $4",
        user_id,
        page.cursor_ts(),
        page.cursor_id(),
        page.fetch()
    )
    .fetch_all(db)
    .await
}
