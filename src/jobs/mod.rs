//! Durable background jobs in PostgreSQL, shared by every instance.
//!
//! Anything that must happen later or survive a restart (a reminder, an escalation step,
//! memory extraction, a token refresh) is a row in `jobs`:
//!
//! - **Once per key.** `(kind, key)` is unique: [`enqueue`] of a key that exists does
//!   nothing, so the same job is never queued twice. Pick keys that name the work
//!   (`reminder:<task>:<remind_at>`), not the moment it was asked for.
//! - **Claimed with `for update skip locked`** under a lease: any number of instances share
//!   the queue, and a job runs on one of them at a time. The worker renews its lease while
//!   the handler runs; a worker that dies stops renewing, and once the lease expires another
//!   instance claims the job again (its `attempts` grows).
//! - **Retries with backoff**: a handler's [`JobError::Retry`] queues the job again after an
//!   exponential, jittered delay; after `max_attempts` (or [`JobError::Fail`]) it is `failed`.
//! - **At least once**: a job whose worker died after its effect but before `done` runs
//!   again, so handlers must be idempotent (check state, use unique keys for what they
//!   create). Completion is fenced by `(locked_by, attempts)`: a worker whose lease was
//!   taken over cannot mark the new claim done.
//! - **Wake-ups**: inserting a due job notifies `cadence_jobs` (a trigger), which wakes the
//!   workers at once; a sweep every `jobs.sweep_secs` catches expired leases and anything
//!   missed, and a worker sleeps until the next `run_at` it knows of.
//! - **Metrics**: `jobs_queued{state=ready|scheduled}`, `jobs_running`, `jobs_failed`,
//!   `jobs_oldest_ready_seconds` (gauges of the shared table: take the max across
//!   instances, not the sum), `jobs_lag_seconds{kind}` (claim time − `run_at`),
//!   `jobs_duration_seconds{kind}`, `jobs_finished_total{kind,outcome}`.
//!
//! Domains register handlers by kind in [`registry`]; [`worker::Worker`] runs them.

pub mod repo;
pub mod worker;

use std::{collections::HashMap, future::Future, pin::Pin, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::state::AppState;

pub use worker::Worker;

/// A claimed job, as its handler sees it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub key: String,
    pub payload: Value,
    pub run_at: DateTime<Utc>,
    /// This claim's attempt, from 1.
    pub attempts: i32,
    pub max_attempts: i32,
    /// How late the claim came after `run_at`, in seconds.
    pub lag_secs: f64,
}

/// A job to queue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub key: String,
    pub payload: Value,
    /// `None`: now (by the database's clock).
    pub run_at: Option<DateTime<Utc>>,
    pub max_attempts: i32,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, key: impl Into<String>, payload: Value) -> Self {
        Self {
            kind: kind.into(),
            key: key.into(),
            payload,
            run_at: None,
            max_attempts: 10,
        }
    }

    pub fn at(mut self, run_at: DateTime<Utc>) -> Self {
        self.run_at = Some(run_at);
        self
    }

    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
}

/// Queue a job unless its `(kind, key)` exists already (queued, running or finished and not
/// yet purged). Whether it was queued. Inside a transaction it is queued on commit.
pub async fn enqueue(db: impl PgExecutor<'_>, job: NewJob) -> sqlx::Result<bool> {
    repo::insert(db, &job).await
}

/// Queue a job, or move the existing one with this `(kind, key)` to the new time and payload
/// (attempts start over) — unless it is running right now, then nothing changes and this
/// returns false.
pub async fn schedule(db: impl PgExecutor<'_>, job: NewJob) -> sqlx::Result<bool> {
    repo::upsert(db, &job).await
}

/// Remove a job that is not running. Whether one was removed.
pub async fn cancel(db: impl PgExecutor<'_>, kind: &str, key: &str) -> sqlx::Result<bool> {
    repo::delete(db, kind, key).await
}

/// Why a handler did not finish its job.
#[derive(Debug)]
pub enum JobError {
    /// Try again after the backoff delay.
    Retry(anyhow::Error),
    /// Try again after this long (e.g. a vendor's `Retry-After`).
    RetryIn(Duration, anyhow::Error),
    /// Never try again: the job is `failed`.
    Fail(anyhow::Error),
}

impl JobError {
    pub fn fail(e: impl Into<anyhow::Error>) -> Self {
        Self::Fail(e.into())
    }
    fn message(&self) -> String {
        let e = match self {
            Self::Retry(e) | Self::RetryIn(_, e) | Self::Fail(e) => e,
        };
        format!("{e:#}").chars().take(2000).collect()
    }
}

impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> Self {
        Self::Retry(e)
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        Self::Retry(e.into())
    }
}

impl From<crate::error::ApiError> for JobError {
    fn from(e: crate::error::ApiError) -> Self {
        Self::Retry(anyhow::anyhow!("{e}"))
    }
}

pub type JobResult = Result<(), JobError>;
type BoxFuture = Pin<Box<dyn Future<Output = JobResult> + Send>>;
type HandlerFn = Arc<dyn Fn(AppState, Job) -> BoxFuture + Send + Sync>;

/// Handlers by job kind.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, HandlerFn>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Handle jobs of `kind` with `f(state, job)`.
    pub fn add<F, Fut>(mut self, kind: &str, f: F) -> Self
    where
        F: Fn(AppState, Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        let f = Arc::new(f);
        self.handlers.insert(
            kind.to_string(),
            Arc::new(move |state, job| Box::pin(f(state, job)) as BoxFuture),
        );
        self
    }

    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.handlers.keys().cloned().collect();
        k.sort();
        k
    }

    fn get(&self, kind: &str) -> Option<HandlerFn> {
        self.handlers.get(kind).cloned()
    }
}

/// The delay before retry `attempt` (1-based): 2 s doubling per attempt, capped at 10 min,
/// with ±20 % jitter so a burst of failures does not retry in lockstep.
pub fn backoff(attempt: i32) -> Duration {
    let base = 2f64 * 2f64.powi(attempt.clamp(1, 20) - 1);
    let capped = base.min(600.0);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    Duration::from_secs_f64(capped * jitter)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_grows_and_is_capped() {
        let secs = |a| backoff(a).as_secs_f64();
        assert!((1.6..=2.4).contains(&secs(1)));
        assert!((3.2..=4.8).contains(&secs(2)));
        assert!((480.0..=720.0).contains(&secs(12)));
        assert!((480.0..=720.0).contains(&secs(1000)));
    }
}
