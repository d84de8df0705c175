//! Twilio's Messages API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form
//! `To`, `From`, `Body` (WhatsApp: both numbers as `whatsapp:+E164`), HTTP basic auth
//! `account_sid:auth_token`; Twilio answers `201` with the message resource (`sid` `SM…`,
//! `status` `queued`). The token is never logged.

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{error::ApiError, state::AppState, telephony::rest};

/// Twilio error codes that mean the `To` number cannot get this message: invalid, not a
/// mobile number, unreachable, unsubscribed (STOP), not permitted, not on WhatsApp.
const TO_NUMBER_ERRORS: [u32; 9] = [
    21211, 21214, 21217, 21408, 21610, 21612, 21614, 63003, 63024,
];

/// How a message reaches the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = PhoneChannel)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Whatsapp,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Whatsapp => "whatsapp",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sms" => Some(Self::Sms),
            "whatsapp" => Some(Self::Whatsapp),
            _ => None,
        }
    }

    /// The address Twilio expects for an E.164 number on this channel.
    pub fn address(self, e164: &str) -> String {
        let bare = e164.strip_prefix("whatsapp:").unwrap_or(e164);
        match self {
            Self::Sms => bare.to_string(),
            Self::Whatsapp => format!("whatsapp:{bare}"),
        }
    }
}

/// Why a message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(
        "messaging is not configured (set CADENCE__TELEPHONY__TWILIO__ACCOUNT_SID, …__AUTH_TOKEN and …__MESSAGING_FROM)"
    )]
    NotConfigured,
    /// Twilio refused the recipient number.
    #[error("the number was rejected: {message} (Twilio error {code})")]
    Rejected { code: u32, message: String },
    /// Twilio failed, refused for another reason, or could not be reached.
    #[error("{0}")]
    Provider(String),
}

impl SendError {
    /// The API's answer, naming `field` when the number itself was refused.
    pub fn into_api(self, field: &str) -> ApiError {
        match self {
            Self::NotConfigured => ApiError::Unavailable(self.to_string()),
            Self::Rejected { code, message } => ApiError::validation(
                field,
                format!("was rejected by the messaging provider: {message} (Twilio error {code})"),
            ),
            Self::Provider(m) => ApiError::Provider(m),
        }
    }
}

/// A message Twilio accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct SentMessage {
    pub sid: String,
    #[serde(default)]
    pub status: String,
}

/// Is messaging set up (credentials and a sender)?
pub fn configured(state: &AppState) -> bool {
    let t = &state.settings.telephony.twilio;
    !t.account_sid.is_empty()
        && !t.auth_token.expose_secret().is_empty()
        && !t.messaging_from.is_empty()
}

/// Send `body` to the E.164 number `to` on `channel`. Callers check that `to` is a verified
/// number (or, for the verification code itself, the number being verified).
pub async fn send_message(
    state: &AppState,
    channel: Channel,
    to: &str,
    body: &str,
) -> Result<SentMessage, SendError> {
    if !configured(state) {
        return Err(SendError::NotConfigured);
    }
    let t = &state.settings.telephony.twilio;
    let sid = t.account_sid.as_str();
    let token = t.auth_token.expose_secret();
    let url = format!(
        "{}/2010-04-01/Accounts/{sid}/Messages.json",
        t.base_url.trim_end_matches('/')
    );
    let to = channel.address(to);
    let from = channel.address(&t.messaging_from);
    let form = [("To", to.as_str()), ("From", from.as_str()), ("Body", body)];
    let (status, bytes) = rest::post_form(state, url, (sid, token), &form, "send_message")
        .await
        .map_err(|unreached| {
            SendError::Provider(if unreached {
                "the messaging provider could not be reached".into()
            } else {
                "the messaging provider's answer could not be read".into()
            })
        })?;
    if !status.is_success() {
        let (code, message) = rest::refusal(&bytes);
        tracing::warn!(%status, code, %message, channel = channel.as_str(), "Twilio refused a message");
        if status.as_u16() == 400 && TO_NUMBER_ERRORS.contains(&code) {
            return Err(SendError::Rejected { code, message });
        }
        return Err(SendError::Provider(if status.is_server_error() {
            format!("the messaging provider failed ({status}); try again later")
        } else {
            format!("the messaging provider refused the message: {message} (Twilio error {code})")
        }));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        tracing::warn!(error = %e, "Twilio's created message is not the expected JSON");
        SendError::Provider("the messaging provider answered unexpectedly".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_per_channel() {
        assert_eq!(Channel::Sms.address("+15550001111"), "+15550001111");
        assert_eq!(
            Channel::Sms.address("whatsapp:+15550001111"),
            "+15550001111"
        );
        assert_eq!(
            Channel::Whatsapp.address("+15550001111"),
            "whatsapp:+15550001111"
        );
        assert_eq!(
            Channel::Whatsapp.address("whatsapp:+15550001111"),
            "whatsapp:+15550001111"
        );
    }
}
