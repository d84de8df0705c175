//! Buying credits: checkout through the configured provider (`test`: a checkout page served
//! by Cadence itself; `stripe`: a Stripe Checkout Session), the signed provider webhook, and
//! the user's payments. Credits land in the wallet only through `wallet::service`.

pub mod model;
pub mod repo;
pub mod routes;
pub mod service;
pub mod signature;
pub mod stripe;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// `/api/v1/payments`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_payments))
        .routes(routes!(routes::checkout))
        .routes(routes!(routes::webhook))
        .routes(routes!(routes::get_payment))
        .routes(routes!(
            routes::test_checkout_page,
            routes::test_checkout_pay
        ))
}
