//! `echo`: a local language model for development and benchmarks only. It answers with
//! what the user said last, streamed word by word, and never calls tools.

use async_trait::async_trait;

use super::{FinishReason, LlmEvent, LlmProvider, LlmRequest, LlmStream, Role, Usage};
use crate::providers::{ProviderError, estimate_tokens};

pub const MODEL: &str = "echo-1";

#[derive(Debug, Default)]
pub struct EchoLlm;

/// The reply `echo` gives to a conversation.
pub fn reply_for(req: &LlmRequest) -> String {
    let heard = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.content.trim().to_string())
        .unwrap_or_default();
    if heard.is_empty() {
        "I did not hear anything.".to_string()
    } else {
        format!("You said: {heard}")
    }
}

#[async_trait]
impl LlmProvider for EchoLlm {
    fn name(&self) -> &str {
        "echo"
    }

    async fn stream_chat(&self, req: LlmRequest) -> Result<LlmStream, ProviderError> {
        let reply = reply_for(&req);
        let input = req.estimate_input_tokens();
        let mut req = req;
        req.model = Some(MODEL.to_string());
        LlmStream::spawn(
            "echo",
            &req,
            std::time::Duration::from_secs(5),
            move |sink| async move {
                for word in reply.split_inclusive(' ') {
                    if !sink.send(LlmEvent::Text(word.to_string())).await {
                        return;
                    }
                    tokio::task::yield_now().await;
                }
                // A local engine's own count: exact for what it produced, so not "estimated".
                sink.state().set_usage(Usage {
                    input_tokens: input,
                    output_tokens: estimate_tokens(&reply),
                    estimated: false,
                });
                let done = sink.state().done(FinishReason::Stop);
                sink.send(done).await;
            },
        )
        .await
    }
}
