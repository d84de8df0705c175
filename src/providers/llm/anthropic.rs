//! Anthropic Messages API streaming (`POST {base}/v1/messages`): `text` and `tool_use`
//! content blocks, `input_json_delta` fragments, usage from `message_start`/`message_delta`.

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

pub const DEFAULT_MODEL: &str = "claude-3-5-haiku-latest";
pub const API_VERSION: &str = "2023-06-01";

pub struct AnthropicLlm {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    default_model: String,
    timeouts: Timeouts,
}

impl AnthropicLlm {
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

/// Split our messages into Anthropic's `system` string and `messages` array: tool results
/// become `tool_result` blocks in a user turn, tool calls `tool_use` blocks, and consecutive
/// turns of the same role are merged (the API wants them alternating).
pub fn wire_messages(messages: &[ChatMessage]) -> (String, Vec<Value>) {
    let mut system = Vec::new();
    let mut out: Vec<(String, Vec<Value>)> = Vec::new();
    for m in messages {
        let (role, blocks) = match m.role {
            Role::System => {
                system.push(m.content.clone());
                continue;
            }
            Role::User => ("user", vec![json!({"type": "text", "text": m.content})]),
            Role::Tool => (
                "user",
                vec![json!({"type": "tool_result",
                    "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                    "content": m.content})],
            ),
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": m.content}));
                }
                for c in &m.tool_calls {
                    let input: Value =
                        serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
                    blocks.push(
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                    );
                }
                ("assistant", blocks)
            }
        };
        match out.last_mut() {
            Some((r, b)) if r == role => b.extend(blocks),
            _ => out.push((role.to_string(), blocks)),
        }
    }
    let msgs = out
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    (system.join("\n\n"), msgs)
}

#[async_trait]
impl LlmProvider for AnthropicLlm {
    fn name(&self) -> &str {
        "anthropic"
    }

    async fn stream_chat(&self, req: LlmRequest) -> Result<LlmStream, ProviderError> {
        let model = req
            .model
            .clone()
            .unwrap_or_else(|| self.default_model.clone());
        let (system, messages) = wire_messages(&req.messages);
        let mut body = json!({
            "model": model,
            "max_tokens": req.max_tokens.unwrap_or(1024),
            "messages": messages,
            "stream": true,
        });
        if !system.is_empty() {
            body["system"] = json!(system);
        }
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
                .collect();
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t.min(1.0));
        }
        let request = self
            .http
            .post(join_url(&self.base_url, "v1/messages"))
            .header("x-api-key", self.api_key.expose_secret())
            .header("anthropic-version", API_VERSION)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body);
        let timeouts = self.timeouts;
        let mut req = req;
        req.model = Some(model);
        LlmStream::spawn(
            "anthropic",
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
    let mut usage = Usage::default();
    let mut finish = FinishReason::Stop;
    // Content block index → tool call index (text blocks are not tool calls).
    let mut tool_index: std::collections::HashMap<u64, usize> = Default::default();
    let mut first = true;
    loop {
        let chunk = if first {
            first = false;
            first_byte(&timeouts, next_chunk(&mut resp, timeouts.first_byte)).await?
        } else {
            next_chunk(&mut resp, timeouts.idle).await?
        };
        let Some(chunk) = chunk else {
            return Err(ProviderError::Upstream(
                "the stream ended before message_stop".into(),
            ));
        };
        for ev in parser.push(&chunk) {
            let v: Value = serde_json::from_str(&ev.data).map_err(|e| {
                ProviderError::bad_response(format!("invalid JSON in the stream: {e}"))
            })?;
            let kind = v
                .get("type")
                .and_then(Value::as_str)
                .or(ev.event.as_deref())
                .unwrap_or("");
            match kind {
                "message_start" => {
                    let m = &v["message"];
                    if let Some(model) = m.get("model").and_then(Value::as_str) {
                        sink.state().set_model(model);
                    }
                    usage.input_tokens = m["usage"]["input_tokens"].as_u64().unwrap_or(0) as u32;
                    usage.output_tokens = m["usage"]["output_tokens"].as_u64().unwrap_or(0) as u32;
                }
                "content_block_start" => {
                    let block = &v["content_block"];
                    if block["type"] == "tool_use" {
                        let index = tool_index.len();
                        tool_index.insert(v["index"].as_u64().unwrap_or(0), index);
                        let ev = LlmEvent::ToolCallDelta {
                            index,
                            id: block["id"].as_str().map(String::from),
                            name: Some(
                                block["name"]
                                    .as_str()
                                    .ok_or_else(|| {
                                        ProviderError::bad_response("tool_use without a name")
                                    })?
                                    .to_string(),
                            ),
                            arguments: String::new(),
                        };
                        if !sink.send(ev).await {
                            return Ok(());
                        }
                    } else if let Some(text) = block.get("text").and_then(Value::as_str)
                        && !text.is_empty()
                        && !sink.send(LlmEvent::Text(text.to_string())).await
                    {
                        return Ok(());
                    }
                }
                "content_block_delta" => {
                    let delta = &v["delta"];
                    let ev = match delta["type"].as_str() {
                        Some("text_delta") => match delta["text"].as_str() {
                            Some(t) if !t.is_empty() => LlmEvent::Text(t.to_string()),
                            _ => continue,
                        },
                        Some("input_json_delta") => {
                            let block = v["index"].as_u64().unwrap_or(0);
                            let index = *tool_index.get(&block).ok_or_else(|| {
                                ProviderError::bad_response("input_json_delta for an unknown block")
                            })?;
                            LlmEvent::ToolCallDelta {
                                index,
                                id: None,
                                name: None,
                                arguments: delta["partial_json"].as_str().unwrap_or("").to_string(),
                            }
                        }
                        _ => continue,
                    };
                    if !sink.send(ev).await {
                        return Ok(());
                    }
                }
                "message_delta" => {
                    if let Some(out) = v["usage"]["output_tokens"].as_u64() {
                        usage.output_tokens = out as u32;
                    }
                    if let Some(inp) = v["usage"]["input_tokens"].as_u64() {
                        usage.input_tokens = inp as u32;
                    }
                    sink.state().set_usage(usage);
                    if let Some(reason) = v["delta"]["stop_reason"].as_str() {
                        finish = match reason {
                            "end_turn" | "stop_sequence" => FinishReason::Stop,
                            "tool_use" => FinishReason::ToolCalls,
                            "max_tokens" => FinishReason::Length,
                            _ => FinishReason::Other,
                        };
                    }
                }
                "message_stop" => {
                    let done = sink.state().done(finish);
                    sink.send(done).await;
                    return Ok(());
                }
                "error" => {
                    let e = &v["error"];
                    let msg = format!(
                        "{}: {}",
                        e["type"].as_str().unwrap_or("error"),
                        e["message"].as_str().unwrap_or("")
                    );
                    return Err(match e["type"].as_str() {
                        Some("rate_limit_error") => {
                            ProviderError::RateLimited { retry_after: None }
                        }
                        Some("authentication_error" | "permission_error") => {
                            ProviderError::Auth(msg)
                        }
                        _ => ProviderError::Upstream(msg),
                    });
                }
                "ping" | "content_block_stop" => {}
                _ => {}
            }
        }
    }
}
