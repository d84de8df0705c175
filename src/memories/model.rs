use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult, FieldError},
    http::{Patch, Validate, Validator},
    text_enum,
};

text_enum! {
    pub enum MemoryType {
        Fact = "fact",
        Preference = "preference",
        Event = "event",
        Person = "person",
        Other = "other",
    }
}

text_enum! {
    /// Where a memory came from.
    pub enum MemorySource {
        Manual = "manual",
        Chat = "chat",
        Voice = "voice",
        Document = "document",
        Extracted = "extracted",
    }
}

pub const MAX_CONTENT_CHARS: usize = 10_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;
pub const MAX_SOURCE_REFERENCE_CHARS: usize = 2000;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Memory {
    pub id: Uuid,
    pub memory_type: MemoryType,
    pub content: String,
    /// 1 (trivia) ..= 5 (essential).
    pub importance: i16,
    /// Lower-case labels.
    pub tags: Vec<String>,
    /// Who wrote the memory: `manual` through the API, `chat`/`voice` by an agent's tool,
    /// `extracted` from a conversation in the background, `document`.
    pub source: MemorySource,
    /// What in the source it came from (a message, conversation, call or document id).
    pub source_reference: Option<String>,
    /// Since when the memory holds.
    pub valid_from: DateTime<Utc>,
    /// `null`: it holds now. Set when a newer memory contradicted it.
    pub valid_until: Option<DateTime<Utc>>,
    /// The memory that replaced this one.
    pub superseded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct MemoryRow {
    pub id: Uuid,
    pub memory_type: String,
    pub content: String,
    pub importance: i16,
    pub tags: Vec<String>,
    pub source: String,
    pub source_reference: Option<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub superseded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<MemoryRow> for Memory {
    type Error = ApiError;

    fn try_from(r: MemoryRow) -> Result<Self, ApiError> {
        Ok(Memory {
            id: r.id,
            memory_type: MemoryType::from_db(&r.memory_type)?,
            content: r.content,
            importance: r.importance,
            tags: r.tags,
            source: MemorySource::from_db(&r.source)?,
            source_reference: r.source_reference,
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            superseded_by: r.superseded_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Tags as stored: trimmed, lower-case, without duplicates, in the order given.
pub fn normalize_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        let t = t.trim().to_lowercase();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn check_tags(v: &mut Validator, tags: &[String]) {
    if tags.len() > MAX_TAGS {
        v.error("tags", format!("must have at most {MAX_TAGS} tags"));
    }
    if tags
        .iter()
        .any(|t| t.trim().is_empty() || t.trim().chars().count() > MAX_TAG_CHARS)
    {
        v.error(
            "tags",
            format!("each tag must be 1 to {MAX_TAG_CHARS} characters"),
        );
    }
}

fn check_importance(v: &mut Validator, importance: Option<i16>) {
    if let Some(i) = importance {
        v.check(
            (1..=5).contains(&i),
            "importance",
            "must be between 1 and 5",
        );
    }
}

/// `POST /memories`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMemory {
    pub content: String,
    /// Default `other`.
    #[serde(default)]
    pub memory_type: Option<MemoryType>,
    /// 1..=5, default 3.
    #[serde(default)]
    pub importance: Option<i16>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Default `manual`.
    #[serde(default)]
    pub source: Option<MemorySource>,
    /// What in the source it came from (a message or document id, …).
    #[serde(default)]
    pub source_reference: Option<String>,
}

impl Validate for CreateMemory {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        v.text(&self.content, "content", MAX_CONTENT_CHARS);
        check_importance(&mut v, self.importance);
        if let Some(tags) = &self.tags {
            check_tags(&mut v, tags);
        }
        if let Some(s) = &self.source_reference {
            v.text(s, "source_reference", MAX_SOURCE_REFERENCE_CHARS);
        }
        v.finish()
    }
}

/// `PATCH /memories/{id}`: omitted fields stay; `tags: null` clears the tags.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemory {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub content: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<MemoryType>)]
    pub memory_type: Patch<MemoryType>,
    #[serde(default)]
    #[schema(value_type = Option<i16>)]
    pub importance: Patch<i16>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Patch<Vec<String>>,
}

impl Validate for UpdateMemory {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        match &self.content {
            Patch::Null => {
                v.error("content", "must not be null");
            }
            Patch::Value(c) => {
                v.text(c, "content", MAX_CONTENT_CHARS);
            }
            Patch::Missing => {}
        }
        v.check(
            self.memory_type != Patch::Null,
            "memory_type",
            "must not be null",
        );
        v.check(
            self.importance != Patch::Null,
            "importance",
            "must not be null",
        );
        check_importance(&mut v, self.importance.as_value().copied());
        if let Some(tags) = self.tags.as_value() {
            check_tags(&mut v, tags);
        }
        v.finish()
    }
}

/// Filters of `GET /memories`.
#[derive(Debug, Clone, Default)]
pub struct MemoryFilter {
    pub types: Vec<MemoryType>,
    /// Memories carrying every one of these tags.
    pub tags: Vec<String>,
    /// Full-text query; results are ranked when given.
    pub q: Option<String>,
    /// Also memories that no longer hold (`valid_until` set).
    pub include_superseded: bool,
}

/// The query parameters of `GET /memories` (documentation).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MemoryListParams {
    /// Repeatable or comma-separated.
    pub memory_type: Option<Vec<MemoryType>>,
    /// Memories with this tag; repeat for memories with all of several tags.
    pub tag: Option<Vec<String>>,
    /// Full-text search over the content; results are ordered by relevance.
    pub q: Option<String>,
    /// Also list memories that a newer one replaced (default: only current ones).
    pub include_superseded: Option<bool>,
}

/// Whether the user lets extraction read their conversations (`memory.auto_extract`,
/// default true).
pub fn auto_extract(preferences: &Value) -> bool {
    preferences["memory"]["auto_extract"]
        .as_bool()
        .unwrap_or(true)
}

/// Check `memory` in a preferences object: `auto_extract` must be a boolean.
pub fn validate_preferences(prefs: &Value) -> ApiResult<()> {
    let Some(m) = prefs.get("memory") else {
        return Ok(());
    };
    let Some(obj) = m.as_object() else {
        return Err(ApiError::validation("memory", "must be an object"));
    };
    for (k, v) in obj {
        match k.as_str() {
            "auto_extract" if v.is_boolean() => {}
            "auto_extract" => {
                return Err(ApiError::validation(
                    "memory.auto_extract",
                    "must be true or false",
                ));
            }
            other => {
                return Err(ApiError::validation(
                    format!("memory.{other}"),
                    "is not a memory preference",
                ));
            }
        }
    }
    Ok(())
}
