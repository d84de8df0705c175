//! Raising, listing and acknowledging notifications, and running their escalation steps.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Acquire, PgConnection, PgExecutor, Postgres};
use uuid::Uuid;

use super::{
    channels,
    model::{
        Channel, Delivery, NewNotification, Notification, NotificationFilter, NotificationPriority,
        NotificationRow, NotificationStatus,
    },
    prefs::{Escalation, Step},
    repo,
};
use crate::{
    error::{ApiError, ApiResult},
    http::{Page, Pagination},
    jobs::{self, Job, JobError, JobResult, NewJob},
    records::MAX_TITLE_CHARS,
    state::AppState,
};

/// Job kind of the raise API other domains use (payload: [`NewNotification`] without
/// `dedupe_key`; the job's key is the dedupe key).
pub const RAISE_JOB: &str = "notification.raise";
/// Job kind of one escalation step (key `<notification_id>:<step_index>`).
pub const STEP_JOB: &str = "notification.step";

const MAX_BODY_CHARS: usize = 2000;

/// Attach deliveries to rows.
pub(crate) async fn with_deliveries(
    db: impl PgExecutor<'_>,
    rows: Vec<NotificationRow>,
) -> ApiResult<Vec<Notification>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut by_id: HashMap<Uuid, Vec<Delivery>> = HashMap::new();
    for d in repo::deliveries_of(db, &ids).await? {
        let id = d.notification_id;
        by_id.entry(id).or_default().push(d.try_into()?);
    }
    rows.into_iter()
        .map(|r| {
            let d = by_id.remove(&r.id).unwrap_or_default();
            r.into_notification(d)
        })
        .collect()
}

async fn one(db: &mut PgConnection, row: NotificationRow) -> ApiResult<Notification> {
    Ok(with_deliveries(db, vec![row]).await?.remove(0))
}

/// How long `minutes` of escalation or snooze last (`notifications.minute_secs` scales them
/// for tests; 60 otherwise).
pub fn minutes(state: &AppState, minutes: f64) -> chrono::Duration {
    let secs = minutes * state.settings.notifications.minute_secs;
    chrono::Duration::milliseconds((secs * 1000.0).round() as i64)
}

/// Raise a notification and start its escalation. Idempotent per `(user_id, dedupe_key)`:
/// raising the same key again returns the notification raised first, with no new event or
/// delivery. `dedupe_key` defaults to `<source_type>:<source_id>`.
///
/// Publishes `notification.created` when it commits.
pub async fn raise(state: &AppState, n: NewNotification) -> ApiResult<Notification> {
    let title = n.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::validation(
            "title",
            format!("must be 1 to {MAX_TITLE_CHARS} characters"),
        ));
    }
    if n.body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::validation(
            "body",
            format!("must be at most {MAX_BODY_CHARS} characters"),
        ));
    }
    let dedupe_key = if n.dedupe_key.is_empty() {
        format!(
            "{}:{}",
            n.source_type.as_deref().unwrap_or(""),
            n.source_id.as_deref().unwrap_or("")
        )
    } else {
        n.dedupe_key.clone()
    };
    let mut tx = state.db.begin().await?;
    if let Some(row) = repo::find_by_key(&mut *tx, n.user_id, &dedupe_key).await? {
        return one(&mut tx, row).await;
    }
    let prefs = repo::preferences(&mut *tx, n.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let escalation = Escalation::of_preferences(&prefs);
    let escalation_json = serde_json::to_value(&escalation).map_err(ApiError::internal)?;
    let inserted = repo::insert(
        &mut *tx,
        repo::Insert {
            id: Uuid::now_v7(),
            user_id: n.user_id,
            kind: n.kind.as_str(),
            title,
            body: &n.body,
            priority: n.priority.as_str(),
            source_type: n.source_type.as_deref(),
            source_id: n.source_id.as_deref(),
            dedupe_key: &dedupe_key,
            escalation: &escalation_json,
        },
    )
    .await?;
    let Some(row) = inserted else {
        // Raised concurrently by another instance: theirs is the one.
        drop(tx);
        let row = repo::find_by_key(&state.db, n.user_id, &dedupe_key)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("raced notification vanished")))?;
        let mut conn = state.db.acquire().await?;
        return one(&mut conn, row).await;
    };
    let created = row.created_at;
    let notification = one(&mut tx, row).await?;
    if let Some(first) = escalation.steps.first() {
        schedule_step(&mut *tx, state, notification.id, 0, created, first).await?;
    }
    crate::events::publish(&mut *tx, n.user_id, "notification.created", &notification).await?;
    tx.commit().await?;
    metrics::counter!("notifications_raised_total", "kind" => n.kind.as_str()).increment(1);
    Ok(notification)
}

async fn schedule_step(
    db: impl PgExecutor<'_>,
    state: &AppState,
    id: Uuid,
    index: usize,
    created: DateTime<Utc>,
    step: &Step,
) -> sqlx::Result<bool> {
    let at = created + minutes(state, step.after_minutes);
    jobs::enqueue(
        db,
        NewJob::new(
            STEP_JOB,
            format!("{id}:{index}"),
            json!({"notification_id": id, "step": index}),
        )
        .at(at),
    )
    .await
}

