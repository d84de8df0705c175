//! The LiveAvatar REST client: mint a LITE session token (`X-API-KEY`), start the session
//! with it (Bearer), stop it. Responses come wrapped as `{code, data, message}`; the
//! quick-start guide shows them bare, so both are read.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

use crate::{config::LiveAvatarSettings, error::ApiError};

const TIMEOUT: Duration = Duration::from_secs(15);

/// A started LITE session.
#[derive(Debug, Clone)]
pub struct Started {
    pub session_id: String,
    /// The LiveKit room the browser joins to see (and hear) the avatar.
    pub livekit_url: String,
    pub livekit_client_token: String,
    /// The command WebSocket our audio goes to.
    pub ws_url: String,
}

#[derive(Debug, Deserialize)]
struct TokenData {
    session_id: String,
    session_token: String,
}

#[derive(Debug, Deserialize)]
struct StartData {
    #[serde(default)]
    session_id: Option<String>,
    livekit_url: String,
    livekit_client_token: String,
    ws_url: String,
}

#[derive(Clone)]
pub struct LiveAvatar {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
}

impl LiveAvatar {
    /// `None` when no API key is configured (avatar sessions are off).
    pub fn from_settings(http: &reqwest::Client, s: &LiveAvatarSettings) -> Option<Self> {
        if s.api_key.expose_secret().is_empty() {
            return None;
        }
        Some(Self {
            http: http.clone(),
            base_url: s.base_url.trim_end_matches('/').to_string(),
            api_key: s.api_key.clone(),
        })
    }

    /// Token then start: the avatar joins its LiveKit room and listens on `ws_url`.
    pub async fn start_lite(&self, avatar_id: &str) -> Result<Started, ApiError> {
        let token: TokenData = self
            .call(
                self.http
                    .post(format!("{}/v1/sessions/token", self.base_url))
                    .header("X-API-KEY", self.api_key.expose_secret())
                    .json(&json!({"mode": "LITE", "avatar_id": avatar_id})),
                "session token",
            )
            .await?;
        let started: StartData = self
            .call(
                self.http
                    .post(format!("{}/v1/sessions/start", self.base_url))
                    .bearer_auth(&token.session_token),
                "session start",
            )
            .await?;
        Ok(Started {
            session_id: started.session_id.unwrap_or(token.session_id),
            livekit_url: started.livekit_url,
            livekit_client_token: started.livekit_client_token,
            ws_url: started.ws_url,
        })
    }

    /// Stop a session (idempotent on LiveAvatar's side: a stopped session stays stopped).
    pub async fn stop(&self, session_id: &str, reason: &str) -> Result<(), ApiError> {
        let _: Value = self
            .call(
                self.http
                    .post(format!("{}/v1/sessions/stop", self.base_url))
                    .header("X-API-KEY", self.api_key.expose_secret())
                    .json(&json!({"session_id": session_id, "reason": reason})),
                "session stop",
            )
            .await?;
        Ok(())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T, ApiError> {
        let resp = req
            .timeout(TIMEOUT)
            .send()
            .await
            .map_err(|e| ApiError::Provider(format!("LiveAvatar {what} failed: {e}")))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(ApiError::Provider(format!(
                "LiveAvatar {what} answered {status}"
            )));
        }
        let data = match body.get("data") {
            Some(d) if !d.is_null() => d.clone(),
            _ => body,
        };
        serde_json::from_value(data)
            .map_err(|e| ApiError::Provider(format!("LiveAvatar {what}: unexpected answer ({e})")))
    }
}
