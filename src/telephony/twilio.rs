//! Twilio webhooks: `POST /voice` answers TwiML (connect the call to our media stream,
//! or refuse politely), `POST /status` records call status callbacks. Both verify
//! `X-Twilio-Signature` against the public URL Twilio called.

use axum::{
    body::Bytes,
    extract::{OriginalUri, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::signature;
use crate::{
    error::{ApiError, ApiResult, Problem},
    state::AppState,
};

/// How long the stream token in the TwiML stays valid.
const STREAM_TOKEN_TTL_SECS: i64 = 120;

fn forbidden() -> ApiError {
    ApiError::Forbidden("invalid Twilio signature".into())
}

/// The form params of a verified webhook (403 when the signature is missing or wrong).
pub(crate) fn verified(
    state: &AppState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Vec<(String, String)>> {
    let params = signature::form_params(body);
    let received = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(forbidden)?;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{path}", state.settings.public_url());
    let token = state.settings.telephony.twilio.auth_token.expose_secret();
    if !signature::verify(token, &url, &params, received) {
        return Err(forbidden());
    }
    Ok(params)
}

pub(super) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn twiml(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{body}</Response>"),
    )
        .into_response()
}

pub(super) fn refuse(message: &str) -> Response {
    twiml(format!("<Say>{}</Say><Hangup/>", xml_escape(message)))
}

fn token_mac(state: &AppState, payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(
        format!(
            "twilio-stream:{}",
            state.settings.auth.jwt_secret.expose_secret()
        )
        .as_bytes(),
    )
    .expect("hmac takes any key");
    mac.update(payload.as_bytes());
    mac
}

/// A signed, short-lived token naming the call and agent a media stream may run.
pub fn stream_token(state: &AppState, call_id: Uuid, agent_id: Uuid) -> String {
    let exp = chrono::Utc::now().timestamp() + STREAM_TOKEN_TTL_SECS;
    let payload = format!("{call_id}.{agent_id}.{exp}");
    let sig = URL_SAFE_NO_PAD.encode(token_mac(state, &payload).finalize().into_bytes());
    format!("{payload}.{sig}")
}

/// `(call_id, agent_id)` of a valid, unexpired stream token.
pub fn check_stream_token(state: &AppState, token: &str) -> Option<(Uuid, Uuid)> {
    let (payload, sig) = token.rsplit_once('.')?;
    let expected = URL_SAFE_NO_PAD.encode(token_mac(state, payload).finalize().into_bytes());
    if !bool::from(expected.as_bytes().ct_eq(sig.as_bytes())) {
        return None;
    }
    let mut parts = payload.split('.');
    let call_id = parts.next()?.parse().ok()?;
    let agent_id = parts.next()?.parse().ok()?;
    let exp: i64 = parts.next()?.parse().ok()?;
    (exp >= chrono::Utc::now().timestamp()).then_some((call_id, agent_id))
}

fn stream_url(state: &AppState) -> String {
    let base = state.settings.public_url();
    let ws = base
        .strip_prefix("https://")
        .map(|r| format!("wss://{r}"))
        .or_else(|| base.strip_prefix("http://").map(|r| format!("ws://{r}")))
        .unwrap_or(base);
    format!("{ws}/api/v1/telephony/twilio/stream")
}

pub(super) fn connect(state: &AppState, call_id: Uuid, agent_id: Uuid) -> Response {
    let token = stream_token(state, call_id, agent_id);
    twiml(format!(
        "<Connect><Stream url=\"{}\"><Parameter name=\"token\" value=\"{}\"/></Stream></Connect>",
        xml_escape(&stream_url(state)),
        xml_escape(&token)
    ))
}

/// Twilio's voice webhook for an inbound call: the called number (`To`) picks the agent
/// and the wallet that pays; the call is recorded and a hold reserved, and the answer
/// connects the call to our media stream. Unknown numbers and wallets that cannot pay
/// get a spoken refusal and a hang-up. For an outbound call (`POST /api/v1/calls`) the
/// callee answered, the existing call is connected instead (`outbound::answer`).
#[utoipa::path(post, path = "/voice", tag = "telephony",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "TwiML", content_type = "text/xml", body = String),
              (status = 403, body = Problem)))]
