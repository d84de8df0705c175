//! The planner's rules, shared by the REST routes and the agents' `plan_day` /
//! `get_schedule` tools.

use chrono::{
    DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    model::{
        Block, BlockKind, BlockRow, MAX_BUFFER_MINUTES, Plan, PlanDay, PlanRow, SourceWarning,
        Unscheduled, UpdateBlock, parse_date, parse_time,
    },
    place::{self, Candidate, Day, Outcome, Span},
    repo,
};
use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
};

/// A task without an estimate takes this long.
pub const DEFAULT_ESTIMATE_MINUTES: i64 = 30;
/// At most this many open tasks are considered for one day.
pub const MAX_TASKS: i64 = 200;
/// The job that raises a notification (handled by the notifications domain).
pub const REMINDER_JOB: &str = "notification.raise";

const DEFAULT_WORK_START: NaiveTime = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
const DEFAULT_CUTOFF: NaiveTime = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
const DEFAULT_BUFFER: i32 = 10;

/// A local time on a day as an instant: the earlier of an ambiguous time, and past a gap
/// (spring forward) the first instant after it.
pub fn local_instant(tz: Tz, date: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
    let naive = NaiveDateTime::new(date, t);
    for shift in 0..=4 {
        let probe = naive + Duration::minutes(30 * shift);
        if let Some(at) = tz.from_local_datetime(&probe).earliest() {
            return at.with_timezone(&Utc);
        }
    }
    Utc.from_utc_datetime(&naive)
}

fn fmt_time(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

/// The user preference `schedule`, field by field (a stored value that is not valid is a
/// 422 naming it, so the user can fix it).
#[derive(Debug)]
struct Defaults {
    work_start: NaiveTime,
    cutoff: NaiveTime,
    buffer: i32,
}

fn defaults(prefs: Option<&Value>) -> ApiResult<Defaults> {
    let schedule = prefs.and_then(|p| p.get("schedule"));
    let time = |key: &str, default: NaiveTime| -> ApiResult<NaiveTime> {
        match schedule.and_then(|s| s.get(key)) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_str().and_then(parse_time).ok_or_else(|| {
                ApiError::validation(
                    format!("preferences.schedule.{key}"),
                    "must be a time of day (HH:MM)",
                )
            }),
        }
    };
    let buffer = match schedule.and_then(|s| s.get("buffer_minutes")) {
        None | Some(Value::Null) => DEFAULT_BUFFER,
        Some(v) => v
            .as_i64()
            .filter(|b| (0..=MAX_BUFFER_MINUTES as i64).contains(b))
            .ok_or_else(|| {
                ApiError::validation(
                    "preferences.schedule.buffer_minutes",
                    format!("must be between 0 and {MAX_BUFFER_MINUTES}"),
                )
            })? as i32,
    };
    Ok(Defaults {
        work_start: time("work_start", DEFAULT_WORK_START)?,
        cutoff: time("cutoff", DEFAULT_CUTOFF)?,
        buffer,
    })
}

fn to_blocks(rows: Vec<BlockRow>) -> ApiResult<Vec<Block>> {
    rows.into_iter().map(Block::try_from).collect()
}