pub async fn get(db: &sqlx::PgPool, user_id: Uuid, id: Uuid) -> ApiResult<Notification> {
    let mut conn = db.acquire().await?;
    let row = repo::find(&mut *conn, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    one(&mut conn, row).await
}

pub async fn list(
    db: &sqlx::PgPool,
    user_id: Uuid,
    filter: NotificationFilter,
    page: Pagination,
) -> ApiResult<Page<Notification>> {
    let mut conn = db.acquire().await?;
    let cursor = page.cursor.map(|c| (c.created_at, c.id));
    let rows = repo::list(&mut *conn, user_id, &filter, cursor, page.fetch()).await?;
    let items = with_deliveries(&mut *conn, rows).await?;
    Ok(Page::from_rows(items, &page, |n| (n.created_at, n.id)))
}

/// Acknowledge: stops the escalation (steps not yet run see it and do nothing).
///
/// Publishes `notification.updated` when it commits (also when it was acknowledged before,
/// so every client converges).
pub async fn acknowledge<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
) -> ApiResult<Notification> {
    let mut tx = db.begin().await?;
    let row = repo::acknowledge(&mut *tx, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let n = one(&mut tx, row).await?;
    crate::events::publish(&mut *tx, user_id, "notification.updated", &n).await?;
    tx.commit().await?;
    Ok(n)
}

/// Acknowledge every open notification about `(source_type, source_id)` (a snoozed or
/// completed task). Inside the caller's transaction.
pub async fn acknowledge_source(
    conn: &mut PgConnection,
    user_id: Uuid,
    source_type: &str,
    source_id: &str,
) -> ApiResult<()> {
    for id in repo::open_for_source(&mut *conn, user_id, source_type, source_id).await? {
        if let Some(row) = repo::acknowledge(&mut *conn, user_id, id).await? {
            let n = one(conn, row).await?;
            crate::events::publish(&mut *conn, user_id, "notification.updated", &n).await?;
        }
    }
    Ok(())
}

/// `notification.raise` jobs: raise with the job's key as the dedupe key.
pub async fn run_raise(state: AppState, job: Job) -> JobResult {
    let mut n: NewNotification =
        serde_json::from_value(job.payload.clone()).map_err(JobError::fail)?;
    n.dedupe_key = job.key.clone();
    match raise(&state, n).await {
        Ok(_) => Ok(()),
        Err(e @ (ApiError::Validation(_) | ApiError::NotFound)) => {
            Err(JobError::Fail(anyhow::anyhow!("{e}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// One step of an escalation, as a channel sees it.
pub struct StepAt<'a> {
    /// Position in the notification's `steps` (deliveries record it).
    pub index: i32,
    pub step: &'a Step,
}

/// `notification.step` jobs without phone channels (they are `skipped`); the server's job
/// registry runs [`run_step_with`] and `messaging`'s channels.
pub async fn run_step(state: AppState, job: Job) -> JobResult {
    run_step_with(state, job, &channels::NoPhoneChannels).await
}

/// `notification.step` jobs: run step `step` of a notification once, then queue the next.
/// Idempotent: a target the step already reached is recorded and skipped, and the next
/// step's job has a unique key. WhatsApp, SMS and call steps go to `phone`.
pub async fn run_step_with(
    state: AppState,
    job: Job,
    phone: &dyn channels::PhoneChannels,
) -> JobResult {
    let id: Uuid =
        serde_json::from_value(job.payload["notification_id"].clone()).map_err(JobError::fail)?;
    let index = job.payload["step"]
        .as_u64()
        .ok_or_else(|| JobError::fail(anyhow::anyhow!("step index missing")))?
        as usize;
    let Some(row) = repo::find_any(&state.db, id).await? else {
        return Ok(()); // the user was deleted
    };
    let status = NotificationStatus::from_db(&row.status)?;
    if matches!(
        status,
        NotificationStatus::Acknowledged | NotificationStatus::Expired
    ) {
        return Ok(());
    }
    let escalation: Escalation = serde_json::from_value(row.escalation.clone()).unwrap_or_default();
    let Some(step) = escalation.steps.get(index) else {
        return Ok(());
    };
    let created = row.created_at;
    let mut conn = state.db.acquire().await?;
    let notification = one(&mut conn, row).await?;
    drop(conn);
    let before = notification.deliveries.len();
    let at = StepAt {
        index: index as i32,
        step,
    };
    if step
        .min_priority
        .is_none_or(|m| notification.priority.rank() >= m.rank())
    {
        let quiet = step.channel != Channel::InApp
            && notification.priority != NotificationPriority::Urgent
            && is_quiet_for(&state, &escalation, notification.user_id).await?;
        if quiet {
            channels::record(
                &state,
                &notification,
                &at,
                "",
                "skipped",
                Some("quiet hours"),
            )
            .await?;
        } else {
            match step.channel {
                Channel::InApp => channels::in_app(&state, &notification, &at).await?,
                Channel::WebPush => channels::web_push(&state, &notification, &at).await?,
                Channel::Whatsapp | Channel::Sms | Channel::Call => {
                    phone.deliver(&state, &notification, &at).await?
                }
            }
        }
    }
    let mut tx = state.db.begin().await?;
    let last = index + 1 >= escalation.steps.len();
    if let Some(next) = escalation.steps.get(index + 1) {
        schedule_step(&mut *tx, &state, id, index + 1, created, next).await?;
    }
    let new_status = repo::settle_status(&mut *tx, id, last).await?;
    let Some(row) = repo::find_any(&mut *tx, id).await? else {
        return Ok(());
    };
    let updated = one(&mut tx, row).await?;
    let changed = updated.deliveries.len() != before
        || new_status.is_some_and(|s| s != notification.status.as_str());
    if changed {
        crate::events::publish(&mut *tx, updated.user_id, "notification.updated", &updated).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn is_quiet_for(state: &AppState, e: &Escalation, user_id: Uuid) -> Result<bool, JobError> {
    let tz = repo::user_timezone(&state.db, user_id)
        .await?
        .and_then(|t| t.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(chrono_tz::UTC);
    Ok(e.is_quiet(Utc::now(), tz))
}
