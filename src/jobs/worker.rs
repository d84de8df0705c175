//! The worker one instance runs: claims due jobs of the kinds it has handlers for, runs
//! each under a renewed lease, and records the outcome. See the module above for the
//! guarantees.

use std::{
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::FutureExt;
use sqlx::postgres::PgListener;
use tokio::{sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;

use super::{HandlerFn, Job, JobError, Registry, backoff, repo};
use crate::state::AppState;

/// The notification channel the `jobs_notify` trigger uses.
pub const CHANNEL: &str = "cadence_jobs";

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once by this worker.
    pub concurrency: usize,
    /// A claim lasts this long unless renewed (renewed every third of it).
    pub lease: Duration,
    /// Longest sleep between looks at the queue (expired leases, missed notifications).
    pub sweep: Duration,
}

impl WorkerConfig {
    pub fn from_settings(s: &crate::config::JobsSettings) -> Self {
        Self {
            concurrency: s.concurrency.max(1),
            lease: Duration::from_secs_f64(s.lease_secs.max(0.2)),
            sweep: Duration::from_secs_f64(s.sweep_secs.max(0.05)),
        }
    }
}

/// A running worker. Dropping the handle leaves it running until `stop` is cancelled.
pub struct Worker {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    pub name: String,
}

impl Worker {
    /// Start the instance's worker with the settings' `[jobs]` values; it stops claiming
    /// when the server shuts down and lets running jobs finish within the grace period.
    pub fn start(state: &AppState, registry: Registry) -> Self {
        let cfg = WorkerConfig::from_settings(&state.settings.jobs);
        Self::start_with(state, registry, cfg, state.shutdown.child_token())
    }

    pub fn start_with(
        state: &AppState,
        registry: Registry,
        cfg: WorkerConfig,
        stop: CancellationToken,
    ) -> Self {
        let name = format!(
            "{}:{}:{}",
            hostname(),
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let task = state.tasks.spawn(run(
            state.clone(),
            Arc::new(registry),
            cfg,
            stop.clone(),
            name.clone(),
        ));
        Self { stop, task, name }
    }

    /// Stop claiming and wait for the running jobs to finish.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }

    /// Die at once, as a crashed process would: running handlers are dropped mid-way and
    /// their leases are left to expire.
    pub fn kill(self) {
        self.task.abort();
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "cadence".into())
}

/// The listener holds its connection for as long as it lives, so it gets a one-connection
/// pool of its own: it never takes a connection the handlers need (a small pool would
/// otherwise run a job's queries short by one for good), and closing the main pool on
/// shutdown does not wait for it.
async fn listen(state: &AppState) -> Option<PgListener> {
    let own = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(state.db.connect_options().as_ref().clone());
    let mut l = PgListener::connect_with(&own).await.ok()?;
    l.listen(CHANNEL).await.ok()?;
    Some(l)
}

/// Wait for a notification; forever when there is no listener (the sweep timer then wakes
/// the loop). A failed listener is dropped and reconnected on the next round.
async fn notified(listener: &mut Option<PgListener>) {
    match listener {
        Some(l) => {
            if l.recv().await.is_err() {
                *listener = None;
            }
        }
        None => std::future::pending().await,
    }
}

async fn run(
    state: AppState,
    registry: Arc<Registry>,
    cfg: WorkerConfig,
    stop: CancellationToken,
    name: String,
) {
    let kinds = registry.kinds();
    if kinds.is_empty() {
        return;
    }
    let slots = Arc::new(Semaphore::new(cfg.concurrency));
    let mut running: JoinSet<()> = JoinSet::new();
    let mut listener = listen(&state).await;
    let mut gauges_at = Instant::now() - Duration::from_secs(60);
    loop {
        if stop.is_cancelled() {
            break;
        }
        if listener.is_none() {
            listener = listen(&state).await;
        }
        let free = slots.available_permits();
        let mut claimed = 0;
        if free > 0 {
            match claim(&state, &name, &kinds, free, &cfg).await {
                Ok(jobs) => {
                    claimed = jobs.len();
                    for job in jobs {
                        let Ok(permit) = slots.clone().try_acquire_owned() else {
                            break;
                        };
                        let Some(handler) = registry.get(&job.kind) else {
                            continue;
                        };
                        let (state, name, lease) = (state.clone(), name.clone(), cfg.lease);
                        running.spawn(async move {
                            run_one(&state, handler, job, &name, lease).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "job claim failed; retrying after the sweep"),
            }
        }
        if gauges_at.elapsed() >= Duration::from_secs(5) {
            gauges_at = Instant::now();
            record_depth(&state).await;
        }
        // Everything claimable was not taken: look again at once.
        if free > 0 && claimed == free {
            continue;
        }
        let wait = next_wait(&state, &kinds, cfg.sweep).await;
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = notified(&mut listener) => {}
            _ = tokio::time::sleep(wait) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    // Graceful stop: the claimed jobs finish (the server's shutdown grace bounds this).
    while running.join_next().await.is_some() {}
}

async fn claim(
    state: &AppState,
    name: &str,
    kinds: &[String],
    free: usize,
    cfg: &WorkerConfig,
) -> sqlx::Result<Vec<Job>> {
    let failed = repo::fail_exhausted(&state.db, kinds).await?;
    if failed > 0 {
        tracing::warn!(
            failed,
            "jobs failed: their lease expired on the last attempt"
        );
        metrics::counter!("jobs_finished_total", "kind" => "any", "outcome" => "failed")
            .increment(failed);
    }
    repo::claim(&state.db, name, kinds, free as i64, cfg.lease.as_secs_f64()).await
}

/// How long to sleep: until the next queued job is due, at most one sweep.
async fn next_wait(state: &AppState, kinds: &[String], sweep: Duration) -> Duration {
    let next = match repo::next_run_at(&state.db, kinds).await {
        Ok(Some(t)) => t,
        _ => return sweep,
    };
    match repo::seconds_until(&state.db, next).await {
        Ok(secs) if secs <= 0.0 => Duration::from_millis(5),
        Ok(secs) => Duration::from_secs_f64(secs).min(sweep),
        Err(_) => sweep,
    }
}

async fn record_depth(state: &AppState) {
    if let Ok(d) = repo::depth(&state.db).await {
        metrics::gauge!("jobs_queued", "state" => "ready").set(d.ready as f64);
        metrics::gauge!("jobs_queued", "state" => "scheduled").set(d.scheduled as f64);
        metrics::gauge!("jobs_running").set(d.running as f64);
        metrics::gauge!("jobs_failed").set(d.failed as f64);
        metrics::gauge!("jobs_oldest_ready_seconds").set(d.oldest_ready_secs);
    }
}

async fn run_one(state: &AppState, handler: HandlerFn, job: Job, worker: &str, lease: Duration) {
    let kind = job.kind.clone();
    metrics::histogram!("jobs_lag_seconds", "kind" => kind.clone()).record(job.lag_secs.max(0.0));
    let started = Instant::now();
    let (id, attempt) = (job.id, job.attempts);
    let work = AssertUnwindSafe(handler(state.clone(), job)).catch_unwind();
    tokio::pin!(work);
    let mut beat = tokio::time::interval(lease / 3);
    beat.tick().await;
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = beat.tick() => {
                match repo::renew(&state.db, id, worker, attempt, lease.as_secs_f64()).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(job = %id, kind, "job lease lost while running"),
                    Err(e) => tracing::warn!(job = %id, error = %e, "job lease renewal failed"),
                }
            }
        }
    };
    let result =
        result.unwrap_or_else(|_| Err(JobError::Retry(anyhow::anyhow!("handler panicked"))));
    metrics::histogram!("jobs_duration_seconds", "kind" => kind.clone())
        .record(started.elapsed().as_secs_f64());
    let outcome = match result {
        Ok(()) => match repo::complete(&state.db, id, worker, attempt).await {
            Ok(true) => "done",
            Ok(false) => "lease_lost",
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "could not mark the job done; it will run again");
                "unrecorded"
            }
        },
        Err(e) => {
            let (delay, fail) = match &e {
                JobError::Retry(_) => (backoff(attempt), false),
                JobError::RetryIn(d, _) => (*d, false),
                JobError::Fail(_) => (Duration::ZERO, true),
            };
            let message = e.message();
            tracing::warn!(job = %id, kind, attempt, error = %message, "job did not finish");
            match repo::release(
                &state.db,
                id,
                worker,
                attempt,
                delay.as_secs_f64(),
                fail,
                &message,
            )
            .await
            {
                Ok(Some(status)) if status == "failed" => "failed",
                Ok(Some(_)) => "retry",
                Ok(None) => "lease_lost",
                Err(_) => "unrecorded",
            }
        }
    };
    metrics::counter!("jobs_finished_total", "kind" => kind, "outcome" => outcome).increment(1);
}
