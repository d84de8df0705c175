use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::{ApiError, FieldError},
    http::{LinkFilter, Patch, Validate, Validator},
    records::{MAX_TITLE_CHARS, check_long_text, check_metadata},
    text_enum,
};

text_enum! {
    /// Where a task is in its life. `done` stamps `completed_at`; leaving `done` clears it.
    pub enum TaskStatus {
        Todo = "todo",
        InProgress = "in_progress",
        Done = "done",
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// Priority of a task or a goal.
    pub enum Priority {
        Low = "low",
        Medium = "medium",
        High = "high",
        Urgent = "urgent",
    }
}

text_enum! {
    /// Where a task came from: the REST API (`manual`), a note, a chat or voice
    /// conversation, a goal's AI plan, or an agent.
    pub enum TaskSource {
        Manual = "manual",
        Note = "note",
        Chat = "chat",
        Voice = "voice",
        GoalPlan = "goal_plan",
        Agent = "agent",
    }
}

/// `source_reference` is at most this many characters.
pub const MAX_SOURCE_REFERENCE_CHARS: usize = 2000;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: Priority,
    /// `YYYY-MM-DD`.
    pub due_date: Option<NaiveDate>,
    /// `HH:MM:SS`; only with a `due_date`.
    #[schema(value_type = Option<String>, example = "09:30:00")]
    pub due_time: Option<NaiveTime>,
    /// The parent task of a subtask.
    pub parent_id: Option<Uuid>,
    pub goal_id: Option<Uuid>,
    pub note_id: Option<Uuid>,
    pub source: TaskSource,
    /// What in the source produced the task (a conversation id, a call id, …).
    pub source_reference: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    /// When to remind the user (a `reminder` notification is raised once per value, unless
    /// the task is `done` or `cancelled` by then).
    pub remind_at: Option<DateTime<Utc>>,
    /// How long the task takes, in minutes (1..=1440); the day planner's block length.
    pub estimate_minutes: Option<i32>,
    /// Read-only: set by `POST /tasks/{id}/snooze`, cleared when `remind_at` is changed.
    pub snoozed_until: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A task as stored (enums as text).
pub struct TaskRow {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub status: String,
    pub priority: String,
    pub due_date: Option<NaiveDate>,
    pub due_time: Option<NaiveTime>,
    pub parent_id: Option<Uuid>,
    pub goal_id: Option<Uuid>,
    pub note_id: Option<Uuid>,
    pub source: String,
    pub source_reference: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub metadata: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub remind_at: Option<DateTime<Utc>>,
    pub estimate_minutes: Option<i32>,
    pub snoozed_until: Option<DateTime<Utc>>,
}

impl TryFrom<TaskRow> for Task {
    type Error = ApiError;

    fn try_from(r: TaskRow) -> Result<Self, ApiError> {
        Ok(Task {
            id: r.id,
            title: r.title,
            description: r.description,
            status: TaskStatus::from_db(&r.status)?,
            priority: Priority::from_db(&r.priority)?,
            due_date: r.due_date,
            due_time: r.due_time,
            parent_id: r.parent_id,
            goal_id: r.goal_id,
            note_id: r.note_id,
            source: TaskSource::from_db(&r.source)?,
            source_reference: r.source_reference,
            completed_at: r.completed_at,
            remind_at: r.remind_at,
            estimate_minutes: r.estimate_minutes,
            snoozed_until: r.snoozed_until,
            metadata: r.metadata,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// `POST /tasks`. The REST API always records `source: manual`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Default `todo`.
    #[serde(default)]
    pub status: Option<TaskStatus>,
    /// Default `medium`.
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "09:30")]
    pub due_time: Option<NaiveTime>,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub goal_id: Option<Uuid>,
    #[serde(default)]
    pub note_id: Option<Uuid>,
    /// RFC 3339 timestamp.
    #[serde(default)]
    pub remind_at: Option<DateTime<Utc>>,
    /// 1..=1440.
    #[serde(default)]
    pub estimate_minutes: Option<i32>,
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// `estimate_minutes` is 1..=1440 when given.
fn check_estimate(v: &mut Validator, minutes: Option<i32>) {
    v.check(
        minutes.is_none_or(|m| (1..=1440).contains(&m)),
        "estimate_minutes",
        "must be between 1 and 1440",
    );
}

impl Validate for CreateTask {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        v.text(&self.title, "title", MAX_TITLE_CHARS);
        check_long_text(&mut v, "description", self.description.as_deref());
        v.check(
            self.due_time.is_none() || self.due_date.is_some(),
            "due_time",
            "requires a due_date",
        );
        check_estimate(&mut v, self.estimate_minutes);
        if let Some(m) = &self.metadata {
            check_metadata(&mut v, "metadata", m);
        }
        v.finish()
    }
}

/// Where a task created through the service comes from (REST: `manual`, no reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOrigin {
    pub source: TaskSource,
    pub reference: Option<String>,
}

impl TaskOrigin {
    pub fn manual() -> Self {
        Self {
            source: TaskSource::Manual,
            reference: None,
        }
    }
}

/// `PATCH /tasks/{id}`: omitted fields stay, `null` clears a nullable field (`description`,
/// `due_date`, `due_time`, `parent_id`, `goal_id`, `note_id`; `metadata` back to `{}`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<TaskStatus>)]
    pub status: Patch<TaskStatus>,
    #[serde(default)]
    #[schema(value_type = Option<Priority>)]
    pub priority: Patch<Priority>,
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub due_date: Patch<NaiveDate>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub due_time: Patch<NaiveTime>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub goal_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub note_id: Patch<Uuid>,
    /// A new value re-arms the reminder; `null` disarms it.
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub remind_at: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub estimate_minutes: Patch<i32>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Patch<Value>,
}

