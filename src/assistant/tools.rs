//! The tools an assistant may call on the user's own data. Each tool has a JSON Schema for
//! its arguments and runs through the same service functions as the REST API, so
//! validation and ownership are identical. A call never fails the request: invalid JSON,
//! wrong types, validation failures and unknown ids come back to the model as an error
//! result (`{"error": …, "errors": [{field, message}]}`) it can read and correct.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    error::ApiError,
    goals::{
        model::{CreateGoal, GoalFilter, GoalStatus},
        service as goals,
    },
    http::{KeysetPagination, Pagination, SortCursor},
    memories::{model::CreateMemory, service as memories},
    notes::{model::CreateNote, service as notes},
    providers::llm::{ToolCall, ToolSpec},
    reflections::{model::CreateReflection, service as reflections},
    tasks::{
        model::{CreateTask, TaskFilter, TaskOrigin, TaskSort, TaskSource, TaskStatus, UpdateTask},
        service as tasks,
    },
};

/// Who is acting and where: the user whose data the tools touch, where created tasks come
/// from (`chat` or `voice`, with e.g. the conversation or call id as reference), and the
/// tool groups the agent has (`tasks`, `notes`, `goals`, `memories`, `reflections`).
#[derive(Debug, Clone)]
pub struct ToolContext {
    pub user_id: Uuid,
    pub source: TaskSource,
    pub source_reference: Option<String>,
    pub groups: Vec<String>,
}

/// One executed call, as stored on the message and emitted as a `tool_call` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolOutcome {
    /// The model's id for the call.
    pub id: String,
    pub name: String,
    /// The arguments as parsed (the raw text as a string when it was not JSON).
    #[schema(value_type = Object)]
    pub arguments: Value,
    #[schema(value_type = Object)]
    pub result: Value,
    pub is_error: bool,
}

const LIST_LIMIT: i64 = 20;

/// Which group a tool belongs to.
fn group_of(tool: &str) -> Option<&'static str> {
    Some(match tool {
        "create_task" | "list_tasks" | "update_task" | "complete_task" => "tasks",
        "create_note" | "search_notes" => "notes",
        "create_goal" | "list_goals" | "update_goal_progress" => "goals",
        "add_reflection" => "reflections",
        "remember" | "recall" => "memories",
        _ => return None,
    })
}

fn spec(name: &str, description: &str, parameters: Value) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        parameters,
    }
}

fn all_specs() -> Vec<ToolSpec> {
    let priority = json!({"type": "string", "enum": ["low", "medium", "high", "urgent"]});
    let status = json!({"type": "string", "enum": ["todo", "in_progress", "done", "cancelled"]});
    let date = json!({"type": "string", "description": "YYYY-MM-DD"});
    let id = json!({"type": "string", "description": "UUID"});
    vec![
        spec(
            "create_task",
            "Create a task for the user.",
            json!({"type": "object", "properties": {
                "title": {"type": "string"}, "description": {"type": "string"},
                "priority": priority, "status": status, "due_date": date,
                "due_time": {"type": "string", "description": "HH:MM, needs due_date"},
                "goal_id": id, "parent_id": id, "note_id": id},
                "required": ["title"], "additionalProperties": false}),
        ),
        spec(
            "list_tasks",
            "List the user's tasks, optionally filtered; soonest due first.",
            json!({"type": "object", "properties": {
                "status": {"type": "array", "items": status}, "due_before": date,
                "query": {"type": "string", "description": "full-text search"},
                "goal_id": id},
                "additionalProperties": false}),
        ),
        spec(
            "update_task",
            "Change fields of one of the user's tasks (only the fields given).",
            json!({"type": "object", "properties": {
                "id": id, "title": {"type": "string"}, "description": {"type": ["string", "null"]},
                "priority": priority, "status": status, "due_date": {"type": ["string", "null"]},
                "due_time": {"type": ["string", "null"]}, "goal_id": {"type": ["string", "null"]}},
                "required": ["id"], "additionalProperties": false}),
        ),
        spec(
            "complete_task",
            "Mark one of the user's tasks done.",
            json!({"type": "object", "properties": {"id": id}, "required": ["id"],
                   "additionalProperties": false}),
        ),
        spec(
            "create_note",
            "Write a note for the user.",
            json!({"type": "object", "properties": {
                "title": {"type": "string"}, "content": {"type": "string", "description": "plain text"},
                "is_pinned": {"type": "boolean"}},
                "required": ["title"], "additionalProperties": false}),
        ),
        spec(
            "search_notes",
            "Full-text search over the user's notes.",
            json!({"type": "object", "properties": {"query": {"type": "string"},
                   "limit": {"type": "integer", "minimum": 1, "maximum": 20}},
                   "required": ["query"], "additionalProperties": false}),
        ),
        spec(
            "create_goal",
            "Create a goal for the user.",
            json!({"type": "object", "properties": {
                "title": {"type": "string"}, "description": {"type": "string"},
                "timeframe": {"type": "string", "enum": ["daily", "weekly", "monthly", "quarterly", "yearly", "long_term"]},
                "priority": priority, "due_date": date, "parent_goal_id": id},
                "required": ["title"], "additionalProperties": false}),
        ),
        spec(
            "list_goals",
            "List the user's goals (active ones unless a status is given).",
            json!({"type": "object", "properties": {
                "status": {"type": "string", "enum": ["active", "completed", "abandoned"]}},
                "additionalProperties": false}),
        ),
        spec(
            "update_goal_progress",
            "Set the progress (0..100) of one of the user's goals.",
            json!({"type": "object", "properties": {"id": id,
                   "progress": {"type": "integer", "minimum": 0, "maximum": 100}},
                   "required": ["id", "progress"], "additionalProperties": false}),
        ),
        spec(
            "add_reflection",
            "Record a reflection of the user.",
            json!({"type": "object", "properties": {
                "content": {"type": "string"},
                "reflection_type": {"type": "string", "enum": ["daily", "weekly", "monthly", "goal", "freeform"]},
                "goal_id": id},
                "required": ["content", "reflection_type"], "additionalProperties": false}),
        ),
        spec(
            "remember",
            "Remember something about the user for later conversations.",
            json!({"type": "object", "properties": {
                "content": {"type": "string"},
                "memory_type": {"type": "string", "enum": ["fact", "preference", "event", "person", "other"]},
                "importance": {"type": "integer", "minimum": 1, "maximum": 5},
                "tags": {"type": "array", "items": {"type": "string"}}},
                "required": ["content"], "additionalProperties": false}),
        ),
        spec(
            "recall",
            "Search what you remember about the user.",
            json!({"type": "object", "properties": {"query": {"type": "string"},
                   "tags": {"type": "array", "items": {"type": "string"}},
                   "limit": {"type": "integer", "minimum": 1, "maximum": 20}},
                   "additionalProperties": false}),
        ),
    ]
}

