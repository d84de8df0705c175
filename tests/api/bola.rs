//! Broken object-level authorization, tested over every route of notes, tasks, goals,
//! reflections and memories as the OpenAPI document lists them: user B gets 404 on each of
//! user A's ids and changes nothing, B's lists and searches never show A's rows, and B
//! cannot link A's rows. Deleting an account deletes its rows.

use std::collections::{BTreeMap, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::*;

const RESOURCES: [&str; 5] = ["notes", "tasks", "goals", "reflections", "memories"];

/// A's rows: one of each resource, linked together, with a searchable word.
struct Fixture {
    ids: BTreeMap<&'static str, String>,
}

async fn seed(app: &TestApp, t: &str, word: &str) -> Fixture {
    let goal = app
        .create(
            "/api/v1/goals",
            t,
            &json!({"title": format!("{word} goal"), "progress": 10}),
        )
        .await;
    let note = app
        .create(
            "/api/v1/notes",
            t,
            &json!({"title": format!("{word} note"),
                    "content": [{"type": "paragraph", "content": [{"type": "text", "text": word}]}]}),
        )
        .await;
    let task = app
        .create(
            "/api/v1/tasks",
            t,
            &json!({"title": format!("{word} task"), "goal_id": goal["id"], "note_id": note["id"],
                    "due_date": "2026-12-24"}),
        )
        .await;
    let reflection = app
        .create(
            "/api/v1/reflections",
            t,
            &json!({"content": format!("{word} reflection"), "reflection_type": "goal",
                    "goal_id": goal["id"]}),
        )
        .await;
    let memory = app
        .create(
            "/api/v1/memories",
            t,
            &json!({"content": format!("{word} memory"), "tags": [word]}),
        )
        .await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    Fixture {
        ids: BTreeMap::from([
            ("notes", id(&note)),
            ("tasks", id(&task)),
            ("goals", id(&goal)),
            ("reflections", id(&reflection)),
            ("memories", id(&memory)),
        ]),
    }
}

impl Fixture {
    fn all(&self) -> HashSet<String> {
        self.ids.values().cloned().collect()
    }
}

/// Everything A can see of A's rows, to compare before and after B's attempts.
async fn snapshot(app: &TestApp, t: &str, f: &Fixture) -> Vec<Value> {
    let mut out = Vec::new();
    for (resource, id) in &f.ids {
        let resp = app.get(&format!("/api/v1/{resource}/{id}"), t).await;
        out.push(json_with(resp, StatusCode::OK).await);
    }
    for path in ["/api/v1/notes", "/api/v1/tasks", "/api/v1/goals"] {
        let id = &f.ids[&path["/api/v1/".len()..]];
        let resp = app.get(&format!("{path}/{id}"), t).await;
        out.push(json!(etag(&resp)));
    }
    out
}

/// A valid body for a write on `path` (a template such as `/api/v1/tasks/{id}/status`), so
/// that only ownership can refuse it.
fn body_for(method: &Method, path: &str) -> Option<Value> {
    if *method == Method::GET || *method == Method::DELETE {
        return None;
    }
    Some(match path {
        "/api/v1/tasks/{id}/status" => json!({"status": "done"}),
        "/api/v1/tasks/{id}/snooze" => json!({"minutes": 10}),
        "/api/v1/memories/{id}" => json!({"content": "hijacked"}),
        "/api/v1/notes/{id}" | "/api/v1/tasks/{id}" | "/api/v1/goals/{id}" => {
            json!({"title": "hijacked"})
        }
        // A route added later with a body: an empty object is the least it may accept.
        _ => json!({}),
    })
}

/// Every `(method, path)` of the five resources in the OpenAPI document.
async fn routes(app: &TestApp) -> Vec<(Method, String)> {
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let resource = path
            .strip_prefix("/api/v1/")
            .and_then(|p| p.split('/').next())
            .unwrap_or("");
        if !RESOURCES.contains(&resource) {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            out.push((method, path.clone()));
        }
    }
    out
}