pub async fn voice_webhook(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = verified(&state, &uri, &headers, &body)?;
    if let Some(answer) = super::outbound::answer(&state, &uri, &params).await? {
        return Ok(answer);
    }
    let to = param(&params, "To").unwrap_or_default();
    let from = param(&params, "From").unwrap_or_default();
    let call_sid = param(&params, "CallSid");
    let Some(owner) = sqlx::query!(
        "select user_id, agent_id from phone_numbers where number = $1",
        to
    )
    .fetch_optional(&state.db)
    .await?
    else {
        return Ok(refuse("Sorry, this number is not in service. Goodbye."));
    };
    let opened =
        match crate::voice::routes::open(&state, owner.user_id, owner.agent_id, None, "twilio")
            .await
        {
            Ok(o) => o,
            Err(ApiError::InsufficientCredits(_)) => {
                return Ok(refuse(
                    "Sorry, this assistant cannot take calls right now. Goodbye.",
                ));
            }
            Err(ApiError::NotFound) => {
                return Ok(refuse("Sorry, this number is not in service. Goodbye."));
            }
            Err(e) => return Err(e),
        };
    sqlx::query!(
        "update calls set from_number = $2, to_number = $3, provider_call_sid = $4 where id = $1",
        opened.call_id,
        from,
        to,
        call_sid
    )
    .execute(&state.db)
    .await?;
    Ok(connect(&state, opened.call_id, owner.agent_id))
}

/// Twilio's status callback: `ringing`, `in-progress` (→ `active`), and the endings
/// `completed`, `busy`, `no-answer` (→ `no_answer`), `failed`, which finalize the call
/// (its hold settled once).
#[utoipa::path(post, path = "/status", tag = "telephony",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 204), (status = 403, body = Problem)))]
pub async fn status_callback(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let params = verified(&state, &uri, &headers, &body)?;
    let sid = param(&params, "CallSid").unwrap_or_default();
    let found = sqlx::query_scalar!("select id from calls where provider_call_sid = $1", sid)
        .fetch_optional(&state.db)
        .await?;
    let found = match found {
        Some(id) => Some(id),
        None => super::outbound::adopt_call_sid(&state, &uri, sid).await?,
    };
    let Some(call_id) = found else {
        // Not ours (or already forgotten): acknowledge so Twilio stops retrying.
        return Ok(StatusCode::NO_CONTENT);
    };
    match param(&params, "CallStatus").unwrap_or_default() {
        "ringing" => {
            sqlx::query!(
                "update calls set status = 'ringing' where id = $1 and status = 'queued'",
                call_id
            )
            .execute(&state.db)
            .await?;
        }
        "in-progress" | "answered" => {
            sqlx::query!(
                "update calls set status = 'active', started_at = coalesce(started_at, now())
                 where id = $1 and status in ('queued', 'ringing')",
                call_id
            )
            .execute(&state.db)
            .await?;
        }
        s @ ("completed" | "busy" | "no-answer" | "failed" | "canceled") => {
            let outcome = match s {
                "completed" => "completed",
                "busy" => "busy",
                "no-answer" => "no_answer",
                _ => "failed",
            };
            end_call(&state, call_id, outcome).await?;
        }
        _ => {}
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The far end is gone: a running media stream is asked to end (it finalizes with its
/// usage); otherwise the call is finalized here. Calls that never connected keep the
/// outcome Twilio reported (`busy`, `no_answer`, `failed`).
async fn end_call(state: &AppState, call_id: Uuid, outcome: &str) -> ApiResult<()> {
    let session = sqlx::query!(
        "update voice_sessions set end_requested = coalesce(end_requested, 'remote_hangup')
         where call_id = $1 returning id, status",
        call_id
    )
    .fetch_optional(&state.db)
    .await?;
    if let Some(s) = &session
        && s.status == "connected"
    {
        crate::voice::wake_live(s.id);
        return Ok(());
    }
    // The finalizer completes queued/active calls; a ringing one counts as queued.
    sqlx::query!(
        "update calls set status = 'queued' where id = $1 and status = 'ringing'",
        call_id
    )
    .execute(&state.db)
    .await?;
    let reason = if outcome == "completed" {
        "remote_hangup"
    } else {
        outcome
    };
    crate::voice::finalize::finalize(
        state,
        call_id,
        reason,
        crate::voice::finalize::Outcome {
            status: (outcome != "completed").then(|| outcome.to_string()),
            ..Default::default()
        },
    )
    .await?;
    if let Some(s) = session {
        sqlx::query!(
            "update voice_sessions set status = 'ended' where id = $1",
            s.id
        )
        .execute(&state.db)
        .await?;
    }
    Ok(())
}
