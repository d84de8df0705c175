//! The SQL of the job queue. Every time comparison uses the database's clock, so instances
//! with skewed clocks still agree on what is due and whose lease has expired.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::{Job, NewJob};

/// Insert the job unless one with the same `(kind, key)` exists. Whether it was inserted.
pub async fn insert(db: impl PgExecutor<'_>, job: &NewJob) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"insert into jobs (id, kind, key, payload, run_at, max_attempts)
           values ($1, $2, $3, $4, coalesce($5, now()), $6)
           on conflict (kind, key) do nothing"#,
        Uuid::now_v7(),
        job.kind,
        job.key,
        job.payload,
        job.run_at,
        job.max_attempts
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Insert the job, or re-queue the existing one with this payload and time (attempts start
/// over) unless it is running right now. Whether the job is now queued as given.
pub async fn upsert(db: impl PgExecutor<'_>, job: &NewJob) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"insert into jobs (id, kind, key, payload, run_at, max_attempts)
           values ($1, $2, $3, $4, coalesce($5, now()), $6)
           on conflict (kind, key) do update
              set payload = excluded.payload, run_at = excluded.run_at,
                  max_attempts = excluded.max_attempts, status = 'queued', attempts = 0,
                  last_error = null, finished_at = null, locked_by = null, locked_until = null
              where jobs.status <> 'running'"#,
        Uuid::now_v7(),
        job.kind,
        job.key,
        job.payload,
        job.run_at,
        job.max_attempts
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Delete a job that is not running. Whether one was deleted.
pub async fn delete(db: impl PgExecutor<'_>, kind: &str, key: &str) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "delete from jobs where kind = $1 and key = $2 and status <> 'running'",
        kind,
        key
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Running jobs whose lease ran out on their last allowed attempt: failed.
pub async fn fail_exhausted(db: impl PgExecutor<'_>, kinds: &[String]) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        r#"update jobs
           set status = 'failed', finished_at = now(), locked_by = null, locked_until = null,
               last_error = coalesce(last_error || '; ', '') || 'lease expired on the last attempt'
           where status = 'running' and locked_until < now() and attempts >= max_attempts
             and kind = any($1)"#,
        kinds
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// Claim up to `limit` due jobs of these kinds (queued and due, or running under an
/// expired lease) for `worker`, leased for `lease_secs`.
pub async fn claim(
    db: impl PgExecutor<'_>,
    worker: &str,
    kinds: &[String],
    limit: i64,
    lease_secs: f64,
) -> sqlx::Result<Vec<Job>> {
    sqlx::query_as!(
        Job,
        // Two ordered scans, one per partial index, each stopping after `limit` rows: one
        // `where (queued and due) or (expired lease)` sorted every ready job on each claim
        // (10,000 due reminders: 12–27 ms a claim against 0.5 ms this way; BENCHMARKS.md).
        r#"with due as (
               select id, run_at from jobs
               where status = 'queued' and run_at <= now() and kind = any($2)
               order by run_at, id
               limit $3
               for update skip locked
           ), expired as (
               select id, run_at from jobs
               where status = 'running' and locked_until < now() and attempts < max_attempts
                 and kind = any($2)
               order by locked_until
               limit $3
               for update skip locked
           ), ready as (
               select id from (select * from due union all select * from expired) c
               order by run_at, id
               limit $3
           )
           update jobs j
           set status = 'running', attempts = j.attempts + 1, locked_by = $1,
               locked_until = now() + make_interval(secs => $4)
           from ready where j.id = ready.id
           returning j.id, j.kind, j.key, j.payload, j.run_at, j.attempts, j.max_attempts,
                     extract(epoch from now() - j.run_at)::float8 as "lag_secs!""#,
        worker,
        kinds,
        limit,
        lease_secs
    )
    .fetch_all(db)
    .await
}

/// Extend the lease of a claim we still hold. False when it was lost (expired and taken).
pub async fn renew(
    db: impl PgExecutor<'_>,
    id: Uuid,
    worker: &str,
    attempt: i32,
    lease_secs: f64,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"update jobs set locked_until = now() + make_interval(secs => $4)
           where id = $1 and locked_by = $2 and attempts = $3 and status = 'running'"#,
        id,
        worker,
        attempt,
        lease_secs
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Finish a claim we still hold. False when the lease was lost meanwhile.
pub async fn complete(
    db: impl PgExecutor<'_>,
    id: Uuid,
    worker: &str,
    attempt: i32,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"update jobs
           set status = 'done', finished_at = now(), locked_by = null, locked_until = null,
               last_error = null
           where id = $1 and locked_by = $2 and attempts = $3 and status = 'running'"#,
        id,
        worker,
        attempt
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Give a claim back: queued again `delay_secs` from now, or failed when `fail` (or out of
/// attempts). Returns the new status, or `None` when the lease was lost meanwhile.
pub async fn release(
    db: impl PgExecutor<'_>,
    id: Uuid,
    worker: &str,
    attempt: i32,
    delay_secs: f64,
    fail: bool,
    error: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        r#"update jobs
           set status = case when $5 or attempts >= max_attempts then 'failed' else 'queued' end,
               run_at = case when $5 or attempts >= max_attempts then run_at
                             else now() + make_interval(secs => $4) end,
               finished_at = case when $5 or attempts >= max_attempts then now() end,
               locked_by = null, locked_until = null, last_error = $6
           where id = $1 and locked_by = $2 and attempts = $3 and status = 'running'
           returning status"#,
        id,
        worker,
        attempt,
        delay_secs,
        fail,
        error
    )
    .fetch_optional(db)
    .await
}

/// When the next queued job of these kinds is due (`None`: nothing queued).
pub async fn next_run_at(
    db: impl PgExecutor<'_>,
    kinds: &[String],
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!(
        r#"select min(run_at) from jobs where status = 'queued' and kind = any($1)"#,
        kinds
    )
    .fetch_one(db)
    .await
}

/// How far the database clock is ahead of `t` (to turn a database time into a sleep).
pub async fn seconds_until(db: impl PgExecutor<'_>, t: DateTime<Utc>) -> sqlx::Result<f64> {
    sqlx::query_scalar!(
        r#"select extract(epoch from $1::timestamptz - now())::float8 as "secs!""#,
        t
    )
    .fetch_one(db)
    .await
}

/// Queue depth for the gauges: (queued and due, queued in the future, running, failed,
/// seconds the oldest due job has waited).
pub struct Depth {
    pub ready: i64,
    pub scheduled: i64,
    pub running: i64,
    pub failed: i64,
    pub oldest_ready_secs: f64,
}

pub async fn depth(db: impl PgExecutor<'_>) -> sqlx::Result<Depth> {
    sqlx::query_as!(
        Depth,
        r#"select count(*) filter (where status = 'queued' and run_at <= now()) as "ready!",
                  count(*) filter (where status = 'queued' and run_at > now()) as "scheduled!",
                  count(*) filter (where status = 'running') as "running!",
                  count(*) filter (where status = 'failed') as "failed!",
                  coalesce(extract(epoch from now() - min(run_at)
                           filter (where status = 'queued' and run_at <= now())), 0)::float8
                      as "oldest_ready_secs!"
           from jobs where status in ('queued', 'running', 'failed')"#
    )
    .fetch_one(db)
    .await
}

/// Forget finished jobs older than `hours` (their keys may then be queued again).
pub async fn purge_finished(db: impl PgExecutor<'_>, hours: i64) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        r#"delete from jobs where status in ('done', 'failed')
           and finished_at < now() - make_interval(hours => $1::int)"#,
        hours as i32
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// One job as stored (for tests and operators).
pub async fn find(db: impl PgExecutor<'_>, kind: &str, key: &str) -> sqlx::Result<Option<Value>> {
    sqlx::query_scalar!(
        r#"select jsonb_build_object('id', id, 'kind', kind, 'key', key, 'payload', payload,
                  'run_at', run_at, 'status', status, 'attempts', attempts,
                  'max_attempts', max_attempts, 'last_error', last_error,
                  'finished_at', finished_at) as "job!"
           from jobs where kind = $1 and key = $2"#,
        kind,
        key
    )
    .fetch_optional(db)
    .await
}
