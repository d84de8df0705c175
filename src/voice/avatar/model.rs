use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{error::FieldError, http::Validate, voice::routes::SessionCreated};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAvatarSession {
    pub agent_id: Uuid,
    /// LiveAvatar's avatar (default: the server's `avatar.default_avatar_id`).
    #[serde(default)]
    pub avatar_id: Option<String>,
}

impl Validate for CreateAvatarSession {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        match &self.avatar_id {
            Some(a) if a.trim().is_empty() || a.len() > 200 => Err(vec![FieldError::new(
                "avatar_id",
                "must be 1 to 200 characters",
            )]),
            _ => Ok(()),
        }
    }
}

/// `GET /avatar/quota`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Quota {
    /// The calendar month (UTC), `YYYY-MM`.
    pub period: String,
    pub minutes_allowed: i64,
    /// Minutes charged this month.
    pub minutes_used: i64,
    /// Minutes held by sessions running now (charged when they end).
    pub minutes_reserved: i64,
    /// What a new session can still use.
    pub minutes_remaining: i64,
    pub resets_at: DateTime<Utc>,
}

/// The avatar's side of a session: where the browser watches it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvatarRoom {
    /// LiveAvatar's session id.
    pub session_id: Option<String>,
    pub livekit_url: Option<String>,
    /// The browser's LiveKit token (only in the answer to `POST`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livekit_token: Option<String>,
}

/// `201` answer of `POST /avatar/sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvatarSessionCreated {
    pub id: Uuid,
    pub avatar: AvatarRoom,
    /// As `POST /voice/sessions` answers: connect the microphone to `voice.ws_url`.
    pub voice: SessionCreated,
}

#[derive(Debug, sqlx::FromRow)]
pub struct AvatarSessionRow {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub avatar_id: String,
    pub voice_session_id: Option<Uuid>,
    pub call_id: Option<Uuid>,
    pub status: String,
    pub provider_session_id: Option<String>,
    pub livekit_url: Option<String>,
    pub period: NaiveDate,
    pub minutes_reserved: i32,
    pub minutes_charged: Option<i32>,
    pub end_reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvatarSession {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub avatar_id: String,
    pub voice_session_id: Option<Uuid>,
    pub call_id: Option<Uuid>,
    /// `starting`, `active`, `ended`.
    pub status: String,
    pub avatar: AvatarRoom,
    /// The quota month the session counts in (`YYYY-MM`).
    pub period: String,
    /// Minutes held while it runs.
    pub minutes_reserved: i32,
    /// Minutes charged when it ended (start → end, rounded up).
    pub minutes_charged: Option<i32>,
    pub end_reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<AvatarSessionRow> for AvatarSession {
    fn from(r: AvatarSessionRow) -> Self {
        Self {
            id: r.id,
            agent_id: r.agent_id,
            avatar_id: r.avatar_id,
            voice_session_id: r.voice_session_id,
            call_id: r.call_id,
            status: r.status,
            avatar: AvatarRoom {
                session_id: r.provider_session_id,
                livekit_url: r.livekit_url,
                livekit_token: None,
            },
            period: r.period.format("%Y-%m").to_string(),
            minutes_reserved: r.minutes_reserved,
            minutes_charged: r.minutes_charged,
            end_reason: r.end_reason,
            started_at: r.started_at,
            ended_at: r.ended_at,
            created_at: r.created_at,
        }
    }
}
