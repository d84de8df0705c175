use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    model::{Checkout, CheckoutCreated, Event, Payment, WebhookAck},
    repo, service, signature,
};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Problem},
    http::{IdempotencyKey, Page, Pagination, ValidJson, idempotency, pagination::PageParams},
    state::AppState,
};

/// Start buying credits: a pending payment and the URL where the buyer pays. Accepts
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/checkout", tag = "payments", security(("bearer" = [])),
    request_body = Checkout,
    params(("Idempotency-Key" = Option<String>, Header, description = "1..=255 characters; replays the first response for 24 h")),
    responses((status = 201, body = CheckoutCreated, headers(("Location" = String))),
        (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn checkout(
    State(state): State<AppState>,
    auth: AuthUser,
    key: IdempotencyKey,
    ValidJson(input): ValidJson<Checkout>,
) -> ApiResult<Response> {
    let user_id = auth.user_id;
    idempotency::run(&state, user_id, &key, &input, async |tx| {
        let created = service::checkout(&state, tx, user_id, input.amount_credits).await?;
        let location = format!("/api/v1/payments/{}", created.payment_id);
        let mut resp = (StatusCode::CREATED, Json(created)).into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        Ok(resp)
    })
    .await
}

/// The user's payments, newest first.
#[utoipa::path(get, path = "/", tag = "payments", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<Payment>), (status = 422, body = Problem)))]
pub async fn list_payments(
    State(state): State<AppState>,
    auth: AuthUser,
    page: Pagination,
) -> ApiResult<Json<Page<Payment>>> {
    let rows = repo::list_for_user(
        &state.db,
        auth.user_id,
        page.cursor_ts(),
        page.cursor_id(),
        page.fetch(),
    )
    .await?;
    let rows: Vec<Payment> = rows.into_iter().map(Into::into).collect();
    Ok(Json(Page::from_rows(rows, &page, |p| (p.created_at, p.id))))
}

/// One of the user's payments.
#[utoipa::path(get, path = "/{id}", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Payment), (status = 404, body = Problem)))]
pub async fn get_payment(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Payment>> {
    let row = repo::find_for_user(&state.db, id, auth.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(row.into()))
}

/// Provider events (no bearer token: verified by `Payment-Signature`). A bad or stale
/// signature answers `400` and credits nothing; a replayed event answers `200` and credits
/// nothing.
#[utoipa::path(post, path = "/webhook", tag = "payments",
    request_body(content = Object, description = "The provider's event: `{id, type, data}`"),
    params(("Payment-Signature" = String, Header, description = "t=<unix>,v1=<hex hmac-sha256 of \"t.body\">")),
    responses((status = 200, body = WebhookAck), (status = 400, body = Problem)))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<WebhookAck>> {
    let sig = headers
        .get(signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::BadRequest("the Payment-Signature header is missing".into()))?;
    let secret = state.settings.payments.webhook_secret.expose_secret();
    signature::verify(
        sig,
        &body,
        secret.as_bytes(),
        chrono::Utc::now().timestamp(),
    )
    .map_err(|e| {
        metrics::counter!("payments_webhook_rejected_total").increment(1);
        ApiError::BadRequest(e.to_string())
    })?;
    let event: Event = serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadRequest("the event is not {id, type, data} JSON".into()))?;
    let mut conn = state.db.acquire().await?;
    let outcome = service::process_event(&mut conn, &event).await?;
    tracing::info!(event_id = %event.id, event_type = %event.type_, ?outcome, "payment event");
    Ok(Json(WebhookAck {
        received: true,
        duplicate: outcome == service::EventOutcome::Duplicate,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckoutToken {
    /// The secret from the checkout URL.
    pub token: String,
}

/// The payment, when the server runs the test provider, the payment is one of its payments
/// and `token` is its checkout secret. (A server switched to Stripe must not let old test
/// payments be "paid" for free.)
async fn test_payment(
    state: &AppState,
    id: Uuid,
    token: &str,
) -> ApiResult<super::model::PaymentRow> {
    if state.settings.payments.provider != "test" {
        return Err(ApiError::NotFound);
    }
    let payment = repo::find(&state.db, id).await?.ok_or(ApiError::NotFound)?;
    let expected = payment.checkout_token.as_deref().unwrap_or("");
    let ok = payment.provider == "test"
        && !expected.is_empty()
        && bool::from(expected.as_bytes().ct_eq(token.as_bytes()));
    if !ok {
        return Err(ApiError::NotFound);
    }
    Ok(payment)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}button{{font-size:1.1rem;padding:.6rem 1.4rem}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"#,
        title = escape(title)
    ))
}

/// The test payment provider's checkout page (development): shows the payment and a button
/// that pays it.
#[utoipa::path(get, path = "/{id}/test-checkout", tag = "payments",
    params(("id" = Uuid, Path), CheckoutToken),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = Problem)))]
pub async fn test_checkout_page(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(q): Query<CheckoutToken>,
) -> ApiResult<Html<String>> {
    let p = test_payment(&state, id, &q.token).await?;
    if p.status != "pending" {
        return Ok(page(
            "Test checkout",
            &format!("<p>This payment is {}.</p>", escape(&p.status)),
        ));
    }
    let action = service::test_checkout_path(p.id, &q.token);
    Ok(page(
        "Test checkout",
        &format!(
            r#"<p>Buy <strong>{credits}</strong> credits for {minor} {currency} (minor units).</p>
<p>This is the test payment provider: nothing is charged.</p>
<form method="post" action="{action}"><button type="submit">Pay</button></form>"#,
            credits = p.amount_credits,
            minor = p.amount_minor,
            currency = escape(&p.currency.to_uppercase()),
            action = escape(&action),
        ),
    ))
}

/// Pay a test-provider payment (the page's button). Goes through the same event processing
/// as the webhook: credited once, however often it is posted.
#[utoipa::path(post, path = "/{id}/test-checkout", tag = "payments",
    params(("id" = Uuid, Path), CheckoutToken),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = Problem)))]
pub async fn test_checkout_pay(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(q): Query<CheckoutToken>,
) -> ApiResult<Html<String>> {
    let p = test_payment(&state, id, &q.token).await?;
    let event = service::test_checkout_event(&p);
    let mut conn = state.db.acquire().await?;
    let outcome = service::process_event(&mut conn, &event).await?;
    let msg = match outcome {
        service::EventOutcome::Credited { amount, .. } => {
            format!("<p>Paid. {amount} credits were added to your wallet.</p>")
        }
        _ => "<p>This payment was already completed.</p>".to_string(),
    };
    Ok(page("Payment complete", &msg))
}
