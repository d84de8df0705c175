//! The `goals` group: create and list goals, set their progress.

use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{LIST_LIMIT, ToolEnv, ToolError, parse, spec, to_value, unknown};
use crate::{
    goals::{
        model::{CreateGoal, GoalFilter, GoalStatus},
        service as goals,
    },
    http::Pagination,
    providers::llm::ToolSpec,
};

pub const TOOLS: &[&str] = &["create_goal", "list_goals", "update_goal_progress"];

pub fn specs() -> Vec<ToolSpec> {
    let priority = json!({"type": "string", "enum": ["low", "medium", "high", "urgent"]});
    let date = json!({"type": "string", "description": "YYYY-MM-DD"});
    let id = json!({"type": "string", "description": "UUID"});
    vec![
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
    ]
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

pub async fn run(env: &ToolEnv<'_>, name: &str, args: Value) -> Result<Value, ToolError> {
    let (db, user) = (env.db(), env.user());
    match name {
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
        other => Err(unknown(other)),
    }
}
