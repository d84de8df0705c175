//! Task reminders: once per arming across two instances, re-arming, never for done,
//! cancelled or deleted tasks, a crash mid-job, snooze (route and tool).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use cadence::jobs::{Registry, Worker, worker::WorkerConfig};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    helpers::*,
    notifications::{FAST, job_status, wait_for},
};

fn at(secs: f64) -> String {
    (Utc::now() + chrono::Duration::milliseconds((secs * 1000.0) as i64)).to_rfc3339()
}

/// `(id, status, dedupe_key)` of the reminder notifications of a task, oldest first.
async fn reminders_of(pool: &PgPool, task: &str) -> Vec<(Uuid, String, String)> {
    sqlx::query_as(
        "select id, status, dedupe_key from notifications
         where kind = 'reminder' and source_type = 'task' and source_id = $1
         order by created_at, id",
    )
    .bind(task)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn reminder_jobs(pool: &PgPool, task: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "select key, status from jobs where kind = 'reminder' and key like $1 order by key",
    )
    .bind(format!("reminder:{task}:%"))
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn task_with_reminder(app: &TestApp, token: &str, title: &str, remind_at: &str) -> String {
    let t = app
        .create(
            "/api/v1/tasks",
            token,
            &json!({"title": title, "remind_at": remind_at}),
        )
        .await;
    t["id"].as_str().unwrap().to_string()
}

#[sqlx::test]
async fn a_reminder_fires_once_with_two_instances(pool: PgPool) {
    let a = spawn_app_with(pool.clone(), FAST).await;
    let b = spawn_app_with(pool.clone(), FAST).await;
    let u = a.new_user().await;
    let t = &u.access_token;
    let mut ws = b.ws_connect("/api/v1/events", Some(t)).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..12 {
        let app = if i % 2 == 0 { &a } else { &b };
        ids.push(task_with_reminder(app, t, &format!("task {i}"), &at(0.8)).await);
    }
    for id in &ids {
        wait_for(20, "every reminder job to finish", async || {
            reminder_jobs(&pool, id)
                .await
                .iter()
                .all(|(_, s)| s == "done")
                && !reminders_of(&pool, id).await.is_empty()
        })
        .await;
    }
    for id in &ids {
        let r = reminders_of(&pool, id).await;
        assert_eq!(r.len(), 1, "task {id}: exactly one reminder, got {r:?}");
    }
    // The bell's event for a reminder, with the task's title.
    loop {
        let ev = ws_next_json(&mut ws, 10)
            .await
            .expect("notification.created");
        if ev["type"] == "notification.created" {
            assert_eq!(ev["data"]["kind"], "reminder");
            assert!(ev["data"]["title"].as_str().unwrap().starts_with("task "));
            assert_eq!(ev["data"]["priority"], "normal");
            break;
        }
    }
}

#[sqlx::test]
async fn changing_remind_at_re_arms(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), FAST).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let far = at(3600.0);
    let id = task_with_reminder(&app, t, "stretch", &far).await;
    assert_eq!(reminder_jobs(&pool, &id).await.len(), 1);
    let resp = app
        .patch_json(
            &format!("/api/v1/tasks/{id}"),
            t,
            &json!({"remind_at": at(0.3)}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    wait_for(15, "the moved reminder", async || {
        reminders_of(&pool, &id).await.len() == 1
    })
    .await;
    let jobs = reminder_jobs(&pool, &id).await;
    assert_eq!(jobs.len(), 1, "the far arming was cancelled: {jobs:?}");
    // An unrelated change does not fire it again; a new time does.
    let resp = app
        .patch_json(
            &format!("/api/v1/tasks/{id}"),
            t,
            &json!({"title": "stretch well"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .patch_json(
            &format!("/api/v1/tasks/{id}"),
            t,
            &json!({"remind_at": at(0.3)}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    wait_for(15, "the re-armed reminder", async || {
        reminders_of(&pool, &id).await.len() == 2
    })
    .await;
    wait_for(15, "its job to finish", async || {
        reminder_jobs(&pool, &id)
            .await
            .iter()
            .all(|(_, s)| s == "done")
    })
    .await;
    let r = reminders_of(&pool, &id).await;
    assert_eq!(r.len(), 2);
    assert_ne!(r[0].2, r[1].2, "one notification per arming");
    assert_eq!(r[1].2, reminder_jobs(&pool, &id).await.last().unwrap().0);
    // Clearing disarms.
    let resp = app
        .patch_json(
            &format!("/api/v1/tasks/{id}"),
            t,
            &json!({"remind_at": far}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .patch_json(
            &format!("/api/v1/tasks/{id}"),
            t,
            &json!({"remind_at": null}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let left: Vec<_> = reminder_jobs(&pool, &id)
        .await
        .into_iter()
        .filter(|(_, s)| s != "done")
        .collect();
    assert!(
        left.is_empty(),
        "no armed reminder after clearing: {left:?}"
    );
}

#[sqlx::test]
async fn done_cancelled_and_deleted_tasks_never_remind(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), FAST).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let done = task_with_reminder(&app, t, "done", &at(0.5)).await;
    let cancelled = task_with_reminder(&app, t, "cancelled", &at(0.5)).await;
    let deleted = task_with_reminder(&app, t, "deleted", &at(0.5)).await;
    let born_done = app
        .create(
            "/api/v1/tasks",
            t,
            &json!({"title": "born done", "status": "done", "remind_at": at(-10.0)}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (id, status) in [(&done, "done"), (&cancelled, "cancelled")] {
        let resp = app
            .put_json(
                &format!("/api/v1/tasks/{id}/status"),
                t,
                &json!({"status": status}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let resp = app.delete(&format!("/api/v1/tasks/{deleted}"), t).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // A control task due after them: once it reminded, theirs would have too.
    let control = task_with_reminder(&app, t, "control", &at(1.0)).await;
    wait_for(15, "the control reminder", async || {
        !reminders_of(&pool, &control).await.is_empty()
    })
    .await;
    for id in [&done, &cancelled, &deleted, &born_done] {
        assert!(
            reminders_of(&pool, id).await.is_empty(),
            "task {id} reminded"
        );
        assert!(
            reminder_jobs(&pool, id).await.is_empty(),
            "task {id} still armed"
        );
    }
    // Reopening a task whose reminder never fired arms it again.
    let resp = app
        .put_json(
            &format!("/api/v1/tasks/{done}/status"),
            t,
            &json!({"status": "todo"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    wait_for(15, "the reopened task's reminder", async || {
        reminders_of(&pool, &done).await.len() == 1
    })
    .await;
}

#[sqlx::test]
async fn an_instance_killed_mid_job_leaves_it_to_the_other_one_notification(pool: PgPool) {
    // HTTP only: the two workers below are the two instances.
    let mut settings: Vec<(&str, &str)> = FAST.to_vec();
    settings.push(("CADENCE__JOBS__CONCURRENCY", "0"));
    let app = spawn_app_with(pool.clone(), &settings).await;
    let u = app.new_user().await;
    let cfg = || WorkerConfig {
        concurrency: 2,
        lease: Duration::from_millis(800),
        sweep: Duration::from_millis(100),
    };
    // Instance a raises the reminder, then dies before it can mark the job done.
    let raised = Arc::new(AtomicUsize::new(0));
    let crashing = {
        let raised = raised.clone();
        Registry::new().add("reminder", move |state, job| {
            let raised = raised.clone();
            async move {
                cadence::tasks::reminders::run(state, job).await?;
                raised.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
                Ok(())
            }
        })
    };
    let wa = Worker::start_with(&app.state, crashing, cfg(), CancellationToken::new());
    let id = task_with_reminder(&app, &u.access_token, "water plants", &at(0.0)).await;
    wait_for(15, "instance a to raise", async || {
        raised.load(Ordering::SeqCst) == 1
    })
    .await;
    let key = reminder_jobs(&pool, &id).await[0].0.clone();
    assert_eq!(
        job_status(&pool, "reminder", &key).await.as_deref(),
        Some("running")
    );
    wa.kill();
    let wb = Worker::start_with(
        &app.state,
        cadence::app::job_registry(),
        cfg(),
        CancellationToken::new(),
    );
    wait_for(20, "instance b to finish the job", async || {
        job_status(&pool, "reminder", &key).await.as_deref() == Some("done")
    })
    .await;
    let attempts: i32 =
        sqlx::query_scalar("select attempts from jobs where kind = 'reminder' and key = $1")
            .bind(&key)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(attempts, 2, "claimed by each instance");
    wb.stop().await;
    assert_eq!(reminders_of(&pool, &id).await.len(), 1, "one notification");
}

#[sqlx::test]
async fn snooze_moves_the_reminder_and_acknowledges_the_current_one(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), FAST).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let id = task_with_reminder(&app, t, "call mum", &at(0.2)).await;
    wait_for(15, "the first reminder", async || {
        reminders_of(&pool, &id).await.len() == 1
    })
    .await;
    let resp = app
        .post_json(
            &format!("/api/v1/tasks/{id}/snooze"),
            Some(t),
            &json!({"minutes": 1}),
        )
        .await;
    let task = json_with(resp, StatusCode::OK).await;
    let until: DateTime<Utc> = task["snoozed_until"].as_str().unwrap().parse().unwrap();
    assert!(until > Utc::now() - chrono::Duration::seconds(1));
    assert_eq!(reminders_of(&pool, &id).await[0].1, "acknowledged");
    // One test minute later it reminds again, once.
    wait_for(15, "the snoozed reminder", async || {
        reminders_of(&pool, &id).await.len() == 2
    })
    .await;
    wait_for(15, "its job to finish", async || {
        reminder_jobs(&pool, &id)
            .await
            .iter()
            .all(|(_, s)| s == "done")
    })
    .await;
    let r = reminders_of(&pool, &id).await;
    assert_eq!(r.len(), 2);
    assert!(r[1].2.contains(":snoozed:"), "{r:?}");

    for bad in [
        json!({"minutes": 0}),
        json!({"minutes": 1441}),
        json!({}),
        json!({"minutes": 5, "x": 1}),
    ] {
        let resp = app
            .post_json(&format!("/api/v1/tasks/{id}/snooze"), Some(t), &bad)
            .await;
        assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let other = app.new_user().await;
    let resp = app
        .post_json(
            &format!("/api/v1/tasks/{id}/snooze"),
            Some(&other.access_token),
            &json!({"minutes": 5}),
        )
        .await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .put_json(
            &format!("/api/v1/tasks/{id}/status"),
            t,
            &json!({"status": "done"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post_json(
            &format!("/api/v1/tasks/{id}/snooze"),
            Some(t),
            &json!({"minutes": 5}),
        )
        .await;
    assert_problem(resp, StatusCode::CONFLICT, "conflict").await;
}

#[sqlx::test]
async fn the_snooze_task_tool_snoozes(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), FAST).await;
    let u = app.new_user().await;
    let id = task_with_reminder(&app, &u.access_token, "stretch", &at(3600.0)).await;
    let ctx = cadence::assistant::tools::ToolContext {
        user_id: u.id,
        source: cadence::tasks::model::TaskSource::Chat,
        source_reference: None,
        groups: vec!["tasks".into()],
    };
    let call = cadence::providers::llm::ToolCall {
        id: "c1".into(),
        name: "snooze_task".into(),
        arguments: json!({"id": id, "minutes": 15}).to_string(),
    };
    let out = cadence::assistant::tools::execute(&app.state, &ctx, &call).await;
    assert!(!out.is_error, "tool error: {}", out.result);
    let result: Value = out.result;
    assert!(result["snoozed_until"].is_string());
    let jobs = reminder_jobs(&pool, &id).await;
    assert_eq!(jobs.len(), 1, "the hour-away arming was replaced: {jobs:?}");
    assert!(jobs[0].0.contains(":snoozed:"));
}
