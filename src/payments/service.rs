//! Checkout and provider events. A payment is credited by exactly one code path,
//! [`process_event`]: the webhook calls it after checking the signature, and the test
//! provider's checkout page calls it with the event that provider would send. Events are
//! deduplicated by id and a payment moves out of `pending` once, so a payment is credited
//! at most once however often (and however concurrently) it is reported.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use secrecy::ExposeSecret;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::{
    model::{CheckoutCreated, Event, PaymentRow, StripeSession, TestPaymentData},
    repo::{self, NewPayment},
    stripe,
};
use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
    wallet::{
        self,
        model::{EntryKind, Posting},
    },
};

/// The test provider's checkout page for a payment (relative to the public URL).
pub fn test_checkout_path(payment_id: Uuid, token: &str) -> String {
    format!("/api/v1/payments/{payment_id}/test-checkout?token={token}")
}

/// Create a pending payment and where to pay it (inside the caller's transaction).
pub async fn checkout(
    state: &AppState,
    conn: &mut PgConnection,
    user_id: Uuid,
    amount_credits: i64,
) -> ApiResult<CheckoutCreated> {
    let settings = &state.settings.payments;
    let per_unit = settings.credits_per_unit.max(1);
    let amount_minor = (amount_credits + per_unit - 1) / per_unit;
    let account_id = wallet::service::open_account(conn, user_id).await?;
    let id = Uuid::now_v7();
    let public = state.settings.public_url();
    let mut payment = NewPayment {
        id,
        user_id,
        account_id,
        provider: &settings.provider,
        amount_credits,
        amount_minor,
        currency: &settings.currency,
        checkout_url: None,
        checkout_token: None,
    };
    let checkout_url = match settings.provider.as_str() {
        "test" => {
            let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>());
            let url = format!("{public}{}", test_checkout_path(id, &token));
            payment.checkout_url = Some(&url);
            payment.checkout_token = Some(&token);
            repo::insert(&mut *conn, &payment).await?;
            url
        }
        "stripe" => {
            let key = settings.stripe_api_key.expose_secret();
            if key.is_empty() {
                return Err(ApiError::Unavailable(
                    "payments are not configured on this server".into(),
                ));
            }
            repo::insert(&mut *conn, &payment).await?;
            let session = stripe::create_checkout_session(
                &state.http,
                &settings.stripe_base_url,
                key,
                &stripe::SessionRequest {
                    payment_id: id,
                    amount_credits,
                    amount_minor,
                    currency: &settings.currency,
                    success_url: format!("{public}/?payment_id={id}&checkout=success"),
                    cancel_url: format!("{public}/?payment_id={id}&checkout=cancelled"),
                },
            )
            .await?;
            let url = session.url.unwrap_or_default();
            repo::set_checkout(&mut *conn, id, &session.id, &url).await?;
            url
        }
        other => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "unknown payment provider {other}"
            )));
        }
    };
    Ok(CheckoutCreated {
        payment_id: id,
        status: "pending".into(),
        checkout_url,
    })
}

/// What processing an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// The event was processed before; nothing was done.
    Duplicate,
    /// The payment succeeded and its credits were added.
    Credited { payment_id: Uuid, amount: i64 },
    /// The payment had already left `pending` (another event completed it).
    AlreadyFinished { payment_id: Uuid },
    /// The payment failed or expired.
    Closed { payment_id: Uuid, status: String },
    /// Not an event about one of our payments (acknowledged, recorded, ignored).
    Ignored,
}

fn bad(msg: &str) -> ApiError {
    ApiError::BadRequest(msg.to_string())
}

