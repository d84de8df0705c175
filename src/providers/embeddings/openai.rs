//! OpenAI-compatible embeddings (`POST {base}/embeddings` with `dimensions`). Works with
//! OpenAI and the servers that copy its API (the simulator serves it too).

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::{EmbeddingsProvider, normalized};
use crate::providers::{
    ProviderError, Timeouts, error_from_response, first_byte, join_url, transport_error,
};

/// Texts per request (OpenAI accepts up to 2048; smaller batches fail smaller).
const BATCH: usize = 64;

pub struct OpenAiEmbeddings {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    model: String,
    dims: u32,
    timeouts: Timeouts,
}

impl OpenAiEmbeddings {
    pub fn new(
        base_url: &str,
        api_key: SecretString,
        model: &str,
        dims: u32,
        timeouts: Timeouts,
    ) -> Self {
        Self {
            http: crate::providers::http_client(&timeouts),
            base_url: base_url.to_string(),
            api_key,
            model: model.to_string(),
            dims: dims.clamp(1, 4096),
            timeouts,
        }
    }

    async fn batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        #[derive(Deserialize)]
        struct Item {
            index: usize,
            embedding: Vec<f32>,
        }
        #[derive(Deserialize)]
        struct Answer {
            data: Vec<Item>,
        }
        let request = self
            .http
            .post(join_url(&self.base_url, "embeddings"))
            .bearer_auth(self.api_key.expose_secret())
            .json(&json!({"model": self.model, "input": texts, "dimensions": self.dims}));
        let resp = first_byte(&self.timeouts, async {
            request.send().await.map_err(transport_error)
        })
        .await?;
        if !resp.status().is_success() {
            return Err(error_from_response(resp).await);
        }
        let body = tokio::time::timeout(self.timeouts.idle, resp.bytes())
            .await
            .map_err(|_| ProviderError::Timeout("the embeddings answer stalled".into()))?
            .map_err(transport_error)?;
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| ProviderError::BadResponse(format!("embeddings: {e}")))?;
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for item in answer.data {
            if item.embedding.len() != self.dims as usize {
                return Err(ProviderError::BadResponse(format!(
                    "embedding of {} dimensions, asked for {}",
                    item.embedding.len(),
                    self.dims
                )));
            }
            if let Some(slot) = out.get_mut(item.index) {
                *slot = Some(normalized(item.embedding));
            }
        }
        out.into_iter()
            .map(|v| {
                v.ok_or_else(|| ProviderError::BadResponse("an input got no embedding".into()))
            })
            .collect()
    }
}

#[async_trait]
impl EmbeddingsProvider for OpenAiEmbeddings {
    fn name(&self) -> &str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn dims(&self) -> u32 {
        self.dims
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            out.extend(self.batch(chunk).await?);
        }
        Ok(out)
    }
}
