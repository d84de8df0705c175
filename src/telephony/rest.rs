//! Twilio's REST API: hang up a call.

use secrecy::ExposeSecret;

use crate::state::AppState;

/// End a live call (`POST …/Calls/{CallSid}.json` with `Status=completed`).
pub async fn hangup(state: &AppState, call_sid: &str) -> anyhow::Result<()> {
    let tw = &state.settings.telephony.twilio;
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Calls/{call_sid}.json",
        tw.base_url.trim_end_matches('/'),
        tw.account_sid
    );
    let resp = state
        .http
        .post(url)
        .basic_auth(&tw.account_sid, Some(tw.auth_token.expose_secret()))
        .form(&[("Status", "completed")])
        .send()
        .await?;
    if !resp.status().is_success() {
        anyhow::bail!("Twilio answered {} to a hang-up", resp.status());
    }
    Ok(())
}
