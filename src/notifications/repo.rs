use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::{DeliveryRow, NotificationFilter, NotificationRow, PushSubscriptionRow};
use crate::records::texts;

pub struct Insert<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub priority: &'a str,
    pub source_type: Option<&'a str>,
    pub source_id: Option<&'a str>,
    pub dedupe_key: &'a str,
    pub escalation: &'a Value,
}

/// Insert unless `(user_id, dedupe_key)` exists; `None` when it did.
pub async fn insert(
    db: impl PgExecutor<'_>,
    n: Insert<'_>,
) -> sqlx::Result<Option<NotificationRow>> {
    sqlx::query_as!(
        NotificationRow,
        r#"insert into notifications (id, user_id, kind, title, body, priority, source_type,
                                      source_id, dedupe_key, escalation)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           on conflict (user_id, dedupe_key) do nothing
           returning id, user_id, kind, title, body, priority, source_type, source_id, status,
                     escalation, acknowledged_at, created_at"#,
        n.id,
        n.user_id,
        n.kind,
        n.title,
        n.body,
        n.priority,
        n.source_type,
        n.source_id,
        n.dedupe_key,
        n.escalation
    )
    .fetch_optional(db)
    .await
}

pub async fn find_by_key(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    dedupe_key: &str,
) -> sqlx::Result<Option<NotificationRow>> {
    sqlx::query_as!(
        NotificationRow,
        r#"select id, user_id, kind, title, body, priority, source_type, source_id, status,
                  escalation, acknowledged_at, created_at
           from notifications where user_id = $1 and dedupe_key = $2"#,
        user_id,
        dedupe_key
    )
    .fetch_optional(db)
    .await
}

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<NotificationRow>> {
    sqlx::query_as!(
        NotificationRow,
        r#"select id, user_id, kind, title, body, priority, source_type, source_id, status,
                  escalation, acknowledged_at, created_at
           from notifications where id = $1 and user_id = $2"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// By id alone, for the escalation jobs (which carry no user).
pub async fn find_any(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<NotificationRow>> {
    sqlx::query_as!(
        NotificationRow,
        r#"select id, user_id, kind, title, body, priority, source_type, source_id, status,
                  escalation, acknowledged_at, created_at
           from notifications where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// Newest first, strictly after `cursor`.
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    f: &NotificationFilter,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> sqlx::Result<Vec<NotificationRow>> {
    let (ts, cid) = cursor.unzip();
    let statuses = texts(&f.statuses);
    let kind = f.kind.map(|k| k.as_str());
    sqlx::query_as!(
        NotificationRow,
        r#"select id, user_id, kind, title, body, priority, source_type, source_id, status,
                  escalation, acknowledged_at, created_at
           from notifications
           where user_id = $1
             and (cardinality($2::text[]) = 0 or status = any($2))
             and ($3::text is null or kind = $3)
             and (not $4::bool or acknowledged_at is null)
             and (created_at, id) < (coalesce($5, 'infinity'::timestamptz),
                                     coalesce($6, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
           order by created_at desc, id desc
           limit $7"#,
        user_id,
        &statuses,
        kind,
        f.unread,
        ts,
        cid,
        fetch
    )
    .fetch_all(db)
    .await
}

pub async fn deliveries_of(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> sqlx::Result<Vec<DeliveryRow>> {
    sqlx::query_as!(
        DeliveryRow,
        r#"select notification_id, channel, status, detail, at
           from notification_deliveries where notification_id = any($1)
           order by at, id"#,
        ids
    )
    .fetch_all(db)
    .await
}

/// Acknowledge (once: `acknowledged_at` keeps the first time). `None`: not the user's.
pub async fn acknowledge(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<NotificationRow>> {
    sqlx::query_as!(
        NotificationRow,
        r#"update notifications
           set status = 'acknowledged', acknowledged_at = coalesce(acknowledged_at, now())
           where id = $1 and user_id = $2
           returning id, user_id, kind, title, body, priority, source_type, source_id, status,
                     escalation, acknowledged_at, created_at"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// The open (not acknowledged) notifications about one source, newest first.
pub async fn open_for_source(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    source_type: &str,
    source_id: &str,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"select id from notifications
           where user_id = $1 and source_type = $2 and source_id = $3
             and status in ('pending', 'delivered')
           order by created_at desc"#,
        user_id,
        source_type,
        source_id
    )
    .fetch_all(db)
    .await
}

/// Whether this step already reached (or tried) this target.
pub async fn delivery_exists(
    db: impl PgExecutor<'_>,
    notification_id: Uuid,
    step_index: i32,
    target: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from notification_deliveries
                         where notification_id = $1 and step_index = $2 and target = $3) as "e!""#,
        notification_id,
        step_index,
        target
    )
    .fetch_one(db)
    .await
}

/// Record an attempt (once per step and target). Whether it was new.
pub async fn record_delivery(
    db: impl PgExecutor<'_>,
    notification_id: Uuid,
    step_index: i32,
    channel: &str,
    target: &str,
    status: &str,
    detail: Option<&str>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"insert into notification_deliveries
               (id, notification_id, step_index, channel, target, status, detail)
           values ($1, $2, $3, $4, $5, $6, $7)
           on conflict (notification_id, step_index, target) do nothing"#,
        Uuid::now_v7(),
        notification_id,
        step_index,
        channel,
        target,
        status,
        detail
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// After a step: `pending` becomes `delivered` once a channel reached the user; at the last
/// step, a notification that reached nobody is `failed`. Acknowledged ones stay.
pub async fn settle_status(
    db: impl PgExecutor<'_>,
    id: Uuid,
    last_step: bool,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        r#"update notifications n
           set status = case
               when exists(select 1 from notification_deliveries d
                           where d.notification_id = n.id and d.status in ('sent', 'delivered'))
                   then 'delivered'
               when $2 then 'failed'
               else n.status end
           where id = $1 and status in ('pending', 'delivered', 'failed')
           returning status"#,
        id,
        last_step
    )
    .fetch_optional(db)
    .await
}

pub async fn user_timezone(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("select timezone from users where id = $1", user_id)
        .fetch_optional(db)
        .await
}

// --- push subscriptions -------------------------------------------------------------------

/// Insert, or return the existing subscription of this endpoint with its keys refreshed.
pub async fn upsert_subscription(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
) -> sqlx::Result<PushSubscriptionRow> {
    sqlx::query_as!(
        PushSubscriptionRow,
        r#"insert into push_subscriptions (id, user_id, endpoint, p256dh, auth)
           values ($1, $2, $3, $4, $5)
           on conflict (user_id, endpoint) do update set p256dh = excluded.p256dh, auth = excluded.auth
           returning id, endpoint, p256dh, auth, created_at"#,
        Uuid::now_v7(),
        user_id,
        endpoint,
        p256dh,
        auth
    )
    .fetch_one(db)
    .await
}

pub async fn subscriptions(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<PushSubscriptionRow>> {
    sqlx::query_as!(
        PushSubscriptionRow,
        r#"select id, endpoint, p256dh, auth, created_at from push_subscriptions
           where user_id = $1 order by created_at desc, id desc"#,
        user_id
    )
    .fetch_all(db)
    .await
}

pub async fn delete_subscription(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "delete from push_subscriptions where id = $1 and user_id = $2",
        id,
        user_id
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

// --- VAPID key ----------------------------------------------------------------------------

/// The stored development key, or `candidate` stored now (the first instance wins).
pub async fn vapid_key_or_insert(db: impl PgExecutor<'_>, candidate: &str) -> sqlx::Result<String> {
    sqlx::query_scalar!(
        r#"with ins as (
               insert into vapid_keys (id, private_key) values (1, $1)
               on conflict (id) do nothing returning private_key)
           select coalesce((select private_key from ins),
                           (select private_key from vapid_keys where id = 1)) as "k!""#,
        candidate
    )
    .fetch_one(db)
    .await
}

/// The user's preferences (the escalation policy is read from them when a notification is
/// raised).
pub async fn preferences(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar!("select preferences from users where id = $1", user_id)
        .fetch_optional(db)
        .await
}
