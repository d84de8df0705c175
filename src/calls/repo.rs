use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, types::Json};
use uuid::Uuid;

use super::model::{Call, CallMetrics, CallUsage, TranscriptTurn};
use crate::http::Pagination;

pub struct CallRow {
    pub id: Uuid,
    pub agent_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub channel: String,
    pub direction: String,
    pub status: String,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub end_reason: Option<String>,
    pub usage: Json<CallUsage>,
    pub cost_credits: i64,
    pub cost_breakdown: Option<serde_json::Value>,
    pub metrics: Json<CallMetrics>,
    pub created_at: DateTime<Utc>,
}

impl From<CallRow> for Call {
    fn from(r: CallRow) -> Self {
        Call {
            id: r.id,
            agent_id: r.agent_id,
            conversation_id: r.conversation_id,
            channel: r.channel,
            direction: r.direction,
            status: r.status,
            from_number: r.from_number,
            to_number: r.to_number,
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_ms: r.duration_ms,
            end_reason: r.end_reason,
            usage: r.usage.0,
            cost_credits: r.cost_credits,
            cost_breakdown: r.cost_breakdown,
            metrics: r.metrics.0,
            created_at: r.created_at,
        }
    }
}

pub struct NewCall<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub agent_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub channel: &'a str,
    pub hold_id: Uuid,
}

pub async fn insert(db: impl PgExecutor<'_>, c: &NewCall<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into calls (id, user_id, agent_id, conversation_id, channel, direction, status, hold_id)
         values ($1, $2, $3, $4, $5, 'inbound', 'queued', $6)",
        c.id,
        c.user_id,
        c.agent_id,
        c.conversation_id,
        c.channel,
        c.hold_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The call goes live (the client connected).
pub async fn start(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "update calls set status = 'active', started_at = coalesce(started_at, now())
         where id = $1 and status in ('queued', 'ringing')",
        id
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub struct Completion<'a> {
    pub end_reason: &'a str,
    pub usage: &'a CallUsage,
    pub cost_credits: i64,
    pub cost_breakdown: serde_json::Value,
    pub metrics: &'a CallMetrics,
    pub recording: Option<Vec<u8>>,
}

pub struct Completed {
    pub user_id: Uuid,
    pub hold_id: Option<Uuid>,
    pub duration_ms: i64,
}

/// Complete a live (or never connected) call. `None` when it was already completed: the
/// guard that makes finalization happen once.
pub async fn complete(
    db: impl PgExecutor<'_>,
    id: Uuid,
    c: &Completion<'_>,
) -> sqlx::Result<Option<Completed>> {
    sqlx::query_as!(
        Completed,
        r#"update calls set status = 'completed', ended_at = now(),
                  started_at = coalesce(started_at, now()),
                  duration_ms = (extract(epoch from (now() - coalesce(started_at, now()))) * 1000)::bigint,
                  end_reason = $2, usage = $3, cost_credits = $4, cost_breakdown = $5, metrics = $6,
                  recording = $7
           where id = $1 and status in ('queued', 'active')
           returning user_id, hold_id, duration_ms as "duration_ms!""#,
        id,
        c.end_reason,
        Json(c.usage) as _,
        c.cost_credits,
        c.cost_breakdown,
        Json(c.metrics) as _,
        c.recording.as_deref()
    )
    .fetch_optional(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid, user_id: Uuid) -> sqlx::Result<Option<Call>> {
    let row = sqlx::query_as!(
        CallRow,
        r#"select id, agent_id, conversation_id, channel, direction, status, from_number, to_number,
                  started_at, ended_at, duration_ms, end_reason, usage as "usage: Json<CallUsage>",
                  cost_credits, cost_breakdown, metrics as "metrics: Json<CallMetrics>", created_at
           from calls where id = $1 and user_id = $2"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(Call::from))
}

pub struct CallFilter {
    pub agent_id: Option<Uuid>,
    pub status: Option<String>,
    pub channel: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    f: &CallFilter,
    page: &Pagination,
) -> sqlx::Result<Vec<Call>> {
    let rows = sqlx::query_as!(
        CallRow,
        r#"select id, agent_id, conversation_id, channel, direction, status, from_number, to_number,
                  started_at, ended_at, duration_ms, end_reason, usage as "usage: Json<CallUsage>",
                  cost_credits, cost_breakdown, metrics as "metrics: Json<CallMetrics>", created_at
           from calls
           where user_id = $1
             and ($2::uuid is null or agent_id = $2)
             and ($3::text is null or status = $3)
             and ($4::text is null or channel = $4)
             and ($5::timestamptz is null or created_at >= $5)
             and ($6::timestamptz is null or created_at < $6)
             and ($7::timestamptz is null or (created_at, id) < ($7, $8::uuid))
           order by created_at desc, id desc
           limit $9"#,
        user_id,
        f.agent_id,
        f.status,
        f.channel,
        f.from,
        f.to,
        page.cursor_ts(),
        page.cursor_id(),
        page.fetch()
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Call::from).collect())
}

pub async fn add_turn(
    db: impl PgExecutor<'_>,
    call_id: Uuid,
    role: &str,
    content: &str,
    interrupted: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into call_turns (id, call_id, role, content, interrupted) values ($1, $2, $3, $4, $5)",
        Uuid::now_v7(),
        call_id,
        role,
        content,
        interrupted
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The transcript of the caller's call (`None`: no such call of theirs).
pub async fn transcript(
    db: impl PgExecutor<'_> + Copy,
    call_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<Vec<TranscriptTurn>>> {
    let owned = sqlx::query_scalar!(
        "select exists(select 1 from calls where id = $1 and user_id = $2)",
        call_id,
        user_id
    )
    .fetch_one(db)
    .await?;
    if owned != Some(true) {
        return Ok(None);
    }
    let turns = sqlx::query_as!(
        TranscriptTurn,
        "select t.id, t.role, t.content, t.interrupted, t.created_at
         from call_turns t join calls c on c.id = t.call_id
         where t.call_id = $1 and c.user_id = $2
         order by t.created_at, t.id",
        call_id,
        user_id
    )
    .fetch_all(db)
    .await?;
    Ok(Some(turns))
}

/// `Some(None)`: the call exists but has no recording.
pub async fn recording(
    db: impl PgExecutor<'_>,
    call_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<Option<Vec<u8>>>> {
    sqlx::query_scalar!(
        "select recording from calls where id = $1 and user_id = $2",
        call_id,
        user_id
    )
    .fetch_optional(db)
    .await
}
