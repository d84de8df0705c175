//! The `memories` group: remember something about the user, recall it later.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ToolEnv, ToolError, limit, parse, spec, to_value, unknown};
use crate::{
    memories::{
        model::{CreateMemory, MemorySource, MemoryType},
        service as memories,
    },
    providers::llm::ToolSpec,
    tasks::model::TaskSource,
};

pub const TOOLS: &[&str] = &["remember", "recall"];

pub fn specs() -> Vec<ToolSpec> {
    vec![
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RememberArgs {
    content: String,
    #[serde(default)]
    memory_type: Option<MemoryType>,
    #[serde(default)]
    importance: Option<i16>,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecallArgs {
    #[serde(default)]
    query: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    limit: Option<i64>,
}

pub async fn run(env: &ToolEnv<'_>, name: &str, args: Value) -> Result<Value, ToolError> {
    let (db, user) = (env.db(), env.user());
    match name {
        "remember" => {
            let a: RememberArgs = parse(&args)?;
            let input = CreateMemory {
                content: a.content,
                memory_type: a.memory_type,
                importance: a.importance,
                tags: a.tags,
                source: Some(match env.ctx.source {
                    TaskSource::Voice => MemorySource::Voice,
                    _ => MemorySource::Chat,
                }),
                source_reference: env.ctx.source_reference.clone(),
            };
            to_value(&memories::remember(db, user, input).await?)
        }
        "recall" => {
            let a: RecallArgs = parse(&args)?;
            to_value(&memories::recall(db, user, &a.query, &a.tags, limit(a.limit)).await?)
        }
        other => Err(unknown(other)),
    }
}
