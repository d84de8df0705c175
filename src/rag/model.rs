use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::FieldError,
    http::{Validate, Validator},
    records::MAX_QUERY_CHARS,
    text_enum,
};

text_enum! {
    /// What a retrieved item is.
    pub enum SourceType {
        Notes = "notes",
        Memories = "memories",
        Documents = "documents",
        Tasks = "tasks",
    }
}

pub const DEFAULT_K: i64 = 8;
pub const MAX_K: i64 = 50;

/// `POST /rag/query`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RagQuery {
    pub query: String,
    /// Results wanted, 1..=50 (default 8).
    #[serde(default)]
    pub k: Option<i64>,
    /// Default: every source.
    #[serde(default)]
    pub sources: Option<Vec<SourceType>>,
}

impl Validate for RagQuery {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        v.text(&self.query, "query", MAX_QUERY_CHARS);
        if let Some(k) = self.k {
            v.check((1..=MAX_K).contains(&k), "k", "must be between 1 and 50");
        }
        if let Some(s) = &self.sources {
            v.check(!s.is_empty(), "sources", "must not be empty");
        }
        v.finish()
    }
}

/// Where an item ranked in each list (1 = best); `null`: that list did not find it.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct Ranks {
    pub text: Option<u32>,
    pub vector: Option<u32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RagResult {
    pub source_type: SourceType,
    pub source_id: Uuid,
    /// The chunk of the item that matched best (0 for items embedded whole).
    pub chunk_index: i32,
    pub text: String,
    /// Reciprocal-rank fusion score: the sum of 1 / (60 + rank) over the lists.
    pub score: f64,
    pub ranks: Ranks,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RagAnswer {
    pub results: Vec<RagResult>,
}