/// The tools of the agent's tool groups (`["tasks", "notes", …]`).
pub fn specs(groups: &[String]) -> Vec<ToolSpec> {
    all_specs()
        .into_iter()
        .filter(|s| group_of(&s.name).is_some_and(|g| groups.iter().any(|x| x == g)))
        .collect()
}

/// Why a call failed, as the model reads it.
#[derive(Debug)]
struct ToolError(Value);

impl ToolError {
    fn msg(m: impl Into<String>) -> Self {
        Self(json!({"error": m.into()}))
    }
}

impl From<ApiError> for ToolError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Validation(errors) => Self(json!({
                "error": "validation failed",
                "errors": errors.iter().map(|f| json!({"field": f.field, "message": f.message})).collect::<Vec<_>>(),
            })),
            ApiError::NotFound => Self::msg("not found"),
            ApiError::PreconditionFailed => Self::msg("changed meanwhile; read it again"),
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "tool call failed");
                Self::msg("internal error")
            }
            other => Self::msg(other.to_string()),
        }
    }
}

fn parse<T: for<'de> Deserialize<'de>>(args: &Value) -> Result<T, ToolError> {
    serde_json::from_value(args.clone())
        .map_err(|e| ToolError::msg(format!("invalid arguments: {e}")))
}

fn take_id(obj: &mut Map<String, Value>) -> Result<Uuid, ToolError> {
    match obj.remove("id") {
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| ToolError::msg("invalid arguments: id must be a UUID")),
        _ => Err(ToolError::msg(
            "invalid arguments: id (a UUID string) is required",
        )),
    }
}

fn to_value(v: &impl Serialize) -> Result<Value, ToolError> {
    serde_json::to_value(v).map_err(|e| ToolError::from(ApiError::internal(e)))
}

