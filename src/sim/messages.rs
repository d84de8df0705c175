//! Twilio Messages: `POST /2010-04-01/Accounts/{sid}/Messages.json` (SMS and WhatsApp)
//! records each message and answers `201` with Twilio's message resource; scripted
//! failures come from the `twilio_messages` queue, and like Twilio with test credentials
//! `To` = +15005550001 (invalid), +15005550009 (not a mobile number) and +15005550004
//! (unsubscribed) are refused. The other direction: [`deliver_inbound`] (also `POST
//! /__sim/twilio/messages/inbound`) posts an inbound message to a messaging webhook, signed
//! with `X-Twilio-Signature` as Twilio signs it.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::twilio::{authorized, basic_auth, form, twilio_error};
use super::{Failure, LogEntry, Service, SimState};

pub(super) async fn create_message(
    State(state): State<Arc<SimState>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body = form(&raw);
    let id = state.start_entry(LogEntry {
        service: "twilio.messages".into(),
        method: "POST".into(),
        path: format!("/2010-04-01/Accounts/{sid}/Messages.json"),
        auth: basic_auth(&headers).map(|(u, _)| u),
        body: body.clone(),
        status: 201,
        ..Default::default()
    });
    if !authorized(&state, &headers, &sid) {
        state.update(id, |e| e.status = 401);
        return twilio_error(401, 20003, "Authenticate");
    }
    if let Some(Failure::Status { status }) = state.next_reply(Service::TwilioMessages).fail {
        state.update(id, |e| e.status = status);
        return twilio_error(status, 20500, "scripted failure");
    }
    let (Some(to), Some(from)) = (body["To"].as_str(), body["From"].as_str()) else {
        state.update(id, |e| e.status = 400);
        return twilio_error(400, 21604, "A 'To' and a 'From' phone number are required");
    };
    let text = body["Body"].as_str().unwrap_or_default();
    if text.is_empty() {
        state.update(id, |e| e.status = 400);
        return twilio_error(400, 21602, "Message body is required");
    }
    if to.starts_with("whatsapp:") != from.starts_with("whatsapp:") {
        state.update(id, |e| e.status = 400);
        return twilio_error(
            400,
            63007,
            "Twilio could not find a Channel with the specified From address",
        );
    }
    let refused = match to.trim_start_matches("whatsapp:") {
        "+15005550001" => Some((21211, "Invalid 'To' Phone Number")),
        "+15005550009" => Some((21614, "'To' number is not a valid mobile number")),
        "+15005550004" => Some((21610, "Attempt to send to unsubscribed recipient")),
        _ => None,
    };
    if let Some((code, message)) = refused {
        state.update(id, |e| e.status = 400);
        return twilio_error(400, code, message);
    }
    let msg_sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    let now = chrono::Utc::now().to_rfc2822();
    state.update(id, |e| e.completed = true);
    (
        StatusCode::CREATED,
        Json(json!({
            "account_sid": sid, "api_version": "2010-04-01", "body": text,
            "date_created": now, "date_sent": null, "date_updated": now,
            "direction": "outbound-api", "error_code": null, "error_message": null,
            "from": from, "messaging_service_sid": null, "num_media": "0",
            "num_segments": "1", "price": null, "price_unit": "USD", "sid": msg_sid,
            "status": "queued", "to": to,
            "subresource_uris": {"media": format!("/2010-04-01/Accounts/{sid}/Messages/{msg_sid}/Media.json")},
            "uri": format!("/2010-04-01/Accounts/{sid}/Messages/{msg_sid}.json"),
        })),
    )
        .into_response()
}

/// An inbound message for a messaging webhook.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InboundMessage {
    /// The webhook's public URL: what Twilio signs.
    pub url: String,
    /// Where to actually send the request when it differs from `url` (a server behind a
    /// proxy or on a local address); the signature still covers `url`.
    pub deliver_to: Option<String>,
    /// The sender, `+E164` or `whatsapp:+E164`.
    pub from: String,
    /// Our number, same form.
    pub to: String,
    pub body: String,
    pub account_sid: Option<String>,
    /// The auth token to sign with (default: the simulator's key).
    pub auth_token: Option<String>,
}

/// What the webhook answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// Post `m` to its webhook as Twilio would: form `MessageSid`, `AccountSid`, `From`, `To`,
/// `Body`, `NumMedia`, … with `X-Twilio-Signature`. Logged as `twilio.inbound_message`
/// with the webhook's status.
pub(super) async fn deliver_inbound(
    state: &SimState,
    m: InboundMessage,
) -> anyhow::Result<WebhookAnswer> {
    let token = m
        .auth_token
        .clone()
        .or_else(|| state.config().api_key)
        .unwrap_or_default();
    let account = m.account_sid.clone().unwrap_or_else(|| "AC_sim".into());
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    let params: Vec<(String, String)> = [
        ("MessageSid", sid.as_str()),
        ("SmsMessageSid", sid.as_str()),
        ("SmsSid", sid.as_str()),
        ("AccountSid", account.as_str()),
        ("MessagingServiceSid", ""),
        ("From", m.from.as_str()),
        ("To", m.to.as_str()),
        ("Body", m.body.as_str()),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsStatus", "received"),
        ("ApiVersion", "2010-04-01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let signature = crate::telephony::signature::sign(&token, &m.url, &params);
    let id = state.start_entry(LogEntry {
        service: "twilio.inbound_message".into(),
        method: "POST".into(),
        path: m.url.clone(),
        body: json!({"From": m.from, "To": m.to, "Body": m.body, "MessageSid": sid}),
        ..Default::default()
    });
    let target = m.deliver_to.clone().unwrap_or_else(|| m.url.clone());
    crate::install_crypto_provider();
    let resp = reqwest::Client::new()
        .post(target)
        .header("x-twilio-signature", signature)
        .header("user-agent", "TwilioProxy/1.1")
        .timeout(std::time::Duration::from_secs(15))
        .form(&params)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = resp.text().await.unwrap_or_default();
    state.update(id, |e| {
        e.status = status;
        e.completed = true;
    });
    Ok(WebhookAnswer {
        status,
        content_type,
        body,
    })
}

pub(super) async fn post_inbound(
    State(state): State<Arc<SimState>>,
    Json(m): Json<InboundMessage>,
) -> Response {
    match deliver_inbound(&state, m).await {
        Ok(a) => Json(a).into_response(),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}
