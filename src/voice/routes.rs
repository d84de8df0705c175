use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    accounts::service as auth,
    agents::service as agents,
    auth::AuthUser,
    calls::{model::Transcript, repo as calls_repo},
    error::{ApiError, ApiResult, FieldError, Problem},
    http::{ValidJson, Validate},
    state::AppState,
    wallet::{model::HoldRef, service as wallet},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    pub agent_id: Uuid,
    #[serde(default)]
    pub conversation_id: Option<Uuid>,
}

impl Validate for CreateSession {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        Ok(())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AudioFormat {
    pub encoding: &'static str,
    pub sample_rate: u32,
    pub channels: u8,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionCreated {
    pub session_id: Uuid,
    pub call_id: Uuid,
    pub ws_url: String,
    /// Single-use ticket for the WebSocket (also inside `ws_url`).
    pub ticket: String,
    /// Connect before this.
    pub expires_at: DateTime<Utc>,
    pub audio: AudioFormat,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceSession {
    pub id: Uuid,
    pub call_id: Uuid,
    pub agent_id: Uuid,
    /// `created` (not connected yet), `connected`, `ended`.
    pub status: String,
    /// The call's status (`queued`, `active`, `completed`).
    pub call_status: String,
    pub end_reason: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// A session opened for a channel: the call and its hold exist; the client still has to connect.
pub(crate) struct Opened {
    pub session_id: Uuid,
    pub call_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// Create the call, reserve its first hold and record the session (402 when the wallet
/// cannot pay for a minimum call).
pub(crate) async fn open(
    state: &AppState,
    user_id: Uuid,
    agent_id: Uuid,
    conversation_id: Option<Uuid>,
    channel: &str,
) -> ApiResult<Opened> {
    agents::find(&state.db, agent_id, user_id).await?;
    if let Some(cid) = conversation_id
        && crate::chat::repo::find_conversation(&state.db, user_id, cid)
            .await?
            .is_none()
    {
        return Err(ApiError::validation(
            "conversation_id",
            "no such conversation",
        ));
    }
    let session_id = Uuid::now_v7();
    let call_id = Uuid::now_v7();
    let amount = state.settings.billing.call_min_credits.max(1);
    let ttl = chrono::Duration::seconds(state.settings.billing.hold_ttl_secs);
    let expires_at = Utc::now() + chrono::Duration::seconds(state.settings.auth.ws_ticket_ttl_secs);
    let mut tx = state.db.begin().await?;
    let hold =
        wallet::reserve(&mut tx, user_id, amount, ttl, HoldRef::new("call", call_id)).await?;
    calls_repo::insert(
        &mut *tx,
        &calls_repo::NewCall {
            id: call_id,
            user_id,
            agent_id,
            conversation_id,
            channel,
            hold_id: hold.id,
        },
    )
    .await?;
    sqlx::query!(
        "insert into voice_sessions (id, user_id, call_id, agent_id, status, expires_at)
         values ($1, $2, $3, $4, 'created', $5)",
        session_id,
        user_id,
        call_id,
        agent_id,
        expires_at
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Opened {
        session_id,
        call_id,
        expires_at,
    })
}

/// Start a voice session with an agent: the call is created and a wallet hold reserved;
/// connect to `ws_url` (it carries a single-use ticket) before `expires_at`.
#[utoipa::path(post, path = "/sessions", tag = "voice", security(("bearer" = [])),
    request_body = CreateSession,
    responses((status = 201, body = SessionCreated, headers(("Location" = String))),
              (status = 402, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn create_session(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(input): ValidJson<CreateSession>,
) -> ApiResult<(
    StatusCode,
    [(header::HeaderName, String); 1],
    Json<SessionCreated>,
)> {
    let opened = open(
        &state,
        user.user_id,
        input.agent_id,
        input.conversation_id,
        "web",
    )
    .await
    .map_err(|e| match e {
        ApiError::NotFound => ApiError::validation("agent_id", "no such agent"),
        e => e,
    })?;
    let location = format!("/api/v1/voice/sessions/{}", opened.session_id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(connect_info(&state, user, opened).await?),
    ))
}

/// The answer to a session opened for the web client: its ticket and WebSocket URL.
pub(crate) async fn connect_info(
    state: &AppState,
    user: AuthUser,
    opened: Opened,
) -> ApiResult<SessionCreated> {
    let ticket = auth::create_ws_ticket(state, user).await?;
    let base = state.settings.public_url();
    let ws_base = base
        .strip_prefix("https://")
        .map(|r| format!("wss://{r}"))
        .or_else(|| base.strip_prefix("http://").map(|r| format!("ws://{r}")))
        .unwrap_or(base);
    Ok(SessionCreated {
        session_id: opened.session_id,
        call_id: opened.call_id,
        ws_url: format!(
            "{ws_base}/api/v1/voice/sessions/{}/ws?ticket={}",
            opened.session_id, ticket.ticket
        ),
        ticket: ticket.ticket,
        expires_at: opened.expires_at,
        audio: AudioFormat {
            encoding: "pcm_s16le",
            sample_rate: 16000,
            channels: 1,
        },
    })
}

async fn find(state: &AppState, id: Uuid, user_id: Uuid) -> ApiResult<VoiceSession> {
    sqlx::query_as!(
        VoiceSession,
        r#"select s.id, s.call_id, s.agent_id, s.status, c.status as call_status, c.end_reason,
                  s.expires_at, s.created_at
           from voice_sessions s join calls c on c.id = s.call_id
           where s.id = $1 and s.user_id = $2"#,
        id,
        user_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(ApiError::NotFound)
}

#[utoipa::path(get, path = "/sessions/{id}", tag = "voice", security(("bearer" = [])),
    responses((status = 200, body = VoiceSession), (status = 404, body = Problem)))]
pub async fn get_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<VoiceSession>> {
    Ok(Json(find(&state, id, user.user_id).await?))
}

/// The transcript so far.
#[utoipa::path(get, path = "/sessions/{id}/messages", tag = "voice", security(("bearer" = [])),
    responses((status = 200, body = Transcript), (status = 404, body = Problem)))]
pub async fn session_messages(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Transcript>> {
    let s = find(&state, id, user.user_id).await?;
    let data = calls_repo::transcript(&state.db, s.call_id, user.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(Transcript {
        call_id: s.call_id,
        data,
    }))
}

/// End the session. The instance running it (any instance) ends it and finalizes the call
/// once; a session that never connected (or whose instance is gone) is finalized here.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "voice", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    end_session(&state, id, user.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End a voice session for its owner (404 when not theirs): wake the instance running it and
/// wait (bounded) for it to finalize, else finalize here.
pub(crate) async fn end_session(state: &AppState, id: Uuid, user_id: Uuid) -> ApiResult<()> {
    let row = sqlx::query!(
        "update voice_sessions set end_requested = coalesce(end_requested, 'deleted')
         where id = $1 and user_id = $2 returning status, call_id",
        id,
        user_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(ApiError::NotFound)?;
    if row.status == "connected" {
        super::wake_live(id);
        // Wait (bounded) for the running session to finalize with its usage.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline {
            let status = sqlx::query_scalar!("select status from calls where id = $1", row.call_id)
                .fetch_one(&state.db)
                .await?;
            if status == "completed" {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    super::finalize::finalize(
        state,
        row.call_id,
        "deleted",
        super::finalize::Outcome::default(),
    )
    .await?;
    Ok(())
}
