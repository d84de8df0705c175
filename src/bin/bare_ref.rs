//! The bare reference for `make bench` (issue 21): the smallest axum + sqlx program that
//! serves `GET /api/v1/tasks?limit=N`, `GET /api/v1/users/me` and `POST /api/v1/tasks`
//! with the SQL Cadence sends for those requests, the same JSON shapes and headers, and
//! only a JWT check (the token Cadence issued; no session lookup, no middleware). What
//! Cadence costs beyond this program is what its own layers cost.
//!
//! It uses nothing of the `cadence` library, so the comparison measures the stack, not
//! shared code. Settings come from the environment:
//! `DATABASE_URL`, `PORT` (18090), `MAX_CONNECTIONS` (32, the pool size: keep it equal to
//! Cadence's), `JWT_SECRET`, `JWT_ISSUER` (`cadence`), `JWT_AUDIENCE` (`cadence-api`), and
//! `BARE_LIST_SQL`: `filtered` (default: the statement Cadence sends for a list without
//! filters) or `catch_all` (the one statement with every filter as a parameter that
//! Cadence sent before issue 21, to measure what its generic planning costs), and
//! `BARE_TEST_BEFORE_ACQUIRE` (`true`, sqlx's default: a round trip on every checkout;
//! `false` to measure what that costs).

use std::{env, sync::Arc};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgPool, postgres::PgPoolOptions};
use uuid::Uuid;

macro_rules! columns {
    () => {
        "id, title, description, status, priority, due_date, due_time, parent_id, goal_id, \
         note_id, source, source_reference, completed_at, metadata, version, created_at, \
         updated_at, remind_at, estimate_minutes, snoozed_until"
    };
}

const LIST_SQL: &str = concat!(
    "select ",
    columns!(),
    " from tasks where user_id = $1 order by created_at desc, id desc limit $2"
);

const LIST_CATCH_ALL_SQL: &str = concat!(
    "select ",
    columns!(),
    " from tasks
     where user_id = $1
       and (cardinality($2::text[]) = 0 or status = any($2))
       and (cardinality($3::text[]) = 0 or priority = any($3))
       and (cardinality($4::text[]) = 0 or source = any($4))
       and ($5::date is null or due_date <= $5)
       and ($6::date is null or due_date >= $6)
       and (not $7::bool or parent_id is null) and ($8::uuid is null or parent_id = $8)
       and (not $9::bool or goal_id is null) and ($10::uuid is null or goal_id = $10)
       and (not $11::bool or note_id is null) and ($12::uuid is null or note_id = $12)
       and ($13::text is null or search @@ websearch_to_tsquery('english', $13))
       and (created_at, id) < (coalesce($14, 'infinity'::timestamptz),
                               coalesce($15, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
     order by created_at desc, id desc
     limit $16"
);

const INSERT_SQL: &str = concat!(
    "insert into tasks (id, user_id, title, description, status, priority, due_date, due_time,
                        parent_id, goal_id, note_id, source, source_reference, metadata,
                        completed_at, remind_at, estimate_minutes)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
             case when $5 = 'done' then now() end, $15, $16)
     returning ",
    columns!()
);

struct App {
    db: PgPool,
    key: DecodingKey,
    validation: Validation,
    list_sql: &'static str,
    catch_all: bool,
}

#[derive(Deserialize)]
struct Claims {
    sub: Uuid,
}

#[derive(Serialize, sqlx::FromRow)]
struct Task {
    id: Uuid,
    title: String,
    description: Option<String>,
    status: String,
    priority: String,
    due_date: Option<NaiveDate>,
    due_time: Option<NaiveTime>,
    parent_id: Option<Uuid>,
    goal_id: Option<Uuid>,
    note_id: Option<Uuid>,
    source: String,
    source_reference: Option<String>,
    completed_at: Option<DateTime<Utc>>,
    remind_at: Option<DateTime<Utc>>,
    estimate_minutes: Option<i32>,
    snoozed_until: Option<DateTime<Utc>>,
    metadata: Value,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize, sqlx::FromRow)]
