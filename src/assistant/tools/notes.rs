//! The `notes` group: write and search the user's notes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ToolEnv, ToolError, limit, parse, spec, to_value, unknown};
use crate::{
    notes::{model::CreateNote, service as notes},
    providers::llm::ToolSpec,
};

pub const TOOLS: &[&str] = &["create_note", "search_notes"];

pub fn specs() -> Vec<ToolSpec> {
    vec![
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
    ]
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
struct SearchNotesArgs {
    #[serde(default)]
    query: String,
    #[serde(default)]
    limit: Option<i64>,
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

pub async fn run(env: &ToolEnv<'_>, name: &str, args: Value) -> Result<Value, ToolError> {
    let (db, user) = (env.db(), env.user());
    match name {
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
            let a: SearchNotesArgs = parse(&args)?;
            to_value(&notes::search_notes(db, user, &a.query, limit(a.limit)).await?)
        }
        other => Err(unknown(other)),
    }
}
