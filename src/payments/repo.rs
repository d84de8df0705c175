use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::PaymentRow;

pub struct NewPayment<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub account_id: Uuid,
    pub provider: &'a str,
    pub amount_credits: i64,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub checkout_url: Option<&'a str>,
    pub checkout_token: Option<&'a str>,
}

pub async fn insert(db: impl PgExecutor<'_>, p: &NewPayment<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"insert into payments (id, user_id, account_id, provider, amount_credits, amount_minor,
                                 currency, checkout_url, checkout_token)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
        p.id,
        p.user_id,
        p.account_id,
        p.provider,
        p.amount_credits,
        p.amount_minor,
        p.currency,
        p.checkout_url,
        p.checkout_token
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_checkout(
    db: impl PgExecutor<'_>,
    id: Uuid,
    provider_ref: &str,
    checkout_url: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update payments set provider_ref = $2, checkout_url = $3 where id = $1",
        id,
        provider_ref,
        checkout_url
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find_for_user(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as!(
        PaymentRow,
        r#"select id, user_id, account_id, provider, status, amount_credits, amount_minor, currency,
                  provider_ref, checkout_url, checkout_token, created_at, updated_at, completed_at
           from payments where id = $1 and user_id = $2"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as!(
        PaymentRow,
        r#"select id, user_id, account_id, provider, status, amount_credits, amount_minor, currency,
                  provider_ref, checkout_url, checkout_token, created_at, updated_at, completed_at
           from payments where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn lock(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as!(
        PaymentRow,
        r#"select id, user_id, account_id, provider, status, amount_credits, amount_minor, currency,
                  provider_ref, checkout_url, checkout_token, created_at, updated_at, completed_at
           from payments where id = $1 for update"#,
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn list_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    cursor_ts: Option<DateTime<Utc>>,
    cursor_id: Option<Uuid>,
    fetch: i64,
) -> sqlx::Result<Vec<PaymentRow>> {
    sqlx::query_as!(
        PaymentRow,
        r#"select id, user_id, account_id, provider, status, amount_credits, amount_minor, currency,
                  provider_ref, checkout_url, checkout_token, created_at, updated_at, completed_at
           from payments
           where user_id = $1 and ($2::timestamptz is null or (created_at, id) < ($2, $3))
           order by created_at desc, id desc
           limit $4"#,
        user_id,
        cursor_ts,
        cursor_id,
        fetch
    )
    .fetch_all(db)
    .await
}

/// Move a payment out of `pending` to `status`. False when it was not pending.
pub async fn finish(db: impl PgExecutor<'_>, id: Uuid, status: &str) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"update payments
              set status = $2, completed_at = case when $2 = 'succeeded' then now() end
            where id = $1 and status = 'pending'"#,
        id,
        status
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Record a webhook event; false when it was recorded before (a replay).
pub async fn record_event(
    db: impl PgExecutor<'_>,
    event_id: &str,
    provider: &str,
    event_type: &str,
    payment_id: Option<Uuid>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"insert into payment_events (event_id, provider, event_type, payment_id)
           values ($1, $2, $3, $4) on conflict (event_id) do nothing"#,
        event_id,
        provider,
        event_type,
        payment_id
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}
