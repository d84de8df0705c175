use sqlx::PgExecutor;
use uuid::Uuid;

use super::Event;

/// Insert and NOTIFY in one statement.
pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    kind: &str,
    data: &serde_json::Value,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"with e as (
               insert into events (user_id, type, data) values ($1, $2, $3) returning id, user_id
           )
           select e.id as "id!" from e, lateral (select pg_notify('cadence_events', e.id || ':' || e.user_id)) n"#,
        user_id,
        kind,
        data
    )
    .fetch_one(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Event>> {
    sqlx::query_as!(
        Event,
        r#"select id, type as kind, data, created_at, user_id from events where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// A user's events after `since`, oldest first.
pub async fn since(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    since: i64,
    limit: i64,
) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as!(
        Event,
        r#"select id, type as kind, data, created_at, user_id from events
           where user_id = $1 and id > $2 order by id limit $3"#,
        user_id,
        since,
        limit
    )
    .fetch_all(db)
    .await
}

/// The oldest event id still kept for a user (to tell a client its `since` is too old).
pub async fn oldest_id(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!("select min(id) from events where user_id = $1", user_id)
        .fetch_one(db)
        .await
}

pub async fn purge_older_than(db: impl PgExecutor<'_>, hours: i64) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        "delete from events where created_at < now() - make_interval(hours => $1::int)",
        hours as i32
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}
