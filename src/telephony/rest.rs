//! The Twilio REST calls we make: place an outbound call
//! (`POST {base}/2010-04-01/Accounts/{sid}/Calls.json`) and hang one up
//! (`POST …/Calls/{CallSid}.json` with `Status=completed`), form-encoded with HTTP basic
//! auth `account_sid:auth_token`. The token is never logged.

use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::{error::ApiError, state::AppState};

const TIMEOUT: Duration = Duration::from_secs(15);

/// How long Twilio lets the callee's phone ring (Twilio's default), in seconds.
pub const RING_TIMEOUT_SECS: i64 = 60;

/// Twilio error codes that mean the `To` number itself is unusable: invalid, not
/// reachable, not allowed by the account's geographic permissions, blocked.
const TO_NUMBER_ERRORS: [u32; 8] = [21211, 21214, 21215, 21216, 21217, 21401, 21407, 21421];

#[derive(Debug, Deserialize)]
struct CreatedCall {
    sid: String,
}

#[derive(Debug, Default, Deserialize)]
struct TwilioError {
    #[serde(default)]
    code: Option<u32>,
    #[serde(default)]
    message: Option<String>,
}

/// Twilio's error code and message in a refusal's body (`0` and empty when it has none).
pub(crate) fn refusal(body: &[u8]) -> (u32, String) {
    let err: TwilioError = serde_json::from_slice(body).unwrap_or_default();
    (err.code.unwrap_or(0), err.message.unwrap_or_default())
}

/// A form POST to Twilio's REST API with the account's basic auth, timed as
/// `provider_latency_seconds{provider="twilio", op}`. The answer's status and body, or the
/// error that kept it from arriving (`Err(true)`: the request failed, `Err(false)`: the body
/// could not be read), already logged.
pub(crate) async fn post_form(
    state: &AppState,
    url: String,
    (sid, token): (&str, &str),
    form: &[(&str, &str)],
    op: &'static str,
) -> Result<(reqwest::StatusCode, bytes::Bytes), bool> {
    let started = std::time::Instant::now();
    let resp = state
        .http
        .post(url)
        .basic_auth(sid, Some(token))
        .timeout(TIMEOUT)
        .form(form)
        .send()
        .await;
    metrics::histogram!("provider_latency_seconds", "provider" => "twilio", "op" => op)
        .record(started.elapsed().as_secs_f64());
    let resp = resp.map_err(|e| {
        tracing::warn!(error = %e, op, "Twilio request failed");
        true
    })?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| {
        tracing::warn!(error = %e, op, "reading Twilio's answer failed");
        false
    })?;
    Ok((status, body))
}

/// `(account_sid, auth_token)`, or 503 when outbound telephony is not configured.
fn credentials(state: &AppState) -> Result<(&str, &str), ApiError> {
    let t = &state.settings.telephony.twilio;
    let token = t.auth_token.expose_secret();
    if t.account_sid.is_empty() || token.is_empty() {
        return Err(ApiError::Unavailable(
            "outbound calls are not configured (set CADENCE__TELEPHONY__TWILIO__ACCOUNT_SID and …__AUTH_TOKEN)".into(),
        ));
    }
    Ok((&t.account_sid, token))
}

fn calls_url(state: &AppState, account_sid: &str) -> String {
    format!(
        "{}/2010-04-01/Accounts/{account_sid}/Calls",
        state
            .settings
            .telephony
            .twilio
            .base_url
            .trim_end_matches('/')
    )
}

/// Ask Twilio to call `to` from `from`; when the callee answers Twilio fetches TwiML from
/// `url`, and reports progress (ringing, answered, completed) to `status_callback`.
/// Returns the new CallSid. Errors: 422 (`to_number`) when Twilio rejects the number,
/// 502 when Twilio refuses otherwise or cannot be reached, 503 when not configured.
pub async fn create_call(
    state: &AppState,
    to: &str,
    from: &str,
    url: &str,
    status_callback: &str,
) -> Result<String, ApiError> {
    let (sid, token) = credentials(state)?;
    let timeout = RING_TIMEOUT_SECS.to_string();
    let form = [
        ("To", to),
        ("From", from),
        ("Url", url),
        ("Method", "POST"),
        ("StatusCallback", status_callback),
        ("StatusCallbackMethod", "POST"),
        ("StatusCallbackEvent", "ringing"),
        ("StatusCallbackEvent", "answered"),
        ("StatusCallbackEvent", "completed"),
        ("Timeout", timeout.as_str()),
    ];
    let url = format!("{}.json", calls_url(state, sid));
    let (status, body) = post_form(state, url, (sid, token), &form, "create_call")
        .await
        .map_err(|unreached| {
            ApiError::Provider(if unreached {
                "the telephony provider could not be reached".into()
            } else {
                "the telephony provider's answer could not be read".into()
            })
        })?;
    if !status.is_success() {
        let (code, message) = refusal(&body);
        tracing::warn!(%status, code, %message, "Twilio refused to place a call");
        if status.as_u16() == 400 && TO_NUMBER_ERRORS.contains(&code) {
            return Err(ApiError::validation(
                "to_number",
                format!("was rejected by the telephony provider: {message} (Twilio error {code})"),
            ));
        }
        let detail = if status.is_server_error() {
            format!("the telephony provider failed ({status}); try again later")
        } else {
            format!("the telephony provider refused the call: {message} (Twilio error {code})")
        };
        return Err(ApiError::Provider(detail));
    }
    let call: CreatedCall = serde_json::from_slice(&body).map_err(|e| {
        tracing::warn!(error = %e, "Twilio's created call is not the expected JSON");
        ApiError::Provider("the telephony provider answered unexpectedly".into())
    })?;
    Ok(call.sid)
}

/// Hang up a call (`Status=completed`). Twilio answers 200 for a call that already ended.
pub async fn hangup(state: &AppState, call_sid: &str) -> anyhow::Result<()> {
    let (sid, token) = credentials(state).map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = std::time::Instant::now();
    let resp = state
        .http
        .post(format!("{}/{call_sid}.json", calls_url(state, sid)))
        .basic_auth(sid, Some(token))
        .timeout(TIMEOUT)
        .form(&[("Status", "completed")])
        .send()
        .await;
    metrics::histogram!("provider_latency_seconds", "provider" => "twilio", "op" => "hangup")
        .record(started.elapsed().as_secs_f64());
    let resp = resp.context("Twilio hang-up request failed")?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.bytes().await.unwrap_or_default();
        let err: TwilioError = serde_json::from_slice(&body).unwrap_or_default();
        anyhow::bail!(
            "Twilio refused to hang up {call_sid}: {status} (error {}: {})",
            err.code.unwrap_or(0),
            err.message.unwrap_or_default()
        );
    }
    Ok(())
}
