//! One assistant turn: stream the model's reply, execute the tool calls it makes, feed the
//! results back and ask again, at most [`MAX_STEPS`] model calls. Text deltas and executed
//! calls are reported to a callback as they happen. The output always carries what was
//! produced and used, also when the provider failed or the turn was cancelled (then the
//! usage of the interrupted call is estimated).

use std::sync::Arc;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::tools::{self, ToolContext, ToolOutcome};
use crate::{
    providers::{
        LlmProvider, ProviderError,
        llm::{ChatMessage, LlmEvent, LlmRequest, Usage},
    },
    wallet::pricing::{self, LlmUsage},
};

/// Model calls per turn; the last one is made without tools so it answers in text.
pub const MAX_STEPS: usize = 5;

/// What a turn reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// A piece of the assistant's text.
    Delta(String),
    /// A tool call was executed.
    ToolCall(ToolOutcome),
}

pub struct TurnRequest {
    pub llm: Arc<dyn LlmProvider>,
    /// Messages (see [`super::context::build`]), tools and sampling settings.
    pub request: LlmRequest,
    /// Who the tools act for.
    pub tools: ToolContext,
    /// The model to bill when the vendor did not name one (a cancelled call).
    pub fallback_model: String,
    pub max_steps: usize,
}

#[derive(Debug, Default)]
pub struct TurnOutput {
    /// Every text delta, concatenated.
    pub text: String,
    pub tool_calls: Vec<ToolOutcome>,
    /// Tokens per model, summed over the steps.
    pub llm: Vec<LlmUsage>,
    /// Tokens over all steps (`estimated` when any step's were).
    pub usage: Usage,
    /// The model that answered last.
    pub model: String,
    pub steps: usize,
    pub cancelled: bool,
    /// The provider failed (what came before is kept above).
    pub error: Option<ProviderError>,
}

impl TurnOutput {
    fn add_usage(&mut self, model: &str, u: Usage) {
        self.usage.input_tokens += u.input_tokens;
        self.usage.output_tokens += u.output_tokens;
        self.usage.estimated |= u.estimated;
        self.model = model.to_string();
        match self.llm.iter_mut().find(|l| l.model == model) {
            Some(l) => {
                l.input_tokens += u64::from(u.input_tokens);
                l.output_tokens += u64::from(u.output_tokens);
            }
            None => self.llm.push(LlmUsage::new(
                model,
                u64::from(u.input_tokens),
                u64::from(u.output_tokens),
            )),
        }
    }

    /// The usage in the wallet's terms, for [`pricing::cost`].
    pub fn billing_usage(&self) -> pricing::Usage {
        pricing::Usage {
            llm: self.llm.clone(),
            ..Default::default()
        }
    }

    fn push_text(&mut self, t: &str, on_event: &mut impl FnMut(TurnEvent)) {
        if t.is_empty() {
            return;
        }
        self.text.push_str(t);
        on_event(TurnEvent::Delta(t.to_string()));
    }
}

/// Run one turn. Cancelling `cancel` stops the model call in flight (the HTTP request is
/// dropped) and returns with `cancelled: true`; a tool call that already started finishes.
pub async fn run_turn(
    state: &crate::state::AppState,
    req: TurnRequest,
    cancel: &CancellationToken,
    mut on_event: impl FnMut(TurnEvent) + Send,
) -> TurnOutput {
    let mut out = TurnOutput::default();
    let mut request = req.request;
    let max_steps = req.max_steps.clamp(1, 20);
    for step in 0..max_steps {
        if cancel.is_cancelled() {
            out.cancelled = true;
            break;
        }
        if step + 1 == max_steps {
            request.tools.clear();
        }
        out.steps = step + 1;
        let started = tokio::select! {
            r = req.llm.stream_chat(request.clone()) => r,
            _ = cancel.cancelled() => {
                out.cancelled = true;
                let estimate = request.estimate_input_tokens();
                out.add_usage(&req.fallback_model, Usage { input_tokens: estimate, output_tokens: 0, estimated: true });
                break;
            }
        };
        let mut stream = match started {
            Ok(s) => s,
            Err(e) => {
                out.error = Some(e);
                break;
            }
        };
        // Separate the text of consecutive steps.
        let mut step_text = String::new();
        let mut needs_break = !out.text.is_empty() && !out.text.ends_with(char::is_whitespace);
        let done = loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = cancel.cancelled() => {
                    out.cancelled = true;
                    break None;
                }
            };
            match item {
                Some(Ok(LlmEvent::Text(t))) => {
                    if needs_break && !t.is_empty() {
                        out.push_text("\n\n", &mut on_event);
                        needs_break = false;
                    }
                    step_text.push_str(&t);
                    out.push_text(&t, &mut on_event);
                }
                Some(Ok(LlmEvent::ToolCallDelta { .. })) => {}
                Some(Ok(LlmEvent::Done(done))) => break Some(done),
                Some(Err(e)) => {
                    out.error = Some(e);
                    break None;
                }
                None => {
                    out.error = Some(ProviderError::Upstream(
                        "the stream ended without finishing".into(),
                    ));
                    break None;
                }
            }
        };
        let Some(done) = done else {
            let usage = stream.usage();
            drop(stream);
            out.add_usage(&req.fallback_model, usage);
            break;
        };
        let model = if done.model.is_empty() {
            req.fallback_model.as_str()
        } else {
            done.model.as_str()
        };
        out.add_usage(model, done.usage);
        if done.tool_calls.is_empty() {
            break;
        }
        request.messages.push(ChatMessage::assistant_tool_calls(
            step_text,
            done.tool_calls.clone(),
        ));
        for call in &done.tool_calls {
            let outcome = tools::execute(state, &req.tools, call).await;
            request.messages.push(ChatMessage::tool_result(
                call.id.clone(),
                outcome.result.to_string(),
            ));
            on_event(TurnEvent::ToolCall(outcome.clone()));
            out.tool_calls.push(outcome);
        }
    }
    out
}
