//! Text embeddings for retrieval: one small trait beside STT, LLM and TTS. Every vector is
//! stored with the model and dimensions that made it, so a model change re-embeds instead of
//! comparing vectors of different spaces.

pub mod openai;

use std::sync::Arc;

use async_trait::async_trait;

use super::{ProviderError, Timeouts};
use crate::config::Settings;

#[async_trait]
pub trait EmbeddingsProvider: Send + Sync {
    fn name(&self) -> &str;
    /// The model the vectors come from.
    fn model(&self) -> &str;
    fn dims(&self) -> u32;
    /// One unit-length vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError>;
}

/// The configured provider (`memory.embeddings_provider`), or `None` when retrieval is
/// full-text only (no provider named, or its key is missing).
pub fn from_settings(settings: &Settings) -> Option<Arc<dyn EmbeddingsProvider>> {
    let m = &settings.memory;
    let p = &settings.providers;
    match m.embeddings_provider.as_str() {
        "openai" if p.openai.configured() => Some(Arc::new(openai::OpenAiEmbeddings::new(
            &p.openai.base_url,
            p.openai.api_key.clone(),
            &m.embeddings_model,
            m.embeddings_dims,
            Timeouts::from_settings(&p.timeouts),
        ))),
        _ => None,
    }
}

/// `v` scaled to unit length (zero stays zero), so cosine similarity is a dot product.
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_vectors_have_unit_length_and_dot_is_cosine() {
        let a = normalized(vec![3.0, 4.0]);
        assert!((dot(&a, &a) - 1.0).abs() < 1e-6);
        let b = normalized(vec![4.0, 3.0]);
        assert!((dot(&a, &b) - 24.0 / 25.0).abs() < 1e-6);
        assert_eq!(normalized(vec![0.0, 0.0]), vec![0.0, 0.0]);
    }
}
