use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::FieldError,
    http::{LinkFilter, Patch, Validate, Validator},
    records::{MAX_TITLE_CHARS, check_metadata},
};

/// A note's `content` is at most this many bytes of JSON.
pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;

/// A note. `content` is the document (BlockNote blocks or any JSON); `plain_text` is derived
/// from it and is what full-text search reads.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Note {
    pub id: Uuid,
    pub title: String,
    /// BlockNote blocks array, or any JSON document up to 1 MiB.
    #[schema(value_type = Value)]
    pub content: Value,
    pub plain_text: String,
    pub parent_id: Option<Uuid>,
    pub is_pinned: bool,
    pub is_archived: bool,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /notes`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    pub title: String,
    /// BlockNote blocks array, or any JSON document up to 1 MiB; defaults to `[]`.
    #[schema(value_type = Option<Value>)]
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub is_pinned: Option<bool>,
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub metadata: Option<Value>,
}

fn check_content(v: &mut Validator, content: &Value) {
    if serde_json::to_vec(content).map_or(0, |b| b.len()) > MAX_CONTENT_BYTES {
        v.error("content", "must be at most 1 MiB of JSON");
    }
}

impl Validate for CreateNote {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        v.text(&self.title, "title", MAX_TITLE_CHARS);
        if let Some(c) = &self.content {
            check_content(&mut v, c);
        }
        if let Some(m) = &self.metadata {
            check_metadata(&mut v, "metadata", m);
        }
        v.finish()
    }
}

/// `PATCH /notes/{id}`: omitted fields stay, `null` clears `parent_id` (the note moves to
/// the top level), `content` (back to `[]`) and `metadata` (back to `{}`). `content` and
/// `metadata` are replaced as a whole.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNote {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub content: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_pinned: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_archived: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Patch<Value>,
}

impl Validate for UpdateNote {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        match &self.title {
            Patch::Null => {
                v.error("title", "must not be null");
            }
            Patch::Value(t) => {
                v.text(t, "title", MAX_TITLE_CHARS);
            }
            Patch::Missing => {}
        }
        if let Some(c) = self.content.as_value() {
            check_content(&mut v, c);
        }
        if let Some(m) = self.metadata.as_value() {
            check_metadata(&mut v, "metadata", m);
        }
        v.check(
            self.is_pinned != Patch::Null,
            "is_pinned",
            "must not be null",
        );
        v.check(
            self.is_archived != Patch::Null,
            "is_archived",
            "must not be null",
        );
        v.finish()
    }
}

/// Filters of `GET /notes`.
#[derive(Debug, Clone, Default)]
pub struct NoteFilter {
    pub parent: LinkFilter,
    pub is_pinned: Option<bool>,
    /// Archived notes are listed only when asked for (`false` by default).
    pub is_archived: bool,
    /// Full-text query over title and text; results are ranked when given.
    pub q: Option<String>,
}

/// The query parameters of `GET /notes` (documentation).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct NoteListParams {
    /// Only children of this note, or `null` for top-level notes.
    pub parent_id: Option<String>,
    pub is_pinned: Option<bool>,
    /// `true` lists archived notes instead of the others (default `false`).
    pub is_archived: Option<bool>,
    /// Full-text search over title and text (web-search syntax: `"phrase"`, `-word`, `or`);
    /// results are ordered by relevance.
    pub q: Option<String>,
}
