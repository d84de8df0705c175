//! The rules for memories. Every function takes any PostgreSQL connection source (`&PgPool`,
//! a connection or an open transaction) and the acting user; REST handlers and the agents'
//! tools ("remember", "recall") call the same functions.

use sqlx::{Acquire, PgConnection, Postgres};
use uuid::Uuid;

use super::{
    model::{
        CreateMemory, Memory, MemoryFilter, MemoryRow, MemorySource, MemoryType, UpdateMemory,
        normalize_tags,
    },
    repo,
};
use crate::{
    error::{ApiError, ApiResult},
    http::{KeysetPagination, Page, SortCursor, Validate, pagination::Cursor},
    records::{MAX_QUERY_CHARS, ranked_page},
};

fn to_memories(rows: Vec<MemoryRow>) -> ApiResult<Vec<Memory>> {
    rows.into_iter().map(Memory::try_from).collect()
}

/// Store a memory (REST, and the agents' "remember" tool with their own `source`).
///
/// Publishes `memory.created` to the user's realtime stream when the change commits.
pub async fn remember<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    input: CreateMemory,
) -> ApiResult<Memory> {
    let mut tx = db.begin().await?;
    let out = remember_inner(&mut tx, user_id, input).await?;
    crate::events::publish(&mut *tx, user_id, "memory.created", &out).await?;
    tx.commit().await?;
    Ok(out)
}

async fn remember_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    input: CreateMemory,
) -> ApiResult<Memory> {
    input.validate().map_err(ApiError::Validation)?;
    let conn = db;
    let tags = normalize_tags(input.tags.as_deref().unwrap_or_default());
    repo::insert(
        &mut *conn,
        repo::NewMemory {
            id: Uuid::now_v7(),
            user_id,
            memory_type: input.memory_type.unwrap_or(MemoryType::Other).as_str(),
            content: input.content.trim(),
            importance: input.importance.unwrap_or(3),
            tags: &tags,
            source: input.source.unwrap_or(MemorySource::Manual).as_str(),
            source_reference: input.source_reference.as_deref().map(str::trim),
        },
    )
    .await?
    .try_into()
}

pub async fn get_memory<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
) -> ApiResult<Memory> {
    let mut conn = db.acquire().await?;
    repo::find(&mut *conn, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?
        .try_into()
}

/// Apply a merge patch (memories carry no version; the last write wins).
///
/// Publishes `memory.updated` to the user's realtime stream when the change commits.
pub async fn update_memory<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
    input: UpdateMemory,
) -> ApiResult<Memory> {
    let mut tx = db.begin().await?;
    let out = update_memory_inner(&mut tx, user_id, id, input).await?;
    crate::events::publish(&mut *tx, user_id, "memory.updated", &out).await?;
    tx.commit().await?;
    Ok(out)
}

async fn update_memory_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    input: UpdateMemory,
) -> ApiResult<Memory> {
    input.validate().map_err(ApiError::Validation)?;
    let mut tx = db.begin().await?;
    let current: Memory = repo::find_for_update(&mut *tx, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?
        .try_into()?;
    let memory_type = input
        .memory_type
        .apply(Some(current.memory_type))
        .unwrap_or(current.memory_type);
    let content = input
        .content
        .apply(Some(current.content))
        .unwrap_or_default()
        .trim()
        .to_string();
    let importance = input
        .importance
        .apply(Some(current.importance))
        .unwrap_or(current.importance);
    let tags = normalize_tags(&input.tags.apply(Some(current.tags)).unwrap_or_default());
    let memory = repo::update(
        &mut *tx,
        user_id,
        id,
        memory_type.as_str(),
        &content,
        importance,
        &tags,
    )
    .await?
    .ok_or(ApiError::NotFound)?
    .try_into()?;
    tx.commit().await?;
    Ok(memory)
}

///
/// Publishes `memory.deleted` to the user's realtime stream when the change commits.
pub async fn delete_memory<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    delete_memory_inner(&mut tx, user_id, id).await?;
    crate::events::publish(
        &mut *tx,
        user_id,
        "memory.deleted",
        &serde_json::json!({"id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn delete_memory_inner(db: &mut PgConnection, user_id: Uuid, id: Uuid) -> ApiResult<()> {
    let conn = db;
    if repo::delete(&mut *conn, user_id, id).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Newest first, or best match first when `q` is given.
pub async fn list_memories<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    mut filter: MemoryFilter,
    page: KeysetPagination,
) -> ApiResult<Page<Memory>> {
    if filter
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS)
    {
        return Err(ApiError::validation(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    filter.tags = normalize_tags(&filter.tags);
    let mut conn = db.acquire().await?;
    let Some(q) = filter.q.clone() else {
        let cursor = page.created()?.map(|c| (c.created_at, c.id));
        let rows = repo::list(&mut *conn, user_id, &filter, cursor, page.fetch()).await?;
        return Ok(page.page(to_memories(rows)?, |m| {
            SortCursor::Created(Cursor {
                created_at: m.created_at,
                id: m.id,
            })
        }));
    };
    let hits = repo::search(&mut *conn, user_id, &filter, &q, page.rank()?, page.fetch()).await?;
    let ids: Vec<Uuid> = hits.iter().map(|h| h.id).collect();
    let memories = to_memories(repo::find_many(&mut *conn, user_id, &ids).await?)?;
    Ok(ranked_page(&page, hits, memories, |m| m.id))
}

/// The agents' "recall" tool: the current memories that best match `query` (the newest
/// when `query` is empty), optionally only those carrying every tag in `tags`.
pub async fn recall<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    query: &str,
    tags: &[String],
    limit: i64,
) -> ApiResult<Vec<Memory>> {
    let q = query.trim();
    let filter = MemoryFilter {
        types: Vec::new(),
        tags: tags.to_vec(),
        q: (!q.is_empty()).then(|| q.to_string()),
        include_superseded: false,
    };
    let page = KeysetPagination {
        limit: limit.clamp(1, crate::http::pagination::MAX_LIMIT),
        cursor: None,
    };
    Ok(list_memories(db, user_id, filter, page).await?.data)
}
