//! The `tasks` group: create, list, update, complete and delete the user's tasks.

use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{LIST_LIMIT, ToolEnv, ToolError, only_id, parse, spec, take_id, to_value, unknown};
use crate::{
    http::{KeysetPagination, LinkFilter, SortCursor},
    providers::llm::ToolSpec,
    tasks::{
        model::{CreateTask, TaskFilter, TaskOrigin, TaskSort, TaskStatus, UpdateTask},
        service as tasks,
    },
};

pub const TOOLS: &[&str] = &[
    "create_task",
    "list_tasks",
    "update_task",
    "complete_task",
    "delete_task",
    "snooze_task",
];

pub fn specs() -> Vec<ToolSpec> {
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
                "remind_at": {"type": "string", "description": "RFC 3339 time to remind the user"},
                "estimate_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
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
                "due_time": {"type": ["string", "null"]}, "goal_id": {"type": ["string", "null"]},
                "remind_at": {"type": ["string", "null"], "description": "RFC 3339; null disarms"},
                "estimate_minutes": {"type": ["integer", "null"], "minimum": 1, "maximum": 1440}},
                "required": ["id"], "additionalProperties": false}),
        ),
        spec(
            "complete_task",
            "Mark one of the user's tasks done.",
            json!({"type": "object", "properties": {"id": id}, "required": ["id"],
                   "additionalProperties": false}),
        ),
        spec(
            "delete_task",
            "Delete one of the user's tasks (and its subtasks).",
            json!({"type": "object", "properties": {"id": id}, "required": ["id"],
                   "additionalProperties": false}),
        ),
        spec(
            "snooze_task",
            "Snooze the reminder of one of the user's tasks: remind again in `minutes`.",
            json!({"type": "object", "properties": {"id": id,
                   "minutes": {"type": "integer", "minimum": 1, "maximum": 1440}},
                   "required": ["id", "minutes"], "additionalProperties": false}),
        ),
    ]
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

pub async fn run(env: &ToolEnv<'_>, name: &str, args: Value) -> Result<Value, ToolError> {
    let (db, user) = (env.db(), env.user());
    match name {
        "create_task" => {
            let input: CreateTask = parse(&args)?;
            let origin = TaskOrigin {
                source: env.ctx.source,
                reference: env.ctx.source_reference.clone(),
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
                goal: a.goal_id.map_or(LinkFilter::Any, LinkFilter::Is),
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
            let id = only_id(&args)?;
            to_value(&tasks::complete_task(db, user, id).await?)
        }
        "delete_task" => {
            let id = only_id(&args)?;
            tasks::delete_task(db, user, id, None).await?;
            Ok(json!({"id": id, "deleted": true}))
        }
        "snooze_task" => {
            let mut obj = args.as_object().cloned().unwrap_or_default();
            let id = take_id(&mut obj)?;
            let a: crate::tasks::model::SnoozeTask = parse(&Value::Object(obj))?;
            let task = crate::tasks::reminders::snooze(env.state, db, user, id, a.minutes).await?;
            to_value(&task)
        }
        other => Err(unknown(other)),
    }
}
