//! Streaming chat completions with tools.

pub mod anthropic;
pub mod commands;
pub mod echo;
pub mod openai;
pub mod prompt;

use std::{
    collections::BTreeMap,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use async_trait::async_trait;
use futures::Stream;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use super::{AbortOnDrop, ProviderError, Stage, estimate_tokens};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// A complete tool call the model asked for. `arguments` is the JSON text the model wrote
/// (it may be invalid JSON; the caller validates it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// Assistant messages: the tool calls it made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Tool messages: which call this is the result of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
    pub fn assistant_tool_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls: calls,
            ..Self::new(Role::Assistant, content)
        }
    }
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }
    fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A tool the model may call: a name, what it does, and a JSON Schema for its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmRequest {
    /// `None`: the provider's default model.
    pub model: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSpec>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

impl LlmRequest {
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            model: None,
            messages,
            tools: Vec::new(),
            temperature: None,
            max_tokens: None,
        }
    }

    /// Estimated prompt tokens (messages and tool schemas), for usage when the vendor's
    /// usage never arrived.
    pub fn estimate_input_tokens(&self) -> u32 {
        let msgs: u32 = self
            .messages
            .iter()
            .map(|m| {
                4 + estimate_tokens(&m.content)
                    + m.tool_calls
                        .iter()
                        .map(|c| estimate_tokens(&c.name) + estimate_tokens(&c.arguments))
                        .sum::<u32>()
            })
            .sum();
        let tools: u32 = self
            .tools
            .iter()
            .map(|t| {
                estimate_tokens(&t.name)
                    + estimate_tokens(&t.description)
                    + estimate_tokens(&t.parameters.to_string())
            })
            .sum();
        msgs + tools
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// True when counted locally because the vendor's usage never arrived (cancelled
    /// stream, engine without usage).
    pub estimated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    ToolCalls,
    Length,
    Other,
}

/// The end of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmDone {
    pub finish_reason: FinishReason,
    /// Every tool call, assembled from its deltas, in index order.
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    /// The model that answered (as the vendor named it).
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmEvent {
    /// A piece of the assistant's text (never empty from the cloud clients).
    Text(String),
    /// A piece of tool call `index`: `id` and `name` come with its first piece, `arguments`
    /// is the next fragment of the JSON text.
    ToolCallDelta {
        index: usize,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    /// The last event of a successful reply.
    Done(LlmDone),
}

#[async_trait]
pub trait LlmProvider: Send + Sync {
    /// Catalog name (`openai`, `anthropic`, `echo`, …).
    fn name(&self) -> &str;

    /// Start a streamed completion. Resolves once the first event arrived, so an error
    /// here happened before the first byte (a fallback may try another provider).
    async fn stream_chat(&self, req: LlmRequest) -> Result<LlmStream, ProviderError>;
}

/// Assembles tool-call deltas per index and accumulates text, for usage estimates and the
/// final [`LlmDone`].
#[derive(Debug, Default)]
pub struct ReplyState {
    pub text: String,
    calls: BTreeMap<usize, ToolCall>,
    input_estimate: u32,
    usage: Option<Usage>,
    model: String,
}

impl ReplyState {
    pub fn observe(&mut self, ev: &LlmEvent) {
        match ev {
            LlmEvent::Text(t) => self.text.push_str(t),
            LlmEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => {
                let call = self.calls.entry(*index).or_insert_with(|| ToolCall {
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                });
                if let Some(id) = id {
                    call.id = id.clone();
                }
                if let Some(name) = name {
                    call.name.push_str(name);
                }
                call.arguments.push_str(arguments);
            }
            LlmEvent::Done(done) => self.usage = Some(done.usage),
        }
    }

    pub fn set_usage(&mut self, usage: Usage) {
        self.usage = Some(usage);
    }

    pub fn set_model(&mut self, model: &str) {
        if !model.is_empty() {
            self.model = model.to_string();
        }
    }

    /// The tool calls assembled so far, in index order (calls without an id get one).
    pub fn tool_calls(&self) -> Vec<ToolCall> {
        self.calls
            .iter()
            .map(|(i, c)| ToolCall {
                id: if c.id.is_empty() {
                    format!("call_{i}")
                } else {
                    c.id.clone()
                },
                ..c.clone()
            })
            .collect()
    }

    /// The vendor's usage if it came, else an estimate from what was sent and received.
    pub fn usage(&self) -> Usage {
        self.usage.unwrap_or_else(|| self.estimate())
    }

    pub fn estimate(&self) -> Usage {
        let out = estimate_tokens(&self.text)
            + self
                .calls
                .values()
                .map(|c| estimate_tokens(&c.name) + estimate_tokens(&c.arguments))
                .sum::<u32>();
        Usage {
            input_tokens: self.input_estimate,
            output_tokens: out,
            estimated: true,
        }
    }

    /// The final event for a reply that ended with `finish_reason`; uses the vendor's
    /// usage when it came.
    pub fn done(&self, finish_reason: FinishReason) -> LlmEvent {
        LlmEvent::Done(LlmDone {
            finish_reason,
            tool_calls: self.tool_calls(),
            usage: self.usage(),
            model: self.model.clone(),
        })
    }
}

type Item = Result<LlmEvent, ProviderError>;

/// A streamed reply. Yields [`LlmEvent`]s; an `Err` item ends the stream. Dropping it (or
/// [`LlmStream::cancel`]) aborts the producer task and with it the HTTP request.
pub struct LlmStream {
    provider: String,
    first: Option<Item>,
    rx: mpsc::Receiver<Item>,
    state: Arc<Mutex<ReplyState>>,
    finished: bool,
    _task: AbortOnDrop,
}

/// The producer side handed to a provider's task.
pub struct LlmSink {
    tx: mpsc::Sender<Item>,
    state: Arc<Mutex<ReplyState>>,
}

impl LlmSink {
    /// Send an event; `false` when the consumer is gone (stop producing).
    pub async fn send(&self, ev: LlmEvent) -> bool {
        self.state.lock().observe(&ev);
        self.tx.send(Ok(ev)).await.is_ok()
    }

    pub async fn fail(&self, e: ProviderError) {
        let _ = self.tx.send(Err(e)).await;
    }

    pub fn state(&self) -> parking_lot::MutexGuard<'_, ReplyState> {
        self.state.lock()
    }
}