fn to_plan(row: PlanRow, blocks: Vec<Block>, warnings: Vec<SourceWarning>) -> ApiResult<Plan> {
    let unscheduled: Vec<Unscheduled> =
        serde_json::from_value(row.unscheduled).map_err(ApiError::internal)?;
    Ok(Plan {
        date: row.date,
        timezone: row.timezone,
        work_start: row.work_start,
        cutoff: row.cutoff,
        buffer_minutes: row.buffer_minutes,
        blocks,
        unscheduled,
        warnings,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The key of a block's start reminder: one per block and start time.
pub fn reminder_key(block_id: Uuid, start: DateTime<Utc>) -> String {
    format!(
        "block:{block_id}:{}",
        start.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

/// Arm the start reminder of a task block: unless the task has its own reminder, is no
/// longer open, or the block has started already.
async fn arm_reminder(
    conn: &mut PgConnection,
    user_id: Uuid,
    block: &BlockRow,
    tz: Tz,
) -> ApiResult<()> {
    let Some(task_id) = block.task_id else {
        return Ok(());
    };
    if block.starts_at <= Utc::now() {
        return Ok(());
    }
    let Some(task) = repo::task_for_reminder(&mut *conn, user_id, task_id).await? else {
        return Ok(());
    };
    if !task.open || task.remind_at.is_some() {
        return Ok(());
    }
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%H:%M").to_string();
    let payload = json!({
        "user_id": user_id,
        "kind": "schedule",
        "title": task.title,
        "body": format!("Planned now: {}–{}", local(block.starts_at), local(block.ends_at)),
        "priority": "normal",
        "source_type": "schedule_block",
        "source_id": block.id,
    });
    crate::jobs::schedule(
        &mut *conn,
        crate::jobs::NewJob::new(
            REMINDER_JOB,
            reminder_key(block.id, block.starts_at),
            payload,
        )
        .at(block.starts_at),
    )
    .await?;
    Ok(())
}

async fn disarm_reminder(conn: &mut PgConnection, block: &BlockRow) -> ApiResult<()> {
    if block.task_id.is_some() {
        crate::jobs::cancel(
            &mut *conn,
            REMINDER_JOB,
            &reminder_key(block.id, block.starts_at),
        )
        .await?;
    }
    Ok(())
}

/// The stored plan of a day (`NotFound` when the day was never planned).
pub async fn get_plan(db: &sqlx::PgPool, user_id: Uuid, date: NaiveDate) -> ApiResult<Plan> {
    let row = repo::find_plan(db, user_id, date)
        .await?
        .ok_or(ApiError::NotFound)?;
    let blocks = to_blocks(repo::blocks_of(db, row.id).await?)?;
    to_plan(row, blocks, Vec::new())
}

/// Plan a day: see the module docs of [`crate::schedule`]. Whether the plan was created
/// (rather than planned again).
pub async fn plan_day(state: &AppState, user_id: Uuid, input: PlanDay) -> ApiResult<(Plan, bool)> {
    use crate::http::Validate;
    input.validate().map_err(ApiError::Validation)?;
    let db = &state.db;
    let date = parse_date(&input.date).ok_or_else(|| ApiError::validation("date", "invalid"))?;
    let user = crate::users::repo::find(db, user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let tz_name = input.timezone.clone().unwrap_or(user.timezone);
    let tz: Tz = tz_name
        .parse()
        .map_err(|_| ApiError::validation("timezone", "must be an IANA time zone"))?;
    let prefs = crate::users::repo::preferences(db, user_id).await?;
    let d = defaults(prefs.as_ref())?;
    let work_start = input
        .work_start
        .as_deref()
        .and_then(parse_time)
        .unwrap_or(d.work_start);
    let cutoff = input
        .cutoff
        .as_deref()
        .and_then(parse_time)
        .unwrap_or(d.cutoff);
    let buffer = input.buffer_minutes.unwrap_or(d.buffer);
    if cutoff <= work_start {
        return Err(ApiError::validation(
            "cutoff",
            format!("must be after work_start ({})", fmt_time(work_start)),
        ));
    }
    let replace = input.replace.unwrap_or(true);

    let start_at = local_instant(tz, date, work_start);
    let cutoff_at = local_instant(tz, date, cutoff);
    // Nothing is planned in the past: today starts at the next five-minute mark.
    let now = Utc::now();
    let next_mark = {
        let secs = now.timestamp();
        let step = 300;
        DateTime::<Utc>::from_timestamp(secs + (step - secs.rem_euclid(step)), 0).unwrap_or(now)
    };
    let from = start_at.max(next_mark);

    // Outside the transaction: a slow calendar must not hold the plan's row lock.
    let (busy, warnings) = super::busy::collect(state, user_id, start_at, cutoff_at).await;

    let mut tx = db.begin().await?;
    let (plan_id, created) = repo::upsert_plan(
        &mut *tx,
        repo::NewPlan {
            user_id,
            date,
            timezone: tz.name(),
            work_start,
            cutoff,
            buffer_minutes: buffer,
        },
    )
    .await?;
    for gone in repo::delete_unlocked(&mut *tx, plan_id, replace).await? {
        disarm_reminder(&mut tx, &gone).await?;
    }
    let mut fixed: Vec<Span> = repo::blocks_of(&mut *tx, plan_id)
        .await?
        .iter()
        .map(|b| Span {
            start: b.starts_at,
            end: b.ends_at,
        })
        .collect();
    for b in &busy {
        let title = if b.title.trim().is_empty() {
            "Busy"
        } else {
            b.title.trim()
        };
        repo::insert_block(
            &mut *tx,
            repo::NewBlock {
                user_id,
                plan_id,
                start: b.start,
                end: b.end,
                kind: BlockKind::Busy.as_str(),
                task_id: None,
                title,
                source: super::model::BlockSource::Calendar.as_str(),
            },
        )
        .await?;
        fixed.push(Span {
            start: b.start,
            end: b.end,
        });
    }

    let tasks = repo::open_tasks(&mut *tx, user_id, date, plan_id, MAX_TASKS).await?;
    let candidates: Vec<Candidate> = tasks
        .iter()
        .map(|t| Candidate {
            minutes: t
                .estimate_minutes
                .map_or(DEFAULT_ESTIMATE_MINUTES, i64::from),
        })
        .collect();
    let day = Day {
        from,
        to: cutoff_at,
        buffer: Duration::minutes(buffer.into()),
        tz,
    };
    let mut unscheduled = Vec::new();
    for (task, outcome) in tasks.iter().zip(place::place(&day, &fixed, &candidates)) {
        match outcome {
            Outcome::Placed(span) => {
                let row = repo::insert_block(
                    &mut *tx,
                    repo::NewBlock {
                        user_id,
                        plan_id,
                        start: span.start,
                        end: span.end,
                        kind: BlockKind::Task.as_str(),
                        task_id: Some(task.id),
                        title: &task.title,
                        source: super::model::BlockSource::Plan.as_str(),
                    },
                )
                .await?;
                arm_reminder(&mut tx, user_id, &row, tz).await?;
            }
            Outcome::Left(code, reason) => unscheduled.push(Unscheduled {
                task_id: task.id,
                title: task.title.clone(),
                code,
                reason,
            }),
        }
    }
    let unscheduled = serde_json::to_value(&unscheduled).map_err(ApiError::internal)?;
    let row = repo::set_unscheduled(&mut *tx, plan_id, &unscheduled).await?;
    let blocks = to_blocks(repo::blocks_of(&mut *tx, plan_id).await?)?;
    let plan = to_plan(row, blocks, warnings)?;
    let kind = if created {
        "schedule.created"
    } else {
        "schedule.updated"
    };
    crate::events::publish(&mut *tx, user_id, kind, &plan).await?;
    tx.commit().await?;
    Ok((plan, created))
}

/// Move, resize, lock or unlock a block. Only `start` moves the block and keeps its
/// length; `end` alone resizes it. A task block's start reminder follows it.
pub async fn update_block(
    db: &sqlx::PgPool,
    user_id: Uuid,
    id: Uuid,
    input: UpdateBlock,
) -> ApiResult<Block> {
    let mut tx = db.begin().await?;
    let (current, tz) = repo::find_block_for_update(&mut *tx, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (start, end) = match (input.start, input.end) {
        (Some(s), None) => (s, s + (current.ends_at - current.starts_at)),
        (s, e) => (s.unwrap_or(current.starts_at), e.unwrap_or(current.ends_at)),
    };
    {
        use chrono::Datelike;
        for (field, t) in [("start", start), ("end", end)] {
            if !super::model::YEARS.contains(&t.year()) {
                return Err(ApiError::validation(field, "must be from 1970 to 9999"));
            }
        }
    }
    if end <= start {
        return Err(ApiError::validation("end", "must be after start"));
    }
    if end - start > Duration::hours(24) {
        return Err(ApiError::validation(
            "end",
            "must be at most 24 hours after start",
        ));
    }
    let locked = input.locked.unwrap_or(current.locked);
    let row = repo::update_block(&mut *tx, user_id, id, start, end, locked).await?;
    if row.starts_at != current.starts_at || row.ends_at != current.ends_at {
        disarm_reminder(&mut tx, &current).await?;
        arm_reminder(&mut tx, user_id, &row, tz.parse().unwrap_or(chrono_tz::UTC)).await?;
    }
    let block = Block::try_from(row)?;
    crate::events::publish(&mut *tx, user_id, "schedule_block.updated", &block).await?;
    tx.commit().await?;
    Ok(block)
}

/// Remove a block (its start reminder with it).
pub async fn delete_block(db: &sqlx::PgPool, user_id: Uuid, id: Uuid) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    let gone = repo::delete_block(&mut *tx, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    disarm_reminder(&mut tx, &gone).await?;
    crate::events::publish(
        &mut *tx,
        user_id,
        "schedule_block.deleted",
        &json!({"id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_instants_across_dst() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2030, 3, 31).unwrap();
        // 02:30 does not exist that night in Paris: the first instant after the gap.
        let t = local_instant(paris, d, NaiveTime::from_hms_opt(2, 30, 0).unwrap());
        assert_eq!(t.to_rfc3339(), "2030-03-31T01:00:00+00:00");
        let t = local_instant(paris, d, NaiveTime::from_hms_opt(9, 0, 0).unwrap());
        assert_eq!(t.to_rfc3339(), "2030-03-31T07:00:00+00:00");
    }

    #[test]
    fn preference_defaults_and_their_errors() {
        let d = defaults(Some(
            &json!({"schedule": {"work_start": "08:30", "buffer_minutes": 0}}),
        ))
        .unwrap();
        assert_eq!(d.work_start, NaiveTime::from_hms_opt(8, 30, 0).unwrap());
        assert_eq!(d.cutoff, DEFAULT_CUTOFF);
        assert_eq!(d.buffer, 0);
        let e = defaults(Some(&json!({"schedule": {"cutoff": "late"}}))).unwrap_err();
        assert!(
            matches!(e, ApiError::Validation(f) if f[0].field == "preferences.schedule.cutoff")
        );
    }
}