#[sqlx::test]
async fn another_users_ids_answer_404_on_every_route_and_change_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    let a = app.new_user().await;
    let b = app.new_user().await;
    let fixture = seed(&app, &a.access_token, "quokka").await;
    let before = snapshot(&app, &a.access_token, &fixture).await;

    let routes = routes(&app).await;
    let mut by_id = 0;
    for (method, template) in &routes {
        if !template.contains("{id}") {
            continue;
        }
        let resource = template["/api/v1/".len()..].split('/').next().unwrap();
        let path = template.replace("{id}", &fixture.ids[resource]);
        let mut rb = app.request(method.clone(), &path, Some(&b.access_token));
        if let Some(body) = body_for(method, template) {
            rb = rb.json(&body);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {template}");
        assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
        // Knowing the version does not help either.
        if *method != Method::GET {
            let mut rb = app
                .request(method.clone(), &path, Some(&b.access_token))
                .header("if-match", "\"1\"");
            if let Some(body) = body_for(method, template) {
                rb = rb.json(&body);
            }
            let resp = rb.send().await.unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::NOT_FOUND,
                "{method} {template} with If-Match"
            );
        }
        by_id += 1;
    }
    // notes: GET/PATCH/PUT/DELETE {id} + GET {id}/tasks; tasks: 4 + PUT {id}/status;
    // goals: 4 + GET {id}/tasks; reflections: GET/DELETE; memories: 4.
    assert!(by_id >= 20, "only {by_id} routes with an id were tested");

    assert_eq!(
        snapshot(&app, &a.access_token, &fixture).await,
        before,
        "A's rows are unchanged"
    );
    let counts: i64 = sqlx::query_scalar(
        "select (select count(*) from notes) + (select count(*) from tasks)
              + (select count(*) from goals) + (select count(*) from reflections)
              + (select count(*) from memories)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(counts, 5, "nothing was created or deleted");
}

