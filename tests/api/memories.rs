//! Memories: CRUD, validation, tags, type filter, ranked full-text search, and the
//! remember/recall service functions the agents use.

use cadence::memories::{
    model::{CreateMemory, MemorySource},
    repo, service,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::*;

const MEMORIES: &str = "/api/v1/memories";

async fn field_error(resp: reqwest::Response) -> Vec<String> {
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    error_fields(&body)
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[sqlx::test]
async fn memory_crud_round_trip(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;

    let plain = app
        .create(MEMORIES, t, &json!({"content": "Lives in Lyon"}))
        .await;
    assert_eq!(plain["memory_type"], "other");
    assert_eq!(plain["importance"], 3);
    assert_eq!(plain["tags"], json!([]));
    assert_eq!(plain["source"], "manual");

    let created = app
        .create(
            MEMORIES,
            t,
            &json!({"content": "Allergic to peanuts", "memory_type": "fact", "importance": 5,
                    "tags": [" Health ", "food", "health"], "source": "voice"}),
        )
        .await;
    assert_eq!(created["memory_type"], "fact");
    assert_eq!(created["importance"], 5);
    assert_eq!(created["tags"], json!(["health", "food"]));
    assert_eq!(created["source"], "voice");
    let path = format!("{MEMORIES}/{}", id(&created));
    assert_eq!(
        json_with(app.get(&path, t).await, StatusCode::OK).await,
        created
    );

    let patched = json_with(
        app.patch_json(&path, t, &json!({"importance": 4, "tags": ["Allergy"]}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["importance"], 4);
    assert_eq!(patched["tags"], json!(["allergy"]));
    assert_eq!(patched["content"], "Allergic to peanuts");
    assert_eq!(patched["memory_type"], "fact");

    let put = json_with(
        app.put_json(
            &path,
            t,
            &json!({"content": "Allergic to peanuts and cashews", "tags": null,
                    "memory_type": "preference"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(put["content"], "Allergic to peanuts and cashews");
    assert_eq!(put["tags"], json!([]));
    assert_eq!(put["memory_type"], "preference");
    assert_eq!(put["importance"], 4);
    assert_eq!(
        json_with(app.get(&path, t).await, StatusCode::OK).await,
        put
    );

    assert_eq!(app.delete(&path, t).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, t).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(
        app.delete(&path, t).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[sqlx::test]
async fn memory_validation_names_the_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "content"),
        (json!({"content": "  "}), "content"),
        (json!({"content": "x".repeat(10_001)}), "content"),
        (json!({"content": "x", "importance": 0}), "importance"),
        (json!({"content": "x", "importance": 6}), "importance"),
        (json!({"content": "x", "importance": "high"}), "importance"),
        (
            json!({"content": "x", "memory_type": "secret"}),
            "memory_type",
        ),
        (json!({"content": "x", "tags": ["ok", ""]}), "tags"),
        (json!({"content": "x", "tags": ["y".repeat(51)]}), "tags"),
        (json!({"content": "x", "tags": many}), "tags"),
        (json!({"content": "x", "tags": "solo"}), "tags"),
        (json!({"content": "x", "source": ""}), "source"),
        (json!({"content": "x", "source": "robot"}), "source"),
        (
            json!({"content": "x", "source_reference": "r".repeat(2001)}),
            "source_reference",
        ),
        (json!({"content": "x", "user_id": u.id}), "user_id"),
    ];
    for (body, field) in cases {
        let resp = app.post_json(MEMORIES, Some(t), &body).await;
        assert_eq!(field_error(resp).await, vec![field], "{body}");
    }
    let memory = app.create(MEMORIES, t, &json!({"content": "m"})).await;
    let path = format!("{MEMORIES}/{}", id(&memory));
    let cases: Vec<(Value, &str)> = vec![
        (json!({"content": null}), "content"),
        (json!({"importance": null}), "importance"),
        (json!({"importance": 9}), "importance"),
        (json!({"memory_type": null}), "memory_type"),
        (json!({"tags": [" "]}), "tags"),
        (json!({"source": "chat"}), "source"),
    ];
    for (body, field) in cases {
        let resp = app.patch_json(&path, t, &body).await;
        assert_eq!(field_error(resp).await, vec![field], "{body}");
    }
    assert_eq!(
        json_with(app.get(&path, t).await, StatusCode::OK).await,
        memory
    );
}

#[sqlx::test]
async fn memory_filters_and_ranked_search(pool: PgPool) {
    let app = spawn_app(pool).await;
    let u = app.new_user().await;
    let t = &u.access_token;
    let sister = app
        .create(
            MEMORIES,
            t,
            &json!({"content": "Sister Ana lives in Porto and loves hiking",
                    "memory_type": "person", "tags": ["family", "porto"]}),
        )
        .await;
    let coffee = app
        .create(
            MEMORIES,
            t,
            &json!({"content": "Prefers oat milk in coffee", "memory_type": "preference",
                    "tags": ["food"]}),
        )
        .await;
    let trip = app
        .create(
            MEMORIES,
            t,
            &json!({"content": "Hiking trip, hiking boots needed, hikes every weekend",
                    "memory_type": "event", "tags": ["family", "travel"]}),
        )
        .await;

    let q = |s: &str| format!("{MEMORIES}?{s}");
    assert_eq!(
        app.list_ids(&q("tag=family"), t).await,
        vec![id(&trip), id(&sister)]
    );
    assert_eq!(
        app.list_ids(&q("tag=Family&tag=travel"), t).await,
        vec![id(&trip)]
    );
    assert_eq!(
        app.list_ids(&q("tag=nothing"), t).await,
        Vec::<String>::new()
    );
    assert_eq!(
        app.list_ids(&q("memory_type=preference"), t).await,
        vec![id(&coffee)]
    );
    assert_eq!(
        app.list_ids(&q("memory_type=person,event"), t).await,
        vec![id(&trip), id(&sister)]
    );
    // Ranked: the memory that mentions hiking three times comes first.
    assert_eq!(
        app.list_ids(&q("q=hike"), t).await,
        vec![id(&trip), id(&sister)]
    );
    assert_eq!(
        app.list_ids(&q("q=hiking&tag=porto"), t).await,
        vec![id(&sister)]
    );
    assert_eq!(app.list_ids(&q("q=coffee"), t).await, vec![id(&coffee)]);
    let pages = app.all_pages(&q("q=hiking"), t, 1).await;
    assert_eq!(ids_of(&Value::Array(pages)), vec![id(&trip), id(&sister)]);
    let pages = app.all_pages(MEMORIES, t, 2).await;
    assert_eq!(
        ids_of(&Value::Array(pages)),
        vec![id(&trip), id(&coffee), id(&sister)]
    );

    assert_eq!(
        field_error(app.get(&q("memory_type=x"), t).await).await,
        vec!["memory_type"]
    );
    assert_eq!(
        field_error(app.get(&q(&format!("tag={}", "t".repeat(51))), t).await).await,
        vec!["tag"]
    );
}

#[sqlx::test]
async fn remember_and_recall_for_agents(pool: PgPool) {
    let app = spawn_app(pool).await;
    let a = app.new_user().await;
    let b = app.new_user().await;
    let m = service::remember(
        &app.pool,
        a.id,
        CreateMemory {
            content: "Birthday is on 3 March".into(),
            importance: Some(5),
            tags: Some(vec!["Dates".into()]),
            source: Some(MemorySource::Chat),
            ..CreateMemory::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(m.tags, vec!["dates"]);
    assert_eq!(m.source, MemorySource::Chat);
    // The REST API sees what the tool wrote.
    let listed = app.list_ids(MEMORIES, &a.access_token).await;
    assert_eq!(listed, vec![m.id.to_string()]);

    let found = service::recall(&app.pool, a.id, "birthday", &[], 5)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, m.id);
    let by_tag = service::recall(&app.pool, a.id, "", &["DATES".into()], 5)
        .await
        .unwrap();
    assert_eq!(by_tag.len(), 1);
    // Another user recalls nothing of A's.
    assert!(
        service::recall(&app.pool, b.id, "birthday", &[], 5)
            .await
            .unwrap()
            .is_empty()
    );
    let err = service::remember(&app.pool, a.id, CreateMemory::default())
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test]
async fn superseded_memories_are_kept_but_not_current(pool: PgPool) {
    let app = spawn_app(pool).await;
    let a = app.new_user().await;
    let b = app.new_user().await;
    let t = &a.access_token;
    let created = app
        .create(
            MEMORIES,
            t,
            &json!({"content": "My sister is Ana", "source": "chat", "source_reference": "m-1"}),
        )
        .await;
    assert_eq!(created["source"], "chat");
    assert_eq!(created["source_reference"], "m-1");
    assert!(created["valid_until"].is_null());
    assert!(created["superseded_by"].is_null());
    assert!(created["valid_from"].is_string());
    let old: uuid::Uuid = id(&created).parse().unwrap();
    let newer = app
        .create(MEMORIES, t, &json!({"content": "My sister is Bea"}))
        .await;
    assert_eq!(newer["source"], "manual");
    let new: uuid::Uuid = id(&newer).parse().unwrap();

    // Another user's memory cannot be closed in A's name.
    assert!(!repo::supersede(&app.pool, b.id, old, new).await.unwrap());
    assert!(repo::supersede(&app.pool, a.id, old, new).await.unwrap());
    // Closing twice changes nothing.
    assert!(!repo::supersede(&app.pool, a.id, old, new).await.unwrap());

    assert_eq!(app.list_ids(MEMORIES, t).await, vec![new.to_string()]);
    assert_eq!(
        app.list_ids(&format!("{MEMORIES}?q=sister"), t).await,
        vec![new.to_string()]
    );
    let all = app
        .list_ids(&format!("{MEMORIES}?include_superseded=true"), t)
        .await;
    assert_eq!(all, vec![new.to_string(), old.to_string()]);
    let searched = app
        .list_ids(&format!("{MEMORIES}?q=sister&include_superseded=true"), t)
        .await;
    assert_eq!(searched.len(), 2);
    let kept = json_with(
        app.get(&format!("{MEMORIES}/{old}"), t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(kept["content"], "My sister is Ana");
    assert!(kept["valid_until"].is_string());
    assert_eq!(kept["superseded_by"], new.to_string());
    assert_eq!(
        field_error(
            app.get(&format!("{MEMORIES}?include_superseded=maybe"), t)
                .await
        )
        .await,
        vec!["include_superseded"]
    );

    // The agents (and so the chat and voice context) recall only what holds now.
    let recalled = service::recall(&app.pool, a.id, "sister", &[], 5)
        .await
        .unwrap();
    assert_eq!(recalled.iter().map(|m| m.id).collect::<Vec<_>>(), vec![new]);
    let newest = service::recall(&app.pool, a.id, "", &[], 5).await.unwrap();
    assert_eq!(newest.iter().map(|m| m.id).collect::<Vec<_>>(), vec![new]);

    // Deleting the successor leaves the old memory closed, without a successor.
    let resp = app.delete(&format!("{MEMORIES}/{new}"), t).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let kept = json_with(
        app.get(&format!("{MEMORIES}/{old}"), t).await,
        StatusCode::OK,
    )
    .await;
    assert!(kept["superseded_by"].is_null());
    assert!(kept["valid_until"].is_string());
}
