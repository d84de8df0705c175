use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use super::{
    model::{CreateNote, Note, NoteFilter, NoteListParams, UpdateNote},
    service,
};
use crate::{
    auth::AuthUser,
    error::{ApiResult, Problem},
    http::{
        IfMatch, KeysetPagination, Page, QueryParams, ValidJson, pagination::PageParams, with_etag,
    },
    state::AppState,
    tasks::{
        self,
        model::{Task, TaskListParams},
    },
};

fn filter(q: &QueryParams) -> ApiResult<NoteFilter> {
    Ok(NoteFilter {
        parent: q.link("parent_id")?,
        is_pinned: q.boolean("is_pinned")?,
        is_archived: q.boolean("is_archived")?.unwrap_or(false),
        q: q.bounded_text("q", crate::records::MAX_QUERY_CHARS)?,
    })
}

/// The user's notes, newest first (best match first with `q`). Archived notes are listed
/// only with `is_archived=true`.
#[utoipa::path(get, path = "/", tag = "notes", security(("bearer" = [])),
    params(NoteListParams, PageParams),
    responses((status = 200, body = Page<Note>), (status = 422, body = Problem)))]
pub async fn list_notes(
    State(state): State<AppState>,
    auth: AuthUser,
    page: KeysetPagination,
    query: QueryParams,
) -> ApiResult<Json<Page<Note>>> {
    let filter = filter(&query)?;
    Ok(Json(
        service::list_notes(&state.db, auth.user_id, filter, page).await?,
    ))
}

/// Create a note. `plain_text` is derived from `content`.
#[utoipa::path(post, path = "/", tag = "notes", security(("bearer" = [])), request_body = CreateNote,
    responses((status = 201, body = Note, headers(("Location" = String), ("ETag" = String))),
              (status = 422, body = Problem)))]
pub async fn create_note(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<CreateNote>,
) -> ApiResult<Response> {
    let note = service::create_note(&state.db, auth.user_id, input).await?;
    let location = [(header::LOCATION, format!("/api/v1/notes/{}", note.id))];
    Ok(with_etag(
        note.version,
        (StatusCode::CREATED, location, Json(note)),
    ))
}

/// One note, with `ETag: "<version>"`.
#[utoipa::path(get, path = "/{id}", tag = "notes", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Note, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get_note(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let note = service::get_note(&state.db, auth.user_id, id).await?;
    Ok(with_etag(note.version, Json(note)))
}

/// Update a note (merge semantics). With `If-Match: "<version>"`, a note changed since
/// answers 412 and is left as it is.
#[utoipa::path(patch, path = "/{id}", tag = "notes", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), request_body = UpdateNote,
    responses((status = 200, body = Note, headers(("ETag" = String))), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update_note(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
    ValidJson(input): ValidJson<UpdateNote>,
) -> ApiResult<Response> {
    let note = service::update_note(&state.db, auth.user_id, id, input, if_match.0).await?;
    Ok(with_etag(note.version, Json(note)))
}

/// Same as `PATCH /notes/{id}`, for clients of the older API.
#[utoipa::path(put, path = "/{id}", tag = "notes", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), request_body = UpdateNote,
    responses((status = 200, body = Note, headers(("ETag" = String))), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn put_note(
    state: State<AppState>,
    auth: AuthUser,
    id: Path<Uuid>,
    if_match: IfMatch,
    input: ValidJson<UpdateNote>,
) -> ApiResult<Response> {
    update_note(state, auth, id, if_match, input).await
}

/// Delete a note and every note below it.
#[utoipa::path(delete, path = "/{id}", tag = "notes", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_note(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<StatusCode> {
    service::delete_note(&state.db, auth.user_id, id, if_match.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tasks whose `note_id` is this note (the task list's filters and orderings apply).
#[utoipa::path(get, path = "/{id}/tasks", tag = "notes", security(("bearer" = [])),
    params(("id" = Uuid, Path), TaskListParams, PageParams),
    responses((status = 200, body = Page<Task>), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn list_note_tasks(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    page: KeysetPagination,
    query: QueryParams,
) -> ApiResult<impl IntoResponse> {
    let mut filter = tasks::routes::filter(&query)?;
    service::get_note(&state.db, auth.user_id, id).await?;
    filter.note = crate::http::LinkFilter::Is(id);
    Ok(Json(
        tasks::service::list_tasks(&state.db, auth.user_id, filter, page).await?,
    ))
}
