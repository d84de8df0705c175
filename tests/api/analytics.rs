//! `GET /api/v1/analytics/usage`: per-period sums that match the calls table, the chat
//! replies and the ledger exactly (checked against an independent bucketing in Rust),
//! validation, and other users' data left out.

use cadence::sim::{Reply, Script, Service, SimUsage};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TestUser, assert_problem, error_fields};
use crate::voice::{VoiceEnv, open_session, sim_agent, voice_env};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A finished call of `user` created at `created` (as the finalizer leaves one).
async fn insert_call(
    pool: &PgPool,
    user: Uuid,
    created: DateTime<Utc>,
    duration_ms: i64,
    cost: i64,
    tokens: (u64, u64),
) {
    sqlx::query(
        "insert into calls (id, user_id, channel, direction, status, duration_ms, cost_credits, usage, created_at)
         values ($1, $2, 'web', 'inbound', 'completed', $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(duration_ms)
    .bind(cost)
    .bind(json!({"stt_seconds": 1.5, "llm_input_tokens": tokens.0,
                 "llm_output_tokens": tokens.1, "tts_characters": 12}))
    .bind(created)
    .execute(pool)
    .await
    .unwrap();
}

/// A chat exchange of `user` at `created`: their message and a billed assistant reply.
async fn insert_chat(pool: &PgPool, user: Uuid, created: DateTime<Utc>, tokens: (u64, u64)) {
    let conv = Uuid::now_v7();
    sqlx::query("insert into conversations (id, user_id, created_at) values ($1, $2, $3)")
        .bind(conv)
        .bind(user)
        .bind(created)
        .execute(pool)
        .await
        .unwrap();
    for (role, usage) in [
        ("user", None),
        (
            "assistant",
            Some(json!({"model": "gpt-4o-mini", "input_tokens": tokens.0,
                        "output_tokens": tokens.1, "estimated": false, "credits": 1})),
        ),
    ] {
        sqlx::query(
            "insert into messages (id, conversation_id, user_id, role, content, usage, created_at)
             values ($1, $2, $3, $4, 'hi', $5, $6)",
        )
        .bind(Uuid::now_v7())
        .bind(conv)
        .bind(user)
        .bind(role)
        .bind(usage)
        .bind(created)
        .execute(pool)
        .await
        .unwrap();
    }
}

fn period_of(d: NaiveDate, granularity: &str) -> NaiveDate {
    match granularity {
        "day" => d,
        "week" => d - Duration::days(d.weekday().num_days_from_monday() as i64),
        "month" => d.with_day(1).unwrap(),
        g => panic!("{g}"),
    }
}

fn next_period(p: NaiveDate, granularity: &str) -> NaiveDate {
    match granularity {
        "day" => p + Duration::days(1),
        "week" => p + Duration::days(7),
        _ => {
            let (y, m) = if p.month() == 12 {
                (p.year() + 1, 1)
            } else {
                (p.year(), p.month() + 1)
            };
            NaiveDate::from_ymd_opt(y, m, 1).unwrap()
        }
    }
}

/// What the answer must be, from the raw rows: calls, billed chat replies, and the user's
/// `chat_debit` ledger entries, bucketed here independently of the server's SQL.
async fn expected(
    pool: &PgPool,
    user: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    granularity: &str,
) -> Vec<Value> {
    let calls: Vec<(DateTime<Utc>, Option<i64>, i64, Value)> = sqlx::query_as(
        "select created_at, duration_ms, cost_credits, usage from calls where user_id = $1",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .unwrap();
    let replies: Vec<(DateTime<Utc>, Value)> = sqlx::query_as(
        "select created_at, usage from messages where user_id = $1 and usage is not null",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .unwrap();
    let debits: Vec<(DateTime<Utc>, i64)> = sqlx::query_as(
        "select e.created_at, e.amount from ledger_entries e
         join ledger_accounts a on a.id = e.account_id
         where a.user_id = $1 and e.kind = 'chat_debit'",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = Vec::new();
    let mut p = period_of(from, granularity);
    while p <= to {
        let inside = |t: &DateTime<Utc>| {
            let d = t.date_naive();
            d >= from && d <= to && period_of(d, granularity) == p
        };
        let mine: Vec<_> = calls.iter().filter(|c| inside(&c.0)).collect();
        let ms: i64 = mine.iter().map(|c| c.1.unwrap_or(0)).sum();
        let call_cost: i64 = mine.iter().map(|c| c.2).sum();
        let call_tokens: i64 = mine
            .iter()
            .map(|c| {
                c.3["llm_input_tokens"].as_i64().unwrap()
                    + c.3["llm_output_tokens"].as_i64().unwrap()
            })
            .sum();
        let r: Vec<_> = replies.iter().filter(|m| inside(&m.0)).collect();
        let reply_tokens: i64 = r
            .iter()
            .map(|m| m.1["input_tokens"].as_i64().unwrap() + m.1["output_tokens"].as_i64().unwrap())
            .sum();
        let chat_cost: i64 = debits.iter().filter(|e| inside(&e.0)).map(|e| -e.1).sum();
        out.push(json!({
            "period": p.to_string(),
            "calls": mine.len(),
            "minutes": (ms as f64 / 60_000.0 * 100.0).round() / 100.0,
            "cost_credits": call_cost + chat_cost,
            "chat_messages": r.len(),
            "llm_tokens": call_tokens + reply_tokens,
        }));
        p = next_period(p, granularity);
    }
    out
}

async fn usage(env: &VoiceEnv, user: &TestUser, query: &str) -> Vec<Value> {
    let r = env
        .app
        .get(
            &format!("/api/v1/analytics/usage{query}"),
            &user.access_token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    r.json().await.unwrap()
}

fn row<'a>(rows: &'a [Value], period: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["period"] == period)
        .unwrap_or_else(|| panic!("no period {period} in {rows:?}"))
}

#[sqlx::test]
async fn usage_per_period_matches_calls_chat_and_ledger(pool: PgPool) {
    let env = voice_env(pool.clone(), &[]).await;
    let me = env.user.id;
    let other = env.app.new_user().await;

    // History: two calls on 5 October (one a second before midnight UTC), one at the very
    // start of the 6th, one in September; a chat reply on the 5th. The other user's
    // activity on the same day must not show up.
    insert_call(&pool, me, at("2026-10-05T10:00:00Z"), 90_000, 12, (100, 50)).await;
    insert_call(&pool, me, at("2026-10-05T23:59:59Z"), 30_000, 3, (10, 5)).await;
    insert_call(&pool, me, at("2026-10-06T00:00:00Z"), 61_234, 7, (0, 0)).await;
    insert_call(&pool, me, at("2026-09-30T23:59:59Z"), 600_000, 40, (1, 1)).await;
    insert_chat(&pool, me, at("2026-10-05T12:00:00Z"), (200, 40)).await;
    insert_call(
        &pool,
        other.id,
        at("2026-10-05T11:00:00Z"),
        999_000,
        500,
        (9, 9),
    )
    .await;
    insert_chat(&pool, other.id, at("2026-10-05T11:00:00Z"), (900, 900)).await;

    // Today, through the API: a billed chat reply (a chat_debit in the ledger) and a voice
    // session that ends without connecting.
    let agent = sim_agent(&env, json!({})).await;
    let conv = env
        .app
        .create(
            "/api/v1/conversations",
            &env.user.access_token,
            &json!({"agent_id": agent}),
        )
        .await;
    env.sim.script(Script::new(
        Service::Llm,
        Reply {
            text: Some("Sure.".into()),
            usage: Some(SimUsage {
                input_tokens: 1500,
                output_tokens: 700,
            }),
            ..Default::default()
        },
    ));
    let r = env
        .app
        .post_json(
            &format!(
                "/api/v1/conversations/{}/messages",
                conv["id"].as_str().unwrap()
            ),
            Some(&env.user.access_token),
            &json!({"content": "hello"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let session = open_session(&env, &agent).await;
    let r = env
        .app
        .delete(
            &format!(
                "/api/v1/voice/sessions/{}",
                session["session_id"].as_str().unwrap()
            ),
            &env.user.access_token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    insert_call(&pool, me, Utc::now(), 45_000, 9, (30, 20)).await;

    // By day, October.
    let (from, to) = (day("2026-10-01"), day("2026-10-31"));
    let rows = usage(
        &env,
        &env.user,
        "?from=2026-10-01&to=2026-10-31&granularity=day",
    )
    .await;
    assert_eq!(rows, expected(&pool, me, from, to, "day").await);
    assert_eq!(rows.len(), 31);
    assert_eq!(rows[0]["period"], "2026-10-01");
    assert_eq!(
        row(&rows, "2026-10-05"),
        &json!({"period": "2026-10-05", "calls": 2, "minutes": 2.0, "cost_credits": 15,
                "chat_messages": 1, "llm_tokens": 405})
    );
    assert_eq!(
        row(&rows, "2026-10-06"),
        &json!({"period": "2026-10-06", "calls": 1, "minutes": 1.02, "cost_credits": 7,
                "chat_messages": 0, "llm_tokens": 0})
    );
    assert_eq!(row(&rows, "2026-10-07")["calls"], 0);

    // By week: ISO weeks from Monday; the first is cut by `from` (30 September is out).
    let rows = usage(
        &env,
        &env.user,
        "?from=2026-10-01&to=2026-10-31&granularity=week",
    )
    .await;
    assert_eq!(rows, expected(&pool, me, from, to, "week").await);
    let periods: Vec<&str> = rows.iter().map(|r| r["period"].as_str().unwrap()).collect();
    assert_eq!(
        periods,
        [
            "2026-09-28",
            "2026-10-05",
            "2026-10-12",
            "2026-10-19",
            "2026-10-26"
        ]
    );
    assert_eq!(rows[0]["calls"], 0);
    assert_eq!(rows[1]["calls"], 3);
    assert_eq!(rows[1]["cost_credits"], 22);

    // By month, September to this month: today's chat debit comes from the ledger.
    let today = Utc::now().date_naive();
    let (from, to) = (day("2026-09-01"), today);
    let rows = usage(
        &env,
        &env.user,
        &format!("?from=2026-09-01&to={today}&granularity=month"),
    )
    .await;
    assert_eq!(rows, expected(&pool, me, from, to, "month").await);
    assert_eq!(row(&rows, "2026-09-01")["calls"], 1);
    assert_eq!(row(&rows, "2026-09-01")["minutes"], 10.0);
    let this_month = rows.last().unwrap();
    assert_eq!(this_month["period"], today.with_day(1).unwrap().to_string());
    let chat_debit: i64 = sqlx::query_scalar(
        "select coalesce(-sum(e.amount), 0)::bigint from ledger_entries e
         join ledger_accounts a on a.id = e.account_id
         where a.user_id = $1 and e.kind = 'chat_debit'",
    )
    .bind(me)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(chat_debit > 0, "the chat reply was billed");
    let call_cost: i64 = sqlx::query_scalar(
        "select coalesce(sum(cost_credits), 0)::bigint from calls
         where user_id = $1 and created_at >= date_trunc('month', now() at time zone 'UTC') at time zone 'UTC'",
    )
    .bind(me)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(this_month["cost_credits"], call_cost + chat_debit);
    assert_eq!(this_month["chat_messages"], 1);
    assert!(this_month["llm_tokens"].as_i64().unwrap() >= 1500 + 700 + 50);

    // Default: the last 30 days by day, ending today.
    let rows = usage(&env, &env.user, "").await;
    assert_eq!(rows.len(), 30);
    assert_eq!(rows.last().unwrap()["period"], today.to_string());
    assert_eq!(
        rows,
        expected(&pool, me, today - Duration::days(29), today, "day").await
    );
    let last = rows.last().unwrap();
    assert_eq!(
        last["calls"], 2,
        "the voice session's call and the inserted one"
    );
    assert_eq!(last["chat_messages"], 1);

    // The other user sees only their own activity.
    let rows = usage(&env, &other, "?from=2026-10-05&to=2026-10-05").await;
    assert_eq!(
        rows,
        vec![
            json!({"period": "2026-10-05", "calls": 1, "minutes": 16.65, "cost_credits": 500,
                    "chat_messages": 1, "llm_tokens": 1818})
        ]
    );
}

#[sqlx::test]
async fn usage_parameters_are_validated(pool: PgPool) {
    let env = voice_env(pool, &[]).await;
    for (query, field) in [
        ("?from=yesterday", "from"),
        ("?from=2026-10-01&to=2026-13-01", "to"),
        ("?from=2026-02-30", "from"),
        ("?from=2026-10-02&to=2026-10-01", "from"),
        ("?granularity=year", "granularity"),
        ("?granularity=DAY", "granularity"),
        ("?from=2025-01-01&to=2026-01-02&granularity=day", "from"),
        ("?from=2020-01-01&to=2026-01-01&granularity=week", "from"),
        ("?from=2000-01-01&to=2026-01-01&granularity=month", "from"),
    ] {
        let r = env
            .app
            .get(
                &format!("/api/v1/analytics/usage{query}"),
                &env.user.access_token,
            )
            .await;
        let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&p), vec![field], "{query}");
    }
    // The largest ranges allowed, and one day.
    for (query, n) in [
        ("?from=2025-01-01&to=2026-01-01&granularity=day", 366),
        ("?from=2024-01-01&to=2026-12-31&granularity=month", 36),
        ("?from=2026-11-29&to=2026-11-29", 1),
    ] {
        let rows = usage(&env, &env.user, query).await;
        assert_eq!(rows.len(), n, "{query}");
        assert!(
            rows.iter()
                .all(|r| r["calls"] == 0 && r["cost_credits"] == 0)
        );
    }
    let r = env
        .app
        .request(reqwest::Method::GET, "/api/v1/analytics/usage", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn the_openapi_document_describes_usage_and_outbound_calls(pool: PgPool) {
    let app = crate::helpers::spawn_app(pool).await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let usage = &doc["paths"]["/api/v1/analytics/usage"]["get"];
    assert_eq!(usage["tags"], json!(["analytics"]));
    let mut names: Vec<&str> = usage["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["from", "granularity", "to"]);
    assert!(usage["responses"]["200"].is_object());
    assert!(usage["responses"]["422"].is_object());
    let create = &doc["paths"]["/api/v1/calls"]["post"];
    assert!(create["requestBody"].is_object(), "{create}");
    for status in ["201", "402", "404", "422", "502", "503"] {
        assert!(create["responses"][status].is_object(), "{status}");
    }
    assert!(doc["paths"]["/api/v1/calls"]["get"].is_object());
    assert!(doc["components"]["schemas"]["CreateCall"].is_object());
    assert!(doc["components"]["schemas"]["UsagePeriod"].is_object());
}
