//! Twilio REST: create an outbound call, update (hang up) a call. Like Twilio with test
//! credentials, `To` = +15005550001/2/3 is refused (invalid, unreachable, not permitted).

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use base64::Engine;
use serde_json::{Value, json};

use super::{Failure, LogEntry, Service, SimState, header as hdr};

pub(super) fn twilio_error(status: u16, code: u32, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(json!({"code": code, "message": message, "more_info": "https://www.twilio.com/docs/errors", "status": status})),
    )
        .into_response()
}

/// `(account_sid, token)` from HTTP basic auth.
pub(super) fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = hdr(headers, "authorization")?;
    let b64 = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

pub(super) fn form(raw: &[u8]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        m.insert(k.into_owned(), json!(v.into_owned()));
    }
    Value::Object(m)
}

/// Basic auth with the account SID as user and (when the simulator has a key) the token.
pub(super) fn authorized(state: &SimState, headers: &HeaderMap, sid: &str) -> bool {
    matches!(basic_auth(headers), Some((user, token)) if user == sid && state.check_key(Some(&token)))
}

pub(super) async fn create_call(
    State(state): State<Arc<SimState>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body = form(&raw);
    let id = state.start_entry(LogEntry {
        service: "twilio.calls".into(),
        method: "POST".into(),
        path: format!("/2010-04-01/Accounts/{sid}/Calls.json"),
        auth: basic_auth(&headers).map(|(u, _)| u),
        body: body.clone(),
        status: 201,
        ..Default::default()
    });
    if !authorized(&state, &headers, &sid) {
        state.update(id, |e| e.status = 401);
        return twilio_error(401, 20003, "Authenticate");
    }
    if let Some(Failure::Status { status }) = state.next_reply(Service::Twilio).fail {
        state.update(id, |e| e.status = status);
        return twilio_error(status, 20500, "scripted failure");
    }
    let (Some(to), Some(from)) = (body["To"].as_str(), body["From"].as_str()) else {
        state.update(id, |e| e.status = 400);
        return twilio_error(400, 21201, "No 'To' or 'From' number is specified");
    };
    // Twilio's magic test numbers for numbers it cannot call.
    let refused = match to {
        "+15005550001" => Some((21217, "Phone number is not a valid phone number")),
        "+15005550002" => Some((21214, "'To' phone number cannot be reached")),
        "+15005550003" => Some((21215, "Account not authorized to call this number")),
        _ => None,
    };
    if let Some((code, message)) = refused {
        state.update(id, |e| e.status = 400);
        return twilio_error(400, code, message);
    }
    if body["Url"].is_null() && body["Twiml"].is_null() {
        state.update(id, |e| e.status = 400);
        return twilio_error(400, 21205, "Url or Twiml is required");
    }
    let call_sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    state.update(id, |e| e.completed = true);
    (
        StatusCode::CREATED,
        Json(
            json!({"sid": call_sid, "account_sid": sid, "to": to, "from": from, "status": "queued",
            "direction": "outbound-api", "api_version": "2010-04-01",
            "uri": format!("/2010-04-01/Accounts/{sid}/Calls/{call_sid}.json")}),
        ),
    )
        .into_response()
}

pub(super) async fn update_call(
    State(state): State<Arc<SimState>>,
    Path((sid, call_file)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body = form(&raw);
    let call_sid = call_file.trim_end_matches(".json").to_string();
    let id = state.start_entry(LogEntry {
        service: "twilio.call_update".into(),
        method: "POST".into(),
        path: format!("/2010-04-01/Accounts/{sid}/Calls/{call_file}"),
        auth: basic_auth(&headers).map(|(u, _)| u),
        body: body.clone(),
        status: 200,
        ..Default::default()
    });
    if !authorized(&state, &headers, &sid) {
        state.update(id, |e| e.status = 401);
        return twilio_error(401, 20003, "Authenticate");
    }
    let status = body["Status"].as_str().unwrap_or("in-progress").to_string();
    state.update(id, |e| e.completed = true);
    Json(json!({"sid": call_sid, "account_sid": sid, "status": status})).into_response()
}
