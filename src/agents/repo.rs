use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, types::Json};
use uuid::Uuid;

use super::model::{Agent, AgentInput, Interruption, LlmSettings, SttSettings, TtsSettings};
use crate::http::Pagination;

pub struct AgentRow {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub system_prompt: String,
    pub welcome_message: Option<String>,
    pub llm: Json<LlmSettings>,
    pub stt: Json<SttSettings>,
    pub tts: Json<TtsSettings>,
    pub tools: Vec<String>,
    pub interruption: Json<Interruption>,
    pub max_call_seconds: i32,
    pub silence_timeout_seconds: i32,
    pub recording: bool,
    pub is_builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<AgentRow> for Agent {
    fn from(r: AgentRow) -> Self {
        Agent {
            id: r.id,
            name: r.name,
            description: r.description,
            system_prompt: r.system_prompt,
            welcome_message: r.welcome_message,
            llm: r.llm.0,
            stt: r.stt.0,
            tts: r.tts.0,
            tools: r.tools,
            interruption: r.interruption.0,
            max_call_seconds: r.max_call_seconds,
            silence_timeout_seconds: r.silence_timeout_seconds,
            recording: r.recording,
            is_builtin: r.is_builtin,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Built-ins and the user's own, newest first, after the cursor.
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    page: &Pagination,
) -> sqlx::Result<Vec<Agent>> {
    let rows = sqlx::query_as!(
        AgentRow,
        r#"select id, name, description, system_prompt, welcome_message,
                  llm as "llm: Json<LlmSettings>", stt as "stt: Json<SttSettings>",
                  tts as "tts: Json<TtsSettings>", tools, interruption as "interruption: Json<Interruption>",
                  max_call_seconds, silence_timeout_seconds, recording, is_builtin, created_at, updated_at
           from agents
           where (user_id = $1 or user_id is null)
             and ($2::timestamptz is null or (created_at, id) < ($2, $3::uuid))
           order by created_at desc, id desc
           limit $4"#,
        user_id,
        page.cursor_ts(),
        page.cursor_id(),
        page.fetch()
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Agent::from).collect())
}

/// A built-in or one of the user's agents.
pub async fn find_visible(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<Agent>> {
    let row = sqlx::query_as!(
        AgentRow,
        r#"select id, name, description, system_prompt, welcome_message,
                  llm as "llm: Json<LlmSettings>", stt as "stt: Json<SttSettings>",
                  tts as "tts: Json<TtsSettings>", tools, interruption as "interruption: Json<Interruption>",
                  max_call_seconds, silence_timeout_seconds, recording, is_builtin, created_at, updated_at
           from agents where id = $1 and (user_id = $2 or user_id is null)"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(Agent::from))
}

/// Same, locking the row for a read-modify-write.
pub async fn find_visible_for_update(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<Agent>> {
    let row = sqlx::query_as!(
        AgentRow,
        r#"select id, name, description, system_prompt, welcome_message,
                  llm as "llm: Json<LlmSettings>", stt as "stt: Json<SttSettings>",
                  tts as "tts: Json<TtsSettings>", tools, interruption as "interruption: Json<Interruption>",
                  max_call_seconds, silence_timeout_seconds, recording, is_builtin, created_at, updated_at
           from agents where id = $1 and (user_id = $2 or user_id is null)
           for update"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(Agent::from))
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    a: &AgentInput,
) -> sqlx::Result<Agent> {
    let row = sqlx::query_as!(
        AgentRow,
        r#"insert into agents (id, user_id, name, description, system_prompt, welcome_message, llm, stt, tts,
                               tools, interruption, max_call_seconds, silence_timeout_seconds, recording)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           returning id, name, description, system_prompt, welcome_message,
                  llm as "llm: Json<LlmSettings>", stt as "stt: Json<SttSettings>",
                  tts as "tts: Json<TtsSettings>", tools, interruption as "interruption: Json<Interruption>",
                  max_call_seconds, silence_timeout_seconds, recording, is_builtin, created_at, updated_at"#,
        id,
        user_id,
        a.name.trim(),
        a.description.as_deref(),
        a.system_prompt,
        a.welcome_message.as_deref(),
        Json(&a.llm) as _,
        Json(&a.stt) as _,
        Json(&a.tts) as _,
        &a.tools,
        Json(&a.interruption) as _,
        a.max_call_seconds,
        a.silence_timeout_seconds,
        a.recording
    )
    .fetch_one(db)
    .await?;
    Ok(row.into())
}

/// Replace the writable fields of the user's own (never a built-in) agent.
pub async fn update(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    a: &AgentInput,
) -> sqlx::Result<Option<Agent>> {
    let row = sqlx::query_as!(
        AgentRow,
        r#"update agents set name = $3, description = $4, system_prompt = $5, welcome_message = $6,
                  llm = $7, stt = $8, tts = $9, tools = $10, interruption = $11,
                  max_call_seconds = $12, silence_timeout_seconds = $13, recording = $14
           where id = $1 and user_id = $2 and not is_builtin
           returning id, name, description, system_prompt, welcome_message,
                  llm as "llm: Json<LlmSettings>", stt as "stt: Json<SttSettings>",
                  tts as "tts: Json<TtsSettings>", tools, interruption as "interruption: Json<Interruption>",
                  max_call_seconds, silence_timeout_seconds, recording, is_builtin, created_at, updated_at"#,
        id,
        user_id,
        a.name.trim(),
        a.description.as_deref(),
        a.system_prompt,
        a.welcome_message.as_deref(),
        Json(&a.llm) as _,
        Json(&a.stt) as _,
        Json(&a.tts) as _,
        &a.tools,
        Json(&a.interruption) as _,
        a.max_call_seconds,
        a.silence_timeout_seconds,
        a.recording
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(Agent::from))
}

pub async fn delete(db: impl PgExecutor<'_>, id: Uuid, user_id: Uuid) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "delete from agents where id = $1 and user_id = $2 and not is_builtin",
        id,
        user_id
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}
