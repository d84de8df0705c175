use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::FieldError,
    http::{Validate, Validator},
};

/// The most credits one checkout may buy.
pub const MAX_CHECKOUT_CREDITS: i64 = 100_000_000;

/// A top-up through the payment provider.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Payment {
    pub id: Uuid,
    /// `pending`, `succeeded`, `failed` or `expired`.
    pub status: String,
    /// `test` or `stripe`.
    pub provider: String,
    pub amount_credits: i64,
    /// What is charged, in the currency's minor unit (e.g. cents).
    pub amount_minor: i64,
    pub currency: String,
    /// Where the buyer pays (while the payment is pending).
    pub checkout_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// `POST /payments/checkout`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkout {
    /// Credits to buy, 1..=100,000,000.
    pub amount_credits: i64,
}

impl Validate for Checkout {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        Validator::new()
            .check(
                (1..=MAX_CHECKOUT_CREDITS).contains(&self.amount_credits),
                "amount_credits",
                "must be between 1 and 100000000",
            )
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckoutCreated {
    pub payment_id: Uuid,
    /// Always `pending`: the payment completes when the provider reports it paid.
    pub status: String,
    /// Send the buyer here.
    pub checkout_url: String,
}

/// A payment row with the fields only the server sees.
pub struct PaymentRow {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub account_id: Uuid,
    pub provider: String,
    pub status: String,
    pub amount_credits: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub provider_ref: Option<String>,
    pub checkout_url: Option<String>,
    pub checkout_token: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<PaymentRow> for Payment {
    fn from(r: PaymentRow) -> Self {
        Self {
            id: r.id,
            checkout_url: r.checkout_url.filter(|_| r.status == "pending"),
            status: r.status,
            provider: r.provider,
            amount_credits: r.amount_credits,
            amount_minor: r.amount_minor,
            currency: r.currency,
            created_at: r.created_at,
            updated_at: r.updated_at,
            completed_at: r.completed_at,
        }
    }
}

/// A provider event as delivered to the webhook: `{"id", "type", "data"}` (the test
/// provider's events and Stripe's share this envelope).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// `data` of the test provider's `payment.succeeded`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TestPaymentData {
    pub payment_id: Uuid,
    pub amount_credits: Option<i64>,
}

/// The parts of a Stripe Checkout Session that matter here.
#[derive(Debug, Clone, Deserialize)]
pub struct StripeSession {
    pub id: String,
    pub client_reference_id: Option<String>,
    pub payment_status: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookAck {
    pub received: bool,
    /// True when this event had been processed before (nothing was done again).
    pub duplicate: bool,
}
