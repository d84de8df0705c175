use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::{ApiError, FieldError},
    http::{LinkFilter, Patch, Validate, Validator},
    records::{MAX_TITLE_CHARS, check_long_text, check_metadata},
    tasks::model::Priority,
    text_enum,
};

text_enum! {
    /// The horizon of a goal.
    pub enum Timeframe {
        Daily = "daily",
        Weekly = "weekly",
        Monthly = "monthly",
        Quarterly = "quarterly",
        Yearly = "yearly",
        LongTerm = "long_term",
    }
}

text_enum! {
    pub enum GoalStatus {
        Active = "active",
        Completed = "completed",
        Abandoned = "abandoned",
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Goal {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub timeframe: Timeframe,
    pub parent_goal_id: Option<Uuid>,
    pub status: GoalStatus,
    /// 0..=100. When the goal has tasks, the share of them that are done (rounded);
    /// otherwise the value last set.
    pub progress: i32,
    pub priority: Priority,
    pub due_date: Option<NaiveDate>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A goal as stored (enums as text), with its effective progress.
pub struct GoalRow {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub timeframe: String,
    pub parent_goal_id: Option<Uuid>,
    pub status: String,
    pub progress: i32,
    pub priority: String,
    pub due_date: Option<NaiveDate>,
    pub metadata: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<GoalRow> for Goal {
    type Error = ApiError;

    fn try_from(r: GoalRow) -> Result<Self, ApiError> {
        Ok(Goal {
            id: r.id,
            title: r.title,
            description: r.description,
            timeframe: Timeframe::from_db(&r.timeframe)?,
            parent_goal_id: r.parent_goal_id,
            status: GoalStatus::from_db(&r.status)?,
            progress: r.progress,
            priority: Priority::from_db(&r.priority)?,
            due_date: r.due_date,
            metadata: r.metadata,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn check_progress(v: &mut Validator, progress: Option<i32>) {
    if let Some(p) = progress {
        v.check(
            (0..=100).contains(&p),
            "progress",
            "must be between 0 and 100",
        );
    }
}

/// `POST /goals`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGoal {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Default `long_term`.
    #[serde(default)]
    pub timeframe: Option<Timeframe>,
    #[serde(default)]
    pub parent_goal_id: Option<Uuid>,
    /// Default `active`.
    #[serde(default)]
    pub status: Option<GoalStatus>,
    /// Default 0; only shown while the goal has no tasks.
    #[serde(default)]
    pub progress: Option<i32>,
    /// Default `medium`.
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub metadata: Option<Value>,
}

impl Validate for CreateGoal {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        v.text(&self.title, "title", MAX_TITLE_CHARS);
        check_long_text(&mut v, "description", self.description.as_deref());
        check_progress(&mut v, self.progress);
        if let Some(m) = &self.metadata {
            check_metadata(&mut v, "metadata", m);
        }
        v.finish()
    }
}

/// `PATCH /goals/{id}`: omitted fields stay, `null` clears `description`,
/// `parent_goal_id`, `due_date` (and `metadata` back to `{}`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGoal {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Timeframe>)]
    pub timeframe: Patch<Timeframe>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub parent_goal_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<GoalStatus>)]
    pub status: Patch<GoalStatus>,
    /// Stored, but shown only while the goal has no tasks.
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub progress: Patch<i32>,
    #[serde(default)]
    #[schema(value_type = Option<Priority>)]
    pub priority: Patch<Priority>,
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub due_date: Patch<NaiveDate>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Patch<Value>,
}

impl Validate for UpdateGoal {
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
        check_long_text(
            &mut v,
            "description",
            self.description.as_value().map(|s| s.as_str()),
        );
        check_progress(&mut v, self.progress.as_value().copied());
        v.check(
            self.timeframe != Patch::Null,
            "timeframe",
            "must not be null",
        );
        v.check(self.status != Patch::Null, "status", "must not be null");
        v.check(self.progress != Patch::Null, "progress", "must not be null");
        v.check(self.priority != Patch::Null, "priority", "must not be null");
        if let Some(m) = self.metadata.as_value() {
            check_metadata(&mut v, "metadata", m);
        }
        v.finish()
    }
}

/// Filters of `GET /goals`.
#[derive(Debug, Clone, Default)]
pub struct GoalFilter {
    pub timeframes: Vec<Timeframe>,
    pub statuses: Vec<GoalStatus>,
    pub parent: LinkFilter,
}

/// The query parameters of `GET /goals` (documentation).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct GoalListParams {
    /// Repeatable or comma-separated.
    pub timeframe: Option<Vec<Timeframe>>,
    /// Repeatable or comma-separated.
    pub status: Option<Vec<GoalStatus>>,
    /// Sub-goals of this goal, or `null` for top-level goals.
    pub parent_goal_id: Option<String>,
}