impl LlmStream {
    /// Spawn `produce` as the stream's producer and wait (under the first-byte timeout) for
    /// its first event: an error before it is returned as the start call's error.
    pub async fn spawn<F, Fut>(
        provider: &str,
        req: &LlmRequest,
        first_byte_timeout: std::time::Duration,
        produce: F,
    ) -> Result<Self, ProviderError>
    where
        F: FnOnce(LlmSink) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel(64);
        let state = Arc::new(Mutex::new(ReplyState {
            input_estimate: req.estimate_input_tokens(),
            model: req.model.clone().unwrap_or_default(),
            ..Default::default()
        }));
        let sink = LlmSink {
            tx,
            state: state.clone(),
        };
        let started = std::time::Instant::now();
        super::metrics::request(Stage::Llm, provider);
        let task = AbortOnDrop(tokio::spawn(produce(sink)).abort_handle());
        let first = match tokio::time::timeout(first_byte_timeout, rx.recv()).await {
            Ok(Some(Ok(ev))) => ev,
            Ok(Some(Err(e))) => {
                super::metrics::error(Stage::Llm, provider, &e);
                return Err(e);
            }
            Ok(None) => {
                let e = ProviderError::Upstream("the stream ended before any event".into());
                super::metrics::error(Stage::Llm, provider, &e);
                return Err(e);
            }
            Err(_) => {
                let e = ProviderError::Timeout("no answer before the first-byte timeout".into());
                super::metrics::error(Stage::Llm, provider, &e);
                return Err(e);
            }
        };
        super::metrics::first_byte(Stage::Llm, provider, started.elapsed());
        Ok(Self {
            provider: provider.to_string(),
            first: Some(Ok(first)),
            rx,
            state,
            finished: false,
            _task: task,
        })
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// Usage so far: the vendor's when it arrived, else estimated (`estimated: true`) from
    /// the prompt and what was received. Call before dropping a cancelled stream to bill it.
    pub fn usage(&self) -> Usage {
        self.state.lock().usage()
    }

    /// The text received so far.
    pub fn text(&self) -> String {
        self.state.lock().text.clone()
    }

    /// Stop now (the HTTP request is cancelled) and return the usage to bill.
    pub fn cancel(self) -> Usage {
        self.usage()
    }

    /// Read the whole reply: its text and its `Done`.
    pub async fn collect(mut self) -> Result<(String, LlmDone), ProviderError> {
        use futures::StreamExt;
        let mut text = String::new();
        while let Some(item) = self.next().await {
            match item? {
                LlmEvent::Text(t) => text.push_str(&t),
                LlmEvent::ToolCallDelta { .. } => {}
                LlmEvent::Done(done) => return Ok((text, done)),
            }
        }
        Err(ProviderError::Upstream(
            "the stream ended without finishing".into(),
        ))
    }
}

impl Stream for LlmStream {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if let Some(first) = self.first.take() {
            if matches!(first, Ok(LlmEvent::Done(_)) | Err(_)) {
                self.finished = true;
            }
            return Poll::Ready(Some(first));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(item)) => {
                match &item {
                    Ok(LlmEvent::Done(_)) => self.finished = true,
                    Err(e) => {
                        super::metrics::error(Stage::Llm, &self.provider, e);
                        self.finished = true;
                    }
                    _ => {}
                }
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(Some(Err(ProviderError::Upstream(
                    "the stream ended without finishing".into(),
                ))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