impl Validate for UpdateTask {
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
        v.check(self.status != Patch::Null, "status", "must not be null");
        v.check(self.priority != Patch::Null, "priority", "must not be null");
        check_estimate(&mut v, self.estimate_minutes.as_value().copied());
        if let Some(m) = self.metadata.as_value() {
            check_metadata(&mut v, "metadata", m);
        }
        v.finish()
    }
}

/// `PUT /tasks/{id}/status`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTaskStatus {
    pub status: TaskStatus,
}

impl Validate for SetTaskStatus {}

/// How `GET /tasks` orders when asked (`sort`); without it, newest first, or best match
/// first when `q` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSort {
    /// Newest first.
    Created,
    /// Soonest due first; tasks without a due date last, then oldest first.
    DueDate,
}

/// Filters of `GET /tasks` (and of the tasks of a note or a goal).
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub statuses: Vec<TaskStatus>,
    pub priorities: Vec<Priority>,
    /// Due on or before this date.
    pub due_before: Option<NaiveDate>,
    /// Due on or after this date.
    pub due_after: Option<NaiveDate>,
    pub parent: LinkFilter,
    pub goal: LinkFilter,
    pub note: LinkFilter,
    pub sources: Vec<TaskSource>,
    pub q: Option<String>,
    pub sort: Option<TaskSort>,
}

/// The query parameters of `GET /tasks` (documentation).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TaskListParams {
    /// Repeatable (`status=todo&status=in_progress`) or comma-separated.
    pub status: Option<Vec<TaskStatus>>,
    /// Repeatable or comma-separated.
    pub priority: Option<Vec<Priority>>,
    /// Due on or before this date (`YYYY-MM-DD`).
    pub due_before: Option<NaiveDate>,
    /// Due on or after this date (`YYYY-MM-DD`).
    pub due_after: Option<NaiveDate>,
    /// Subtasks of this task, or `null` for top-level tasks.
    pub parent_id: Option<String>,
    /// Tasks of this goal, or `null` for tasks without a goal.
    pub goal_id: Option<String>,
    /// Tasks of this note, or `null` for tasks without a note.
    pub note_id: Option<String>,
    /// Repeatable or comma-separated.
    pub source: Option<Vec<TaskSource>>,
    /// Full-text search over title and description; results are ordered by relevance
    /// unless `sort` is given.
    pub q: Option<String>,
    /// `created_at` (default, newest first) or `due_date` (soonest first, undated last).
    pub sort: Option<String>,
}

/// `POST /tasks/{id}/snooze`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeTask {
    /// 1..=1440.
    pub minutes: i64,
}

impl crate::http::Validate for SnoozeTask {
    fn validate(&self) -> Result<(), Vec<crate::error::FieldError>> {
        let mut v = crate::http::Validator::new();
        v.check(
            (1..=1440).contains(&self.minutes),
            "minutes",
            "must be between 1 and 1440",
        );
        v.finish()
    }
}
