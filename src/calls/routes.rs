use axum::{
    Json,
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    model::{Call, Transcript},
    repo::{self, CallFilter},
};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Problem},
    http::{Page, Pagination, QueryParams, pagination::PageParams},
    state::AppState,
};

#[derive(Debug, Deserialize, IntoParams)]
#[allow(dead_code)]
pub struct CallListParams {
    pub agent_id: Option<Uuid>,
    /// `queued`, `ringing`, `active`, `completed`, `failed`, `no_answer`, `busy`.
    pub status: Option<String>,
    /// `web`, `bolna_ws`, `twilio`.
    pub channel: Option<String>,
    /// Calls created at or after (a date `YYYY-MM-DD` or an RFC 3339 time).
    pub from: Option<String>,
    /// Calls created before (a date is exclusive of that day's end: `to=2026-11-23` ends at its midnight).
    pub to: Option<String>,
}

const STATUSES: [&str; 7] = [
    "queued",
    "ringing",
    "active",
    "completed",
    "failed",
    "no_answer",
    "busy",
];
const CHANNELS: [&str; 3] = ["web", "bolna_ws", "twilio"];

fn when(q: &QueryParams, name: &str) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(v) = q.text(name) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(d) = v.parse::<NaiveDate>() {
        return Ok(Some(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()));
    }
    Err(ApiError::validation(
        name,
        "must be a date (YYYY-MM-DD) or an RFC 3339 time",
    ))
}

fn one_of(q: &QueryParams, name: &str, allowed: &[&str]) -> ApiResult<Option<String>> {
    match q.text(name) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
        Some(_) => Err(ApiError::validation(
            name,
            format!("must be one of {}", allowed.join(", ")),
        )),
    }
}

/// The caller's calls, newest first.
#[utoipa::path(get, path = "/", tag = "calls", security(("bearer" = [])),
    params(CallListParams, PageParams),
    responses((status = 200, body = Page<Call>), (status = 422, body = Problem)))]
pub async fn list_calls(
    State(state): State<AppState>,
    auth: AuthUser,
    q: QueryParams,
    page: Pagination,
) -> ApiResult<Json<Page<Call>>> {
    let filter = CallFilter {
        agent_id: q.uuid("agent_id")?,
        status: one_of(&q, "status", &STATUSES)?,
        channel: one_of(&q, "channel", &CHANNELS)?,
        from: when(&q, "from")?,
        to: when(&q, "to")?,
    };
    let rows = repo::list(&state.db, auth.user_id, &filter, &page).await?;
    Ok(Json(Page::from_rows(rows, &page, |c| (c.created_at, c.id))))
}

#[utoipa::path(get, path = "/{id}", tag = "calls", security(("bearer" = [])),
    responses((status = 200, body = Call), (status = 404, body = Problem)))]
pub async fn get_call(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Call>> {
    repo::find(&state.db, id, auth.user_id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// The call's transcript, oldest turn first (so far, while the call is live).
#[utoipa::path(get, path = "/{id}/transcript", tag = "calls", security(("bearer" = [])),
    responses((status = 200, body = Transcript), (status = 404, body = Problem)))]
pub async fn get_transcript(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Transcript>> {
    let data = repo::transcript(&state.db, id, auth.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(Transcript { call_id: id, data }))
}

/// WAV (PCM16 mono 16 kHz) of both sides, mixed, when the agent records calls. 404 when
/// there is no recording.
#[utoipa::path(get, path = "/{id}/recording", tag = "calls", security(("bearer" = [])),
    responses((status = 200, description = "audio/wav", content_type = "audio/wav"),
              (status = 404, body = Problem)))]
pub async fn get_recording(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let wav = repo::recording(&state.db, id, auth.user_id)
        .await?
        .flatten()
        .ok_or(ApiError::NotFound)?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], wav).into_response())
}
