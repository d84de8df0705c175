//! Goals (CRUD, hierarchy, filters, progress that follows tasks, optimistic concurrency)
//! and reflections.

use cadence::goals::service as goals_service;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::*;

const GOALS: &str = "/api/v1/goals";
const TASKS: &str = "/api/v1/tasks";
const REFLECTIONS: &str = "/api/v1/reflections";

async fn field_error(resp: reqwest::Response) -> Vec<String> {
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    error_fields(&body)
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[sqlx::test]
async fn goal_crud_round_trip(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;

    let defaults = app
        .create(GOALS, t, &json!({"title": "Learn Spanish"}))
        .await;
    assert_eq!(defaults["timeframe"], "long_term");
    assert_eq!(defaults["status"], "active");
    assert_eq!(defaults["priority"], "medium");
    assert_eq!(defaults["progress"], 0);
    assert_eq!(defaults["parent_goal_id"], Value::Null);
    assert_eq!(defaults["metadata"], json!({}));
    assert_eq!(defaults["version"], 1);

    let created = app
        .create(
            GOALS,
            t,
            &json!({"title": "Read 12 books", "description": "one a month", "timeframe": "yearly",
                    "parent_goal_id": defaults["id"], "status": "active", "progress": 25,
                    "priority": "high", "due_date": "2026-12-31", "metadata": {"list": "goodreads"}}),
        )
        .await;
    assert_eq!(created["timeframe"], "yearly");
    assert_eq!(created["parent_goal_id"], defaults["id"]);
    assert_eq!(created["progress"], 25);
    assert_eq!(created["priority"], "high");
    assert_eq!(created["due_date"], "2026-12-31");
    let path = format!("{GOALS}/{}", id(&created));

    let resp = app.get(&path, t).await;
    assert_eq!(etag(&resp).as_deref(), Some("\"1\""));
    assert_eq!(json_with(resp, StatusCode::OK).await, created);

    let patched = json_with(
        app.patch_json(
            &path,
            t,
            &json!({"status": "completed", "progress": 100, "description": null,
                    "parent_goal_id": null}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["status"], "completed");
    assert_eq!(patched["progress"], 100);
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(patched["parent_goal_id"], Value::Null);
    assert_eq!(patched["title"], "Read 12 books");
    assert_eq!(patched["version"], 2);

    let put = json_with(
        app.put_json(&path, t, &json!({"timeframe": "quarterly"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(put["timeframe"], "quarterly");
    assert_eq!(put["status"], "completed");
    assert_eq!(put["version"], 3);
    assert_eq!(
        json_with(app.get(&path, t).await, StatusCode::OK).await,
        put
    );

    assert_eq!(app.delete(&path, t).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, t).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[sqlx::test]
async fn goal_validation_names_the_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let missing = uuid::Uuid::now_v7();
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "title"),
        (json!({"title": " "}), "title"),
        (json!({"title": "x".repeat(501)}), "title"),
        (json!({"title": "ok", "timeframe": "decade"}), "timeframe"),
        (json!({"title": "ok", "status": "paused"}), "status"),
        (json!({"title": "ok", "priority": "whenever"}), "priority"),
        (json!({"title": "ok", "progress": 101}), "progress"),
        (json!({"title": "ok", "progress": -1}), "progress"),
        (json!({"title": "ok", "progress": 12.5}), "progress"),
        (json!({"title": "ok", "due_date": "2026-00-10"}), "due_date"),
        (
            json!({"title": "ok", "parent_goal_id": missing}),
            "parent_goal_id",
        ),
        (json!({"title": "ok", "metadata": true}), "metadata"),
        (json!({"title": "ok", "user_id": u.id}), "user_id"),
    ];
    for (body, field) in cases {
        let resp = app.post_json(GOALS, Some(t), &body).await;
        assert_eq!(field_error(resp).await, vec![field], "{body}");
    }
    let goal = app.create(GOALS, t, &json!({"title": "g"})).await;
    let path = format!("{GOALS}/{}", id(&goal));
    let cases: Vec<(Value, &str)> = vec![
        (json!({"title": null}), "title"),
        (json!({"timeframe": null}), "timeframe"),
        (json!({"status": null}), "status"),
        (json!({"progress": null}), "progress"),
        (json!({"progress": 200}), "progress"),
        (json!({"priority": null}), "priority"),
        (json!({"parent_goal_id": missing}), "parent_goal_id"),
        (json!({"version": 3}), "version"),
    ];
    for (body, field) in cases {
        let resp = app.patch_json(&path, t, &body).await;
        assert_eq!(field_error(resp).await, vec![field], "{body}");
    }
    assert_eq!(
        json_with(app.get(&path, t).await, StatusCode::OK).await,
        goal
    );
}

#[sqlx::test]
async fn goal_hierarchy_and_filters(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let life = app
        .create(
            GOALS,
            t,
            &json!({"title": "Health", "timeframe": "long_term"}),
        )
        .await;
    let year = app
        .create(
            GOALS,
            t,
            &json!({"title": "Marathon", "timeframe": "yearly", "parent_goal_id": life["id"]}),
        )
        .await;
    let month = app
        .create(
            GOALS,
            t,
            &json!({"title": "100 km in May", "timeframe": "monthly",
                    "parent_goal_id": year["id"], "status": "abandoned"}),
        )
        .await;

    for target in [&life, &year, &month] {
        let resp = app
            .patch_json(
                &format!("{GOALS}/{}", id(&life)),
                t,
                &json!({"parent_goal_id": target["id"]}),
            )
            .await;
        assert_eq!(field_error(resp).await, vec!["parent_goal_id"]);
    }

    let q = |s: &str| format!("{GOALS}?{s}");
    assert_eq!(
        app.list_ids(&q("timeframe=yearly"), t).await,
        vec![id(&year)]
    );
    assert_eq!(
        app.list_ids(&q("timeframe=yearly,monthly"), t).await,
        vec![id(&month), id(&year)]
    );
    assert_eq!(
        app.list_ids(&q("status=abandoned"), t).await,
        vec![id(&month)]
    );
    assert_eq!(
        app.list_ids(&q("status=active"), t).await,
        vec![id(&year), id(&life)]
    );
    assert_eq!(
        app.list_ids(&q(&format!("parent_goal_id={}", id(&life))), t)
            .await,
        vec![id(&year)]
    );
    assert_eq!(
        app.list_ids(&q("parent_goal_id=null"), t).await,
        vec![id(&life)]
    );
    for (bad, field) in [
        ("timeframe=decade", "timeframe"),
        ("status=on", "status"),
        ("parent_goal_id=abc", "parent_goal_id"),
    ] {
        assert_eq!(field_error(app.get(&q(bad), t).await).await, vec![field]);
    }

    // Deleting a goal makes its sub-goals top-level; their own children stay below them.
    assert_eq!(
        app.delete(&format!("{GOALS}/{}", id(&year)), t)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let month_now = json_with(
        app.get(&format!("{GOALS}/{}", id(&month)), t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(month_now["parent_goal_id"], Value::Null);
    assert_eq!(
        app.list_ids(&q("parent_goal_id=null"), t).await,
        vec![id(&month), id(&life)]
    );

    let pages = app.all_pages(GOALS, t, 1).await;
    assert_eq!(ids_of(&Value::Array(pages)), vec![id(&month), id(&life)]);
}

async fn progress(app: &TestApp, t: &str, goal: &str) -> i64 {
    let g = json_with(app.get(&format!("{GOALS}/{goal}"), t).await, StatusCode::OK).await;
    let listed = app.all_pages(GOALS, t, 100).await;
    let in_list = listed.iter().find(|g| g["id"] == goal).unwrap();
    assert_eq!(in_list["progress"], g["progress"], "list and item agree");
    g["progress"].as_i64().unwrap()
}

#[sqlx::test]
async fn goal_progress_follows_its_tasks(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let goal = app
        .create(GOALS, t, &json!({"title": "Launch", "progress": 40}))
        .await;
    let g = id(&goal);
    let other = app.create(GOALS, t, &json!({"title": "Other"})).await;
    let o = id(&other);
    // Without tasks, the progress set by hand.
    assert_eq!(progress(&app, t, &g).await, 40);

    let mut tasks = Vec::new();
    for i in 0..4 {
        let task = app
            .create(
                TASKS,
                t,
                &json!({"title": format!("step {i}"), "goal_id": g}),
            )
            .await;
        tasks.push(id(&task));
    }
    assert_eq!(progress(&app, t, &g).await, 0);

    let status = |task: &str| format!("{TASKS}/{task}/status");
    app.put_json(&status(&tasks[0]), t, &json!({"status": "done"}))
        .await;
    assert_eq!(progress(&app, t, &g).await, 25);
    app.patch_json(
        &format!("{TASKS}/{}", tasks[1]),
        t,
        &json!({"status": "done"}),
    )
    .await;
    assert_eq!(progress(&app, t, &g).await, 50);
    // Leaving done lowers it again.
    app.put_json(&status(&tasks[1]), t, &json!({"status": "in_progress"}))
        .await;
    assert_eq!(progress(&app, t, &g).await, 25);
    // Moving a task to another goal changes both.
    app.patch_json(&format!("{TASKS}/{}", tasks[0]), t, &json!({"goal_id": o}))
        .await;
    assert_eq!(progress(&app, t, &g).await, 0);
    assert_eq!(progress(&app, t, &o).await, 100);
    // 1 of 3 done rounds to 33.
    app.put_json(&status(&tasks[2]), t, &json!({"status": "done"}))
        .await;
    assert_eq!(progress(&app, t, &g).await, 33);
    // Deleting tasks: 1 of 2 done, then none left → back to the stored value.
    app.delete(&format!("{TASKS}/{}", tasks[1]), t).await;
    assert_eq!(progress(&app, t, &g).await, 50);
    app.patch_json(
        &format!("{TASKS}/{}", tasks[2]),
        t,
        &json!({"goal_id": null}),
    )
    .await;
    assert_eq!(progress(&app, t, &g).await, 0);
    app.delete(&format!("{TASKS}/{}", tasks[3]), t).await;
    assert_eq!(progress(&app, t, &g).await, 40);

    // The tool-level progress update stores the value shown while there are no tasks.
    let gid: uuid::Uuid = g.parse().unwrap();
    let updated = goals_service::update_goal_progress(&app.pool, u.id, gid, 70)
        .await
        .unwrap();
    assert_eq!(updated.progress, 70);
    assert_eq!(progress(&app, t, &g).await, 70);
    let err = goals_service::update_goal_progress(&app.pool, u.id, gid, 170)
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test]
async fn a_goals_tasks_are_listed_under_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let goal = app.create(GOALS, t, &json!({"title": "g"})).await;
    let a = app
        .create(
            TASKS,
            t,
            &json!({"title": "a", "goal_id": goal["id"], "due_date": "2026-12-02"}),
        )
        .await;
    let b = app
        .create(
            TASKS,
            t,
            &json!({"title": "b", "goal_id": goal["id"], "due_date": "2026-12-01"}),
        )
        .await;
    app.create(TASKS, t, &json!({"title": "not linked"})).await;
    let path = format!("{GOALS}/{}/tasks", id(&goal));
    assert_eq!(app.list_ids(&path, t).await, vec![id(&b), id(&a)]);
    assert_eq!(
        app.list_ids(&format!("{path}?sort=due_date"), t).await,
        vec![id(&b), id(&a)]
    );
    assert_eq!(
        app.list_ids(&format!("{path}?q=a"), t).await.len(),
        0,
        "a stop word matches nothing"
    );
    // Deleting the goal keeps its tasks, unlinked.
    app.delete(&format!("{GOALS}/{}", id(&goal)), t).await;
    assert_problem(app.get(&path, t).await, StatusCode::NOT_FOUND, "not_found").await;
    let a_now = json_with(
        app.get(&format!("{TASKS}/{}", id(&a)), t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(a_now["goal_id"], Value::Null);
}

#[sqlx::test]
async fn goal_if_match_and_concurrent_patches(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let goal = app.create(GOALS, t, &json!({"title": "v1"})).await;
    let path = format!("{GOALS}/{}", id(&goal));
    let resp = app
        .send_if_match(Method::PATCH, &path, t, 3, Some(&json!({"title": "stale"})))
        .await;
    assert_problem(resp, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    let resp = app.send_if_match(Method::DELETE, &path, t, 3, None).await;
    assert_problem(resp, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_eq!(
        json_with(app.get(&path, t).await, StatusCode::OK).await,
        goal
    );
    for round in 0..5 {
        let goal = app
            .create(GOALS, t, &json!({"title": format!("race {round}")}))
            .await;
        let path = format!("{GOALS}/{}", id(&goal));
        let (first, second) = (json!({"progress": 10}), json!({"progress": 90}));
        let (a, b) = tokio::join!(
            app.send_if_match(Method::PATCH, &path, t, 1, Some(&first)),
            app.send_if_match(Method::PATCH, &path, t, 1, Some(&second)),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 412], "round {round}");
        let winner = if a.status() == StatusCode::OK { 10 } else { 90 };
        let now = json_with(app.get(&path, t).await, StatusCode::OK).await;
        assert_eq!(now["progress"], winner);
        assert_eq!(now["version"], 2);
    }
}

#[sqlx::test]
async fn reflections_round_trip_filters_and_validation(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let goal = app.create(GOALS, t, &json!({"title": "Focus"})).await;

    let daily = app
        .create(
            REFLECTIONS,
            t,
            &json!({"content": "Good day, shipped the feature.", "reflection_type": "daily"}),
        )
        .await;
    assert_eq!(daily["reflection_type"], "daily");
    assert_eq!(daily["goal_id"], Value::Null);
    let about_goal = app
        .create(
            REFLECTIONS,
            t,
            &json!({"content": "Deep work mornings help.", "reflection_type": "goal",
                    "goal_id": goal["id"]}),
        )
        .await;
    assert_eq!(about_goal["goal_id"], goal["id"]);
    let path = format!("{REFLECTIONS}/{}", id(&daily));
    assert_eq!(
        json_with(app.get(&path, t).await, StatusCode::OK).await,
        daily
    );

    assert_eq!(
        app.list_ids(REFLECTIONS, t).await,
        vec![id(&about_goal), id(&daily)]
    );
    assert_eq!(
        app.list_ids(&format!("{REFLECTIONS}?reflection_type=daily"), t)
            .await,
        vec![id(&daily)]
    );
    assert_eq!(
        app.list_ids(&format!("{REFLECTIONS}?goal_id={}", id(&goal)), t)
            .await,
        vec![id(&about_goal)]
    );
    let pages = app.all_pages(REFLECTIONS, t, 1).await;
    assert_eq!(pages.len(), 2);

    let missing = uuid::Uuid::now_v7();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"reflection_type": "daily"}), "content"),
        (
            json!({"content": "", "reflection_type": "daily"}),
            "content",
        ),
        (json!({"content": "x"}), "reflection_type"),
        (
            json!({"content": "x", "reflection_type": "hourly"}),
            "reflection_type",
        ),
        (
            json!({"content": "x", "reflection_type": "goal"}),
            "goal_id",
        ),
        (
            json!({"content": "x", "reflection_type": "weekly", "goal_id": missing}),
            "goal_id",
        ),
        (
            json!({"content": "x", "reflection_type": "weekly", "mood": 3}),
            "mood",
        ),
    ];
    for (body, field) in cases {
        let resp = app.post_json(REFLECTIONS, Some(t), &body).await;
        assert_eq!(field_error(resp).await, vec![field], "{body}");
    }
    let resp = app
        .get(&format!("{REFLECTIONS}?reflection_type=x"), t)
        .await;
    assert_eq!(field_error(resp).await, vec!["reflection_type"]);

    // Deleting the goal keeps the reflection, unlinked.
    app.delete(&format!("{GOALS}/{}", id(&goal)), t).await;
    let kept = json_with(
        app.get(&format!("{REFLECTIONS}/{}", id(&about_goal)), t)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(kept["goal_id"], Value::Null);

    assert_eq!(app.delete(&path, t).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, t).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(
        app.delete(&path, t).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
