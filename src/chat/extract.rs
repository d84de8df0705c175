//! Memory that learns: after a chat reply (and when a call ends) a durable job reads the
//! conversation's new messages and asks the agent's language model for lasting facts about
//! the user, as structured output (the `record_facts` tool, or a bare JSON object).
//!
//! Extraction only adds. A fact that restates a current memory (same normalized text, or an
//! embedding closer than [`SAME_FACT_SIMILARITY`] when both have one) is skipped; a fact the
//! model marks as `replaces` of a current memory closes that memory (`valid_until`,
//! `superseded_by`) instead of changing or deleting it. The model's tokens are billed to the
//! wallet like any other LLM use (ledger reference: the conversation).
//!
//! The job is keyed by conversation and last message, and the conversation remembers how far
//! it was read (`memory_extracted_until`, advanced in the transaction that stores the facts),
//! so a job that runs twice finds nothing new the second time. Local engines (`commands`,
//! `echo`) do not understand language; when one of them is the agent's model or answers in
//! its place, nothing is extracted (and nothing billed).

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{model::Message, repo as chat_repo, service::DEFAULT_AGENT_ID};
use crate::{
    agents::Agent,
    error::{ApiError, ApiResult},
    jobs::{self, Job, JobError, JobResult, NewJob},
    memories::{
        model::{Memory, MemorySource, MemoryType, auto_extract},
        repo,
    },
    providers::llm::{ChatMessage, ToolCall, ToolSpec},
    state::AppState,
    wallet::{
        pricing::{self, LlmUsage},
        service as wallet,
    },
};

pub const JOB: &str = "memory.extract";

/// Messages read per job (the newest ones when more arrived since the last run).
const MAX_MESSAGES: i64 = 40;
/// Characters of one message shown to the model.
const MAX_MESSAGE_CHARS: usize = 2000;
/// Current memories shown to the model so it can skip and replace them by id.
const KNOWN_MEMORIES: i64 = 100;
const MAX_FACTS: usize = 10;
const MAX_FACT_CHARS: usize = 500;
/// Cosine similarity above which two memories say the same thing.
pub const SAME_FACT_SIMILARITY: f32 = 0.95;
/// Engines that are not language models: they cannot extract facts.
const LOCAL_ENGINES: &[&str] = &["commands", "echo"];

/// Queue extraction of a conversation's messages up to `last_message_id` (in the caller's
/// transaction, so it is queued exactly when the message commits), unless the server or the
/// user turned extraction off. Whether a job was queued.
pub async fn enqueue(
    state: &AppState,
    conn: &mut PgConnection,
    user_id: Uuid,
    conversation_id: Uuid,
    last_message_id: Uuid,
    agent_id: Option<Uuid>,
) -> ApiResult<bool> {
    if !state.settings.memory.extraction {
        return Ok(false);
    }
    let prefs = crate::users::repo::preferences(&mut *conn, user_id)
        .await?
        .unwrap_or(Value::Null);
    if !auto_extract(&prefs) {
        return Ok(false);
    }
    let job = NewJob::new(
        JOB,
        format!("{conversation_id}:{last_message_id}"),
        json!({"user_id": user_id, "conversation_id": conversation_id,
               "up_to": last_message_id, "agent_id": agent_id}),
    )
    .max_attempts(5);
    Ok(jobs::enqueue(&mut *conn, job).await?)
}

#[derive(Debug, Deserialize)]
struct Payload {
    user_id: Uuid,
    conversation_id: Uuid,
    up_to: Uuid,
    agent_id: Option<Uuid>,
}

/// A fact as the model proposes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Fact {
    pub content: String,
    #[serde(default)]
    pub memory_type: Option<MemoryType>,
    #[serde(default)]
    pub importance: Option<i16>,
    /// The id of a current memory this fact changes.
    #[serde(default)]
    pub replaces: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
struct Facts {
    #[serde(default)]
    facts: Vec<Value>,
}

fn record_facts_tool() -> ToolSpec {
    ToolSpec {
        name: "record_facts".into(),
        description: "Record the lasting facts about the user found in the new messages.".into(),
        parameters: json!({"type": "object", "properties": {"facts": {"type": "array", "items": {
            "type": "object", "properties": {
                "content": {"type": "string", "description": "One short sentence about the user."},
                "memory_type": {"type": "string", "enum": ["fact", "preference", "event", "person", "other"]},
                "importance": {"type": "integer", "minimum": 1, "maximum": 5},
                "replaces": {"type": "string", "description": "Id of a known memory this fact changes."}},
            "required": ["content"], "additionalProperties": false}}},
            "required": ["facts"], "additionalProperties": false}),
    }
}

