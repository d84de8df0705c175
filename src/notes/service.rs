//! The rules for notes. Every function takes any PostgreSQL connection source (`&PgPool`,
//! a connection or an open transaction) and the acting user; REST handlers and the agents'
//! tools call the same functions, so validation and ownership are the same for both.

use serde_json::{Value, json};
use sqlx::{Acquire, PgConnection, Postgres};
use uuid::Uuid;

use super::{
    model::{CreateNote, Note, NoteFilter, UpdateNote},
    plain_text::plain_text,
    repo,
};
use crate::{
    error::{ApiError, ApiResult, ResultExt},
    http::{KeysetPagination, Page, Patch, SortCursor, Validate, pagination::Cursor},
    records::{MAX_QUERY_CHARS, lock_hierarchy, ranked_page},
};

fn not_yours() -> ApiError {
    ApiError::validation("parent_id", "is not one of your notes")
}

///
/// Publishes `note.created` to the user's realtime stream when the change commits.
pub async fn create_note<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    input: CreateNote,
) -> ApiResult<Note> {
    let mut tx = db.begin().await?;
    let out = create_note_inner(&mut tx, user_id, input).await?;
    crate::events::publish(&mut *tx, user_id, "note.created", &out).await?;
    tx.commit().await?;
    Ok(out)
}

async fn create_note_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    input: CreateNote,
) -> ApiResult<Note> {
    input.validate().map_err(ApiError::Validation)?;
    let conn = db;
    if let Some(parent) = input.parent_id
        && !repo::exists(&mut *conn, user_id, parent).await?
    {
        return Err(not_yours());
    }
    let content = input.content.unwrap_or_else(|| json!([]));
    let metadata = input.metadata.unwrap_or_else(|| json!({}));
    let text = plain_text(&content);
    repo::insert(
        &mut *conn,
        repo::NewNote {
            id: Uuid::now_v7(),
            user_id,
            title: input.title.trim(),
            content: &content,
            plain_text: &text,
            parent_id: input.parent_id,
            is_pinned: input.is_pinned.unwrap_or(false),
            metadata: &metadata,
        },
    )
    .await
    // The parent was deleted meanwhile.
    .on_constraint("notes_parent_fk", not_yours)
}

pub async fn get_note<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
) -> ApiResult<Note> {
    let mut conn = db.acquire().await?;
    repo::find(&mut *conn, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Apply a merge patch. `expected` is the version the caller read (`If-Match`); a
/// different current version answers 412 and writes nothing.
///
/// Publishes `note.updated` to the user's realtime stream when the change commits.
pub async fn update_note<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
    input: UpdateNote,
    expected: Option<i32>,
) -> ApiResult<Note> {
    let mut tx = db.begin().await?;
    let out = update_note_inner(&mut tx, user_id, id, input, expected).await?;
    crate::events::publish(&mut *tx, user_id, "note.updated", &out).await?;
    tx.commit().await?;
    Ok(out)
}

async fn update_note_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    input: UpdateNote,
    expected: Option<i32>,
) -> ApiResult<Note> {
    input.validate().map_err(ApiError::Validation)?;
    let mut tx = db.begin().await?;
    if !input.parent_id.is_missing() {
        lock_hierarchy(&mut *tx, "notes", user_id).await?;
    }
    let current = repo::find_for_update(&mut *tx, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if let Some(&parent) = input.parent_id.as_value()
        && current.parent_id != Some(parent)
    {
        if !repo::exists(&mut *tx, user_id, parent).await? {
            return Err(not_yours());
        }
        // Moving a note under itself or one of its descendants would detach a cycle.
        if repo::is_self_or_ancestor(&mut *tx, user_id, parent, id).await? {
            return Err(ApiError::validation(
                "parent_id",
                "must not be the note itself or one of its descendants",
            ));
        }
    }
    let content_changed = !input.content.is_missing();
    let content = match input.content {
        Patch::Missing => current.content,
        Patch::Null => json!([]),
        Patch::Value(v) => v,
    };
    let text = if content_changed {
        plain_text(&content)
    } else {
        current.plain_text
    };
    let metadata: Value = input
        .metadata
        .apply(Some(current.metadata))
        .unwrap_or_else(|| json!({}));
    let title = input
        .title
        .apply(Some(current.title))
        .unwrap_or_default()
        .trim()
        .to_string();
    let note = repo::update(
        &mut *tx,
        user_id,
        id,
        expected.unwrap_or(current.version),
        repo::NoteChanges {
            title: &title,
            content: &content,
            plain_text: &text,
            parent_id: input.parent_id.apply(current.parent_id),
            is_pinned: input
                .is_pinned
                .apply(Some(current.is_pinned))
                .unwrap_or_default(),
            is_archived: input
                .is_archived
                .apply(Some(current.is_archived))
                .unwrap_or_default(),
            metadata: &metadata,
        },
    )
    .await
    .on_constraint("notes_parent_fk", not_yours)?
    // The row is locked, so only a different version can make the update miss.
    .ok_or(ApiError::PreconditionFailed)?;
    tx.commit().await?;
    Ok(note)
}

/// Delete a note and its whole subtree.
///
/// Publishes `note.deleted` to the user's realtime stream when the change commits.
pub async fn delete_note<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    id: Uuid,
    expected: Option<i32>,
) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    delete_note_inner(&mut tx, user_id, id, expected).await?;
    crate::events::publish(
        &mut *tx,
        user_id,
        "note.deleted",
        &serde_json::json!({"id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn delete_note_inner(
    db: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    expected: Option<i32>,
) -> ApiResult<()> {
    let conn = db;
    if repo::delete(&mut *conn, user_id, id, expected).await? {
        return Ok(());
    }
    if expected.is_some() && repo::exists(&mut *conn, user_id, id).await? {
        return Err(ApiError::PreconditionFailed);
    }
    Err(ApiError::NotFound)
}

/// Newest first, or best match first when `q` is given.
pub async fn list_notes<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    filter: NoteFilter,
    page: KeysetPagination,
) -> ApiResult<Page<Note>> {
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
    let mut conn = db.acquire().await?;
    let Some(q) = filter.q.clone() else {
        let cursor = page.created()?.map(|c| (c.created_at, c.id));
        let rows = repo::list(&mut *conn, user_id, &filter, cursor, page.fetch()).await?;
        return Ok(page.page(rows, |n| {
            SortCursor::Created(Cursor {
                created_at: n.created_at,
                id: n.id,
            })
        }));
    };
    let hits = repo::search(&mut *conn, user_id, &filter, &q, page.rank()?, page.fetch()).await?;
    let ids: Vec<Uuid> = hits.iter().map(|h| h.id).collect();
    let notes = repo::find_many(&mut *conn, user_id, &ids).await?;
    Ok(ranked_page(&page, hits, notes, |n| n.id))
}

/// Full-text search for the agents' tools: the best `limit` matches among the notes that
/// are not archived.
pub async fn search_notes<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    user_id: Uuid,
    query: &str,
    limit: i64,
) -> ApiResult<Vec<Note>> {
    let q = query.trim();
    if q.is_empty() {
        return Err(ApiError::validation("q", "must not be empty"));
    }
    let filter = NoteFilter {
        q: Some(q.to_string()),
        ..NoteFilter::default()
    };
    let page = KeysetPagination {
        limit: limit.clamp(1, crate::http::pagination::MAX_LIMIT),
        cursor: None,
    };
    Ok(list_notes(db, user_id, filter, page).await?.data)
}
