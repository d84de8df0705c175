//! The day planner: golden cases (fixed inputs → exact blocks), locked blocks surviving a
//! new planning, reasons for what did not fit, validation, BOLA on every route, the
//! block-start reminder jobs, failing busy-time sources, the tools through the offline model.

use std::sync::Arc;

use async_trait::async_trait;
use cadence::{
    schedule::busy::{BusyInterval, BusySource},
    state::AppState,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::*;

const DAY: &str = "2030-01-07";
/// UTC+1 in January: 09:00 local is 08:00Z.
const PARIS: &str = "Europe/Paris";

async fn user_in(app: &TestApp, zone: &str) -> TestUser {
    let user = app.new_user().await;
    let resp = app
        .patch_json(
            "/api/v1/users/me",
            &user.access_token,
            &json!({"timezone": zone}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    user
}

async fn task(app: &TestApp, user: &TestUser, body: Value) -> String {
    app.create("/api/v1/tasks", &user.access_token, &body).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn post_plan(app: &TestApp, user: &TestUser, body: Value) -> Value {
    let resp = app
        .post_json("/api/v1/schedule/plan", Some(&user.access_token), &body)
        .await;
    json_with(resp, StatusCode::CREATED).await
}

/// `(title, start, end)` of every block, in order.
fn layout(plan: &Value) -> Vec<(String, String, String)> {
    plan["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["title"].as_str().unwrap().to_string(),
                b["start"].as_str().unwrap().to_string(),
                b["end"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row(title: &str, start: &str, end: &str) -> (String, String, String) {
    (
        title.to_string(),
        format!("{DAY}T{start}:00Z"),
        format!("{DAY}T{end}:00Z"),
    )
}

fn block_of<'a>(plan: &'a Value, title: &str) -> &'a Value {
    plan["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["title"] == title)
        .unwrap_or_else(|| panic!("no block {title} in {plan}"))
}

/// The five tasks of the golden day, created oldest first.
async fn golden_tasks(app: &TestApp, user: &TestUser) -> Vec<String> {
    let mut ids = Vec::new();
    for body in [
        json!({"title": "old low", "priority": "low", "estimate_minutes": 60}),
        json!({"title": "high", "priority": "high", "estimate_minutes": 45}),
        json!({"title": "due today", "priority": "low", "due_date": DAY, "estimate_minutes": 30}),
        json!({"title": "no estimate", "priority": "medium"}),
        json!({"title": "urgent later", "priority": "urgent", "due_date": "2030-01-09",
               "estimate_minutes": 20}),
    ] {
        ids.push(task(app, user, body).await);
    }
    // Neither done nor cancelled tasks are planned.
    task(app, user, json!({"title": "finished", "status": "done"})).await;
    task(
        app,
        user,
        json!({"title": "dropped", "status": "cancelled"}),
    )
    .await;
    ids
}

fn golden_request() -> Value {
    json!({"date": DAY, "work_start": "09:00", "cutoff": "12:00", "buffer_minutes": 10})
}

#[sqlx::test]
async fn golden_day_due_first_then_priority_then_age_with_buffer_and_cutoff(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = user_in(&app, PARIS).await;
    let ids = golden_tasks(&app, &user).await;
    let plan = post_plan(&app, &user, golden_request()).await;
    assert_eq!(plan["date"], DAY);
    assert_eq!(plan["timezone"], PARIS);
    assert_eq!(
        layout(&plan),
        vec![
            row("due today", "08:00", "08:30"),
            row("urgent later", "08:40", "09:00"),
            row("high", "09:10", "09:55"),
            row("no estimate", "10:05", "10:35"),
        ]
    );
    for b in plan["blocks"].as_array().unwrap() {
        assert_eq!(b["kind"], "task");
        assert_eq!(b["source"], "plan");
        assert_eq!(b["locked"], false);
    }
    assert_eq!(block_of(&plan, "high")["task_id"], ids[1].as_str());
    // 10:45..11:00 is left: the hour-long task does not fit before the cutoff.
    assert_eq!(
        plan["unscheduled"],
        json!([{"task_id": ids[0], "title": "old low", "code": "day_full",
                "reason": "needs 60 min; no free time is left before the cutoff (12:00)"}])
    );
    assert_eq!(plan["warnings"], json!([]));

    // The stored plan reads back the same.
    let got = json_with(
        app.get(&format!("/api/v1/schedule?date={DAY}"), &user.access_token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["blocks"], plan["blocks"]);
    assert_eq!(got["unscheduled"], plan["unscheduled"]);
    let events: Vec<String> =
        sqlx::query_scalar("select type from events where user_id = $1 and type like 'schedule%'")
            .bind(user.id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(events, ["schedule.created"]);
}

#[sqlx::test]
async fn defaults_come_from_the_schedule_preference_and_a_task_too_long_says_so(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = user_in(&app, "UTC").await;
    let resp = app
        .patch_json(
            "/api/v1/users/preferences",
            &user.access_token,
            &json!({"schedule": {"work_start": "13:00", "cutoff": "15:00", "buffer_minutes": 0}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let huge = task(
        &app,
        &user,
        json!({"title": "huge", "estimate_minutes": 150, "priority": "urgent"}),
    )
    .await;
    task(&app, &user, json!({"title": "a", "estimate_minutes": 60})).await;
    task(&app, &user, json!({"title": "b", "estimate_minutes": 60})).await;
    let plan = post_plan(&app, &user, json!({"date": DAY})).await;
    assert_eq!(plan["work_start"], "13:00:00");
    assert_eq!(plan["buffer_minutes"], 0);
    assert_eq!(
        layout(&plan),
        vec![row("a", "13:00", "14:00"), row("b", "14:00", "15:00")]
    );
    assert_eq!(
        plan["unscheduled"],
        json!([{"task_id": huge, "title": "huge", "code": "too_long",
                "reason": "needs 150 min; the longest free gap is 120 min"}])
    );

    // A day whose cutoff has passed gets nothing.
    let yesterday = (Utc::now() - Duration::days(1)).date_naive();
    let plan = plan_for(&app, &user, yesterday).await;
    assert!(plan["blocks"].as_array().unwrap().is_empty());
    let codes: Vec<&str> = plan["unscheduled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["past_cutoff", "past_cutoff", "past_cutoff"]);
    assert_eq!(
        plan["unscheduled"][0]["reason"],
        "the day's cutoff (15:00) has passed"
    );
}

async fn plan_for(app: &TestApp, user: &TestUser, date: NaiveDate) -> Value {
    post_plan(app, user, json!({"date": date.to_string()})).await
}

#[sqlx::test]
async fn a_locked_block_survives_planning_again_and_the_rest_goes_around_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = user_in(&app, PARIS).await;
    golden_tasks(&app, &user).await;
    let first = post_plan(&app, &user, golden_request()).await;
    let high = block_of(&first, "high")["id"].as_str().unwrap().to_string();
    let due = block_of(&first, "due today")["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Moving by `start` alone keeps the length.
    let moved = json_with(
        app.patch_json(
            &format!("/api/v1/schedule/blocks/{high}"),
            &user.access_token,
            &json!({"start": format!("{DAY}T10:00:00Z"), "locked": true}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(moved["start"], format!("{DAY}T10:00:00Z"));
    assert_eq!(moved["end"], format!("{DAY}T10:45:00Z"));
    assert_eq!(moved["locked"], true);

    let again = post_plan(&app, &user, golden_request()).await;
    assert_eq!(
        layout(&again),
        vec![
            row("due today", "08:00", "08:30"),
            row("urgent later", "08:40", "09:00"),
            row("no estimate", "09:10", "09:40"),
            row("high", "10:00", "10:45"),
        ]
    );
    assert_eq!(block_of(&again, "high")["id"], high.as_str());
    assert_eq!(block_of(&again, "high")["locked"], true);
    // Unlocked blocks were planned afresh.
    assert_ne!(block_of(&again, "due today")["id"], due.as_str());
    assert_eq!(again["unscheduled"][0]["title"], "old low");
    assert_eq!(again["unscheduled"][0]["code"], "day_full");

    // `replace: false` keeps every block and only fits what is not on the day yet.
    task(
        &app,
        &user,
        json!({"title": "late add", "estimate_minutes": 10}),
    )
    .await;
    let kept = post_plan(
        &app,
        &user,
        json!({"date": DAY, "work_start": "09:00", "cutoff": "12:00", "buffer_minutes": 10,
               "replace": false}),
    )
    .await;
    // Every block stayed; the only gaps left (with 10-minute buffers) are 5 minutes long.
    assert_eq!(layout(&kept), layout(&again));
    let left: Vec<(&str, &str)> = kept["unscheduled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["title"].as_str().unwrap(), u["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        left,
        [
            ("late add", "needs 10 min; the longest free gap is 5 min"),
            ("old low", "needs 60 min; the longest free gap is 5 min")
        ]
    );
}

#[sqlx::test]
async fn bad_input_is_422_naming_the_field(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let t = &user.access_token;
    for (body, field) in [
        (json!({"date": "2030-02-30"}), "date"),
        (json!({"date": "tomorrow"}), "date"),
        (json!({"date": "1969-12-31"}), "date"),
        (json!({"date": "+10000-01-01"}), "date"),
        (json!({"date": DAY, "work_start": "25:00"}), "work_start"),
        (json!({"date": DAY, "cutoff": "noon"}), "cutoff"),
        (json!({"date": DAY, "buffer_minutes": -1}), "buffer_minutes"),
        (
            json!({"date": DAY, "buffer_minutes": 241}),
            "buffer_minutes",
        ),
        (json!({"date": DAY, "timezone": "Mars/Olympus"}), "timezone"),
        (
            json!({"date": DAY, "work_start": "18:00", "cutoff": "09:00"}),
            "cutoff",
        ),
        (json!({"date": DAY, "user_id": user.id}), "user_id"),
        (json!({}), "date"),
    ] {
        let resp = app.post_json("/api/v1/schedule/plan", Some(t), &body).await;
        let problem =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(
            error_fields(&problem).contains(&field.to_string()),
            "{body}: {problem}"
        );
    }
    for q in ["", "?date=2030-13-01", "?date=0001-01-01"] {
        let resp = app.get(&format!("/api/v1/schedule{q}"), t).await;
        let problem =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), ["date"]);
    }
    // A bad stored preference is named too.
    let resp = app
        .patch_json(
            "/api/v1/users/preferences",
            t,
            &json!({"schedule": {"buffer_minutes": "lots"}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post_json("/api/v1/schedule/plan", Some(t), &json!({"date": DAY}))
        .await;
    let problem = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(
        error_fields(&problem),
        ["preferences.schedule.buffer_minutes"]
    );

    let resp = app
        .patch_json("/api/v1/users/preferences", t, &json!({"schedule": null}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    task(&app, &user, json!({"title": "x"})).await;
    let plan = post_plan(&app, &user, json!({"date": DAY})).await;
    let id = plan["blocks"][0]["id"].as_str().unwrap();
    for (body, field) in [
        (json!({"end": format!("{DAY}T00:00:00Z")}), "end"),
        (
            json!({"start": format!("{DAY}T08:00:00Z"), "end": format!("{DAY}T07:00:00Z")}),
            "end",
        ),
        (
            json!({"start": format!("{DAY}T08:00:00Z"), "end": "2030-01-09T08:00:00Z"}),
            "end",
        ),
        (json!({"start": "9 am"}), "start"),
        (json!({"start": "0001-01-01T00:00:00Z"}), "start"),
        (json!({"locked": "yes"}), "locked"),
        (json!({"title": "renamed"}), "title"),
    ] {
        let resp = app
            .patch_json(&format!("/api/v1/schedule/blocks/{id}"), t, &body)
            .await;
        let problem =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(
            error_fields(&problem).contains(&field.to_string()),
            "{body}: {problem}"
        );
    }
    let resp = app.get(&format!("/api/v1/schedule?date={DAY}"), t).await;
    let after = json_with(resp, StatusCode::OK).await;
    assert_eq!(after["blocks"], plan["blocks"]);
}

#[sqlx::test]
async fn another_users_schedule_is_404_on_every_route(pool: PgPool) {
    let app = spawn_app(pool).await;
    let a = app.new_user().await;
    let b = app.new_user().await;
    task(&app, &a, json!({"title": "a's secret task"})).await;
    let plan_a = post_plan(&app, &a, json!({"date": DAY})).await;
    let block = plan_a["blocks"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/schedule/blocks/{block}");

    let resp = app
        .get(&format!("/api/v1/schedule?date={DAY}"), &b.access_token)
        .await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .patch_json(&path, &b.access_token, &json!({"locked": true}))
        .await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app.delete(&path, &b.access_token).await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    let missing = format!("/api/v1/schedule/blocks/{}", Uuid::now_v7());
    let resp = app.delete(&missing, &a.access_token).await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;

    // B planning the same day sees none of A's tasks.
    let plan_b = post_plan(&app, &b, json!({"date": DAY})).await;
    assert!(plan_b["blocks"].as_array().unwrap().is_empty());
    assert!(plan_b["unscheduled"].as_array().unwrap().is_empty());
    // A's plan is untouched.
    let resp = app
        .get(&format!("/api/v1/schedule?date={DAY}"), &a.access_token)
        .await;
    let again = json_with(resp, StatusCode::OK).await;
    assert_eq!(again["blocks"], plan_a["blocks"]);
    // Unauthenticated: 401.
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/schedule?date={DAY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // A deletes their block: 204, and it is gone.
    let resp = app.delete(&path, &a.access_token).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .get(&format!("/api/v1/schedule?date={DAY}"), &a.access_token)
        .await;
    let after = json_with(resp, StatusCode::OK).await;
    assert!(after["blocks"].as_array().unwrap().is_empty());
}

async fn job(app: &TestApp, key: &str) -> Option<Value> {
    cadence::jobs::repo::find(&app.pool, "notification.raise", key)
        .await
        .unwrap()
}

fn key(block: &Value) -> String {
    let start: DateTime<Utc> = block["start"].as_str().unwrap().parse().unwrap();
    format!(
        "block:{}:{}",
        block["id"].as_str().unwrap(),
        start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

#[sqlx::test]
async fn task_blocks_get_a_start_reminder_that_follows_the_block(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = user_in(&app, PARIS).await;
    let plain = task(
        &app,
        &user,
        json!({"title": "write report", "estimate_minutes": 30, "priority": "high"}),
    )
    .await;
    task(
        &app,
        &user,
        json!({"title": "own reminder", "estimate_minutes": 30,
               "remind_at": "2030-01-07T07:00:00Z"}),
    )
    .await;
    let plan = post_plan(&app, &user, golden_request()).await;
    let block = block_of(&plan, "write report").clone();
    assert_eq!(block["start"], format!("{DAY}T08:00:00Z"));
    let j = job(&app, &key(&block)).await.expect("a queued reminder");
    assert_eq!(j["status"], "queued");
    let run_at: DateTime<Utc> = j["run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        run_at,
        "2030-01-07T08:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(
        j["payload"],
        json!({"user_id": user.id, "kind": "schedule", "title": "write report",
               "body": "Planned now: 09:00–09:30", "priority": "normal",
               "source_type": "schedule_block", "source_id": block["id"]})
    );
    assert_eq!(block["task_id"], plain.as_str());
    // The task with its own reminder gets none from the planner.
    let own = block_of(&plan, "own reminder").clone();
    assert!(job(&app, &key(&own)).await.is_none());

    // Moving re-arms: the old key is gone, the new one is queued at the new start.
    let moved = json_with(
        app.patch_json(
            &format!("/api/v1/schedule/blocks/{}", block["id"].as_str().unwrap()),
            &user.access_token,
            &json!({"start": format!("{DAY}T10:00:00Z")}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(job(&app, &key(&block)).await.is_none());
    let j = job(&app, &key(&moved)).await.expect("re-armed");
    let run_at: DateTime<Utc> = j["run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        run_at,
        "2030-01-07T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(j["payload"]["body"], "Planned now: 11:00–11:30");
    // Locking alone does not touch it.
    app.patch_json(
        &format!("/api/v1/schedule/blocks/{}", block["id"].as_str().unwrap()),
        &user.access_token,
        &json!({"locked": false}),
    )
    .await;
    assert_eq!(job(&app, &key(&moved)).await.unwrap()["status"], "queued");

    // Planning again replaces the unlocked block and its reminder.
    let again = post_plan(&app, &user, golden_request()).await;
    assert!(job(&app, &key(&moved)).await.is_none());
    let fresh = block_of(&again, "write report").clone();
    assert!(job(&app, &key(&fresh)).await.is_some());

    // Deleting the block cancels it.
    let resp = app
        .delete(
            &format!("/api/v1/schedule/blocks/{}", fresh["id"].as_str().unwrap()),
            &user.access_token,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(job(&app, &key(&fresh)).await.is_none());

    // A task that is done needs no reminder to start it.
    let fourth = post_plan(&app, &user, golden_request()).await;
    let b = block_of(&fourth, "write report").clone();
    assert!(job(&app, &key(&b)).await.is_some());
    let resp = app
        .put_json(
            &format!("/api/v1/tasks/{plain}/status"),
            &user.access_token,
            &json!({"status": "done"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(job(&app, &key(&b)).await.is_none());
    let resp = app
        .put_json(
            &format!("/api/v1/tasks/{plain}/status"),
            &user.access_token,
            &json!({"status": "todo"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // A deleted task takes its block and the block's reminder with it.
    let third = post_plan(&app, &user, golden_request()).await;
    let b = block_of(&third, "write report").clone();
    assert!(job(&app, &key(&b)).await.is_some());
    let resp = app
        .delete(&format!("/api/v1/tasks/{plain}"), &user.access_token)
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(job(&app, &key(&b)).await.is_none());
}

/// A calendar stand-in: a fixed busy stretch, or an error.
struct Fixed(Option<(DateTime<Utc>, DateTime<Utc>)>);

#[async_trait]
impl BusySource for Fixed {
    fn name(&self) -> &str {
        if self.0.is_some() {
            "meetings"
        } else {
            "broken"
        }
    }

    async fn busy(
        &self,
        _state: &AppState,
        _user_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<BusyInterval>> {
        match self.0 {
            Some((start, end)) if start < to && end > from => Ok(vec![BusyInterval {
                start,
                end,
                title: "Standup".into(),
            }]),
            Some(_) => Ok(vec![]),
            None => anyhow::bail!("calendar unreachable"),
        }
    }
}

#[sqlx::test]
async fn busy_sources_are_planned_around_and_a_failing_one_is_reported(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = user_in(&app, PARIS).await;
    let at = |s: &str| -> DateTime<Utc> { format!("{DAY}T{s}:00Z").parse().unwrap() };
    app.state
        .busy
        .register(Arc::new(Fixed(Some((at("08:00"), at("08:30"))))));
    app.state.busy.register(Arc::new(Fixed(None)));
    task(
        &app,
        &user,
        json!({"title": "deep work", "estimate_minutes": 60}),
    )
    .await;
    let plan = post_plan(&app, &user, golden_request()).await;
    assert_eq!(
        layout(&plan),
        vec![
            row("Standup", "08:00", "08:30"),
            row("deep work", "08:40", "09:40")
        ]
    );
    let standup = block_of(&plan, "Standup");
    assert_eq!(standup["kind"], "busy");
    assert_eq!(standup["source"], "calendar");
    assert_eq!(standup["task_id"], Value::Null);
    assert_eq!(
        plan["warnings"],
        json!([{"source": "broken", "error": "calendar unreachable"}])
    );
    // Planning again asks the calendar again instead of stacking its blocks.
    let again = plan_again(&app, &user).await;
    assert_eq!(layout(&again), layout(&plan));
}

async fn plan_again(app: &TestApp, user: &TestUser) -> Value {
    post_plan(app, user, golden_request()).await
}

#[sqlx::test]
async fn plan_my_day_in_chat_without_any_key_makes_the_plan(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    task(
        &app,
        &user,
        json!({"title": "stretch", "estimate_minutes": 5}),
    )
    .await;
    let conv = app
        .create(
            "/api/v1/conversations",
            &user.access_token,
            &json!({"agent_id": "019a0000-0000-7000-8000-000000000001"}),
        )
        .await;
    let path = format!(
        "/api/v1/conversations/{}/messages",
        conv["id"].as_str().unwrap()
    );
    let today = Utc::now().date_naive();
    let resp = app
        .post_json(
            &path,
            Some(&user.access_token),
            &json!({"content": "plan my day", "agent_id": "019a0000-0000-7000-8000-000000000001"}),
        )
        .await;
    let reply = json_with(resp, StatusCode::CREATED).await["assistant_message"].clone();
    let calls = reply["tool_calls"].as_array().unwrap();
    assert_eq!(calls[0]["name"], "plan_day", "{reply}");
    assert_eq!(calls[0]["is_error"], false, "{reply}");
    let text = reply["content"].as_str().unwrap();
    assert!(text.starts_with("I planned "), "{text}");
    // The plan is stored for today (the day may have rolled over during the request).
    let mut found = false;
    for day in [today, Utc::now().date_naive()] {
        let resp = app
            .get(&format!("/api/v1/schedule?date={day}"), &user.access_token)
            .await;
        found |= resp.status() == StatusCode::OK;
    }
    assert!(found, "no plan stored");

    // "what's next" reads it back through get_schedule.
    let resp = app
        .post_json(
            &path,
            Some(&user.access_token),
            &json!({"content": "what's next", "agent_id": "019a0000-0000-7000-8000-000000000001"}),
        )
        .await;
    let reply = json_with(resp, StatusCode::CREATED).await["assistant_message"].clone();
    assert_eq!(reply["tool_calls"][0]["name"], "get_schedule", "{reply}");
    let text = reply["content"].as_str().unwrap();
    assert!(
        text.starts_with("Next: 'stretch' at ")
            || text.starts_with("Now: 'stretch'")
            || text.starts_with("Next up: 'stretch'"),
        "{text}"
    );
}
