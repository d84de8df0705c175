//! The one Stripe call we make: create a Checkout Session
//! (`POST {base_url}/v1/checkout/sessions`, form-encoded, `Authorization: Bearer sk_…`).
//! The session's `client_reference_id` is our payment id, which the
//! `checkout.session.completed` webhook brings back.

use std::time::Duration;

use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;

const TIMEOUT: Duration = Duration::from_secs(20);

pub struct SessionRequest<'a> {
    pub payment_id: Uuid,
    pub amount_credits: i64,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub success_url: String,
    pub cancel_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    pub id: String,
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StripeErrorBody {
    error: StripeError,
}

#[derive(Debug, Deserialize)]
struct StripeError {
    #[serde(default)]
    message: Option<String>,
    #[serde(rename = "type", default)]
    type_: Option<String>,
}

pub async fn create_checkout_session(
    http: &reqwest::Client,
    base_url: &str,
    api_key: &str,
    req: &SessionRequest<'_>,
) -> Result<Session, ApiError> {
    let url = format!("{}/v1/checkout/sessions", base_url.trim_end_matches('/'));
    let payment_id = req.payment_id.to_string();
    let form = [
        ("mode", "payment".to_string()),
        ("client_reference_id", payment_id.clone()),
        ("success_url", req.success_url.clone()),
        ("cancel_url", req.cancel_url.clone()),
        ("line_items[0][quantity]", "1".to_string()),
        (
            "line_items[0][price_data][currency]",
            req.currency.to_string(),
        ),
        (
            "line_items[0][price_data][unit_amount]",
            req.amount_minor.to_string(),
        ),
        (
            "line_items[0][price_data][product_data][name]",
            format!("{} Cadence credits", req.amount_credits),
        ),
        ("metadata[payment_id]", payment_id.clone()),
        ("metadata[amount_credits]", req.amount_credits.to_string()),
    ];
    let started = std::time::Instant::now();
    let resp = http
        .post(&url)
        .bearer_auth(api_key)
        // Stripe's own idempotency: a retried call for this payment makes one session.
        .header("Idempotency-Key", format!("cadence-checkout-{payment_id}"))
        .timeout(TIMEOUT)
        .form(&form)
        .send()
        .await;
    metrics::histogram!("provider_latency_seconds", "provider" => "stripe", "op" => "checkout_session")
        .record(started.elapsed().as_secs_f64());
    let resp = resp.map_err(|e| {
        tracing::warn!(error = %e, "Stripe checkout session request failed");
        ApiError::Provider("the payment provider could not be reached".into())
    })?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| {
        tracing::warn!(error = %e, "reading Stripe's answer failed");
        ApiError::Provider("the payment provider's answer could not be read".into())
    })?;
    if !status.is_success() {
        let detail = serde_json::from_slice::<StripeErrorBody>(&body)
            .ok()
            .map(|b| {
                format!(
                    "{}: {}",
                    b.error.type_.unwrap_or_default(),
                    b.error.message.unwrap_or_default()
                )
            })
            .unwrap_or_default();
        tracing::warn!(%status, %detail, "Stripe refused to create a checkout session");
        return Err(ApiError::Provider(
            "the payment provider refused to create a checkout session".into(),
        ));
    }
    let session: Session = serde_json::from_slice(&body).map_err(|e| {
        tracing::warn!(error = %e, "Stripe's checkout session is not the expected JSON");
        ApiError::Provider("the payment provider answered unexpectedly".into())
    })?;
    if session.url.as_deref().unwrap_or("").is_empty() {
        return Err(ApiError::Provider(
            "the payment provider returned no checkout URL".into(),
        ));
    }
    Ok(session)
}
