//! Notes: CRUD, derived plain text, the tree (no cycles, subtree delete), filters,
//! full-text search, optimistic concurrency and pagination.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::*;

const NOTES: &str = "/api/v1/notes";

fn blocks(text: &str) -> Value {
    json!([{
        "id": "b1", "type": "paragraph", "props": {"textColor": "default"},
        "content": [{"type": "text", "text": text, "styles": {}}],
        "children": []
    }])
}

#[sqlx::test]
async fn note_crud_round_trip(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;

    let content = json!([
        {"id": "h", "type": "heading", "props": {"level": 2},
         "content": [{"type": "text", "text": "Groceries", "styles": {"bold": true}}],
         "children": [
            {"id": "c", "type": "checkListItem", "props": {"checked": false},
             "content": [{"type": "text", "text": "oat milk", "styles": {}}], "children": []}
         ]}
    ]);
    let created = app
        .create(
            NOTES,
            t,
            &json!({"title": "  Shopping  ", "content": content, "is_pinned": true,
                    "metadata": {"color": "green"}}),
        )
        .await;
    assert_eq!(created["title"], "Shopping");
    assert_eq!(created["content"], content);
    assert_eq!(created["plain_text"], "Groceries\noat milk");
    assert_eq!(created["is_pinned"], true);
    assert_eq!(created["is_archived"], false);
    assert_eq!(created["parent_id"], Value::Null);
    assert_eq!(created["metadata"], json!({"color": "green"}));
    assert_eq!(created["version"], 1);
    let id = created["id"].as_str().unwrap();
    let path = format!("{NOTES}/{id}");

    let resp = app.get(&path, t).await;
    assert_eq!(etag(&resp).as_deref(), Some("\"1\""));
    assert_eq!(json_with(resp, StatusCode::OK).await, created);

    // PATCH: omitted fields stay, content replaces and plain_text follows.
    let resp = app
        .patch_json(
            &path,
            t,
            &json!({"title": "Shopping list", "content": blocks("bread and eggs")}),
        )
        .await;
    assert_eq!(etag(&resp).as_deref(), Some("\"2\""));
    let patched = json_with(resp, StatusCode::OK).await;
    assert_eq!(patched["title"], "Shopping list");
    assert_eq!(patched["plain_text"], "bread and eggs");
    assert_eq!(patched["is_pinned"], true);
    assert_eq!(patched["metadata"], json!({"color": "green"}));
    assert_eq!(patched["version"], 2);

    // PUT has the same merge semantics; null clears metadata and content.
    let put = json_with(
        app.put_json(
            &path,
            t,
            &json!({"is_archived": true, "is_pinned": false, "metadata": null, "content": null}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(put["title"], "Shopping list");
    assert_eq!(put["is_archived"], true);
    assert_eq!(put["is_pinned"], false);
    assert_eq!(put["metadata"], json!({}));
    assert_eq!(put["content"], json!([]));
    assert_eq!(put["plain_text"], "");
    assert_eq!(put["version"], 3);

    // Any JSON document is accepted; its strings become the plain text.
    let other = json_with(
        app.patch_json(
            &path,
            t,
            &json!({"content": {"doc": {"lines": ["first line", {"x": "second"}]}, "n": 3}}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(other["plain_text"], "first line\nsecond");

    let seen = json_with(app.get(&path, t).await, StatusCode::OK).await;
    assert_eq!(seen, other);

    assert_eq!(app.delete(&path, t).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, t).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(
        app.delete(&path, t).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn field_error(resp: reqwest::Response) -> Vec<String> {
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    error_fields(&body)
}

#[sqlx::test]
async fn note_validation_names_the_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let missing = uuid::Uuid::now_v7();

    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(501)}), "title"),
        (json!({"title": 5}), "title"),
        (
            json!({"title": "ok", "parent_id": "not-a-uuid"}),
            "parent_id",
        ),
        (json!({"title": "ok", "parent_id": missing}), "parent_id"),
        (json!({"title": "ok", "is_pinned": "yes"}), "is_pinned"),
        (json!({"title": "ok", "metadata": [1, 2]}), "metadata"),
        (json!({"title": "ok", "metadata": "text"}), "metadata"),
        (json!({"title": "ok", "user_id": u.id}), "user_id"),
        (json!({"title": "ok", "version": 7}), "version"),
        (json!({"title": "ok", "is_archived": true}), "is_archived"),
    ];
    for (body, field) in cases {
        let resp = app.post_json(NOTES, Some(t), &body).await;
        assert_eq!(field_error(resp).await, vec![field], "{body}");
    }

    let note = app.create(NOTES, t, &json!({"title": "n"})).await;
    let path = format!("{NOTES}/{}", note["id"].as_str().unwrap());
    let cases: Vec<(Value, &str)> = vec![
        (json!({"title": null}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"is_pinned": null}), "is_pinned"),
        (json!({"is_archived": null}), "is_archived"),
        (json!({"is_archived": "no"}), "is_archived"),
        (json!({"metadata": 3}), "metadata"),
        (json!({"parent_id": missing}), "parent_id"),
        (json!({"plain_text": "forged"}), "plain_text"),
        (json!({"id": missing}), "id"),
    ];
    for (body, field) in cases {
        let resp = app.patch_json(&path, t, &body).await;
        assert_eq!(field_error(resp).await, vec![field], "{body}");
    }
    // Nothing was written by the refused requests.
    let after = json_with(app.get(&path, t).await, StatusCode::OK).await;
    assert_eq!(after, note);
}

#[sqlx::test]
async fn note_content_is_limited_to_one_mebibyte(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;

    // Many distinct words, just under 1 MiB of JSON: stored, derived and searchable.
    let mut text = String::new();
    let mut i = 0u64;
    while text.len() < 1_000_000 {
        text.push_str(&format!("word{i} "));
        i += 1;
    }
    text.push_str("zebracorn");
    let big = json!(text);
    assert!(serde_json::to_vec(&big).unwrap().len() <= 1024 * 1024);
    let note = app
        .create(NOTES, t, &json!({"title": "big", "content": big}))
        .await;
    assert_eq!(note["plain_text"].as_str().unwrap().len(), text.len());
    let found = app.list_ids(&format!("{NOTES}?q=word17"), t).await;
    assert_eq!(found, vec![note["id"].as_str().unwrap().to_string()]);

    // Just over 1 MiB (but within the server's body limit): 422 on content.
    let over = json!("y".repeat(1024 * 1024));
    let resp = app
        .post_json(
            NOTES,
            Some(t),
            &json!({"title": "too big", "content": over}),
        )
        .await;
    assert_eq!(field_error(resp).await, vec!["content"]);
    let path = format!("{NOTES}/{}", note["id"].as_str().unwrap());
    let resp = app.patch_json(&path, t, &json!({"content": over})).await;
    assert_eq!(field_error(resp).await, vec!["content"]);

    // A body over the server's limit is refused before it is read: 413.
    let huge = json!("z".repeat(3 * 1024 * 1024));
    let resp = app
        .post_json(NOTES, Some(t), &json!({"title": "huge", "content": huge}))
        .await;
    assert_problem(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[sqlx::test]
async fn note_tree_refuses_cycles(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let a = app.create(NOTES, t, &json!({"title": "a"})).await;
    let a_id = a["id"].as_str().unwrap();
    let b = app
        .create(NOTES, t, &json!({"title": "b", "parent_id": a_id}))
        .await;
    let b_id = b["id"].as_str().unwrap();
    let c = app
        .create(NOTES, t, &json!({"title": "c", "parent_id": b_id}))
        .await;
    let c_id = c["id"].as_str().unwrap();
    assert_eq!(c["parent_id"], b_id);

    for target in [a_id, b_id, c_id] {
        let resp = app
            .patch_json(&format!("{NOTES}/{a_id}"), t, &json!({"parent_id": target}))
            .await;
        assert_eq!(
            field_error(resp).await,
            vec!["parent_id"],
            "a under {target}"
        );
    }
    // a is still the root.
    let a_now = json_with(app.get(&format!("{NOTES}/{a_id}"), t).await, StatusCode::OK).await;
    assert_eq!(a_now["parent_id"], Value::Null);
    assert_eq!(a_now["version"], 1);

    // Moving c to the top and then a under c is fine (c is no longer below a).
    let c_top = json_with(
        app.patch_json(&format!("{NOTES}/{c_id}"), t, &json!({"parent_id": null}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c_top["parent_id"], Value::Null);
    let a_moved = json_with(
        app.patch_json(&format!("{NOTES}/{a_id}"), t, &json!({"parent_id": c_id}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(a_moved["parent_id"], c_id);
}

#[sqlx::test]
async fn deleting_a_note_deletes_its_subtree(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let root = app.create(NOTES, t, &json!({"title": "root"})).await;
    let root_id = root["id"].as_str().unwrap();
    let child = app
        .create(NOTES, t, &json!({"title": "child", "parent_id": root_id}))
        .await;
    let child_id = child["id"].as_str().unwrap();
    let grandchild = app
        .create(
            NOTES,
            t,
            &json!({"title": "grandchild", "parent_id": child_id}),
        )
        .await;
    let other = app.create(NOTES, t, &json!({"title": "other"})).await;
    let task = app
        .create(
            "/api/v1/tasks",
            t,
            &json!({"title": "from the grandchild", "note_id": grandchild["id"]}),
        )
        .await;

    assert_eq!(
        app.delete(&format!("{NOTES}/{root_id}"), t).await.status(),
        StatusCode::NO_CONTENT
    );
    for n in [&root, &child, &grandchild] {
        let resp = app
            .get(&format!("{NOTES}/{}", n["id"].as_str().unwrap()), t)
            .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
    let still = app
        .get(&format!("{NOTES}/{}", other["id"].as_str().unwrap()), t)
        .await;
    assert_eq!(still.status(), StatusCode::OK);
    // The task survives, unlinked.
    let task = json_with(
        app.get(
            &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
            t,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(task["note_id"], Value::Null);
    let left: i64 = sqlx::query_scalar("select count(*) from notes where user_id = $1")
        .bind(u.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 1);
}

#[sqlx::test]
async fn note_filters_and_ranked_search(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();

    let parent = app.create(NOTES, t, &json!({"title": "Projects"})).await;
    let pinned = app
        .create(
            NOTES,
            t,
            &json!({"title": "Garden plans", "is_pinned": true, "parent_id": parent["id"],
                    "content": blocks("plant tomatoes in spring")}),
        )
        .await;
    let body_only = app
        .create(
            NOTES,
            t,
            &json!({"title": "Weekend", "content": blocks("we could visit the garden centre")}),
        )
        .await;
    let archived = app
        .create(
            NOTES,
            t,
            &json!({"title": "Old garden ideas", "content": blocks("garden garden")}),
        )
        .await;
    app.patch_json(
        &format!("{NOTES}/{}", id(&archived)),
        t,
        &json!({"is_archived": true}),
    )
    .await;

    // Archived notes are hidden unless asked for.
    let all = app.list_ids(NOTES, t).await;
    assert_eq!(all, vec![id(&body_only), id(&pinned), id(&parent)]);
    assert_eq!(
        app.list_ids(&format!("{NOTES}?is_archived=true"), t).await,
        vec![id(&archived)]
    );
    assert_eq!(
        app.list_ids(&format!("{NOTES}?is_pinned=true"), t).await,
        vec![id(&pinned)]
    );
    assert_eq!(
        app.list_ids(&format!("{NOTES}?is_pinned=false"), t).await,
        vec![id(&body_only), id(&parent)]
    );
    assert_eq!(
        app.list_ids(&format!("{NOTES}?parent_id={}", id(&parent)), t)
            .await,
        vec![id(&pinned)]
    );
    assert_eq!(
        app.list_ids(&format!("{NOTES}?parent_id=null"), t).await,
        vec![id(&body_only), id(&parent)]
    );

    // Search: a title match ranks above a match in the text, whatever the age; stemming
    // finds "plants" for "plant"; archived notes stay out.
    assert_eq!(
        app.list_ids(&format!("{NOTES}?q=garden"), t).await,
        vec![id(&pinned), id(&body_only)]
    );
    assert_eq!(
        app.list_ids(&format!("{NOTES}?q=plants"), t).await,
        vec![id(&pinned)]
    );
    assert_eq!(
        app.list_ids(&format!("{NOTES}?q=garden&is_archived=true"), t)
            .await,
        vec![id(&archived)]
    );
    assert_eq!(
        app.list_ids(&format!("{NOTES}?q=garden%20-tomatoes"), t)
            .await,
        vec![id(&body_only)]
    );
    assert!(
        app.list_ids(&format!("{NOTES}?q=submarine"), t)
            .await
            .is_empty()
    );

    for bad in [
        "is_pinned=maybe",
        "is_archived=2",
        "parent_id=12",
        "limit=0",
        "limit=101",
    ] {
        let resp = app.get(&format!("{NOTES}?{bad}"), t).await;
        let field = bad.split('=').next().unwrap();
        assert_eq!(field_error(resp).await, vec![field], "{bad}");
    }
    let resp = app.get(&format!("{NOTES}?q={}", "a".repeat(501)), t).await;
    assert_eq!(field_error(resp).await, vec!["q"]);
}

#[sqlx::test]
async fn ranked_search_pages_without_duplicates(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let mut title_hits = HashSet::new();
    let mut text_hits = HashSet::new();
    for i in 0..7 {
        let n = app
            .create(NOTES, t, &json!({"title": format!("orchid {i}")}))
            .await;
        title_hits.insert(n["id"].as_str().unwrap().to_string());
        let n = app
            .create(
                NOTES,
                t,
                &json!({"title": format!("note {i}"), "content": blocks("an orchid, again")}),
            )
            .await;
        text_hits.insert(n["id"].as_str().unwrap().to_string());
    }
    let pages = app.all_pages(&format!("{NOTES}?q=orchid"), t, 3).await;
    let ids: Vec<String> = pages
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 14);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 14);
    // Every title match comes before every text match.
    assert!(ids[..7].iter().all(|i| title_hits.contains(i)));
    assert!(ids[7..].iter().all(|i| text_hits.contains(i)));
    // A cursor from the ranked list does not fit the plain list.
    let page = json_with(
        app.get(&format!("{NOTES}?q=orchid&limit=3"), t).await,
        StatusCode::OK,
    )
    .await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let resp = app.get(&format!("{NOTES}?cursor={cursor}"), t).await;
    assert_eq!(field_error(resp).await, vec!["cursor"]);
}

#[sqlx::test]
async fn notes_paginate_without_duplicates_or_gaps(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let mut created = Vec::new();
    for i in 0..25 {
        let n = app
            .create(NOTES, t, &json!({"title": format!("note {i}")}))
            .await;
        created.push(n["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for (round, expected) in [10usize, 10, 5].into_iter().enumerate() {
        let url = match &cursor {
            Some(c) => format!("{NOTES}?limit=10&cursor={c}"),
            None => format!("{NOTES}?limit=10"),
        };
        let page = json_with(app.get(&url, t).await, StatusCode::OK).await;
        assert_eq!(page["data"].as_array().unwrap().len(), expected);
        seen.extend(ids_of(&page["data"]));
        cursor = page["next_cursor"].as_str().map(String::from);
        assert_eq!(cursor.is_some(), round < 2);
        // New notes arrive between page fetches.
        app.create(NOTES, t, &json!({"title": format!("late {round}")}))
            .await;
    }
    created.reverse();
    assert_eq!(seen, created, "newest first, each note exactly once");
}

#[sqlx::test]
async fn note_if_match_mismatch_is_412_and_writes_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let note = app.create(NOTES, t, &json!({"title": "v1"})).await;
    let path = format!("{NOTES}/{}", note["id"].as_str().unwrap());

    let resp = app
        .send_if_match(Method::PATCH, &path, t, 2, Some(&json!({"title": "stale"})))
        .await;
    assert_problem(resp, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    let resp = app
        .send_if_match(Method::PUT, &path, t, 0, Some(&json!({"title": "stale"})))
        .await;
    assert_problem(resp, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_eq!(
        json_with(app.get(&path, t).await, StatusCode::OK).await,
        note
    );

    let resp = app
        .send_if_match(Method::PATCH, &path, t, 1, Some(&json!({"title": "v2"})))
        .await;
    assert_eq!(etag(&resp).as_deref(), Some("\"2\""));
    assert_eq!(json_with(resp, StatusCode::OK).await["title"], "v2");

    let resp = app.send_if_match(Method::DELETE, &path, t, 1, None).await;
    assert_problem(resp, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_eq!(app.get(&path, t).await.status(), StatusCode::OK);
    let resp = app.send_if_match(Method::DELETE, &path, t, 2, None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

#[sqlx::test]
async fn concurrent_note_patches_with_the_same_if_match_one_wins(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    for round in 0..5 {
        let note = app
            .create(NOTES, t, &json!({"title": format!("race {round}")}))
            .await;
        let path = format!("{NOTES}/{}", note["id"].as_str().unwrap());
        let (first, second) = (json!({"title": "A"}), json!({"title": "B"}));
        let (a, b) = tokio::join!(
            app.send_if_match(Method::PATCH, &path, t, 1, Some(&first)),
            app.send_if_match(Method::PATCH, &path, t, 1, Some(&second)),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 412], "round {round}");
        let winner = if a.status() == StatusCode::OK {
            "A"
        } else {
            "B"
        };
        let now = json_with(app.get(&path, t).await, StatusCode::OK).await;
        assert_eq!(now["title"], winner);
        assert_eq!(now["version"], 2);
    }
}

#[sqlx::test]
async fn a_notes_tasks_are_listed_under_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let note = app.create(NOTES, t, &json!({"title": "meeting"})).await;
    let other = app.create(NOTES, t, &json!({"title": "other"})).await;
    let mut mine = Vec::new();
    for i in 0..3 {
        let task = app
            .create(
                "/api/v1/tasks",
                t,
                &json!({"title": format!("follow up {i}"), "note_id": note["id"]}),
            )
            .await;
        mine.push(task["id"].as_str().unwrap().to_string());
    }
    app.create(
        "/api/v1/tasks",
        t,
        &json!({"title": "elsewhere", "note_id": other["id"]}),
    )
    .await;
    app.create("/api/v1/tasks", t, &json!({"title": "unlinked"}))
        .await;
    mine.reverse();
    let path = format!("{NOTES}/{}/tasks", note["id"].as_str().unwrap());
    assert_eq!(app.list_ids(&path, t).await, mine);
    let pages = app.all_pages(&path, t, 2).await;
    assert_eq!(ids_of(&Value::Array(pages)), mine);
    // The task list's filters apply.
    app.put_json(
        &format!("/api/v1/tasks/{}/status", mine[0]),
        t,
        &json!({"status": "done"}),
    )
    .await;
    assert_eq!(
        app.list_ids(&format!("{path}?status=done"), t).await,
        vec![mine[0].clone()]
    );
    let missing = format!("{NOTES}/{}/tasks", uuid::Uuid::now_v7());
    assert_problem(
        app.get(&missing, t).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
