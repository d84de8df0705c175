use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    assistant::ToolOutcome,
    error::{ApiError, FieldError},
    http::{Patch, Validate, Validator},
    records::MAX_TITLE_CHARS,
    text_enum,
};

/// A message is at most this many characters.
pub const MAX_MESSAGE_CHARS: usize = 32_000;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    pub title: Option<String>,
    /// The agent that answers (the built-in assistant when `null`).
    pub agent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
}

text_enum! {
    /// Who wrote a message.
    pub enum Role {
        User = "user",
        Assistant = "assistant",
        Tool = "tool",
        System = "system",
    }
}

/// What an assistant message cost.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageUsage {
    pub model: String,
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// Counted locally (a cancelled or failed reply) rather than reported by the vendor.
    pub estimated: bool,
    /// Credits charged to the wallet for this reply.
    pub credits: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub role: Role,
    pub content: String,
    pub agent_id: Option<Uuid>,
    /// The tools the assistant called for this reply, with their results.
    pub tool_calls: Vec<ToolOutcome>,
    pub usage: Option<MessageUsage>,
    /// `citations: [{source_type, source_id}]`: the retrieved items (notes, memories,
    /// tasks) the assistant's context carried for this reply.
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
}

pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub role: String,
    pub content: String,
    pub agent_id: Option<Uuid>,
    pub tool_calls: Value,
    pub usage: Option<Value>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<MessageRow> for Message {
    type Error = ApiError;

    fn try_from(r: MessageRow) -> Result<Self, ApiError> {
        Ok(Message {
            id: r.id,
            conversation_id: r.conversation_id,
            role: Role::from_db(&r.role)?,
            content: r.content,
            agent_id: r.agent_id,
            tool_calls: serde_json::from_value(r.tool_calls).map_err(ApiError::internal)?,
            usage: r
                .usage
                .map(serde_json::from_value)
                .transpose()
                .map_err(ApiError::internal)?,
            metadata: r.metadata,
            created_at: r.created_at,
        })
    }
}

/// `POST /conversations`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversation {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub agent_id: Option<Uuid>,
}

impl Validate for CreateConversation {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        if let Some(t) = &self.title {
            v.text(t, "title", MAX_TITLE_CHARS);
        }
        v.finish()
    }
}

/// `PATCH /conversations/{id}`: `null` clears the title or the agent.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversation {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub agent_id: Patch<Uuid>,
}

impl Validate for UpdateConversation {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        if let Some(t) = self.title.as_value() {
            v.text(t, "title", MAX_TITLE_CHARS);
        }
        v.finish()
    }
}

/// `POST /conversations/{id}/messages`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    pub content: String,
    /// Answer with this agent (else the conversation's, else the built-in assistant).
    #[serde(default)]
    pub agent_id: Option<Uuid>,
}

impl Validate for PostMessage {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        v.text(&self.content, "content", MAX_MESSAGE_CHARS);
        v.finish()
    }
}

/// `201` of `POST /conversations/{id}/messages`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Exchange {
    pub user_message: Message,
    pub assistant_message: Message,
}
