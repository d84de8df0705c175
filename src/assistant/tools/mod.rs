//! The tools an assistant may call on the user's own data. Each tool has a JSON Schema for
//! its arguments and runs through the same service functions as the REST API, so
//! validation and ownership are identical. A call never fails the request: invalid JSON,
//! wrong types, validation failures and unknown ids come back to the model as an error
//! result (`{"error": …, "errors": [{field, message}]}`) it can read and correct.
//!
//! Tools come in groups (the names an agent lists in `tools`), one file each: the group's
//! tool names, their specs, and `run` for one call. A new group is a new file plus one
//! entry in [`GROUPS`] and one arm in [`dispatch`].

mod account;
mod goals;
mod memories;
mod notes;
mod notifications;
mod reflections;
mod schedule;
mod tasks;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{
    error::ApiError,
    providers::llm::{ToolCall, ToolSpec},
    state::AppState,
    tasks::model::TaskSource,
};

pub use notes::text_blocks;

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

/// What a tool runs with: the application (database, settings, HTTP client, providers)
/// and who it acts for.
pub struct ToolEnv<'a> {
    pub state: &'a AppState,
    pub ctx: &'a ToolContext,
}

impl ToolEnv<'_> {
    pub fn db(&self) -> &sqlx::PgPool {
        &self.state.db
    }
    pub fn user(&self) -> Uuid {
        self.ctx.user_id
    }
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

/// Lists the tools return are at most this long.
pub(crate) const LIST_LIMIT: i64 = 20;

/// A tool group: the name agents list in `tools`, its tool names and their specs.
struct Group {
    name: &'static str,
    tools: &'static [&'static str],
    specs: fn() -> Vec<ToolSpec>,
}

/// The group every agent gets, whatever its `tools` list (read-only account facts).
const ALWAYS: &str = "account";

const GROUPS: &[Group] = &[
    Group {
        name: ALWAYS,
        tools: account::TOOLS,
        specs: account::specs,
    },
    Group {
        name: "tasks",
        tools: tasks::TOOLS,
        specs: tasks::specs,
    },
    Group {
        name: "notes",
        tools: notes::TOOLS,
        specs: notes::specs,
    },
    Group {
        name: "goals",
        tools: goals::TOOLS,
        specs: goals::specs,
    },
    Group {
        name: "reflections",
        tools: reflections::TOOLS,
        specs: reflections::specs,
    },
    Group {
        name: "memories",
        tools: memories::TOOLS,
        specs: memories::specs,
    },
    Group {
        name: "schedule",
        tools: schedule::TOOLS,
        specs: schedule::specs,
    },
    Group {
        name: "notifications",
        tools: notifications::TOOLS,
        specs: notifications::specs,
    },
];

/// Run one call of a group's tool.
async fn dispatch(
    env: &ToolEnv<'_>,
    group: &str,
    name: &str,
    args: Value,
) -> Result<Value, ToolError> {
    match group {
        "tasks" => tasks::run(env, name, args).await,
        "notes" => notes::run(env, name, args).await,
        "goals" => goals::run(env, name, args).await,
        "reflections" => reflections::run(env, name, args).await,
        "memories" => memories::run(env, name, args).await,
        "schedule" => schedule::run(env, name, args).await,
        "notifications" => notifications::run(env, name, args).await,
        ALWAYS => account::run(env, name, args).await,
        _ => Err(unknown(name)),
    }
}

/// Which group a tool belongs to.
fn group_of(tool: &str) -> Option<&'static str> {
    GROUPS
        .iter()
        .find(|g| g.tools.contains(&tool))
        .map(|g| g.name)
}

pub(crate) fn spec(name: &str, description: &str, parameters: Value) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        parameters,
    }
}

/// May an agent with these groups use group `g`?
fn offered(groups: &[String], g: &str) -> bool {
    g == ALWAYS || groups.iter().any(|x| x == g)
}

/// The tools of the agent's tool groups (`["tasks", "notes", …]`), and the `account`
/// group every agent has.
pub fn specs(groups: &[String]) -> Vec<ToolSpec> {
    GROUPS
        .iter()
        .filter(|g| offered(groups, g.name))
        .flat_map(|g| (g.specs)())
        .collect()
}

/// Why a call failed, as the model reads it.
#[derive(Debug)]
pub(crate) struct ToolError(Value);

impl ToolError {
    pub(crate) fn msg(m: impl Into<String>) -> Self {
        Self(json!({"error": m.into()}))
    }
}

pub(crate) fn unknown(name: &str) -> ToolError {
    ToolError::msg(format!("unknown tool {name:?}"))
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

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(args: &Value) -> Result<T, ToolError> {
    serde_json::from_value(args.clone())
        .map_err(|e| ToolError::msg(format!("invalid arguments: {e}")))
}

pub(crate) fn take_id(obj: &mut Map<String, Value>) -> Result<Uuid, ToolError> {
    match obj.remove("id") {
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| ToolError::msg("invalid arguments: id must be a UUID")),
        _ => Err(ToolError::msg(
            "invalid arguments: id (a UUID string) is required",
        )),
    }
}

/// The only argument of an `{"id": …}` call.
pub(crate) fn only_id(args: &Value) -> Result<Uuid, ToolError> {
    let mut obj = args.as_object().cloned().unwrap_or_default();
    let id = take_id(&mut obj)?;
    if !obj.is_empty() {
        return Err(ToolError::msg("invalid arguments: only id is accepted"));
    }
    Ok(id)
}

pub(crate) fn to_value(v: &impl Serialize) -> Result<Value, ToolError> {
    serde_json::to_value(v).map_err(|e| ToolError::from(ApiError::internal(e)))
}

/// A list size the model asked for, within bounds (default 5).
pub(crate) fn limit(l: Option<i64>) -> i64 {
    l.unwrap_or(5).clamp(1, LIST_LIMIT)
}

/// Run one call. Never fails: any problem becomes an error result.
pub async fn execute(state: &AppState, ctx: &ToolContext, call: &ToolCall) -> ToolOutcome {
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
            let group = group_of(&call.name).filter(|g| offered(&ctx.groups, g));
            let r = match group {
                Some(g) => dispatch(&ToolEnv { state, ctx }, g, &call.name, args.clone()).await,
                None => Err(unknown(&call.name)),
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
