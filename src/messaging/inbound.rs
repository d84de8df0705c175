//! `POST /api/v1/telephony/twilio/messages`: Twilio's messaging webhook. Verified with
//! `X-Twilio-Signature` (403 otherwise). A reply from a user's verified number ("done",
//! "ok", "snooze 10") acts on that user's newest open notification, and the TwiML answer
//! confirms it in the same conversation. Messages from numbers nobody verified, and texts
//! we do not understand from them, get an empty `<Response/>`: nothing is sent back to an
//! unverified number.

use axum::{
    body::Bytes,
    extract::{OriginalUri, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::phone;
use crate::{
    error::{ApiResult, Problem},
    state::AppState,
    tasks::replies,
};

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn twiml(message: Option<&str>) -> Response {
    let inner = message
        .map(|m| format!("<Message>{}</Message>", xml_escape(m)))
        .unwrap_or_default();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{inner}</Response>"),
    )
        .into_response()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Twilio's messaging webhook (SMS and WhatsApp replies).
#[utoipa::path(post, path = "/messages", tag = "telephony",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "TwiML", content_type = "text/xml", body = String),
              (status = 403, body = Problem)))]
pub async fn messages_webhook(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = crate::telephony::twilio::verified(&state, &uri, &headers, &body)?;
    let from = param(&params, "From").unwrap_or_default();
    let number = from.strip_prefix("whatsapp:").unwrap_or(from);
    let text = param(&params, "Body").unwrap_or_default();
    let Some(user_id) = phone::owner_of(&state.db, number).await? else {
        tracing::info!("inbound message from a number nobody verified");
        return Ok(twiml(None));
    };
    let Some(reply) = replies::parse(text) else {
        return Ok(twiml(Some(
            "Reply DONE, OK or SNOOZE 10 to answer your latest reminder.",
        )));
    };
    let answer = replies::apply(&state, user_id, None, reply).await?;
    Ok(twiml(Some(&answer.message)))
}
