//! The rules of chat: conversations are the user's own; a reply is two steps so every
//! transport (JSON, SSE, WebSocket) shares them:
//!
//! 1. [`accept_message`] validates, picks the agent, refuses with 402 when the wallet cannot
//!    cover a minimal reply, and stores the user's message (kept whatever happens next);
//! 2. [`reply`] builds the context, runs the assistant turn (tools, bounded steps), stores
//!    the assistant message with its tool calls and usage, and debits exactly one
//!    `chat_debit` for it, all in one transaction. A provider failure stores whatever was
//!    produced (if anything) and answers [`ApiError::Provider`].

use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    model::{
        Conversation, CreateConversation, Message, MessageUsage, PostMessage, Role,
        UpdateConversation,
    },
    repo,
};
use crate::{
    agents::Agent,
    assistant::{
        self, ContextOptions, ToolContext, TurnEvent, TurnOutput, TurnRequest, context::Citation,
        turn::MAX_STEPS,
    },
    error::{ApiError, ApiResult},
    events,
    http::{Page, Pagination, Validate},
    providers::{
        estimate_tokens,
        llm::{ChatMessage, Role as LlmRole},
    },
    rag::model::SourceType,
    state::AppState,
    tasks::model::TaskSource,
    wallet::{
        model::{EntryKind, Posting},
        pricing::{self, LlmUsage},
        service::{self as wallet, WalletError},
    },
};

/// The built-in assistant, used when neither the message nor the conversation names one.
pub const DEFAULT_AGENT_ID: Uuid = Uuid::from_u128(0x019a0000_0000_7000_8000_000000000001);

/// Messages of history loaded for the context (the token budget trims further).
const HISTORY_MESSAGES: i64 = 50;

/// The conversation's latest messages (all but `before`) as model history, oldest first.
pub(crate) async fn history(
    db: &PgPool,
    user_id: Uuid,
    conversation_id: Uuid,
    before: Uuid,
) -> ApiResult<Vec<ChatMessage>> {
    Ok(
        repo::recent_messages(db, user_id, conversation_id, before, HISTORY_MESSAGES)
            .await?
            .into_iter()
            .map(Message::try_from)
            .collect::<ApiResult<Vec<_>>>()?
            .iter()
            .filter_map(to_chat)
            .collect(),
    )
}

pub async fn usable_agent(db: &PgPool, user_id: Uuid, id: Uuid) -> ApiResult<Agent> {
    match crate::agents::service::find(db, id, user_id).await {
        Err(ApiError::NotFound) => Err(ApiError::validation(
            "agent_id",
            "is not an agent you can use",
        )),
        other => other,
    }
}

pub async fn create_conversation(
    db: &PgPool,
    user_id: Uuid,
    input: CreateConversation,
) -> ApiResult<Conversation> {
    input.validate().map_err(ApiError::Validation)?;
    if let Some(agent) = input.agent_id {
        usable_agent(db, user_id, agent).await?;
    }
    let mut tx = db.begin().await?;
    let title = input.title.as_deref().map(str::trim);
    let c =
        repo::insert_conversation(&mut *tx, Uuid::now_v7(), user_id, title, input.agent_id).await?;
    events::publish(&mut *tx, user_id, "conversation.created", &c).await?;
    tx.commit().await?;
    Ok(c)
}

