//! Tasks: CRUD, the status machine and `completed_at`, subtasks, links, filters, due-date
//! ordering, full-text search, optimistic concurrency, pagination, and the service
//! functions the agents' tools use.

use std::collections::HashSet;

use cadence::tasks::{
    model::{CreateTask, TaskOrigin, TaskSource, TaskStatus},
    service,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::*;

const TASKS: &str = "/api/v1/tasks";

async fn field_error(resp: reqwest::Response) -> Vec<String> {
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    error_fields(&body)
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[sqlx::test]
async fn task_crud_round_trip(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let goal = app
        .create("/api/v1/goals", t, &json!({"title": "Fitness"}))
        .await;
    let note = app
        .create("/api/v1/notes", t, &json!({"title": "Plan"}))
        .await;

    let created = app
        .create(
            TASKS,
            t,
            &json!({"title": "Run 5k", "description": "easy pace", "priority": "high",
                    "due_date": "2026-12-01", "due_time": "07:30", "goal_id": goal["id"],
                    "note_id": note["id"], "metadata": {"km": 5}}),
        )
        .await;
    assert_eq!(created["title"], "Run 5k");
    assert_eq!(created["description"], "easy pace");
    assert_eq!(created["status"], "todo");
    assert_eq!(created["priority"], "high");
    assert_eq!(created["due_date"], "2026-12-01");
    assert_eq!(created["due_time"], "07:30:00");
    assert_eq!(created["goal_id"], goal["id"]);
    assert_eq!(created["note_id"], note["id"]);
    assert_eq!(created["parent_id"], Value::Null);
    assert_eq!(created["source"], "manual");
    assert_eq!(created["source_reference"], Value::Null);
    assert_eq!(created["completed_at"], Value::Null);
    assert_eq!(created["metadata"], json!({"km": 5}));
    assert_eq!(created["version"], 1);
    let path = format!("{TASKS}/{}", id(&created));

    let resp = app.get(&path, t).await;
    assert_eq!(etag(&resp).as_deref(), Some("\"1\""));
    assert_eq!(json_with(resp, StatusCode::OK).await, created);

    // null clears nullable fields; omitted fields stay.
    let patched = json_with(
        app.patch_json(
            &path,
            t,
            &json!({"description": null, "due_time": null, "goal_id": null, "priority": "low"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(patched["due_time"], Value::Null);
    assert_eq!(patched["due_date"], "2026-12-01");
    assert_eq!(patched["goal_id"], Value::Null);
    assert_eq!(patched["note_id"], note["id"]);
    assert_eq!(patched["priority"], "low");
    assert_eq!(patched["title"], "Run 5k");
    assert_eq!(patched["version"], 2);

    let put = json_with(
        app.put_json(&path, t, &json!({"title": "Run 10k", "due_date": null}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(put["title"], "Run 10k");
    assert_eq!(put["due_date"], Value::Null);
    assert_eq!(put["version"], 3);
    assert_eq!(
        json_with(app.get(&path, t).await, StatusCode::OK).await,
        put
    );

    assert_eq!(app.delete(&path, t).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, t).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[sqlx::test]
async fn task_validation_names_the_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let missing = uuid::Uuid::now_v7();
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"title": "x".repeat(501)}), "title"),
        (
            json!({"title": "ok", "description": "d".repeat(100_001)}),
            "description",
        ),
        (json!({"title": "ok", "status": "finished"}), "status"),
        (json!({"title": "ok", "priority": "critical"}), "priority"),
        (json!({"title": "ok", "due_date": "2026-02-30"}), "due_date"),
        (json!({"title": "ok", "due_date": "tomorrow"}), "due_date"),
        (
            json!({"title": "ok", "due_date": "2026-12-01", "due_time": "25:00"}),
            "due_time",
        ),
        (json!({"title": "ok", "due_time": "09:00"}), "due_time"),
        (json!({"title": "ok", "goal_id": missing}), "goal_id"),
        (json!({"title": "ok", "note_id": missing}), "note_id"),
        (json!({"title": "ok", "parent_id": missing}), "parent_id"),
        (json!({"title": "ok", "goal_id": "nope"}), "goal_id"),
        (json!({"title": "ok", "metadata": [1]}), "metadata"),
        (json!({"title": "ok", "source": "voice"}), "source"),
        (
            json!({"title": "ok", "source_reference": "x"}),
            "source_reference",
        ),
        (
            json!({"title": "ok", "completed_at": "2026-01-01T00:00:00Z"}),
            "completed_at",
        ),
        (json!({"title": "ok", "user_id": u.id}), "user_id"),
    ];
    for (body, field) in cases {
        let resp = app.post_json(TASKS, Some(t), &body).await;
        assert_eq!(field_error(resp).await, vec![field], "{body}");
    }
    let count: i64 = sqlx::query_scalar("select count(*) from tasks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing was created");

    let task = app.create(TASKS, t, &json!({"title": "t"})).await;
    let path = format!("{TASKS}/{}", id(&task));
    let cases: Vec<(Value, &str)> = vec![
        (json!({"title": null}), "title"),
        (json!({"status": null}), "status"),
        (json!({"status": "nope"}), "status"),
        (json!({"priority": null}), "priority"),
        (json!({"due_time": "10:00"}), "due_time"),
        (json!({"goal_id": missing}), "goal_id"),
        (json!({"note_id": missing}), "note_id"),
        (json!({"parent_id": missing}), "parent_id"),
        (json!({"source": "chat"}), "source"),
        (json!({"version": 9}), "version"),
    ];
    for (body, field) in cases {
        let resp = app.patch_json(&path, t, &body).await;
        assert_eq!(field_error(resp).await, vec![field], "{body}");
    }
    let resp = app
        .put_json(&format!("{path}/status"), t, &json!({"status": "later"}))
        .await;
    assert_eq!(field_error(resp).await, vec!["status"]);
    let resp = app
        .put_json(
            &format!("{path}/status"),
            t,
            &json!({"status": "done", "x": 1}),
        )
        .await;
    assert_eq!(field_error(resp).await, vec!["x"]);
    assert_eq!(
        json_with(app.get(&path, t).await, StatusCode::OK).await,
        task
    );
}

#[sqlx::test]
async fn done_sets_completed_at_and_leaving_done_clears_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let task = app.create(TASKS, t, &json!({"title": "file taxes"})).await;
    let path = format!("{TASKS}/{}", id(&task));
    let status_path = format!("{path}/status");

    let done = json_with(
        app.put_json(&status_path, t, &json!({"status": "done"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "done");
    let completed_at = done["completed_at"]
        .as_str()
        .expect("completed_at")
        .to_string();
    assert_eq!(done["version"], 2);

    // Staying done keeps the first completion time.
    let again = json_with(
        app.patch_json(&path, t, &json!({"status": "done", "title": "file taxes!"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["completed_at"], completed_at.as_str());

    for status in ["in_progress", "todo", "cancelled"] {
        let back = json_with(
            app.put_json(&status_path, t, &json!({"status": "done"}))
                .await,
            StatusCode::OK,
        )
        .await;
        assert!(back["completed_at"].is_string());
        let left = json_with(
            app.patch_json(&path, t, &json!({"status": status})).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(left["status"], status);
        assert_eq!(left["completed_at"], Value::Null, "{status}");
    }

    let born_done = app
        .create(TASKS, t, &json!({"title": "already", "status": "done"}))
        .await;
    assert!(born_done["completed_at"].is_string());

    // The status route honours If-Match too.
    let resp = app
        .send_if_match(
            Method::PUT,
            &status_path,
            t,
            1,
            Some(&json!({"status": "done"})),
        )
        .await;
    assert_problem(resp, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    let now = json_with(
        app.get(&status_path.replace("/status", ""), t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(now["status"], "cancelled");
}

#[sqlx::test]
async fn subtasks_have_no_cycles_and_go_with_their_parent(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let a = app.create(TASKS, t, &json!({"title": "move house"})).await;
    let b = app
        .create(TASKS, t, &json!({"title": "pack", "parent_id": a["id"]}))
        .await;
    let c = app
        .create(
            TASKS,
            t,
            &json!({"title": "buy boxes", "parent_id": b["id"]}),
        )
        .await;
    let other = app.create(TASKS, t, &json!({"title": "unrelated"})).await;

    for target in [&a, &b, &c] {
        let resp = app
            .patch_json(
                &format!("{TASKS}/{}", id(&a)),
                t,
                &json!({"parent_id": target["id"]}),
            )
            .await;
        assert_eq!(field_error(resp).await, vec!["parent_id"]);
    }
    assert_eq!(
        app.list_ids(&format!("{TASKS}?parent_id={}", id(&a)), t)
            .await,
        vec![id(&b)]
    );
    assert_eq!(
        app.list_ids(&format!("{TASKS}?parent_id=null"), t).await,
        vec![id(&other), id(&a)]
    );

    assert_eq!(
        app.delete(&format!("{TASKS}/{}", id(&a)), t).await.status(),
        StatusCode::NO_CONTENT
    );
    for gone in [&a, &b, &c] {
        let resp = app.get(&format!("{TASKS}/{}", id(gone)), t).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(app.list_ids(TASKS, t).await, vec![id(&other)]);
}

#[sqlx::test]
async fn task_filters_and_search(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let goal = app
        .create("/api/v1/goals", t, &json!({"title": "Home"}))
        .await;
    let note = app
        .create("/api/v1/notes", t, &json!({"title": "Ideas"}))
        .await;
    let paint = app
        .create(
            TASKS,
            t,
            &json!({"title": "Paint the fence", "priority": "high", "due_date": "2026-12-05",
                    "goal_id": goal["id"]}),
        )
        .await;
    let call = app
        .create(
            TASKS,
            t,
            &json!({"title": "Call the plumber", "description": "about the leaking fence tap",
                    "priority": "urgent", "due_date": "2026-12-01", "note_id": note["id"],
                    "status": "in_progress"}),
        )
        .await;
    let shop = app
        .create(
            TASKS,
            t,
            &json!({"title": "Buy paint", "due_date": "2026-12-10", "status": "done"}),
        )
        .await;
    let undated = app.create(TASKS, t, &json!({"title": "Someday"})).await;
    let voice = service::create_task(
        &app.pool,
        u.id,
        CreateTask {
            title: "Book dentist".into(),
            ..CreateTask::default()
        },
        TaskOrigin {
            source: TaskSource::Voice,
            reference: Some("call-123".into()),
        },
    )
    .await
    .unwrap();
    let voice_id = voice.id.to_string();

    let q = |s: &str| format!("{TASKS}?{s}");
    assert_eq!(
        app.list_ids(&q("status=todo"), t).await,
        vec![voice_id.clone(), id(&undated), id(&paint)]
    );
    assert_eq!(
        app.list_ids(&q("status=done&status=in_progress"), t).await,
        vec![id(&shop), id(&call)]
    );
    assert_eq!(
        app.list_ids(&q("status=done,in_progress"), t).await,
        vec![id(&shop), id(&call)]
    );
    assert_eq!(
        app.list_ids(&q("priority=urgent"), t).await,
        vec![id(&call)]
    );
    assert_eq!(
        app.list_ids(&q("due_before=2026-12-05"), t).await,
        vec![id(&call), id(&paint)]
    );
    assert_eq!(
        app.list_ids(&q("due_after=2026-12-05"), t).await,
        vec![id(&shop), id(&paint)]
    );
    assert_eq!(
        app.list_ids(&q("due_after=2026-12-02&due_before=2026-12-09"), t)
            .await,
        vec![id(&paint)]
    );
    assert_eq!(
        app.list_ids(&q(&format!("goal_id={}", id(&goal))), t).await,
        vec![id(&paint)]
    );
    assert_eq!(
        app.list_ids(&q(&format!("note_id={}", id(&note))), t).await,
        vec![id(&call)]
    );
    assert_eq!(
        app.list_ids(&q("source=voice"), t).await,
        vec![voice_id.clone()]
    );
    assert_eq!(app.list_ids(&q("source=manual"), t).await.len(), 4);
    let voice_row = json_with(
        app.get(&format!("{TASKS}/{voice_id}"), t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(voice_row["source"], "voice");
    assert_eq!(voice_row["source_reference"], "call-123");

    // Full-text: a title match ranks above a description match; stems match.
    assert_eq!(
        app.list_ids(&q("q=fence"), t).await,
        vec![id(&paint), id(&call)]
    );
    assert_eq!(
        app.list_ids(&q("q=painting"), t).await,
        vec![id(&shop), id(&paint)]
    );
    assert_eq!(
        app.list_ids(&q("q=fence&status=in_progress"), t).await,
        vec![id(&call)]
    );

    // sort=due_date: soonest first, undated last; works with filters and q.
    assert_eq!(
        app.list_ids(&q("sort=due_date"), t).await,
        vec![
            id(&call),
            id(&paint),
            id(&shop),
            id(&undated),
            voice_id.clone()
        ]
    );
    assert_eq!(
        app.list_ids(&q("sort=due_date&q=fence"), t).await,
        vec![id(&call), id(&paint)]
    );

    for (bad, field) in [
        ("status=nope", "status"),
        ("status=todo,nope", "status"),
        ("priority=max", "priority"),
        ("due_before=12/01/2026", "due_before"),
        ("due_after=2026-13-01", "due_after"),
        ("goal_id=x", "goal_id"),
        ("note_id=1", "note_id"),
        ("parent_id=p", "parent_id"),
        ("source=email", "source"),
        ("sort=title", "sort"),
        ("cursor=garbage", "cursor"),
    ] {
        let resp = app.get(&q(bad), t).await;
        assert_eq!(field_error(resp).await, vec![field], "{bad}");
    }
}

/// Every filter the list builds into its statement, alone and combined, on every ordering
/// (newest first, due date, ranked search) and across pages: the statement is assembled
/// per filter combination, so each combination is checked against the rows it must return.
#[sqlx::test]
async fn task_filter_combinations_on_every_ordering_and_page(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let other = app.new_user().await;
    let goal = app
        .create("/api/v1/goals", t, &json!({"title": "Garden"}))
        .await;
    let note = app
        .create("/api/v1/notes", t, &json!({"title": "Plans"}))
        .await;
    let parent = app
        .create(
            TASKS,
            t,
            &json!({"title": "Dig the garden beds", "due_date": "2026-12-03"}),
        )
        .await;
    let child_a = app
        .create(
            TASKS,
            t,
            &json!({"title": "Buy garden soil", "parent_id": parent["id"], "goal_id": goal["id"],
                    "priority": "high", "due_date": "2026-12-02", "due_time": "09:00:00"}),
        )
        .await;
    let child_b = app
        .create(
            TASKS,
            t,
            &json!({"title": "Rent a garden tiller", "parent_id": parent["id"], "note_id": note["id"],
                    "status": "done", "due_date": "2026-12-02", "due_time": "08:00:00"}),
        )
        .await;
    let lone = app
        .create(
            TASKS,
            t,
            &json!({"title": "Water the garden", "goal_id": goal["id"]}),
        )
        .await;
    // Someone else's garden never shows up.
    app.create(
        TASKS,
        &other.access_token,
        &json!({"title": "Other garden", "due_date": "2026-12-02"}),
    )
    .await;

    let q = |s: &str| format!("{TASKS}?{s}");
    let (p, a, b, l) = (id(&parent), id(&child_a), id(&child_b), id(&lone));
    for (query, expected) in [
        (format!("parent_id={p}"), vec![&b, &a]),
        ("parent_id=null".to_string(), vec![&l, &p]),
        ("goal_id=null".to_string(), vec![&b, &p]),
        (format!("goal_id={}", id(&goal)), vec![&l, &a]),
        ("note_id=null".to_string(), vec![&l, &a, &p]),
        (format!("note_id={}", id(&note)), vec![&b]),
        (format!("parent_id={p}&status=todo"), vec![&a]),
        (
            "parent_id=null&goal_id=null&note_id=null".to_string(),
            vec![&p],
        ),
        (
            format!(
                "parent_id={p}&priority=high,medium&due_before=2026-12-02&due_after=2026-12-02"
            ),
            vec![&b, &a],
        ),
        (
            "q=garden&parent_id=null&sort=created_at".to_string(),
            vec![&l, &p],
        ),
        (
            "q=garden&source=manual&status=todo&sort=created_at".to_string(),
            vec![&l, &a, &p],
        ),
        ("sort=due_date".to_string(), vec![&b, &a, &p, &l]),
        ("sort=due_date&parent_id=null".to_string(), vec![&p, &l]),
        (
            format!("sort=due_date&q=garden&goal_id={}", id(&goal)),
            vec![&a, &l],
        ),
        ("sort=due_date&due_after=2026-12-03".to_string(), vec![&p]),
        ("q=tiller&status=done".to_string(), vec![&b]),
        ("q=tiller&status=todo".to_string(), vec![]),
    ] {
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(app.list_ids(&q(&query), t).await, expected, "{query}");
        // The same rows one per page: each ordering's cursor continues the same statement.
        let paged: Vec<String> = app
            .all_pages(&q(&query), t, 1)
            .await
            .iter()
            .map(id)
            .collect();
        assert_eq!(paged, expected, "{query}, one per page");
    }
    // Ranked search pages one hit at a time through all four gardens, best first.
    let ranked: Vec<String> = app
        .all_pages(&q("q=garden"), t, 1)
        .await
        .iter()
        .map(id)
        .collect();
    assert_eq!(ranked.len(), 4);
    assert_eq!(
        ranked.iter().collect::<HashSet<_>>(),
        [&p, &a, &b, &l].into_iter().collect::<HashSet<_>>()
    );
    assert_eq!(ranked, app.list_ids(&q("q=garden"), t).await);
}

#[sqlx::test]
async fn tasks_paginate_without_duplicates_or_gaps(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let mut created = Vec::new();
    for i in 0..25 {
        let task = app
            .create(TASKS, t, &json!({"title": format!("task {i}")}))
            .await;
        created.push(id(&task));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for (round, expected) in [10usize, 10, 5].into_iter().enumerate() {
        let url = match &cursor {
            Some(c) => format!("{TASKS}?limit=10&cursor={c}"),
            None => format!("{TASKS}?limit=10"),
        };
        let page = json_with(app.get(&url, t).await, StatusCode::OK).await;
        assert_eq!(page["data"].as_array().unwrap().len(), expected);
        seen.extend(ids_of(&page["data"]));
        cursor = page["next_cursor"].as_str().map(String::from);
        assert_eq!(cursor.is_some(), round < 2, "round {round}");
        for j in 0..2 {
            app.create(TASKS, t, &json!({"title": format!("late {round}.{j}")}))
                .await;
        }
    }
    created.reverse();
    assert_eq!(seen, created, "newest first, each task exactly once");
    // The newcomers are at the top of a fresh listing.
    let fresh = app.all_pages(TASKS, t, 100).await;
    assert_eq!(fresh.len(), 31);
    assert_eq!(fresh[0]["title"], "late 2.1");
}

#[sqlx::test]
async fn due_date_order_paginates_without_duplicates_or_gaps(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let mut originals = Vec::new();
    for i in 0..13 {
        let mut body = json!({"title": format!("t{i}")});
        // Shared dates and times, some without a time, some undated.
        if i % 4 != 3 {
            body["due_date"] = json!(format!("2026-12-{:02}", 1 + i % 3));
            if i % 2 == 0 {
                body["due_time"] = json!(if i % 3 == 0 { "09:00" } else { "18:30:15" });
            }
        }
        originals.push(id(&app.create(TASKS, t, &body).await));
    }
    let expected = app
        .list_ids(&format!("{TASKS}?sort=due_date&limit=100"), t)
        .await;
    assert_eq!(
        expected.iter().collect::<HashSet<_>>(),
        originals.iter().collect::<HashSet<_>>()
    );
    // The order is by (due_date, due_time) with undated and untimed last.
    let rows = app
        .all_pages(&format!("{TASKS}?sort=due_date"), t, 100)
        .await;
    let key = |r: &Value| {
        (
            r["due_date"].as_str().unwrap_or("9999-99-99").to_string(),
            r["due_time"].as_str().unwrap_or("99").to_string(),
        )
    };
    for w in rows.windows(2) {
        assert!(
            key(&w[0]) <= key(&w[1]),
            "{:?} then {:?}",
            key(&w[0]),
            key(&w[1])
        );
    }

    // Page by 4; meanwhile add a task due before the cursor and one after it.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut round = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("{TASKS}?sort=due_date&limit=4&cursor={c}"),
            None => format!("{TASKS}?sort=due_date&limit=4"),
        };
        let page = json_with(app.get(&url, t).await, StatusCode::OK).await;
        seen.extend(ids_of(&page["data"]));
        if round == 0 {
            app.create(
                TASKS,
                t,
                &json!({"title": "early", "due_date": "2026-01-01"}),
            )
            .await;
        }
        round += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, expected, "same order, each original exactly once");
}

#[sqlx::test]
async fn task_if_match_and_concurrent_patches(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let task = app.create(TASKS, t, &json!({"title": "v1"})).await;
    let path = format!("{TASKS}/{}", id(&task));
    let resp = app
        .send_if_match(Method::PATCH, &path, t, 5, Some(&json!({"title": "stale"})))
        .await;
    assert_problem(resp, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    let resp = app.send_if_match(Method::DELETE, &path, t, 5, None).await;
    assert_problem(resp, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_eq!(
        json_with(app.get(&path, t).await, StatusCode::OK).await,
        task
    );

    for round in 0..5 {
        let task = app
            .create(TASKS, t, &json!({"title": format!("race {round}")}))
            .await;
        let path = format!("{TASKS}/{}", id(&task));
        let (first, second) = (json!({"priority": "low"}), json!({"priority": "urgent"}));
        let (a, b) = tokio::join!(
            app.send_if_match(Method::PATCH, &path, t, 1, Some(&first)),
            app.send_if_match(Method::PUT, &path, t, 1, Some(&second)),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 412], "round {round}");
        let winner = if a.status() == StatusCode::OK {
            "low"
        } else {
            "urgent"
        };
        let now = json_with(app.get(&path, t).await, StatusCode::OK).await;
        assert_eq!(now["priority"], winner);
        assert_eq!(now["version"], 2);
    }
}

#[sqlx::test]
async fn task_services_for_tools_share_the_rules(pool: PgPool) {
    let app = spawn_app(pool).await;
    let a = app.new_user().await;
    let b = app.new_user().await;
    let goal = app
        .create(
            "/api/v1/goals",
            &a.access_token,
            &json!({"title": "A's goal"}),
        )
        .await;
    let goal_id: uuid::Uuid = goal["id"].as_str().unwrap().parse().unwrap();

    // B's tool call cannot link A's goal, and validation is the REST one.
    let err = service::create_task(
        &app.pool,
        b.id,
        CreateTask {
            title: "sneaky".into(),
            goal_id: Some(goal_id),
            ..CreateTask::default()
        },
        TaskOrigin {
            source: TaskSource::Chat,
            reference: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
    let err = service::create_task(&app.pool, a.id, CreateTask::default(), TaskOrigin::manual())
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), StatusCode::UNPROCESSABLE_ENTITY);

    // Inside a caller's transaction: nothing is visible until it commits.
    let mut tx = app.pool.begin().await.unwrap();
    let task = service::create_task(
        &mut *tx,
        a.id,
        CreateTask {
            title: "from chat".into(),
            goal_id: Some(goal_id),
            ..CreateTask::default()
        },
        TaskOrigin {
            source: TaskSource::Chat,
            reference: Some("conversation 9".into()),
        },
    )
    .await
    .unwrap();
    assert!(
        app.list_ids("/api/v1/tasks", &a.access_token)
            .await
            .is_empty()
    );
    tx.commit().await.unwrap();
    assert_eq!(
        app.list_ids("/api/v1/tasks?source=chat", &a.access_token)
            .await,
        vec![task.id.to_string()]
    );

    let done = service::complete_task(&app.pool, a.id, task.id)
        .await
        .unwrap();
    assert_eq!(done.status, TaskStatus::Done);
    assert!(done.completed_at.is_some());
    let err = service::complete_task(&app.pool, b.id, task.id)
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), StatusCode::NOT_FOUND);
    let listed = service::list_tasks(&app.pool, b.id, Default::default(), Default::default())
        .await
        .unwrap();
    assert!(listed.data.is_empty());
}

#[sqlx::test]
async fn reminder_and_estimate_fields_round_trip_and_validate(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let created = app
        .create(
            TASKS,
            t,
            &json!({"title": "Stretch", "remind_at": "2026-12-24T17:00:00Z", "estimate_minutes": 15}),
        )
        .await;
    assert_eq!(created["remind_at"], "2026-12-24T17:00:00Z");
    assert_eq!(created["estimate_minutes"], 15);
    assert_eq!(created["snoozed_until"], Value::Null);
    let path = format!("{TASKS}/{}", id(&created));

    let moved = json_with(
        app.patch_json(&path, t, &json!({"remind_at": "2026-12-25T08:30:00+01:00"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(moved["remind_at"], "2026-12-25T07:30:00Z", "stored in UTC");
    assert_eq!(moved["estimate_minutes"], 15, "omitted fields stay");

    let cleared = json_with(
        app.patch_json(
            &path,
            t,
            &json!({"remind_at": null, "estimate_minutes": null}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["remind_at"], Value::Null);
    assert_eq!(cleared["estimate_minutes"], Value::Null);

    for bad in [0, 1441, -5] {
        let resp = app
            .post_json(
                TASKS,
                Some(t),
                &json!({"title": "x", "estimate_minutes": bad}),
            )
            .await;
        assert_eq!(field_error(resp).await, vec!["estimate_minutes"], "{bad}");
        let resp = app
            .patch_json(&path, t, &json!({"estimate_minutes": bad}))
            .await;
        assert_eq!(field_error(resp).await, vec!["estimate_minutes"], "{bad}");
    }
    let resp = app
        .post_json(
            TASKS,
            Some(t),
            &json!({"title": "x", "remind_at": "tomorrow"}),
        )
        .await;
    assert_eq!(field_error(resp).await, vec!["remind_at"]);
    let resp = app
        .post_json(
            TASKS,
            Some(t),
            &json!({"title": "x", "snoozed_until": "2026-12-24T17:00:00Z"}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "snoozed_until is read-only"
    );
}
