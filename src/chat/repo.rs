use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::{Conversation, MessageRow};

pub async fn insert_conversation(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    title: Option<&str>,
    agent_id: Option<Uuid>,
) -> sqlx::Result<Conversation> {
    sqlx::query_as!(
        Conversation,
        r#"insert into conversations (id, user_id, title, agent_id) values ($1, $2, $3, $4)
           returning id, title, agent_id, created_at, updated_at, last_message_at"#,
        id,
        user_id,
        title,
        agent_id
    )
    .fetch_one(db)
    .await
}

pub async fn find_conversation(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Conversation>> {
    sqlx::query_as!(
        Conversation,
        r#"select id, title, agent_id, created_at, updated_at, last_message_at
           from conversations where id = $1 and user_id = $2"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// Newest first.
pub async fn list_conversations(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Conversation>> {
    let (ts, id) = cursor.unzip();
    sqlx::query_as!(
        Conversation,
        r#"select id, title, agent_id, created_at, updated_at, last_message_at
           from conversations
           where user_id = $1
             and (created_at, id) < (coalesce($2, 'infinity'::timestamptz),
                                     coalesce($3, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
           order by created_at desc, id desc
           limit $4"#,
        user_id,
        ts,
        id,
        limit
    )
    .fetch_all(db)
    .await
}

pub async fn update_conversation(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    title: Option<&str>,
    agent_id: Option<Uuid>,
) -> sqlx::Result<Option<Conversation>> {
    sqlx::query_as!(
        Conversation,
        r#"update conversations set title = $3, agent_id = $4
           where id = $1 and user_id = $2
           returning id, title, agent_id, created_at, updated_at, last_message_at"#,
        id,
        user_id,
        title,
        agent_id
    )
    .fetch_optional(db)
    .await
}

/// A message was added: stamp `last_message_at` and give an untitled conversation a title.
pub async fn touch_conversation(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    at: DateTime<Utc>,
    title_if_none: Option<&str>,
) -> sqlx::Result<Option<Conversation>> {
    sqlx::query_as!(
        Conversation,
        r#"update conversations
           set last_message_at = greatest(last_message_at, $3), title = coalesce(title, $4)
           where id = $1 and user_id = $2
           returning id, title, agent_id, created_at, updated_at, last_message_at"#,
        id,
        user_id,
        at,
        title_if_none
    )
    .fetch_optional(db)
    .await
}

pub async fn delete_conversation(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "delete from conversations where id = $1 and user_id = $2",
        id,
        user_id
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

pub struct NewMessage<'a> {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub user_id: Uuid,
    pub role: &'a str,
    pub content: &'a str,
    pub agent_id: Option<Uuid>,
    pub tool_calls: &'a Value,
    pub usage: Option<&'a Value>,
    /// `None`: `{}`.
    pub metadata: Option<&'a Value>,
}

pub async fn insert_message(
    db: impl PgExecutor<'_>,
    m: NewMessage<'_>,
) -> sqlx::Result<MessageRow> {
    sqlx::query_as!(
        MessageRow,
        r#"insert into messages (id, conversation_id, user_id, role, content, agent_id, tool_calls, usage,
                                 metadata)
           values ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, '{}'::jsonb))
           returning id, conversation_id, role, content, agent_id, tool_calls, usage, metadata,
                     created_at"#,
        m.id,
        m.conversation_id,
        m.user_id,
        m.role,
        m.content,
        m.agent_id,
        m.tool_calls,
        m.usage,
        m.metadata
    )
    .fetch_one(db)
    .await
}

/// Oldest first, after the cursor.
pub async fn list_messages(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    conversation_id: Uuid,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    let (ts, id) = cursor.unzip();
    sqlx::query_as!(
        MessageRow,
        r#"select id, conversation_id, role, content, agent_id, tool_calls, usage, metadata,
                  created_at
           from messages
           where conversation_id = $1 and user_id = $2
             and (created_at, id) > (coalesce($3, '-infinity'::timestamptz),
                                     coalesce($4, '00000000-0000-0000-0000-000000000000'::uuid))
           order by created_at, id
           limit $5"#,
        conversation_id,
        user_id,
        ts,
        id,
        limit
    )
    .fetch_all(db)
    .await
}

/// The latest `limit` messages, oldest first (the history for the model).
pub async fn recent_messages(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    conversation_id: Uuid,
    before: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as!(
        MessageRow,
        r#"select id as "id!", conversation_id as "conversation_id!", role as "role!",
                  content as "content!", agent_id, tool_calls as "tool_calls!", usage,
                  metadata as "metadata!", created_at as "created_at!"
           from (select id, conversation_id, role, content, agent_id, tool_calls, usage, metadata,
                        created_at
                 from messages
                 where conversation_id = $1 and user_id = $2 and id <> $3
                 order by created_at desc, id desc
                 limit $4) recent
           order by created_at, id"#,
        conversation_id,
        user_id,
        before,
        limit
    )
    .fetch_all(db)
    .await
}

/// What memory extraction has not read yet: the user and assistant messages of the
/// conversation after its `memory_extracted_until`, up to and including `up_to`, oldest
/// first (the newest `limit` of them).
pub async fn unextracted_messages(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    conversation_id: Uuid,
    up_to: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as!(
        MessageRow,
        r#"select id as "id!", conversation_id as "conversation_id!", role as "role!",
                  content as "content!", agent_id, tool_calls as "tool_calls!", usage,
                  metadata as "metadata!", created_at as "created_at!"
           from (select m.id, m.conversation_id, m.role, m.content, m.agent_id, m.tool_calls,
                        m.usage, m.metadata, m.created_at
                 from messages m
                 join conversations c on c.id = m.conversation_id and c.user_id = m.user_id
                 where m.conversation_id = $1 and m.user_id = $2
                   and m.role in ('user', 'assistant') and m.content <> ''
                   and m.created_at > coalesce(c.memory_extracted_until, '-infinity')
                   and m.created_at <= (select created_at from messages
                                        where id = $3 and conversation_id = $1)
                 order by m.created_at desc, m.id desc
                 limit $4) fresh
           order by created_at, id"#,
        conversation_id,
        user_id,
        up_to,
        limit
    )
    .fetch_all(db)
    .await
}

/// Memory extraction has read the conversation up to `until` (never moves back).
pub async fn mark_extracted(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    conversation_id: Uuid,
    until: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"update conversations
           set memory_extracted_until = greatest(coalesce(memory_extracted_until, $3), $3)
           where id = $1 and user_id = $2"#,
        conversation_id,
        user_id,
        until
    )
    .execute(db)
    .await?;
    Ok(())
}
