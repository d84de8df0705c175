use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What a call used, summed over its turns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallUsage {
    pub stt_seconds: f64,
    pub llm_input_tokens: u64,
    pub llm_output_tokens: u64,
    pub tts_characters: u64,
}

/// Conversation quality figures of a call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallMetrics {
    pub turns: u32,
    pub response_latency_ms_p50: Option<u64>,
    pub response_latency_ms_p95: Option<u64>,
    pub interruptions: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Call {
    pub id: Uuid,
    pub agent_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    /// `web`, `bolna_ws` or `twilio`.
    pub channel: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// `queued`, `ringing`, `active`, `completed`, `failed`, `no_answer`, `busy`.
    pub status: String,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub end_reason: Option<String>,
    pub usage: CallUsage,
    pub cost_credits: i64,
    /// The bill line by line (`GET /api/v1/pricing` explains the rounding), once completed.
    #[schema(value_type = Option<Object>)]
    pub cost_breakdown: Option<serde_json::Value>,
    pub metrics: CallMetrics,
    pub created_at: DateTime<Utc>,
}

/// One turn of a call's transcript.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TranscriptTurn {
    pub id: Uuid,
    /// `user` or `assistant` (`tool` for tool results).
    pub role: String,
    pub content: String,
    /// The agent was interrupted: `content` is what the user heard.
    pub interrupted: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Transcript {
    pub call_id: Uuid,
    pub data: Vec<TranscriptTurn>,
}
