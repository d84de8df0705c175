use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::{BlockRow, PlanRow};

pub async fn find_plan(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    date: NaiveDate,
) -> sqlx::Result<Option<PlanRow>> {
    sqlx::query_as!(
        PlanRow,
        r#"select id, date, timezone, work_start, cutoff, buffer_minutes, unscheduled,
                  created_at, updated_at
           from schedule_plans where user_id = $1 and date = $2"#,
        user_id,
        date
    )
    .fetch_optional(db)
    .await
}

pub struct NewPlan<'a> {
    pub user_id: Uuid,
    pub date: NaiveDate,
    pub timezone: &'a str,
    pub work_start: NaiveTime,
    pub cutoff: NaiveTime,
    pub buffer_minutes: i32,
}

/// Create the day's plan or take the existing one over with new settings; the row stays
/// locked until the transaction ends, so two plannings of one day run one after the other.
/// Whether it was created.
pub async fn upsert_plan(db: impl PgExecutor<'_>, p: NewPlan<'_>) -> sqlx::Result<(Uuid, bool)> {
    let r = sqlx::query!(
        r#"insert into schedule_plans (id, user_id, date, timezone, work_start, cutoff, buffer_minutes)
           values ($1, $2, $3, $4, $5, $6, $7)
           on conflict (user_id, date) do update
             set timezone = excluded.timezone, work_start = excluded.work_start,
                 cutoff = excluded.cutoff, buffer_minutes = excluded.buffer_minutes
           returning id, (xmax = 0) as "created!""#,
        Uuid::now_v7(),
        p.user_id,
        p.date,
        p.timezone,
        p.work_start,
        p.cutoff,
        p.buffer_minutes
    )
    .fetch_one(db)
    .await?;
    Ok((r.id, r.created))
}

pub async fn set_unscheduled(
    db: impl PgExecutor<'_>,
    plan_id: Uuid,
    unscheduled: &Value,
) -> sqlx::Result<PlanRow> {
    sqlx::query_as!(
        PlanRow,
        r#"update schedule_plans set unscheduled = $2 where id = $1
           returning id, date, timezone, work_start, cutoff, buffer_minutes, unscheduled,
                     created_at, updated_at"#,
        plan_id,
        unscheduled
    )
    .fetch_one(db)
    .await
}

/// The plan's blocks in start order.
pub async fn blocks_of(db: impl PgExecutor<'_>, plan_id: Uuid) -> sqlx::Result<Vec<BlockRow>> {
    sqlx::query_as!(
        BlockRow,
        r#"select id, plan_id, starts_at, ends_at, kind, task_id, title, locked, source
           from schedule_blocks where plan_id = $1 order by starts_at, id"#,
        plan_id
    )
    .fetch_all(db)
    .await
}

/// Remove the unlocked blocks a new planning replaces: all of them (`everything`) or only
/// the calendar's (asked again each time). The removed rows.
pub async fn delete_unlocked(
    db: impl PgExecutor<'_>,
    plan_id: Uuid,
    everything: bool,
) -> sqlx::Result<Vec<BlockRow>> {
    sqlx::query_as!(
        BlockRow,
        r#"delete from schedule_blocks
           where plan_id = $1 and not locked and ($2 or source = 'calendar')
           returning id, plan_id, starts_at, ends_at, kind, task_id, title, locked, source"#,
        plan_id,
        everything
    )
    .fetch_all(db)
    .await
}

pub struct NewBlock<'a> {
    pub user_id: Uuid,
    pub plan_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub kind: &'a str,
    pub task_id: Option<Uuid>,
    pub title: &'a str,
    pub source: &'a str,
}

pub async fn insert_block(db: impl PgExecutor<'_>, b: NewBlock<'_>) -> sqlx::Result<BlockRow> {
    sqlx::query_as!(
        BlockRow,
        r#"insert into schedule_blocks (id, user_id, plan_id, starts_at, ends_at, kind, task_id, title, source)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           returning id, plan_id, starts_at, ends_at, kind, task_id, title, locked, source"#,
        Uuid::now_v7(),
        b.user_id,
        b.plan_id,
        b.start,
        b.end,
        b.kind,
        b.task_id,
        b.title,
        b.source
    )
    .fetch_one(db)
    .await
}

/// One of the user's blocks, locked for the update, with its plan's time zone.
pub async fn find_block_for_update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<(BlockRow, String)>> {
    let r = sqlx::query!(
        r#"select b.id, b.plan_id, b.starts_at, b.ends_at, b.kind, b.task_id, b.title, b.locked,
                  b.source, p.timezone
           from schedule_blocks b join schedule_plans p on p.id = b.plan_id
           where b.id = $1 and b.user_id = $2
           for update of b"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| {
        (
            BlockRow {
                id: r.id,
                plan_id: r.plan_id,
                starts_at: r.starts_at,
                ends_at: r.ends_at,
                kind: r.kind,
                task_id: r.task_id,
                title: r.title,
                locked: r.locked,
                source: r.source,
            },
            r.timezone,
        )
    }))
}

pub async fn update_block(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    locked: bool,
) -> sqlx::Result<BlockRow> {
    sqlx::query_as!(
        BlockRow,
        r#"update schedule_blocks set starts_at = $3, ends_at = $4, locked = $5
           where id = $1 and user_id = $2
           returning id, plan_id, starts_at, ends_at, kind, task_id, title, locked, source"#,
        id,
        user_id,
        start,
        end,
        locked
    )
    .fetch_one(db)
    .await
}

pub async fn delete_block(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<BlockRow>> {
    sqlx::query_as!(
        BlockRow,
        r#"delete from schedule_blocks where id = $1 and user_id = $2
           returning id, plan_id, starts_at, ends_at, kind, task_id, title, locked, source"#,
        id,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// An open task as the planner sees it.
pub struct OpenTask {
    pub id: Uuid,
    pub title: String,
    pub estimate_minutes: Option<i32>,
    pub remind_at: Option<DateTime<Utc>>,
}

/// The user's open tasks in planning order: due on or before `date` first, then by
/// priority (urgent first), then oldest first. Tasks that already have a block on the plan
/// (kept blocks) are left out.
pub async fn open_tasks(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    date: NaiveDate,
    plan_id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<OpenTask>> {
    sqlx::query_as!(
        OpenTask,
        r#"select t.id, t.title, t.estimate_minutes, t.remind_at
           from tasks t
           where t.user_id = $1 and t.status in ('todo', 'in_progress')
             and not exists (select 1 from schedule_blocks b
                             where b.plan_id = $3 and b.task_id = t.id)
           order by (t.due_date is not null and t.due_date <= $2) desc,
                    case t.priority when 'urgent' then 0 when 'high' then 1
                                    when 'medium' then 2 else 3 end,
                    t.created_at, t.id
           limit $4"#,
        user_id,
        date,
        plan_id,
        limit
    )
    .fetch_all(db)
    .await
}

/// What a block-start reminder needs of its task: whether it is open and has its own
/// reminder.
pub struct TaskForReminder {
    pub title: String,
    pub open: bool,
    pub remind_at: Option<DateTime<Utc>>,
}

pub async fn task_for_reminder(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    task_id: Uuid,
) -> sqlx::Result<Option<TaskForReminder>> {
    sqlx::query_as!(
        TaskForReminder,
        r#"select title, status in ('todo', 'in_progress') as "open!", remind_at
           from tasks where id = $1 and user_id = $2"#,
        task_id,
        user_id
    )
    .fetch_optional(db)
    .await
}
