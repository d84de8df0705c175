//! A Web Push service (RFC 8030) with the browser's half attached: a subscription is
//! registered with its P-256 private key and auth secret (tests make the keypair, as a
//! browser would); `POST /push/{id}` checks the request as a push service does (VAPID JWT
//! per RFC 8292 for this origin, `TTL`, `Content-Encoding: aes128gcm`), decrypts the
//! payload (RFC 8291) and keeps it for the test to read. A subscription can be told to be
//! gone, then it answers 410.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{LogEntry, SimState, header};
use crate::notifications::webpush;

pub(crate) struct PushSub {
    id: String,
    secret: p256::SecretKey,
    auth: Vec<u8>,
    gone: bool,
}

/// One push the service accepted, decrypted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PushMessage {
    pub subscription: String,
    pub payload: String,
    pub ttl: u64,
    pub urgency: Option<String>,
    /// The VAPID claims (`aud`, `exp`, `sub`).
    pub vapid: Value,
}

#[derive(Default)]
pub(crate) struct PushState {
    subs: Vec<PushSub>,
    messages: Vec<PushMessage>,
}

impl SimState {
    pub(crate) fn push_register(&self, secret: p256::SecretKey, auth: Vec<u8>) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.push.lock().subs.push(PushSub {
            id: id.clone(),
            secret,
            auth,
            gone: false,
        });
        id
    }

    pub(crate) fn push_set_gone(&self, id: &str) -> bool {
        let mut p = self.push.lock();
        match p.subs.iter_mut().find(|s| s.id == id) {
            Some(s) => {
                s.gone = true;
                true
            }
            None => false,
        }
    }

    pub(crate) fn push_messages(&self) -> Vec<PushMessage> {
        self.push.lock().messages.clone()
    }
}

fn reject(status: StatusCode, why: &str) -> Response {
    (status, Json(json!({"error": why}))).into_response()
}

/// `POST /push/{id}`: RFC 8030 §5.
pub(super) async fn push(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let entry = s.start_entry(LogEntry {
        service: "webpush.push".into(),
        method: "POST".into(),
        path: format!("/push/{id}"),
        auth: header(&headers, "authorization"),
        body: json!({"bytes": body.len()}),
        ..Default::default()
    });
    let resp = accept(&s, &id, &headers, &body);
    let status = resp.status().as_u16();
    s.update(entry, |e| {
        e.status = status;
        e.completed = true;
    });
    resp
}

fn accept(s: &SimState, id: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let (secret, auth, gone) = {
        let p = s.push.lock();
        match p.subs.iter().find(|x| x.id == id) {
            Some(x) => (x.secret.clone(), x.auth.clone(), x.gone),
            None => return reject(StatusCode::NOT_FOUND, "no such subscription"),
        }
    };
    if gone {
        return reject(StatusCode::GONE, "subscription expired");
    }
    let Some(ttl) = header(headers, "ttl").and_then(|t| t.trim().parse::<u64>().ok()) else {
        return reject(StatusCode::BAD_REQUEST, "TTL header missing");
    };
    if header(headers, "content-encoding").as_deref() != Some("aes128gcm") {
        return reject(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-encoding must be aes128gcm",
        );
    }
    let origin = match header(headers, "host") {
        Some(h) => format!("http://{h}"),
        None => return reject(StatusCode::BAD_REQUEST, "no Host"),
    };
    let now = chrono::Utc::now().timestamp();
    let vapid = match header(headers, "authorization")
        .ok_or_else(|| anyhow::anyhow!("no Authorization"))
        .and_then(|a| webpush::verify_vapid(&a, &origin, now))
    {
        Ok(c) => c,
        Err(e) => return reject(StatusCode::UNAUTHORIZED, &format!("VAPID: {e}")),
    };
    let payload = match webpush::decrypt(body, &secret, &auth) {
        Ok(p) => p,
        Err(e) => return reject(StatusCode::BAD_REQUEST, &format!("decryption: {e}")),
    };
    let message = PushMessage {
        subscription: id.to_string(),
        payload: String::from_utf8_lossy(&payload).into_owned(),
        ttl,
        urgency: header(headers, "urgency"),
        vapid,
    };
    let n = {
        let mut p = s.push.lock();
        p.messages.push(message);
        p.messages.len()
    };
    (
        StatusCode::CREATED,
        [("location", format!("/push/messages/{n}"))],
    )
        .into_response()
}

#[derive(Deserialize)]
pub(super) struct Register {
    /// base64url 32-byte P-256 private key.
    private_key: String,
    /// base64url 16-byte auth secret.
    auth: String,
}

/// `POST /__sim/push/subscriptions {private_key, auth}` → `{id, endpoint_path}`.
pub(super) async fn register(State(s): State<Arc<SimState>>, Json(r): Json<Register>) -> Response {
    let key = B64
        .decode(&r.private_key)
        .ok()
        .and_then(|k| p256::SecretKey::from_slice(&k).ok());
    let auth = B64.decode(&r.auth).ok().filter(|a| a.len() == 16);
    match (key, auth) {
        (Some(k), Some(a)) => {
            let id = s.push_register(k, a);
            (
                StatusCode::CREATED,
                Json(json!({"id": id, "endpoint_path": format!("/push/{id}")})),
            )
                .into_response()
        }
        _ => reject(
            StatusCode::UNPROCESSABLE_ENTITY,
            "private_key or auth invalid",
        ),
    }
}

/// `POST /__sim/push/subscriptions/{id}/gone`: from now on that endpoint answers 410.
pub(super) async fn set_gone(State(s): State<Arc<SimState>>, Path(id): Path<String>) -> StatusCode {
    if s.push_set_gone(&id) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

/// `GET /__sim/push/messages`.
pub(super) async fn messages(State(s): State<Arc<SimState>>) -> Json<Vec<PushMessage>> {
    Json(s.push_messages())
}
