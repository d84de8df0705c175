//! Outbound phone calls: `POST /api/v1/calls` places a call through Twilio. The call, its
//! voice session and its wallet hold are created first (the same `open` inbound calls use,
//! so an empty wallet answers 402 before anyone's phone rings); then Twilio is asked to
//! dial. When the callee answers, Twilio fetches our voice webhook (`?call_id=` names the
//! call) and gets the same `<Connect><Stream>` TwiML an inbound call gets. If Twilio
//! refuses, the call ends `failed` and its hold is settled (for nothing) exactly once.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{numbers::is_e164, rest, twilio};
use crate::{
    auth::AuthUser,
    calls::{Call, repo as calls_repo},
    error::{ApiError, ApiResult, FieldError, Problem},
    http::{IdempotencyKey, ValidJson, Validate, idempotency},
    state::AppState,
    voice::finalize,
};

/// How long after the call is placed its media stream may still claim the voice session:
/// the ring time plus room for Twilio to queue, dial and fetch the TwiML.
const SESSION_TTL_SECS: i64 = 120 + rest::RING_TIMEOUT_SECS;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCall {
    /// The agent that talks to the callee (one of the caller's agents, or a built-in).
    pub agent_id: Uuid,
    /// E.164, e.g. `+14155550100`.
    pub to_number: String,
}

impl Validate for CreateCall {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        if is_e164(&self.to_number) {
            Ok(())
        } else {
            Err(vec![FieldError::new(
                "to_number",
                "must be an E.164 number like +14155550100",
            )])
        }
    }
}

/// Call a phone number and let an agent talk to whoever answers. The wallet pays for the
/// call as for any other (a hold is reserved now: `402` when it cannot cover a minimum
/// call). Answers the call, `queued`; it then goes `ringing`, `active`, and ends
/// `completed`, `busy`, `no_answer` or `failed` as the telephony provider reports.
/// Accepts `Idempotency-Key`: a replay returns the same call and dials nobody.
#[utoipa::path(post, path = "/", tag = "calls", security(("bearer" = [])),
    request_body = CreateCall,
    params(("Idempotency-Key" = Option<String>, Header, description = "1..=255 characters; replays the first response for 24 h")),
    responses((status = 201, body = Call, headers(("Location" = String))),
        (status = 402, body = Problem, description = "The wallet cannot pay for a minimum call"),
        (status = 404, body = Problem, description = "No such agent"),
        (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 502, body = Problem, description = "The telephony provider refused or failed"),
        (status = 503, body = Problem, description = "Telephony is not configured")))]
pub async fn create_call(
    State(state): State<AppState>,
    auth: AuthUser,
    key: IdempotencyKey,
    ValidJson(input): ValidJson<CreateCall>,
) -> ApiResult<Response> {
    let user_id = auth.user_id;
    idempotency::run(&state, user_id, &key, &input, async |_tx| {
        let call = place(&state, user_id, &input).await?;
        let location = format!("/api/v1/calls/{}", call.id);
        let mut resp = (StatusCode::CREATED, Json(call)).into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        Ok(resp)
    })
    .await
}

/// The number calls come from, or 503 when outbound telephony is not set up.
fn from_number(state: &AppState) -> ApiResult<String> {
    let t = &state.settings.telephony.twilio;
    if t.from_number.is_empty()
        || t.account_sid.is_empty()
        || t.auth_token.expose_secret().is_empty()
    {
        return Err(ApiError::Unavailable(
            "outbound calls are not configured: set CADENCE__TELEPHONY__TWILIO__ACCOUNT_SID, …__AUTH_TOKEN and …__FROM_NUMBER".into(),
        ));
    }
    Ok(t.from_number.clone())
}

async fn place(state: &AppState, user_id: Uuid, input: &CreateCall) -> ApiResult<Call> {
    place_call(state, user_id, input, None).await
}

/// Place an outbound call; `notification_id` makes it a notification's call (its agent
/// reads the notification and takes the answer, see `messaging::call`).
pub(crate) async fn place_call(
    state: &AppState,
    user_id: Uuid,
    input: &CreateCall,
    notification_id: Option<Uuid>,
) -> ApiResult<Call> {
    let from = from_number(state)?;
    let opened = crate::voice::routes::open(state, user_id, input.agent_id, None, "twilio").await?;
    let call_id = opened.call_id;
    if let Some(n) = notification_id {
        sqlx::query!(
            "update voice_sessions set notification_id = $2 where id = $1",
            opened.session_id,
            n
        )
        .execute(&state.db)
        .await?;
    }
    match dial(state, call_id, &from, &input.to_number).await {
        Ok(()) => calls_repo::find(&state.db, call_id, user_id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("call {call_id} vanished"))),
        Err(e) => {
            fail(state, call_id).await;
            Err(e)
        }
    }
}