pub async fn get_conversation(db: &PgPool, user_id: Uuid, id: Uuid) -> ApiResult<Conversation> {
    repo::find_conversation(db, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

pub async fn list_conversations(
    db: &PgPool,
    user_id: Uuid,
    page: Pagination,
) -> ApiResult<Page<Conversation>> {
    let cursor = page.cursor.map(|c| (c.created_at, c.id));
    let rows = repo::list_conversations(db, user_id, cursor, page.fetch()).await?;
    Ok(Page::from_rows(rows, &page, |c| (c.created_at, c.id)))
}

pub async fn update_conversation(
    db: &PgPool,
    user_id: Uuid,
    id: Uuid,
    input: UpdateConversation,
) -> ApiResult<Conversation> {
    input.validate().map_err(ApiError::Validation)?;
    let current = get_conversation(db, user_id, id).await?;
    let agent_id = input.agent_id.apply(current.agent_id);
    if let Some(agent) = agent_id.filter(|a| Some(*a) != current.agent_id) {
        usable_agent(db, user_id, agent).await?;
    }
    let title = input
        .title
        .apply(current.title)
        .map(|t| t.trim().to_string());
    let mut tx = db.begin().await?;
    let c = repo::update_conversation(&mut *tx, user_id, id, title.as_deref(), agent_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    events::publish(&mut *tx, user_id, "conversation.updated", &c).await?;
    tx.commit().await?;
    Ok(c)
}

pub async fn delete_conversation(db: &PgPool, user_id: Uuid, id: Uuid) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    if !repo::delete_conversation(&mut *tx, user_id, id).await? {
        return Err(ApiError::NotFound);
    }
    events::publish(
        &mut *tx,
        user_id,
        "conversation.deleted",
        &json!({"id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list_messages(
    db: &PgPool,
    user_id: Uuid,
    conversation_id: Uuid,
    page: Pagination,
) -> ApiResult<Page<Message>> {
    get_conversation(db, user_id, conversation_id).await?;
    let cursor = page.cursor.map(|c| (c.created_at, c.id));
    let rows = repo::list_messages(db, user_id, conversation_id, cursor, page.fetch()).await?;
    let messages = rows
        .into_iter()
        .map(Message::try_from)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Page::from_rows(messages, &page, |m| (m.created_at, m.id)))
}

/// A stored user message waiting for its reply.
pub struct Accepted {
    pub user_id: Uuid,
    pub conversation: Conversation,
    pub agent: Agent,
    pub user_message: Message,
}

/// The smallest bill a reply can make: the prompt and `content` in, one token out.
pub fn minimal_reply_cost(state: &AppState, agent: &Agent, content: &str) -> i64 {
    let input = estimate_tokens(&agent.system_prompt) + estimate_tokens(content);
    let usage = pricing::Usage {
        llm: vec![LlmUsage::new(
            agent.llm.model.clone().unwrap_or_default(),
            u64::from(input),
            1,
        )],
        ..Default::default()
    };
    pricing::cost(&state.settings.pricing, &usage)
        .total_credits
        .max(1)
}

/// Step 1 of a reply: check and store the user's message.
pub async fn accept_message(
    state: &AppState,
    user_id: Uuid,
    conversation_id: Uuid,
    input: PostMessage,
) -> ApiResult<Accepted> {
    let db = &state.db;
    let conversation = get_conversation(db, user_id, conversation_id).await?;
    input.validate().map_err(ApiError::Validation)?;
    let agent = match input.agent_id {
        Some(id) => usable_agent(db, user_id, id).await?,
        None => match conversation.agent_id {
            Some(id) => match crate::agents::service::find(db, id, user_id).await {
                Ok(a) => a,
                Err(ApiError::NotFound) => {
                    crate::agents::service::find(db, DEFAULT_AGENT_ID, user_id).await?
                }
                Err(e) => return Err(e),
            },
            None => crate::agents::service::find(db, DEFAULT_AGENT_ID, user_id).await?,
        },
    };
    let needed = minimal_reply_cost(state, &agent, &input.content);
    let mut tx = db.begin().await?;
    let available = wallet::wallet(&mut tx, user_id).await?.available;
    if available < needed {
        return Err(ApiError::InsufficientCredits(format!(
            "a reply needs at least {needed} credits, {available} available"
        )));
    }
    let row = repo::insert_message(
        &mut *tx,
        repo::NewMessage {
            id: Uuid::now_v7(),
            conversation_id,
            user_id,
            role: Role::User.as_str(),
            content: &input.content,
            agent_id: None,
            tool_calls: &json!([]),
            usage: None,
            metadata: None,
        },
    )
    .await?;
    let user_message = Message::try_from(row)?;
    let title: String = input.content.trim().chars().take(80).collect();
    let conversation = repo::touch_conversation(
        &mut *tx,
        user_id,
        conversation_id,
        user_message.created_at,
        Some(&title),
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    events::publish(&mut *tx, user_id, "message.created", &user_message).await?;
    events::publish(&mut *tx, user_id, "conversation.updated", &conversation).await?;
    tx.commit().await?;
    Ok(Accepted {
        user_id,
        conversation,
        agent,
        user_message,
    })
}

fn to_chat(m: &Message) -> Option<ChatMessage> {
    match m.role {
        Role::User => Some(ChatMessage::user(m.content.clone())),
        Role::Assistant if !m.content.is_empty() => Some(ChatMessage::assistant(m.content.clone())),
        _ => None,
    }
}

/// Step 2: run the agent and store its reply. `on_event` sees text deltas and tool calls as
/// they happen. Cancelling stores what was produced so far.
pub async fn reply(
    state: &AppState,
    accepted: &Accepted,
    cancel: &CancellationToken,
    on_event: impl FnMut(TurnEvent) + Send,
) -> ApiResult<Message> {
    let db = &state.db;
    let user_id = accepted.user_id;
    let agent = &accepted.agent;
    let history = history(
        db,
        user_id,
        accepted.conversation.id,
        accepted.user_message.id,
    )
    .await?;
    let opts = ContextOptions::default();
    // The context's memories, notes and tasks come from hybrid retrieval on the new message.
    let retrieved = crate::rag::service::retrieve(
        state,
        user_id,
        &accepted.user_message.content,
        opts.memories + opts.notes,
        &[SourceType::Memories, SourceType::Notes, SourceType::Tasks],
    )
    .await?;
    let (messages, citations) = assistant::context::build_with(
        db,
        agent,
        user_id,
        &history,
        &accepted.user_message.content,
        &opts,
        Some(&retrieved),
    )
    .await?;
    debug_assert!(messages.last().is_some_and(|m| m.role == LlmRole::User));
    let mut request = agent.llm_request(messages);
    request.tools = assistant::tool_specs(&agent.tools);
    let turn = TurnRequest {
        llm: agent.llm_provider(&state.providers),
        request,
        tools: ToolContext {
            user_id,
            source: TaskSource::Chat,
            source_reference: Some(accepted.conversation.id.to_string()),
            groups: agent.tools.clone(),
        },
        fallback_model: agent.llm.model.clone().unwrap_or_default(),
        max_steps: MAX_STEPS,
    };
    let out = assistant::run_turn(state, turn, cancel, on_event).await;
    let produced = !out.text.is_empty() || !out.tool_calls.is_empty();
    let stored = if out.error.is_none() || produced {
        Some(store_reply(state, accepted, &out, &citations).await?)
    } else {
        bill_failed(state, accepted, &out).await?;
        None
    };
    match (&out.error, stored) {
        (Some(e), _) => {
            tracing::warn!(error = %e, agent = %agent.id, "chat reply failed at the provider");
            Err(ApiError::Provider(
                "the language model provider failed; please try again".into(),
            ))
        }
        (None, Some(m)) => Ok(m),
        (None, None) => Err(ApiError::internal(anyhow::anyhow!("reply not stored"))),
    }
}

/// Debit `cost` credits (what the wallet still has when it cannot cover all of it: the
/// balance never goes negative). Returns what was charged.
async fn charge(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    cost: i64,
    reference_type: &str,
    reference_id: Uuid,
    description: &str,
) -> ApiResult<i64> {
    if cost <= 0 {
        return Ok(0);
    }
    let posting = |amount: i64| {
        Posting::new(EntryKind::ChatDebit, amount)
            .reference(reference_type, Some(reference_id))
            .description(description)
    };
    let charged = match wallet::debit(&mut *conn, user_id, posting(cost)).await {
        Ok(_) => cost,
        Err(WalletError::InsufficientCredits { available, .. }) if available > 0 => {
            wallet::debit(&mut *conn, user_id, posting(available)).await?;
            available
        }
        Err(WalletError::InsufficientCredits { .. }) => 0,
        Err(e) => return Err(e.into()),
    };
    Ok(charged)
}

/// Bill a reply in the caller's transaction; exposed for the goal planner.
pub async fn bill_llm(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    usage: &pricing::Usage,
    reference_type: &str,
    reference_id: Uuid,
    description: &str,
) -> ApiResult<i64> {
    let cost = pricing::cost(&state.settings.pricing, usage).total_credits;
    let charged = charge(
        &mut *conn,
        user_id,
        cost,
        reference_type,
        reference_id,
        description,
    )
    .await?;
    // `wallet.updated` is published by the ledger trigger in the same transaction.
    Ok(charged)
}

async fn store_reply(
    state: &AppState,
    accepted: &Accepted,
    out: &TurnOutput,
    citations: &[Citation],
) -> ApiResult<Message> {
    let user_id = accepted.user_id;
    let id = Uuid::now_v7();
    let mut tx = state.db.begin().await?;
    let cost = pricing::cost(&state.settings.pricing, &out.billing_usage()).total_credits;
    let credits = charge(&mut tx, user_id, cost, "message", id, "Chat reply").await?;
    let usage = MessageUsage {
        model: out.model.clone(),
        input_tokens: out.usage.input_tokens,
        output_tokens: out.usage.output_tokens,
        estimated: out.usage.estimated,
        credits,
    };
    let usage = serde_json::to_value(&usage).map_err(ApiError::internal)?;
    let calls: Value = serde_json::to_value(&out.tool_calls).map_err(ApiError::internal)?;
    let metadata = if citations.is_empty() {
        json!({})
    } else {
        json!({ "citations": citations })
    };
    let row = repo::insert_message(
        &mut *tx,
        repo::NewMessage {
            id,
            conversation_id: accepted.conversation.id,
            user_id,
            role: Role::Assistant.as_str(),
            content: &out.text,
            agent_id: Some(accepted.agent.id),
            tool_calls: &calls,
            usage: Some(&usage),
            metadata: Some(&metadata),
        },
    )
    .await?;
    let message = Message::try_from(row)?;
    let conversation = repo::touch_conversation(
        &mut *tx,
        user_id,
        accepted.conversation.id,
        message.created_at,
        None,
    )
    .await?;
    super::extract::enqueue(
        state,
        &mut tx,
        user_id,
        accepted.conversation.id,
        message.id,
        Some(accepted.agent.id),
    )
    .await?;
    events::publish(&mut *tx, user_id, "message.created", &message).await?;
    if let Some(c) = conversation {
        events::publish(&mut *tx, user_id, "conversation.updated", &c).await?;
    }
    tx.commit().await?;
    Ok(message)
}

/// A reply that produced nothing still pays for the tokens it used, referenced to the
/// user's message.
async fn bill_failed(state: &AppState, accepted: &Accepted, out: &TurnOutput) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    bill_llm(
        state,
        &mut tx,
        accepted.user_id,
        &out.billing_usage(),
        "message",
        accepted.user_message.id,
        "Chat reply (failed)",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