struct User {
    id: Uuid,
    email: String,
    full_name: Option<String>,
    avatar_url: Option<String>,
    timezone: String,
    locale: String,
    is_superuser: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct Page {
    data: Vec<Task>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct ListParams {
    limit: Option<i64>,
}

#[derive(Deserialize)]
struct NewTask {
    title: String,
    description: Option<String>,
    priority: Option<String>,
    status: Option<String>,
}

enum Error {
    Unauthorized,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED.into_response(),
            Self::Db(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    }
}

fn user(app: &App, headers: &HeaderMap) -> Result<Uuid, Error> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(Error::Unauthorized)?;
    jsonwebtoken::decode::<Claims>(token, &app.key, &app.validation)
        .map(|d| d.claims.sub)
        .map_err(|_| Error::Unauthorized)
}

async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(p): Query<ListParams>,
) -> Result<Json<Page>, Error> {
    let user_id = user(&app, &headers)?;
    let limit = p.limit.unwrap_or(20).clamp(1, 100);
    let q = sqlx::query_as::<_, Task>(app.list_sql).bind(user_id);
    let q = if app.catch_all {
        let none: Vec<String> = Vec::new();
        q.bind(none.clone())
            .bind(none.clone())
            .bind(none)
            .bind(None::<NaiveDate>)
            .bind(None::<NaiveDate>)
            .bind(false)
            .bind(None::<Uuid>)
            .bind(false)
            .bind(None::<Uuid>)
            .bind(false)
            .bind(None::<Uuid>)
            .bind(None::<String>)
            .bind(None::<DateTime<Utc>>)
            .bind(None::<Uuid>)
    } else {
        q
    };
    let mut data = q.bind(limit + 1).fetch_all(&app.db).await?;
    let next_cursor = if data.len() as i64 > limit {
        data.truncate(limit as usize);
        data.last().map(|t| {
            URL_SAFE_NO_PAD.encode(format!("v1:{}:{}", t.created_at.timestamp_micros(), t.id))
        })
    } else {
        None
    };
    Ok(Json(Page { data, next_cursor }))
}

async fn me(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Json<User>, Error> {
    let user_id = user(&app, &headers)?;
    let user = sqlx::query_as::<_, User>(
        "select id, email, full_name, avatar_url, timezone, locale, is_superuser, created_at, updated_at
           from users where id = $1",
    )
    .bind(user_id)
    .fetch_one(&app.db)
    .await?;
    Ok(Json(user))
}

async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(input): Json<NewTask>,
) -> Result<Response, Error> {
    let user_id = user(&app, &headers)?;
    let mut tx = app.db.begin().await?;
    let task = sqlx::query_as::<_, Task>(INSERT_SQL)
        .bind(Uuid::now_v7())
        .bind(user_id)
        .bind(input.title.trim())
        .bind(input.description.as_deref())
        .bind(input.status.as_deref().unwrap_or("todo"))
        .bind(input.priority.as_deref().unwrap_or("medium"))
        .bind(None::<NaiveDate>)
        .bind(None::<NaiveTime>)
        .bind(None::<Uuid>)
        .bind(None::<Uuid>)
        .bind(None::<Uuid>)
        .bind("manual")
        .bind(None::<String>)
        .bind(serde_json::json!({}))
        .bind(None::<DateTime<Utc>>)
        .bind(None::<i32>)
        .fetch_one(&mut *tx)
        .await?;
    let data = serde_json::to_value(&task).expect("a task serializes");
    sqlx::query(
        "with e as (
               insert into events (user_id, type, data) values ($1, $2, $3) returning id, user_id
           )
           select e.id as \"id!\" from e, lateral (select pg_notify('cadence_events', e.id || ':' || e.user_id)) n",
    )
    .bind(user_id)
    .bind("task.created")
    .bind(data)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let location = HeaderValue::from_str(&format!("/api/v1/tasks/{}", task.id)).expect("a path");
    let etag = HeaderValue::from_str(&format!("\"{}\"", task.version)).expect("an etag");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location), (header::ETAG, etag)],
        Json(task),
    )
        .into_response())
}

fn var(name: &str, default: &str) -> String {
    env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = env::var("DATABASE_URL")?;
    let max: u32 = var("MAX_CONNECTIONS", "32").parse()?;
    let db = PgPoolOptions::new()
        .max_connections(max)
        .test_before_acquire(var("BARE_TEST_BEFORE_ACQUIRE", "true") == "true")
        .connect_with(
            url.parse::<sqlx::postgres::PgConnectOptions>()?
                .application_name("bare_ref"),
        )
        .await?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[var("JWT_ISSUER", "cadence")]);
    validation.set_audience(&[var("JWT_AUDIENCE", "cadence-api")]);
    let catch_all = var("BARE_LIST_SQL", "filtered") == "catch_all";
    let list_sql = if catch_all {
        LIST_CATCH_ALL_SQL
    } else {
        LIST_SQL
    };
    let app = Arc::new(App {
        db,
        key: DecodingKey::from_secret(env::var("JWT_SECRET")?.as_bytes()),
        validation,
        list_sql,
        catch_all,
    });
    let router = Router::new()
        .route("/api/v1/tasks", get(list).post(create))
        .route("/api/v1/users/me", get(me))
        .route("/health", get(|| async { "ok" }))
        .with_state(app);
    let listener =
        tokio::net::TcpListener::bind(("127.0.0.1", var("PORT", "18090").parse()?)).await?;
    // Like Cadence: small responses go out at once.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).await?;
    Ok(())
}
