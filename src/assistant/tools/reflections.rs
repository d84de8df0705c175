//! The `reflections` group: record a reflection.

use serde_json::{Value, json};

use super::{ToolEnv, ToolError, parse, spec, to_value, unknown};
use crate::{
    providers::llm::ToolSpec,
    reflections::{model::CreateReflection, service as reflections},
};

pub const TOOLS: &[&str] = &["add_reflection"];

pub fn specs() -> Vec<ToolSpec> {
    vec![spec(
        "add_reflection",
        "Record a reflection of the user.",
        json!({"type": "object", "properties": {
            "content": {"type": "string"},
            "reflection_type": {"type": "string", "enum": ["daily", "weekly", "monthly", "goal", "freeform"]},
            "goal_id": {"type": "string", "description": "UUID"}},
            "required": ["content", "reflection_type"], "additionalProperties": false}),
    )]
}

pub async fn run(env: &ToolEnv<'_>, name: &str, args: Value) -> Result<Value, ToolError> {
    match name {
        "add_reflection" => {
            let input: CreateReflection = parse(&args)?;
            to_value(&reflections::add_reflection(env.db(), env.user(), input).await?)
        }
        other => Err(unknown(other)),
    }
}
