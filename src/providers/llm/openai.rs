//! OpenAI-compatible chat completions (`POST {base}/chat/completions`, SSE) with tools and
//! `stream_options.include_usage`. Works with OpenAI, OpenRouter, Groq, Ollama, vLLM, …

use std::collections::HashMap;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{
    ChatMessage, FinishReason, LlmEvent, LlmProvider, LlmRequest, LlmSink, LlmStream, Role, Usage,
};
use crate::providers::{
    ProviderError, Timeouts, error_from_response, first_byte, join_url, next_chunk, sse::SseParser,
    transport_error,
};

pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

pub struct OpenAiLlm {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    default_model: String,
    timeouts: Timeouts,
}

impl OpenAiLlm {
    pub fn new(
        base_url: &str,
        api_key: SecretString,
        default_model: &str,
        timeouts: Timeouts,
    ) -> Self {
        Self {
            http: crate::providers::http_client(&timeouts),
            base_url: base_url.to_string(),
            api_key,
            default_model: default_model.to_string(),
            timeouts,
        }
    }
}

/// Our messages in OpenAI's shape.
pub fn wire_messages(messages: &[ChatMessage]) -> Vec<Value> {
    messages
        .iter()
        .map(|m| match m.role {
            Role::Tool => json!({
                "role": "tool",
                "tool_call_id": m.tool_call_id.clone().unwrap_or_default(),
                "content": m.content,
            }),
            Role::Assistant if !m.tool_calls.is_empty() => json!({
                "role": "assistant",
                "content": if m.content.is_empty() { Value::Null } else { Value::String(m.content.clone()) },
                "tool_calls": m.tool_calls.iter().map(|c| json!({
                    "id": c.id, "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                })).collect::<Vec<_>>(),
            }),
            role => json!({
                "role": match role { Role::System => "system", Role::User => "user", _ => "assistant" },
                "content": m.content,
            }),
        })
        .collect()
}

#[async_trait]
impl LlmProvider for OpenAiLlm {
    fn name(&self) -> &str {
        "openai"
    }

    async fn stream_chat(&self, req: LlmRequest) -> Result<LlmStream, ProviderError> {
        let model = req
            .model
            .clone()
            .unwrap_or_else(|| self.default_model.clone());
        let mut body = json!({
            "model": model,
            "messages": wire_messages(&req.messages),
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters}})
                })
                .collect();
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(m) = req.max_tokens {
            body["max_tokens"] = json!(m);
        }
        let request = self
            .http
            .post(join_url(&self.base_url, "chat/completions"))
            .bearer_auth(self.api_key.expose_secret())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body);
        let timeouts = self.timeouts;
        let mut req = req;
        req.model = Some(model);
        LlmStream::spawn(
            "openai",
            &req,
            timeouts.first_byte,
            move |sink| async move {
                if let Err(e) = run(request, timeouts, &sink).await {
                    sink.fail(e).await;
                }
            },
        )
        .await
    }
}

async fn run(
    request: reqwest::RequestBuilder,
    timeouts: Timeouts,
    sink: &LlmSink,
) -> Result<(), ProviderError> {
    let mut resp = first_byte(&timeouts, async {
        request.send().await.map_err(transport_error)
    })
    .await?;
    if !resp.status().is_success() {
        return Err(error_from_response(resp).await);
    }
    let mut parser = SseParser::default();
    let mut finish: Option<FinishReason> = None;
    // Tool calls seen per index; the id/name are reported once.
    let mut announced: HashMap<usize, bool> = HashMap::new();
    let mut first = true;
    loop {
        let chunk = if first {
            first = false;
            first_byte(&timeouts, next_chunk(&mut resp, timeouts.first_byte)).await?
        } else {
            next_chunk(&mut resp, timeouts.idle).await?
        };
        let Some(chunk) = chunk else {
            // Some servers close without [DONE]; accept it when the reply had finished.
            if let Some(ev) = parser.finish()
                && ev.data.trim() == "[DONE]"
            {
                break;
            }
            if finish.is_some() {
                break;
            }
            return Err(ProviderError::Upstream(
                "the stream ended before the reply finished".into(),
            ));
        };
        for ev in parser.push(&chunk) {
            let data = ev.data.trim();
            if data == "[DONE]" {
                let reason = finish.unwrap_or(FinishReason::Stop);
                let done = sink.state().done(reason);
                sink.send(done).await;
                return Ok(());
            }
            let v: Value = serde_json::from_str(data).map_err(|e| {
                ProviderError::bad_response(format!("invalid JSON in the stream: {e}"))
            })?;
            if let Some(err) = v.get("error") {
                return Err(ProviderError::Upstream(format!("error event: {err}")));
            }
            if let Some(m) = v.get("model").and_then(Value::as_str) {
                sink.state().set_model(m);
            }
            if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
                let usage = Usage {
                    input_tokens: u["prompt_tokens"].as_u64().unwrap_or(0) as u32,
                    output_tokens: u["completion_tokens"].as_u64().unwrap_or(0) as u32,
                    estimated: false,
                };
                sink.state().set_usage(usage);
            }
            let Some(choices) = v.get("choices").and_then(Value::as_array) else {
                if v.get("usage").is_some() {
                    continue;
                }
                return Err(ProviderError::bad_response("a chunk without choices"));
            };
            for choice in choices {
                let delta = &choice["delta"];
                if let Some(text) = delta.get("content").and_then(Value::as_str)
                    && !text.is_empty()
                    && !sink.send(LlmEvent::Text(text.to_string())).await
                {
                    return Ok(());
                }
                if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                    for (pos, call) in calls.iter().enumerate() {
                        // Some OpenAI-compatible servers leave out `index`: use the position.
                        let index = call["index"].as_u64().unwrap_or(pos as u64) as usize;
                        let is_new = !announced.contains_key(&index);
                        announced.insert(index, true);
                        let id = call.get("id").and_then(Value::as_str).map(String::from);
                        let name = call["function"]
                            .get("name")
                            .and_then(Value::as_str)
                            .map(String::from);
                        let arguments = call["function"]
                            .get("arguments")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        if is_new && name.is_none() {
                            return Err(ProviderError::bad_response(
                                "a tool call started without a function name",
                            ));
                        }
                        let ev = LlmEvent::ToolCallDelta {
                            index,
                            id,
                            name,
                            arguments,
                        };
                        if !sink.send(ev).await {
                            return Ok(());
                        }
                    }
                }
                if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                    finish = Some(match reason {
                        "stop" => FinishReason::Stop,
                        "tool_calls" | "function_call" => FinishReason::ToolCalls,
                        "length" => FinishReason::Length,
                        _ => FinishReason::Other,
                    });
                }
            }
        }
    }
    let reason = finish.unwrap_or(FinishReason::Stop);
    let done = sink.state().done(reason);
    sink.send(done).await;
    Ok(())
}