/// Run one call. Never fails: any problem becomes an error result.
pub async fn execute(db: &PgPool, ctx: &ToolContext, call: &ToolCall) -> ToolOutcome {
    let raw = call.arguments.trim();
    let parsed: Result<Value, _> = if raw.is_empty() {
        Ok(json!({}))
    } else {
        serde_json::from_str(raw)
    };
    let (arguments, result) = match parsed {
        Err(e) => (
            Value::String(call.arguments.clone()),
            Err(ToolError::msg(format!("arguments are not valid JSON: {e}"))),
        ),
        Ok(args) if !args.is_object() => {
            (args, Err(ToolError::msg("arguments must be a JSON object")))
        }
        Ok(args) => {
            let allowed = group_of(&call.name).is_some_and(|g| ctx.groups.iter().any(|x| x == g));
            let r = if allowed {
                run(db, ctx, &call.name, args.clone()).await
            } else {
                Err(ToolError::msg(format!("unknown tool {:?}", call.name)))
            };
            (args, r)
        }
    };
    let (result, is_error) = match result {
        Ok(v) => (v, false),
        Err(ToolError(v)) => (v, true),
    };
    ToolOutcome {
        id: call.id.clone(),
        name: call.name.clone(),
        arguments,
        result,
        is_error,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListTasksArgs {
    #[serde(default)]
    status: Vec<TaskStatus>,
    #[serde(default)]
    due_before: Option<chrono::NaiveDate>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    goal_id: Option<Uuid>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateNoteArgs {
    title: String,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    is_pinned: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    #[serde(default)]
    query: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListGoalsArgs {
    #[serde(default)]
    status: Option<GoalStatus>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgressArgs {
    id: Uuid,
    progress: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RememberArgs {
    content: String,
    #[serde(default)]
    memory_type: Option<crate::memories::model::MemoryType>,
    #[serde(default)]
    importance: Option<i16>,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// A note's content as one BlockNote paragraph per line.
pub fn text_blocks(text: &str) -> Value {
    Value::Array(
        text.lines()
            .map(|line| {
                json!({"type": "paragraph",
                       "content": [{"type": "text", "text": line, "styles": {}}]})
            })
            .collect(),
    )
}

async fn run(db: &PgPool, ctx: &ToolContext, name: &str, args: Value) -> Result<Value, ToolError> {
    let user = ctx.user_id;
    let limit = |l: Option<i64>| l.unwrap_or(5).clamp(1, LIST_LIMIT);
    match name {
        "create_task" => {
            let input: CreateTask = parse(&args)?;
            let origin = TaskOrigin {
                source: ctx.source,
                reference: ctx.source_reference.clone(),
            };
            to_value(&tasks::create_task(db, user, input, origin).await?)
        }
        "list_tasks" => {
            let a: ListTasksArgs = parse(&args)?;
            let statuses = if a.status.is_empty() {
                vec![TaskStatus::Todo, TaskStatus::InProgress]
            } else {
                a.status
            };
            let filter = TaskFilter {
                statuses,
                due_before: a.due_before,
                goal: a
                    .goal_id
                    .map_or(crate::http::LinkFilter::Any, crate::http::LinkFilter::Is),
                q: a.query.filter(|q| !q.trim().is_empty()),
                sort: Some(TaskSort::DueDate),
                ..TaskFilter::default()
            };
            let page = KeysetPagination {
                limit: LIST_LIMIT,
                cursor: None::<SortCursor>,
            };
            to_value(&tasks::list_tasks(db, user, filter, page).await?.data)
        }
        "update_task" => {
            let mut obj = args.as_object().cloned().unwrap_or_default();
            let id = take_id(&mut obj)?;
            let patch: UpdateTask = parse(&Value::Object(obj))?;
            to_value(&tasks::update_task(db, user, id, patch, None).await?)
        }
        "complete_task" => {
            let mut obj = args.as_object().cloned().unwrap_or_default();
            let id = take_id(&mut obj)?;
            if !obj.is_empty() {
                return Err(ToolError::msg("invalid arguments: only id is accepted"));
            }
            to_value(&tasks::complete_task(db, user, id).await?)
        }
        "create_note" => {
            let a: CreateNoteArgs = parse(&args)?;
            let input = CreateNote {
                title: a.title,
                content: a.content.as_deref().map(text_blocks),
                parent_id: None,
                is_pinned: a.is_pinned,
                metadata: None,
            };
            to_value(&notes::create_note(db, user, input).await?)
        }
        "search_notes" => {
            let a: SearchArgs = parse(&args)?;
            to_value(&notes::search_notes(db, user, &a.query, limit(a.limit)).await?)
        }
        "create_goal" => {
            let input: CreateGoal = parse(&args)?;
            to_value(&goals::create_goal(db, user, input).await?)
        }
        "list_goals" => {
            let a: ListGoalsArgs = parse(&args)?;
            let filter = GoalFilter {
                statuses: vec![a.status.unwrap_or(GoalStatus::Active)],
                ..GoalFilter::default()
            };
            let page = Pagination {
                limit: LIST_LIMIT,
                cursor: None,
            };
            to_value(&goals::list_goals(db, user, filter, page).await?.data)
        }
        "update_goal_progress" => {
            let a: ProgressArgs = parse(&args)?;
            to_value(&goals::update_goal_progress(db, user, a.id, a.progress).await?)
        }
        "add_reflection" => {
            let input: CreateReflection = parse(&args)?;
            to_value(&reflections::add_reflection(db, user, input).await?)
        }
        "remember" => {
            let a: RememberArgs = parse(&args)?;
            let input = CreateMemory {
                content: a.content,
                memory_type: a.memory_type,
                importance: a.importance,
                tags: a.tags,
                source: Some(ctx.source.as_str().to_string()),
            };
            to_value(&memories::remember(db, user, input).await?)
        }
        "recall" => {
            let a: SearchArgs = parse(&args)?;
            to_value(&memories::recall(db, user, &a.query, &a.tags, limit(a.limit)).await?)
        }
        other => Err(ToolError::msg(format!("unknown tool {other:?}"))),
    }
}