/// Apply a provider event once (see the module docs). Answers `400` for an event that
/// claims to be about one of our payments but does not match it; nothing is recorded then.
pub async fn process_event(conn: &mut PgConnection, event: &Event) -> ApiResult<EventOutcome> {
    if event.id.is_empty() || event.id.len() > 255 {
        return Err(bad("the event has no usable id"));
    }
    let mut tx = conn.begin().await?;
    let outcome = match event.type_.as_str() {
        "payment.succeeded" => {
            let data: TestPaymentData = serde_json::from_value(event.data.clone())
                .map_err(|_| bad("payment.succeeded needs data.payment_id"))?;
            if !repo::record_event(
                &mut *tx,
                &event.id,
                "test",
                &event.type_,
                Some(data.payment_id),
            )
            .await?
            {
                return Ok(EventOutcome::Duplicate);
            }
            let payment = repo::lock(&mut *tx, data.payment_id)
                .await?
                .filter(|p| p.provider == "test")
                .ok_or_else(|| bad("no such payment of the test provider"))?;
            if data
                .amount_credits
                .is_some_and(|a| a != payment.amount_credits)
            {
                return Err(bad("amount_credits does not match the payment"));
            }
            succeed(&mut tx, &payment).await?
        }
        t if t.starts_with("checkout.session.") => {
            let session: StripeSession =
                serde_json::from_value(event.data.get("object").cloned().unwrap_or_default())
                    .map_err(|_| bad("the event has no checkout session in data.object"))?;
            let payment_id = session
                .client_reference_id
                .as_deref()
                .and_then(|r| r.parse::<Uuid>().ok());
            if !repo::record_event(&mut *tx, &event.id, "stripe", t, payment_id).await? {
                return Ok(EventOutcome::Duplicate);
            }
            // Sessions we did not create (same Stripe account, other software) are not
            // ours to judge: acknowledge them.
            let payment = match payment_id {
                Some(id) => repo::lock(&mut *tx, id)
                    .await?
                    .filter(|p| p.provider == "stripe"),
                None => None,
            };
            match payment {
                None => EventOutcome::Ignored,
                Some(p) if p.provider_ref.as_deref().is_some_and(|r| r != session.id) => {
                    return Err(bad("the checkout session does not belong to this payment"));
                }
                Some(p) => match t {
                    "checkout.session.completed"
                        if matches!(
                            session.payment_status.as_deref(),
                            Some("paid") | Some("no_payment_required")
                        ) =>
                    {
                        succeed(&mut tx, &p).await?
                    }
                    "checkout.session.async_payment_succeeded" => succeed(&mut tx, &p).await?,
                    "checkout.session.async_payment_failed" => close(&mut tx, &p, "failed").await?,
                    "checkout.session.expired" => close(&mut tx, &p, "expired").await?,
                    // Completed but not paid yet (delayed payment methods): wait for
                    // async_payment_succeeded.
                    _ => EventOutcome::Ignored,
                },
            }
        }
        other => {
            if !repo::record_event(&mut *tx, &event.id, "unknown", other, None).await? {
                return Ok(EventOutcome::Duplicate);
            }
            EventOutcome::Ignored
        }
    };
    tx.commit().await?;
    if let EventOutcome::Credited { amount, .. } = &outcome {
        metrics::counter!("payments_credited_total").increment(1);
        metrics::counter!("payments_credited_credits_total").increment(*amount as u64);
    }
    Ok(outcome)
}

async fn succeed(conn: &mut PgConnection, payment: &PaymentRow) -> ApiResult<EventOutcome> {
    if !repo::finish(&mut *conn, payment.id, "succeeded").await? {
        return Ok(EventOutcome::AlreadyFinished {
            payment_id: payment.id,
        });
    }
    let posting = Posting::new(EntryKind::TopUp, payment.amount_credits)
        .reference("payment", Some(payment.id))
        .description(format!("Payment ({})", payment.provider));
    wallet::service::credit_account(conn, payment.account_id, posting).await?;
    Ok(EventOutcome::Credited {
        payment_id: payment.id,
        amount: payment.amount_credits,
    })
}

async fn close(
    conn: &mut PgConnection,
    payment: &PaymentRow,
    status: &str,
) -> ApiResult<EventOutcome> {
    if !repo::finish(&mut *conn, payment.id, status).await? {
        return Ok(EventOutcome::AlreadyFinished {
            payment_id: payment.id,
        });
    }
    Ok(EventOutcome::Closed {
        payment_id: payment.id,
        status: status.to_string(),
    })
}

/// The event the test provider sends when its checkout page is paid (one per payment, so
/// paying twice is a replay).
pub fn test_checkout_event(payment: &PaymentRow) -> Event {
    Event {
        id: format!("evt_test_checkout_{}", payment.id.simple()),
        type_: "payment.succeeded".into(),
        data: serde_json::to_value(TestPaymentData {
            payment_id: payment.id,
            amount_credits: Some(payment.amount_credits),
        })
        .unwrap_or_default(),
    }
}
