//! The durable job queue: once per key, one run across several workers, lease expiry after
//! a worker dies, retries with backoff, future jobs, NOTIFY wake-ups, fenced completion.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use cadence::jobs::{self, JobError, NewJob, Registry, Worker, repo, worker::WorkerConfig};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

fn cfg(concurrency: usize, lease_ms: u64, sweep_ms: u64) -> WorkerConfig {
    WorkerConfig {
        concurrency,
        lease: Duration::from_millis(lease_ms),
        sweep: Duration::from_millis(sweep_ms),
    }
}

type Log = Arc<Mutex<Vec<(String, String)>>>;

/// A registry whose `test.record` jobs append `(key, tag)` to `log`.
fn recording(log: &Log, tag: &str) -> Registry {
    let (log, tag) = (log.clone(), tag.to_string());
    Registry::new().add("test.record", move |_state, job| {
        let (log, tag) = (log.clone(), tag.clone());
        async move {
            log.lock().push((job.key.clone(), tag));
            Ok(())
        }
    })
}

async fn job(pool: &PgPool, kind: &str, key: &str) -> Value {
    repo::find(pool, kind, key).await.unwrap().expect("job row")
}

/// Poll until `f` holds, failing after `secs`.
async fn wait_for(secs: u64, what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn count_status(pool: &PgPool, kind: &str, status: &str) -> i64 {
    sqlx::query_scalar("select count(*) from jobs where kind = $1 and status = $2")
        .bind(kind)
        .bind(status)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn each_job_runs_once_across_two_instances(pool: PgPool) {
    let a = spawn_app(pool.clone()).await;
    let b = spawn_app(pool.clone()).await;
    let log: Log = Arc::default();
    let wa = Worker::start_with(
        &a.state,
        recording(&log, "a"),
        cfg(4, 5000, 200),
        CancellationToken::new(),
    );
    let wb = Worker::start_with(
        &b.state,
        recording(&log, "b"),
        cfg(4, 5000, 200),
        CancellationToken::new(),
    );
    let mut tx = pool.begin().await.unwrap();
    for i in 0..300 {
        assert!(
            jobs::enqueue(
                &mut *tx,
                NewJob::new("test.record", format!("k{i}"), json!({}))
            )
            .await
            .unwrap()
        );
    }
    tx.commit().await.unwrap();
    wait_for(60, "300 jobs done", async || {
        count_status(&pool, "test.record", "done").await == 300
    })
    .await;
    wa.stop().await;
    wb.stop().await;
    let log = log.lock().clone();
    assert_eq!(log.len(), 300, "every job ran exactly once");
    let mut keys: Vec<&str> = log.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 300, "no job ran twice");
    let metrics = a.client.get(a.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for series in ["jobs_lag_seconds", "jobs_duration_seconds", "jobs_finished_total"] {
        assert!(metrics.contains(series), "{series} in /metrics");
    }
}

#[sqlx::test]
async fn a_key_is_queued_once_even_after_it_ran(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let log: Log = Arc::default();
    assert!(
        jobs::enqueue(&pool, NewJob::new("test.record", "once", json!({"n": 1})))
            .await
            .unwrap()
    );
    assert!(
        !jobs::enqueue(&pool, NewJob::new("test.record", "once", json!({"n": 2})))
            .await
            .unwrap()
    );
    let w = Worker::start_with(
        &app.state,
        recording(&log, "w"),
        cfg(2, 5000, 100),
        CancellationToken::new(),
    );
    wait_for(20, "the job done", async || {
        job(&pool, "test.record", "once").await["status"] == "done"
    })
    .await;
    assert!(
        !jobs::enqueue(&pool, NewJob::new("test.record", "once", json!({})))
            .await
            .unwrap()
    );
    // Give a duplicate every chance to run (it must not exist at all).
    assert_eq!(count_status(&pool, "test.record", "queued").await, 0);
    w.stop().await;
    assert_eq!(log.lock().len(), 1);
    assert_eq!(
        job(&pool, "test.record", "once").await["payload"],
        json!({"n": 1})
    );
}

#[sqlx::test]
async fn a_killed_instance_s_job_runs_again_on_the_other_after_its_lease(pool: PgPool) {
    let a = spawn_app(pool.clone()).await;
    let b = spawn_app(pool.clone()).await;
    let started: Log = Arc::default();
    let hang = {
        let started = started.clone();
        Registry::new().add("test.record", move |_s, job| {
            let started = started.clone();
            async move {
                started.lock().push((job.key.clone(), "a".into()));
                std::future::pending::<()>().await;
                Ok(())
            }
        })
    };
    jobs::enqueue(&pool, NewJob::new("test.record", "crash", json!({})))
        .await
        .unwrap();
    let wa = Worker::start_with(&a.state, hang, cfg(1, 1500, 100), CancellationToken::new());
    wait_for(20, "instance a to start the job", async || {
        !started.lock().is_empty()
    })
    .await;
    assert_eq!(
        job(&pool, "test.record", "crash").await["status"],
        "running"
    );
    wa.kill();
    let done: Log = Arc::default();
    let wb = Worker::start_with(
        &b.state,
        recording(&done, "b"),
        cfg(1, 1500, 100),
        CancellationToken::new(),
    );
    wait_for(30, "instance b to finish the job", async || {
        job(&pool, "test.record", "crash").await["status"] == "done"
    })
    .await;
    wb.stop().await;
    let row = job(&pool, "test.record", "crash").await;
    assert_eq!(row["attempts"], 2, "claimed once by each instance: {row}");
    assert_eq!(
        done.lock().as_slice(),
        &[("crash".to_string(), "b".to_string())]
    );
}

#[sqlx::test]
async fn failures_retry_until_max_attempts_and_fail_stops_at_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let calls = Arc::new(Mutex::new(0));
    let registry = {
        let calls = calls.clone();
        Registry::new()
            .add("test.flaky", move |_s, _job| {
                let calls = calls.clone();
                async move {
                    *calls.lock() += 1;
                    Err(JobError::RetryIn(
                        Duration::from_millis(50),
                        anyhow::anyhow!("vendor down"),
                    ))
                }
            })
            .add("test.fatal", |_s, _job| async {
                Err(JobError::fail(anyhow::anyhow!("bad payload")))
            })
    };
    jobs::enqueue(
        &pool,
        NewJob::new("test.flaky", "f", json!({})).max_attempts(3),
    )
    .await
    .unwrap();
    jobs::enqueue(&pool, NewJob::new("test.fatal", "x", json!({})))
        .await
        .unwrap();
    let w = Worker::start_with(
        &app.state,
        registry,
        cfg(2, 5000, 100),
        CancellationToken::new(),
    );
    wait_for(30, "both jobs failed", async || {
        job(&pool, "test.flaky", "f").await["status"] == "failed"
            && job(&pool, "test.fatal", "x").await["status"] == "failed"
    })
    .await;
    w.stop().await;
    let flaky = job(&pool, "test.flaky", "f").await;
    assert_eq!(flaky["attempts"], 3);
    assert_eq!(*calls.lock(), 3);
    assert!(
        flaky["last_error"]
            .as_str()
            .unwrap()
            .contains("vendor down")
    );
    let fatal = job(&pool, "test.fatal", "x").await;
    assert_eq!(fatal["attempts"], 1);
    assert!(
        fatal["last_error"]
            .as_str()
            .unwrap()
            .contains("bad payload")
    );
}

#[sqlx::test]
async fn a_future_job_waits_for_run_at_and_a_notify_wakes_an_idle_worker(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let ran_at: Arc<Mutex<Vec<chrono::DateTime<chrono::Utc>>>> = Arc::default();
    let registry = {
        let ran_at = ran_at.clone();
        Registry::new().add("test.when", move |state, _job| {
            let ran_at = ran_at.clone();
            async move {
                let now: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("select now()")
                    .fetch_one(&state.db)
                    .await?;
                ran_at.lock().push(now);
                Ok(())
            }
        })
    };
    // A sweep of a minute: only the notification (or the known run_at) can wake it sooner.
    let w = Worker::start_with(
        &app.state,
        registry,
        cfg(2, 5000, 60_000),
        CancellationToken::new(),
    );
    let due: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select now() + interval '1500 milliseconds'")
            .fetch_one(&pool)
            .await
            .unwrap();
    jobs::enqueue(&pool, NewJob::new("test.when", "later", json!({})).at(due))
        .await
        .unwrap();
    jobs::enqueue(&pool, NewJob::new("test.when", "now", json!({})))
        .await
        .unwrap();
    wait_for(20, "both jobs done", async || ran_at.lock().len() == 2).await;
    w.stop().await;
    let times = ran_at.lock().clone();
    assert!(
        times.iter().any(|t| *t >= due),
        "the future job ran at or after run_at"
    );
    assert!(
        times.iter().filter(|t| **t >= due).count() == 1,
        "only the future one waited: {times:?} vs {due}"
    );
}

#[sqlx::test]
async fn schedule_moves_a_queued_job_and_cancel_removes_it(pool: PgPool) {
    let far: chrono::DateTime<chrono::Utc> = chrono::Utc::now() + chrono::Duration::days(1);
    let near = far - chrono::Duration::hours(23);
    assert!(
        jobs::schedule(&pool, NewJob::new("test.s", "k", json!({"v": 1})).at(far))
            .await
            .unwrap()
    );
    assert!(
        jobs::schedule(&pool, NewJob::new("test.s", "k", json!({"v": 2})).at(near))
            .await
            .unwrap()
    );
    let row = job(&pool, "test.s", "k").await;
    assert_eq!(row["payload"], json!({"v": 2}));
    let run_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(row["run_at"].clone()).unwrap();
    assert!((run_at - near).num_milliseconds().abs() < 1000);
    assert!(jobs::cancel(&pool, "test.s", "k").await.unwrap());
    assert!(repo::find(&pool, "test.s", "k").await.unwrap().is_none());
    assert!(!jobs::cancel(&pool, "test.s", "k").await.unwrap());
}

#[sqlx::test]
async fn a_worker_whose_lease_was_taken_cannot_finish_the_new_claim(pool: PgPool) {
    jobs::enqueue(&pool, NewJob::new("test.fence", "k", json!({})))
        .await
        .unwrap();
    let kinds = vec!["test.fence".to_string()];
    let first = repo::claim(&pool, "a", &kinds, 10, 0.2).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        repo::claim(&pool, "b", &kinds, 10, 0.2)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = repo::claim(&pool, "b", &kinds, 10, 30.0).await.unwrap();
    assert_eq!(second.len(), 1, "the expired lease is claimed again");
    assert_eq!(second[0].attempts, 2);
    assert!(
        !repo::complete(&pool, first[0].id, "a", 1).await.unwrap(),
        "a's claim is stale"
    );
    assert!(!repo::renew(&pool, first[0].id, "a", 1, 30.0).await.unwrap());
    assert!(repo::complete(&pool, second[0].id, "b", 2).await.unwrap());
    assert_eq!(job(&pool, "test.fence", "k").await["status"], "done");
}