/// The facts of the model's answer: the `record_facts` call, else a reply that is nothing
/// but a JSON object `{"facts": [...]}`. Anything else (prose, an echo) yields nothing.
pub fn read_facts(text: &str, calls: &[ToolCall]) -> Vec<Fact> {
    let parsed: Option<Facts> = match calls.iter().find(|c| c.name == "record_facts") {
        Some(c) => serde_json::from_str(&c.arguments).ok(),
        None => {
            let t = text.trim();
            let t = t
                .strip_prefix("```json")
                .or_else(|| t.strip_prefix("```"))
                .and_then(|t| t.strip_suffix("```"))
                .map_or(t, str::trim);
            (t.starts_with('{') && t.ends_with('}'))
                .then(|| serde_json::from_str(t).ok())
                .flatten()
        }
    };
    parsed
        .map(|f| f.facts)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Fact>(v).ok())
        .filter_map(|mut f| {
            f.content = f.content.split_whitespace().collect::<Vec<_>>().join(" ");
            let n = f.content.chars().count();
            (n > 0 && n <= MAX_FACT_CHARS).then_some(f)
        })
        .take(MAX_FACTS)
        .collect()
}

/// The text two restatements of one fact share: lower case, letters and digits, single
/// spaces ("The user's sister is Ana." = "the users sister is ana").
pub fn normalize(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn prompt(known: &[Memory], messages: &[Message]) -> (String, String) {
    let system = "You read the newest messages of a conversation between a user and their \
        assistant and pick out lasting facts about the user worth remembering in later \
        conversations: who they are, the people in their life, their preferences, plans and \
        important dates. Only what the user stated or confirmed, not the assistant's \
        suggestions, small talk or one-off requests. Write each fact as one short sentence \
        about the user (\"The user's sister is Ana.\"). Do not repeat a known memory. When a \
        new fact changes a known memory (the same subject with a new value), give that \
        memory's id as `replaces`. Answer by calling record_facts exactly once, with an empty \
        list when there is nothing lasting (or answer with only the JSON object \
        {\"facts\": [...]}).";
    let mut ask = String::from("Known memories:\n");
    if known.is_empty() {
        ask.push_str("(none)\n");
    }
    for m in known {
        ask.push_str(&format!(
            "- {} [{}] {}\n",
            m.id,
            m.memory_type.as_str(),
            m.content.replace('\n', " ")
        ));
    }
    ask.push_str("\nNew messages:\n");
    for m in messages {
        let text: String = m.content.chars().take(MAX_MESSAGE_CHARS).collect();
        ask.push_str(&format!(
            "{}: {}\n",
            m.role.as_str(),
            text.replace('\n', " ")
        ));
    }
    (system.to_string(), ask)
}

/// The job: read, ask, store. Provider failures retry with backoff.
pub async fn run(state: AppState, job: Job) -> JobResult {
    let p: Payload = serde_json::from_value(job.payload.clone()).map_err(JobError::fail)?;
    let db = &state.db;
    let prefs = crate::users::repo::preferences(db, p.user_id).await?;
    let Some(prefs) = prefs else {
        return Ok(()); // the user is gone
    };
    if !auto_extract(&prefs) {
        return Ok(());
    }
    let messages: Vec<Message> =
        chat_repo::unextracted_messages(db, p.user_id, p.conversation_id, p.up_to, MAX_MESSAGES)
            .await?
            .into_iter()
            .map(Message::try_from)
            .collect::<ApiResult<_>>()?;
    let Some(last) = messages.last().map(|m| m.created_at) else {
        return Ok(()); // read already (or the conversation is gone)
    };
    if !messages
        .iter()
        .any(|m| m.role == crate::chat::model::Role::User)
    {
        chat_repo::mark_extracted(db, p.user_id, p.conversation_id, last).await?;
        return Ok(());
    }
    let agent = agent_for(&state, p.user_id, p.agent_id).await?;
    if LOCAL_ENGINES.contains(&agent.llm.provider.as_str()) {
        chat_repo::mark_extracted(db, p.user_id, p.conversation_id, last).await?;
        return Ok(());
    }
    let known: Vec<Memory> = repo::current(db, p.user_id, KNOWN_MEMORIES)
        .await?
        .into_iter()
        .map(Memory::try_from)
        .collect::<ApiResult<_>>()?;
    let (system, ask) = prompt(&known, &messages);

    let needed = crate::chat::service::minimal_reply_cost(&state, &agent, &ask);
    let available = {
        let mut conn = db.acquire().await?;
        wallet::wallet(&mut conn, p.user_id)
            .await
            .map_err(ApiError::from)?
            .available
    };
    if available < needed {
        tracing::info!(user_id = %p.user_id, "memory extraction skipped: not enough credits");
        chat_repo::mark_extracted(db, p.user_id, p.conversation_id, last).await?;
        return Ok(());
    }

    let mut request = agent.llm_request(vec![ChatMessage::system(system), ChatMessage::user(ask)]);
    request.temperature = Some(0.0);
    request.tools = vec![record_facts_tool()];
    let llm = agent.llm_provider(&state.providers);
    let stream = llm
        .stream_chat(request)
        .await
        .map_err(|e| JobError::Retry(anyhow::anyhow!("extraction model: {e}")))?;
    if LOCAL_ENGINES.contains(&stream.provider()) {
        drop(stream);
        chat_repo::mark_extracted(db, p.user_id, p.conversation_id, last).await?;
        return Ok(());
    }
    let (text, done) = stream
        .collect()
        .await
        .map_err(|e| JobError::Retry(anyhow::anyhow!("extraction model: {e}")))?;
    let model = if done.model.is_empty() {
        agent.llm.model.clone().unwrap_or_default()
    } else {
        done.model.clone()
    };
    let usage = pricing::Usage {
        llm: vec![LlmUsage::new(
            model,
            u64::from(done.usage.input_tokens),
            u64::from(done.usage.output_tokens),
        )],
        ..Default::default()
    };
    let facts = read_facts(&text, &done.tool_calls);

    let mut tx = db.begin().await?;
    crate::chat::service::bill_llm(
        &state,
        &mut tx,
        p.user_id,
        &usage,
        "conversation",
        p.conversation_id,
        "Memory extraction",
    )
    .await?;
    let added = store_facts(&mut tx, p.user_id, &known, facts, p.up_to).await?;
    chat_repo::mark_extracted(&mut *tx, p.user_id, p.conversation_id, last).await?;
    tx.commit().await?;
    tracing::info!(user_id = %p.user_id, conversation_id = %p.conversation_id, added,
        input_tokens = done.usage.input_tokens, output_tokens = done.usage.output_tokens,
        "memory extraction finished");
    Ok(())
}

async fn agent_for(state: &AppState, user_id: Uuid, id: Option<Uuid>) -> ApiResult<Agent> {
    let svc = crate::agents::service::find;
    match id {
        Some(id) => match svc(&state.db, id, user_id).await {
            Err(ApiError::NotFound) => svc(&state.db, DEFAULT_AGENT_ID, user_id).await,
            other => other,
        },
        None => svc(&state.db, DEFAULT_AGENT_ID, user_id).await,
    }
}

/// Add the facts that are new, closing the memories they replace. How many were added.
async fn store_facts(
    tx: &mut PgConnection,
    user_id: Uuid,
    known: &[Memory],
    facts: Vec<Fact>,
    source_message: Uuid,
) -> ApiResult<usize> {
    let mut seen: HashSet<String> = known.iter().map(|m| normalize(&m.content)).collect();
    let current: HashSet<Uuid> = known.iter().map(|m| m.id).collect();
    let reference = source_message.to_string();
    let mut added = 0;
    for fact in facts {
        let norm = normalize(&fact.content);
        if norm.is_empty() || !seen.insert(norm) {
            continue;
        }
        let tags: Vec<String> = Vec::new();
        let memory: Memory = repo::insert(
            &mut *tx,
            repo::NewMemory {
                id: Uuid::now_v7(),
                user_id,
                memory_type: fact.memory_type.unwrap_or(MemoryType::Fact).as_str(),
                content: &fact.content,
                importance: fact.importance.unwrap_or(3).clamp(1, 5),
                tags: &tags,
                source: MemorySource::Extracted.as_str(),
                source_reference: Some(&reference),
            },
        )
        .await?
        .try_into()?;
        crate::events::publish(&mut *tx, user_id, "memory.created", &memory).await?;
        added += 1;
        let Some(old) = fact.replaces.filter(|id| current.contains(id)) else {
            continue;
        };
        if repo::supersede(&mut *tx, user_id, old, memory.id).await?
            && let Some(row) = repo::find(&mut *tx, user_id, old).await?
        {
            let closed = Memory::try_from(row)?;
            crate::events::publish(&mut *tx, user_id, "memory.updated", &closed).await?;
        }
    }
    Ok(added)
}
