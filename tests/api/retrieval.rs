//! Hybrid retrieval (`POST /rag/query`) against the simulator's OpenAI-compatible
//! embeddings (deterministic hashed words and character trigrams, so "physio" is close to
//! "Physiotherapy" although full-text search sees no common word): fusion, BOLA, sources,
//! validation, and an embeddings provider that is down.

use std::time::Duration;

use cadence::sim::{Failure, Script, Service};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{chat::chat_app, helpers::*};

const EMBEDDINGS_ON: (&str, &str) = ("CADENCE__MEMORY__EMBEDDINGS_PROVIDER", "openai");
/// Hashed features collide less in more dimensions (at 256 the simulator's collisions
/// outweigh the shared trigrams of short texts).
const DIMS: (&str, &str) = ("CADENCE__MEMORY__EMBEDDINGS_DIMS", "1024");
const RAG: &str = "/api/v1/rag/query";

/// Wait until no embedding job is pending and `user` has vectors for `items` items.
async fn indexed(pool: &PgPool, user: Uuid, items: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let (pending, have): (i64, i64) = sqlx::query_as(
            "select (select count(*) from jobs where kind = 'embeddings.index' and status <> 'done'),
                    (select count(distinct (source_type, source_id)) from embeddings where user_id = $1)",
        )
        .bind(user)
        .fetch_one(pool)
        .await
        .unwrap();
        if pending == 0 && have == items {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "embeddings: {pending} jobs pending, {have} of {items} items indexed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn rag(app: &TestApp, user: &TestUser, body: Value) -> Vec<Value> {
    let answer = json_with(
        app.post_json(RAG, Some(&user.access_token), &body).await,
        StatusCode::OK,
    )
    .await;
    answer["results"].as_array().unwrap().clone()
}

fn position(results: &[Value], id: &str) -> Option<usize> {
    results.iter().position(|r| r["source_id"] == id)
}

async fn memory(app: &TestApp, user: &TestUser, content: &str) -> String {
    let m = app
        .create(
            "/api/v1/memories",
            &user.access_token,
            &json!({ "content": content }),
        )
        .await;
    m["id"].as_str().unwrap().to_string()
}

#[sqlx::test]
async fn fusion_finds_by_meaning_and_by_rare_keyword(pool: PgPool) {
    let (app, _s) = chat_app(pool, &[EMBEDDINGS_ON, DIMS]).await;
    let a = app.new_user().await;
    let b = app.new_user().await;
    let t = &a.access_token;

    // Found only by meaning: no word in common with the query.
    let physio = memory(&app, &a, "Physiotherapy on Thursdays").await;
    // Found only by its rare keyword, buried in a long note.
    let note = app
        .create(
            "/api/v1/notes",
            t,
            &json!({"title": "Trip to Naxos", "content": [{
                "id": "b1", "type": "paragraph", "props": {}, "children": [],
                "content": [{"type": "text", "styles": {}, "text":
                "Packing list: passport, sunscreen, swimsuit, charger, hat, sandals, camera, \
                 books, snacks and water. The ferry leaves Piraeus at seven in the morning and \
                 arrives around lunchtime; the code is QX7Z9K. The hotel is near the harbour, \
                 check in after two. Dinner on the first night at the taverna by the old \
                 port, then a walk up to the castle; rent a scooter on the second day, visit \
                 the marble quarry and the beaches on the west coast, and buy honey, cheese \
                 and olive oil at the market before the boat home on Sunday."}]}]}),
        )
        .await;
    let note_id = note["id"].as_str().unwrap().to_string();
    for text in [
        "Physiology exam on Friday",
        "Physics homework due Monday",
        "Physical exercises for the knee",
        "Physique goals for the summer",
        "Physicist Otto visits in May",
        "Likes green tea in the morning",
        "Sister Ana lives in Lisbon",
    ] {
        memory(&app, &a, text).await;
    }
    app.create(
        "/api/v1/tasks",
        t,
        &json!({"title": "Renew the passport", "description": "before the trip"}),
    )
    .await;
    // B's copy of the answer must never reach A.
    let theirs = memory(&app, &b, "Physiotherapy on Thursdays, code QX7Z9K").await;
    indexed(&app.pool, a.id, 10).await;
    indexed(&app.pool, b.id, 1).await;

    let results = rag(&app, &a, json!({"query": "physio QX7Z9K", "k": 5})).await;
    assert!(results.len() <= 5);
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["source_id"].as_str().unwrap())
        .collect();
    let p = position(&results, &physio).unwrap_or_else(|| panic!("{results:#?}"));
    let n = position(&results, &note_id).unwrap_or_else(|| panic!("{results:#?}"));
    assert!(p < 3 && n < 3, "both in the top 3: {results:#?}");
    assert!(results[p]["ranks"]["text"].is_null(), "{}", results[p]);
    assert!(results[p]["ranks"]["vector"].as_u64().is_some());
    assert_eq!(results[p]["source_type"], "memories");
    assert_eq!(results[p]["text"], "Physiotherapy on Thursdays");
    assert_eq!(results[n]["ranks"]["text"], 1, "{}", results[n]);
    // Similarity alone would not have put the note in the top 3.
    assert!(
        results[n]["ranks"]["vector"].as_u64().is_none_or(|r| r > 3),
        "{}",
        results[n]
    );
    assert_eq!(results[n]["source_type"], "notes");
    assert!(results[n]["text"].as_str().unwrap().contains("QX7Z9K"));
    let scores: Vec<f64> = results
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(
        !ids.contains(&theirs.as_str()),
        "B's memory leaked: {results:#?}"
    );

    // B sees only B's own.
    let theirs_found = rag(&app, &b, json!({"query": "physio QX7Z9K"})).await;
    assert_eq!(theirs_found.len(), 1, "{theirs_found:#?}");
    assert_eq!(theirs_found[0]["source_id"], theirs.as_str());

    // Sources narrow the search.
    let only_notes = rag(
        &app,
        &a,
        json!({"query": "physio QX7Z9K", "sources": ["notes"]}),
    )
    .await;
    assert!(!only_notes.is_empty());
    assert!(only_notes.iter().all(|r| r["source_type"] == "notes"));
    let tasks = rag(&app, &a, json!({"query": "passport", "sources": ["tasks"]})).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["ranks"]["text"], 1);

    // A superseded or deleted memory is not retrieved.
    let resp = app.delete(&format!("/api/v1/memories/{physio}"), t).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let after = rag(&app, &a, json!({"query": "physio QX7Z9K"})).await;
    assert!(position(&after, &physio).is_none());
    let left: i64 = sqlx::query_scalar("select count(*) from embeddings where source_id = $1")
        .bind(physio.parse::<Uuid>().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "deleting the memory deletes its vectors");

    for (body, field) in [
        (json!({"query": ""}), "query"),
        (json!({"query": "x", "k": 0}), "k"),
        (json!({"query": "x", "k": 51}), "k"),
        (json!({"query": "x", "sources": []}), "sources"),
        (json!({"query": "x", "sources": ["files"]}), "sources[0]"),
        (json!({"query": "x", "extra": 1}), "extra"),
    ] {
        let resp = app.post_json(RAG, Some(t), &body).await;
        let problem =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), vec![field], "{body}");
    }
    let resp = app.post_json(RAG, None, &json!({"query": "x"})).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn an_embeddings_outage_leaves_text_search_and_retries(pool: PgPool) {
    let (app, s) = chat_app(pool, &[EMBEDDINGS_ON, DIMS]).await;
    let a = app.new_user().await;
    // The first embedding request fails: the memory is embedded on a later attempt.
    s.script(Script::fail(
        Service::Embeddings,
        Failure::Status { status: 503 },
    ));
    let id = memory(&app, &a, "Physiotherapy on Thursdays").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let failed_once: bool = sqlx::query_scalar(
            "select exists (select 1 from jobs where kind = 'embeddings.index' and last_error is not null)",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if failed_once {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the index job never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Meanwhile the query's own embedding fails too: the text ranking answers alone.
    s.script(Script::fail(
        Service::Embeddings,
        Failure::Status { status: 503 },
    ));
    let found = rag(&app, &a, json!({"query": "physiotherapy"})).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["source_id"], id.as_str());
    assert_eq!(found[0]["ranks"]["text"], 1);
    assert!(found[0]["ranks"]["vector"].is_null());

    indexed(&app.pool, a.id, 1).await;
    let by_meaning = rag(&app, &a, json!({"query": "physio"})).await;
    assert_eq!(by_meaning.len(), 1, "{by_meaning:#?}");
    assert_eq!(by_meaning[0]["ranks"]["vector"], 1);
    assert!(by_meaning[0]["ranks"]["text"].is_null());
}

#[sqlx::test]
async fn chat_context_comes_from_retrieval_and_cites_it(pool: PgPool) {
    let (app, s) = chat_app(pool, &[]).await;
    let a = app.new_user().await;
    let b = app.new_user().await;
    let t = &a.access_token;
    let sister = memory(&app, &a, "Sister Ana lives in Lisbon").await;
    let dog = memory(&app, &a, "The dog is called Rex").await;
    let tea = memory(&app, &a, "Likes green tea in the morning").await;
    let walk = app
        .create(
            "/api/v1/tasks",
            t,
            &json!({"title": "Walk the dog before work"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = memory(&app, &b, "Sister Zoe has a dog").await;
    let conv = app.create("/api/v1/conversations", t, &json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.script(Script::llm_text("Ana and Rex, noted."));
    let reply = json_with(
        app.post_json(
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(t),
            &json!({"content": "Remind me about my sister and my dog"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let cited: Vec<(String, String)> = reply["assistant_message"]["metadata"]["citations"]
        .as_array()
        .unwrap_or_else(|| panic!("{reply}"))
        .iter()
        .map(|c| {
            (
                c["source_type"].as_str().unwrap().to_string(),
                c["source_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Several memories (and the task), not one; nothing unrelated, nothing of B's.
    for want in [
        ("memories".to_string(), sister.clone()),
        ("memories".to_string(), dog.clone()),
        ("tasks".to_string(), walk.clone()),
    ] {
        assert!(cited.contains(&want), "{want:?} not in {cited:?}");
    }
    assert!(
        !cited.iter().any(|(_, id)| *id == tea || *id == other),
        "{cited:?}"
    );
    let system = s.log_for("openai.chat")[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(system.contains("Sister Ana lives in Lisbon"), "{system}");
    assert!(system.contains("The dog is called Rex"), "{system}");
    assert!(!system.contains("Zoe"), "{system}");
    // The citations are stored with the message.
    let listed = app
        .all_pages(&format!("/api/v1/conversations/{conv}/messages"), t, 10)
        .await;
    assert_eq!(
        listed[1]["metadata"],
        reply["assistant_message"]["metadata"]
    );
    assert_eq!(listed[0]["metadata"], json!({}));
}
