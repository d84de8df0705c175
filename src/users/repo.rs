use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::User;

pub async fn insert(
    db: impl PgExecutor<'_>,
    id: Uuid,
    email: &str,
    password_hash: &str,
    full_name: Option<&str>,
) -> sqlx::Result<User> {
    sqlx::query_as!(
        User,
        r#"insert into users (id, email, password_hash, full_name) values ($1, $2, $3, $4)
           returning id, email, full_name, avatar_url, timezone, locale, is_superuser, created_at, updated_at"#,
        id,
        email,
        password_hash,
        full_name
    )
    .fetch_one(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    sqlx::query_as!(
        User,
        r#"select id, email, full_name, avatar_url, timezone, locale, is_superuser, created_at, updated_at
           from users where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

pub async fn find_credentials_by_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> sqlx::Result<Option<Credentials>> {
    let row = sqlx::query!(
        r#"select id, email, full_name, avatar_url, timezone, locale, is_superuser, created_at,
                  updated_at, password_hash
           from users where lower(email) = lower($1)"#,
        email
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| Credentials {
        user: User {
            id: r.id,
            email: r.email,
            full_name: r.full_name,
            avatar_url: r.avatar_url,
            timezone: r.timezone,
            locale: r.locale,
            is_superuser: r.is_superuser,
            created_at: r.created_at,
            updated_at: r.updated_at,
        },
        password_hash: r.password_hash,
    }))
}

pub async fn password_hash(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("select password_hash from users where id = $1", id)
        .fetch_optional(db)
        .await
}

pub async fn set_password_hash(db: impl PgExecutor<'_>, id: Uuid, hash: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update users set password_hash = $2 where id = $1",
        id,
        hash
    )
    .execute(db)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn update_profile(
    db: impl PgExecutor<'_>,
    id: Uuid,
    full_name: Option<&str>,
    avatar_url: Option<&str>,
    timezone: &str,
    locale: &str,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as!(
        User,
        r#"update users set full_name = $2, avatar_url = $3, timezone = $4, locale = $5
           where id = $1
           returning id, email, full_name, avatar_url, timezone, locale, is_superuser, created_at, updated_at"#,
        id,
        full_name,
        avatar_url,
        timezone,
        locale
    )
    .fetch_optional(db)
    .await
}

pub async fn preferences(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar!("select preferences from users where id = $1", id)
        .fetch_optional(db)
        .await
}

pub async fn replace_preferences(
    db: impl PgExecutor<'_>,
    id: Uuid,
    prefs: &serde_json::Value,
) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar!(
        "update users set preferences = $2 where id = $1 returning preferences",
        id,
        prefs
    )
    .fetch_optional(db)
    .await
}

/// The preferences, locking the row until the transaction ends (for read-modify-write).
pub async fn preferences_for_update(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar!("select preferences from users where id = $1 for update", id)
        .fetch_optional(db)
        .await
}

pub async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let r = sqlx::query!("delete from users where id = $1", id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() > 0)
}