#[sqlx::test]
async fn lists_and_searches_never_show_another_users_rows(pool: PgPool) {
    let app = spawn_app(pool).await;
    let a = app.new_user().await;
    let b = app.new_user().await;
    let a_rows = seed(&app, &a.access_token, "quokka").await;
    let b_rows = seed(&app, &b.access_token, "quokka").await;
    let a_ids = a_rows.all();

    // Every list route, plain and with every filter that could reach A's rows.
    let ids = &a_rows.ids;
    let queries = |resource: &str| -> Vec<String> {
        let mut q = vec![String::new()];
        q.extend(match resource {
            "notes" => vec![
                "q=quokka".to_string(),
                "is_archived=true".into(),
                "parent_id=null".into(),
                format!("parent_id={}", ids["notes"]),
            ],
            "tasks" => vec![
                "q=quokka".to_string(),
                "sort=due_date".into(),
                "sort=due_date&q=quokka".into(),
                "status=todo".into(),
                "due_before=2026-12-31".into(),
                "parent_id=null".into(),
                format!("parent_id={}", ids["tasks"]),
                format!("goal_id={}", ids["goals"]),
                format!("note_id={}", ids["notes"]),
            ],
            "goals" => vec![
                "parent_goal_id=null".to_string(),
                format!("parent_goal_id={}", ids["goals"]),
            ],
            "reflections" => vec![
                "reflection_type=goal".to_string(),
                format!("goal_id={}", ids["goals"]),
            ],
            "memories" => vec!["q=quokka".to_string(), "tag=quokka".into()],
            _ => vec![],
        });
        q
    };
    let mut lists = 0;
    for (method, template) in routes(&app).await {
        if method != Method::GET || template.contains("{id}") {
            continue;
        }
        lists += 1;
        let mut b_seen = HashSet::new();
        let resource = &template["/api/v1/".len()..];
        for query in queries(resource) {
            let rows = app
                .all_pages(&format!("{template}?{query}"), &b.access_token, 100)
                .await;
            for row in rows {
                let id = row["id"].as_str().unwrap().to_string();
                assert!(!a_ids.contains(&id), "{template}?{query} shows A's {id}");
                b_seen.insert(id);
            }
        }
        assert!(
            b_seen.contains(&b_rows.ids[resource]),
            "B's own {resource} is listed (the check can fail)"
        );
    }
    assert_eq!(lists, 5);

    // The sub-lists of A's note and goal are not B's to read.
    for path in [
        format!("/api/v1/notes/{}/tasks", ids["notes"]),
        format!("/api/v1/goals/{}/tasks", ids["goals"]),
    ] {
        let resp = app.get(&path, &b.access_token).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[sqlx::test]
async fn another_users_rows_cannot_be_linked(pool: PgPool) {
    let app = spawn_app(pool).await;
    let a = app.new_user().await;
    let b = app.new_user().await;
    let a_rows = seed(&app, &a.access_token, "quokka").await;
    let b_rows = seed(&app, &b.access_token, "wombat").await;
    let ids = &a_rows.ids;
    let t = &b.access_token;

    let creates: Vec<(&str, Value, &str)> = vec![
        (
            "/api/v1/notes",
            json!({"title": "x", "parent_id": ids["notes"]}),
            "parent_id",
        ),
        (
            "/api/v1/tasks",
            json!({"title": "x", "parent_id": ids["tasks"]}),
            "parent_id",
        ),
        (
            "/api/v1/tasks",
            json!({"title": "x", "goal_id": ids["goals"]}),
            "goal_id",
        ),
        (
            "/api/v1/tasks",
            json!({"title": "x", "note_id": ids["notes"]}),
            "note_id",
        ),
        (
            "/api/v1/goals",
            json!({"title": "x", "parent_goal_id": ids["goals"]}),
            "parent_goal_id",
        ),
        (
            "/api/v1/reflections",
            json!({"content": "x", "reflection_type": "goal", "goal_id": ids["goals"]}),
            "goal_id",
        ),
    ];
    for (path, body, field) in creates {
        let resp = app.post_json(path, Some(t), &body).await;
        let problem =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), vec![field], "{path} {body}");
    }
    let b_ids = &b_rows.ids;
    let updates: Vec<(String, Value, &str)> = vec![
        (
            format!("/api/v1/notes/{}", b_ids["notes"]),
            json!({"parent_id": ids["notes"]}),
            "parent_id",
        ),
        (
            format!("/api/v1/tasks/{}", b_ids["tasks"]),
            json!({"parent_id": ids["tasks"]}),
            "parent_id",
        ),
        (
            format!("/api/v1/tasks/{}", b_ids["tasks"]),
            json!({"goal_id": ids["goals"]}),
            "goal_id",
        ),
        (
            format!("/api/v1/tasks/{}", b_ids["tasks"]),
            json!({"note_id": ids["notes"]}),
            "note_id",
        ),
        (
            format!("/api/v1/goals/{}", b_ids["goals"]),
            json!({"parent_goal_id": ids["goals"]}),
            "parent_goal_id",
        ),
    ];
    for (path, body, field) in updates {
        let resp = app.patch_json(&path, t, &body).await;
        let problem =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), vec![field], "{path} {body}");
    }
    // Nothing links across users, and A's goal progress ignores B entirely.
    let crossed: i64 = sqlx::query_scalar(
        "select count(*) from tasks t
           where exists (select 1 from goals g where g.id = t.goal_id and g.user_id <> t.user_id)
              or exists (select 1 from notes n where n.id = t.note_id and n.user_id <> t.user_id)
              or exists (select 1 from tasks p where p.id = t.parent_id and p.user_id <> t.user_id)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(crossed, 0);
    let b_task = json_with(
        app.get(&format!("/api/v1/tasks/{}", b_ids["tasks"]), t)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(b_task["version"], 1);

    // Even bypassing the service, the database refuses a cross-user link.
    let err = sqlx::query("update tasks set goal_id = $1 where id = $2")
        .bind(ids["goals"].parse::<uuid::Uuid>().unwrap())
        .bind(b_ids["tasks"].parse::<uuid::Uuid>().unwrap())
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tasks_goal_fk"), "{err}");
}

#[sqlx::test]
async fn deleting_the_account_deletes_its_rows(pool: PgPool) {
    let app = spawn_app(pool).await;
    let a = app.new_user().await;
    let b = app.new_user().await;
    seed(&app, &a.access_token, "quokka").await;
    // A deeper tree, to cross the self-references during the cascade.
    let parent = app
        .create("/api/v1/tasks", &a.access_token, &json!({"title": "p"}))
        .await;
    app.create(
        "/api/v1/tasks",
        &a.access_token,
        &json!({"title": "c", "parent_id": parent["id"]}),
    )
    .await;
    let b_rows = seed(&app, &b.access_token, "wombat").await;

    let resp = app
        .request(Method::DELETE, "/api/v1/users/me", Some(&a.access_token))
        .json(&json!({"password": a.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    for table in RESOURCES {
        let (mine, theirs): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select count(*) filter (where user_id = $1), count(*) filter (where user_id = $2)
             from {table}"
        )))
        .bind(a.id)
        .bind(b.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(mine, 0, "{table} of the deleted user");
        assert_eq!(theirs, 1, "{table} of the other user");
    }
    for (resource, id) in &b_rows.ids {
        let resp = app
            .get(&format!("/api/v1/{resource}/{id}"), &b.access_token)
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{resource}");
    }
}
