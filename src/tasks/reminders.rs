//! Task reminders: one `reminder` job per arming (key `reminder:<task>:<remind_at>`, a snooze
//! arms `…:snoozed:<until>`), cancelled when the task is done, cancelled or deleted or its `remind_at`
//! cleared. The handler re-reads the task, so a stale or early job does nothing, and raises
//! with the arming's key as dedupe key: one notification per
//! arming however many times the job runs, on however many instances.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{Acquire, PgConnection, Postgres};
use uuid::Uuid;

use super::{
    model::{Priority, Task, TaskStatus},
    repo as tasks_repo,
};
use crate::{
    error::{ApiError, ApiResult},
    jobs::{self, Job, JobError, JobResult, NewJob},
    notifications::{
        model::{NewNotification, NotificationKind, NotificationPriority},
        service,
    },
    state::AppState,
};

pub const JOB: &str = "reminder";

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    task_id: Uuid,
    user_id: Uuid,
    remind_at: Option<DateTime<Utc>>,
    snoozed_until: Option<DateTime<Utc>>,
}

fn stamp(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "none".into(),
        |t| t.to_rfc3339_opts(SecondsFormat::Micros, true),
    )
}

/// The job key of a task's current arming: `reminder:<task>:<remind_at>`, plus
/// `:snoozed:<until>` once snoozed, so each arming is its own job and its own notification.
pub fn key(t: &Task) -> String {
    let base = format!("reminder:{}:{}", t.id, stamp(t.remind_at));
    match t.snoozed_until {
        Some(_) => format!("{base}:snoozed:{}", stamp(t.snoozed_until)),
        None => base,
    }
}

fn is_open(status: TaskStatus) -> bool {
    matches!(status, TaskStatus::Todo | TaskStatus::InProgress)
}

fn fire_at(t: &Task) -> Option<DateTime<Utc>> {
    t.snoozed_until.or(t.remind_at)
}

fn job_of(user_id: Uuid, t: &Task, at: DateTime<Utc>) -> NewJob {
    let payload = Payload {
        task_id: t.id,
        user_id,
        remind_at: t.remind_at,
        snoozed_until: t.snoozed_until,
    };
    NewJob::new(JOB, key(t), json!(payload)).at(at)
}

/// Keep the reminder job in step with a task change, inside the change's transaction.
/// `before` is the task as it was (`None` for a new task), `after` as it is now (`None` when
/// deleted).
pub async fn sync(
    conn: &mut PgConnection,
    user_id: Uuid,
    before: Option<&Task>,
    after: Option<&Task>,
) -> sqlx::Result<()> {
    let armed = |t: &Task| is_open(t.status) && fire_at(t).is_some();
    let old_key = before
        .filter(|t| t.remind_at.is_some() || t.snoozed_until.is_some())
        .map(key);
    let Some(now) = after.filter(|t| armed(t)) else {
        if let Some(k) = old_key {
            jobs::cancel(&mut *conn, JOB, &k).await?;
        }
        return Ok(());
    };
    let new_key = key(now);
    if let Some(k) = old_key.as_ref().filter(|k| **k != new_key) {
        jobs::cancel(&mut *conn, JOB, k).await?;
    }
    let at = fire_at(now).expect("armed");
    let rearmed =
        before.is_none_or(|b| b.remind_at != now.remind_at || b.snoozed_until != now.snoozed_until);
    if rearmed {
        // A new arming (also the same time set again after it fired): queue it afresh.
        jobs::schedule(&mut *conn, job_of(user_id, now, at)).await?;
    } else {
        // Same arming, e.g. reopened: queue it unless it is there (or already fired).
        jobs::enqueue(&mut *conn, job_of(user_id, now, at)).await?;
    }
    Ok(())
}

/// `POST /tasks/{id}/snooze`: the reminder moves to now + `minutes`, the open reminder
/// notifications of the task are acknowledged. Publishes `task.updated`.
pub async fn snooze<'c>(
    state: &AppState,
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
    minutes: i64,
) -> ApiResult<Task> {
    if !(1..=1440).contains(&minutes) {
        return Err(ApiError::validation(
            "minutes",
            "must be between 1 and 1440",
        ));
    }
    let mut tx = db.begin().await?;
    let before: Task = tasks_repo::find_for_update(&mut *tx, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?
        .try_into()?;
    if !is_open(before.status) {
        return Err(ApiError::Conflict(format!(
            "the task is {}: there is nothing to snooze",
            before.status
        )));
    }
    let until = Utc::now() + service::minutes(state, minutes as f64);
    let task: Task = tasks_repo::snooze(&mut *tx, user_id, id, until)
        .await?
        .ok_or(ApiError::NotFound)?
        .try_into()?;
    sync(&mut tx, user_id, Some(&before), Some(&task)).await?;
    service::acknowledge_source(&mut tx, user_id, "task", &id.to_string()).await?;
    crate::events::publish(&mut *tx, user_id, "task.updated", &task).await?;
    tx.commit().await?;
    Ok(task)
}

/// `reminder` jobs: raise the reminder if the task is still open and still armed as the
/// job says.
pub async fn run(state: AppState, job: Job) -> JobResult {
    let p: Payload = serde_json::from_value(job.payload.clone()).map_err(JobError::fail)?;
    let Some(row) = tasks_repo::find(&state.db, p.user_id, p.task_id).await? else {
        return Ok(()); // deleted
    };
    let task: Task = row.try_into()?;
    if !is_open(task.status)
        || task.remind_at != p.remind_at
        || task.snoozed_until != p.snoozed_until
    {
        return Ok(()); // done, cancelled or re-armed since: that arming has its own job
    }
    let Some(at) = fire_at(&task) else {
        return Ok(());
    };
    let early = at - Utc::now();
    if early > chrono::Duration::milliseconds(500) {
        // Our clock is behind the one that queued the job: come back when it is time.
        return Err(JobError::RetryIn(
            early.to_std().unwrap_or_default(),
            anyhow::anyhow!("reminder not due yet"),
        ));
    }
    let body = match task.due_date {
        Some(d) => match task.due_time {
            Some(t) => format!("Due {d} {}", t.format("%H:%M")),
            None => format!("Due {d}"),
        },
        None => String::new(),
    };
    service::raise(
        &state,
        NewNotification {
            user_id: p.user_id,
            kind: NotificationKind::Reminder,
            title: task.title.clone(),
            body,
            priority: notification_priority(task.priority),
            source_type: Some("task".into()),
            source_id: Some(task.id.to_string()),
            dedupe_key: job.key.clone(),
        },
    )
    .await?;
    Ok(())
}

/// A task's priority as its reminder's (`medium` is `normal`).
fn notification_priority(p: Priority) -> NotificationPriority {
    match p {
        Priority::Low => NotificationPriority::Low,
        Priority::Medium => NotificationPriority::Normal,
        Priority::High => NotificationPriority::High,
        Priority::Urgent => NotificationPriority::Urgent,
    }
}
