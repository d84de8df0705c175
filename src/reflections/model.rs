use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::{ApiError, FieldError},
    http::{LinkFilter, Validate, Validator},
    records::MAX_LONG_TEXT_CHARS,
    text_enum,
};

text_enum! {
    pub enum ReflectionType {
        Daily = "daily",
        Weekly = "weekly",
        Monthly = "monthly",
        Goal = "goal",
        Freeform = "freeform",
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reflection {
    pub id: Uuid,
    pub content: String,
    pub reflection_type: ReflectionType,
    pub goal_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct ReflectionRow {
    pub id: Uuid,
    pub content: String,
    pub reflection_type: String,
    pub goal_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<ReflectionRow> for Reflection {
    type Error = ApiError;

    fn try_from(r: ReflectionRow) -> Result<Self, ApiError> {
        Ok(Reflection {
            id: r.id,
            content: r.content,
            reflection_type: ReflectionType::from_db(&r.reflection_type)?,
            goal_id: r.goal_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// `POST /reflections`. A `goal` reflection names its goal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReflection {
    pub content: String,
    pub reflection_type: ReflectionType,
    #[serde(default)]
    pub goal_id: Option<Uuid>,
}

impl Validate for CreateReflection {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        v.text(&self.content, "content", MAX_LONG_TEXT_CHARS);
        v.check(
            self.reflection_type != ReflectionType::Goal || self.goal_id.is_some(),
            "goal_id",
            "is required for a goal reflection",
        );
        v.finish()
    }
}

/// Filters of `GET /reflections`.
#[derive(Debug, Clone, Default)]
pub struct ReflectionFilter {
    pub types: Vec<ReflectionType>,
    pub goal: LinkFilter,
}

/// The query parameters of `GET /reflections` (documentation).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ReflectionListParams {
    /// Repeatable or comma-separated.
    pub reflection_type: Option<Vec<ReflectionType>>,
    /// Reflections about this goal, or `null` for those about no goal.
    pub goal_id: Option<String>,
}