/// Mark the opened call outbound and ask Twilio to dial.
async fn dial(state: &AppState, call_id: Uuid, from: &str, to: &str) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    sqlx::query!(
        "update calls set direction = 'outbound', from_number = $2, to_number = $3 where id = $1",
        call_id,
        from,
        to
    )
    .execute(&mut *tx)
    .await?;
    // A phone rings for a while before anything connects: keep the session claimable.
    sqlx::query!(
        "update voice_sessions set expires_at = now() + make_interval(secs => $2)
         where call_id = $1 and status = 'created'",
        call_id,
        SESSION_TTL_SECS as f64
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    let base = state.settings.public_url();
    let url = format!("{base}/api/v1/telephony/twilio/voice?call_id={call_id}");
    // `call_id` lets an early callback find the call before its CallSid is stored.
    let status_callback = format!("{base}/api/v1/telephony/twilio/status?call_id={call_id}");
    let sid = rest::create_call(state, to, from, &url, &status_callback).await?;
    let stored = sqlx::query!(
        "update calls set provider_call_sid = $2 where id = $1",
        call_id,
        sid
    )
    .execute(&state.db)
    .await;
    if let Err(e) = stored {
        // Without its CallSid nothing could end this call: hang it up.
        if let Err(h) = rest::hangup(state, &sid).await {
            tracing::warn!(error = %h, %call_id, "could not hang up an outbound call we lost track of");
        }
        return Err(e.into());
    }
    tracing::info!(%call_id, call_sid = %sid, "outbound call placed");
    Ok(())
}

/// The call never got going: complete it (its hold settled for nothing, once) as `failed`.
async fn fail(state: &AppState, call_id: Uuid) {
    let r = async {
        finalize::finalize(
            state,
            call_id,
            "provider_error",
            finalize::Outcome {
                status: Some("failed".into()),
                ..Default::default()
            },
        )
        .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(e) = r {
        tracing::error!(error = %e, %call_id, "could not end a failed outbound call; its hold expires by itself");
    }
}

/// `call_id` from the query string of a webhook URL we gave Twilio.
fn query_call_id(uri: &Uri) -> Option<Result<Uuid, ()>> {
    let q = uri.query()?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "call_id")
        .map(|(_, v)| v.parse().map_err(|_| ()))
}

/// The voice webhook for an outbound call the callee answered (`?call_id=` in the URL we
/// gave, or `Direction=outbound-…` with the stored CallSid): connect it to our media
/// stream, or hang up when the call is gone. `None`: an inbound call, not ours to answer.
pub(super) async fn answer(
    state: &AppState,
    uri: &Uri,
    params: &[(String, String)],
) -> ApiResult<Option<Response>> {
    let outbound = twilio::param(params, "Direction").is_some_and(|d| d.starts_with("outbound"));
    let call_id = query_call_id(uri);
    if call_id.is_none() && !outbound {
        return Ok(None);
    }
    let sid = twilio::param(params, "CallSid").filter(|s| !s.is_empty());
    let call_id = match call_id {
        Some(Ok(id)) => Some(id),
        Some(Err(())) => return Ok(Some(twilio::refuse(GONE))),
        None => None,
    };
    if call_id.is_none() && sid.is_none() {
        return Ok(Some(twilio::refuse(GONE)));
    }
    let call = sqlx::query!(
        "update calls set provider_call_sid = coalesce(provider_call_sid, $2)
         where direction = 'outbound' and status in ('queued', 'ringing', 'active')
           and (id = $1 or ($1::uuid is null and provider_call_sid = $2))
           and (provider_call_sid is null or $2::text is null or provider_call_sid = $2)
         returning id, agent_id",
        call_id,
        sid
    )
    .fetch_optional(&state.db)
    .await?;
    Ok(Some(match call {
        Some(c) => match c.agent_id {
            Some(agent_id) => twilio::connect(state, c.id, agent_id),
            None => twilio::refuse(GONE),
        },
        None => twilio::refuse(GONE),
    }))
}

const GONE: &str = "Sorry, this call can no longer be connected. Goodbye.";

/// A status callback whose CallSid we have not stored yet (it raced the answer to our
/// create-call request): the `call_id` in the callback URL names the outbound call.
pub(super) async fn adopt_call_sid(
    state: &AppState,
    uri: &Uri,
    sid: &str,
) -> ApiResult<Option<Uuid>> {
    let (Some(Ok(call_id)), false) = (query_call_id(uri), sid.is_empty()) else {
        return Ok(None);
    };
    Ok(sqlx::query_scalar!(
        "update calls set provider_call_sid = $2
         where id = $1 and direction = 'outbound' and provider_call_sid is null
         returning id",
        call_id,
        sid
    )
    .fetch_optional(&state.db)
    .await?)
}
