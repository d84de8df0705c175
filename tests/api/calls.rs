//! Calls API: list filters, ownership, validation.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::voice::{open_session, sim_agent, voice_env};

#[sqlx::test]
async fn calls_list_filters_by_agent_status_channel_and_dates(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let a = sim_agent(&env, json!({})).await;
    let b = sim_agent(&env, json!({"name": "Other"})).await;
    let s1 = open_session(&env, &a).await;
    let _s2 = open_session(&env, &b).await;
    // End the first one (never connected): completed.
    let r = env
        .app
        .delete(
            &format!(
                "/api/v1/voice/sessions/{}",
                s1["session_id"].as_str().unwrap()
            ),
            &env.user.access_token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let t = &env.user.access_token;
    let list = |q: &str| {
        let path = format!("/api/v1/calls{q}");
        let app = &env.app;
        async move {
            let v: Value = app.get(&path, t).await.json().await.unwrap();
            v["data"].as_array().unwrap().clone()
        }
    };
    assert_eq!(list("").await.len(), 2);
    let by_agent = list(&format!("?agent_id={a}")).await;
    assert_eq!(by_agent.len(), 1);
    assert_eq!(by_agent[0]["id"], s1["call_id"]);
    assert_eq!(by_agent[0]["status"], "completed");
    assert_eq!(by_agent[0]["end_reason"], "deleted");
    assert_eq!(list("?status=completed").await.len(), 1);
    assert_eq!(list("?status=queued").await.len(), 1);
    assert_eq!(list("?channel=twilio").await.len(), 0);
    assert_eq!(list("?from=2000-01-01&to=2999-01-01").await.len(), 2);
    assert_eq!(list("?to=2000-01-01").await.len(), 0);
    assert_eq!(list("?limit=1").await.len(), 1);
    for bad in ["?from=yesterday", "?channel=fax", "?agent_id=nope"] {
        let r = env.app.get(&format!("/api/v1/calls{bad}"), t).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    // A call without a recording answers 404 on /recording.
    let r = env
        .app
        .get(
            &format!(
                "/api/v1/calls/{}/recording",
                s1["call_id"].as_str().unwrap()
            ),
            t,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
