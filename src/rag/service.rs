//! Hybrid retrieval: the full-text list and the vector list, fused by reciprocal rank
//! (score = Σ 1 / (60 + rank)), so an item found by meaning only and one found by a rare
//! word only can both come out on top. Items are read back from their own tables (the
//! caller's, current memories only) before they are returned.

use std::collections::HashMap;

use uuid::Uuid;

use super::{
    model::{DEFAULT_K, RagAnswer, RagQuery, RagResult, Ranks, SourceType},
    repo,
};
use crate::{
    error::{ApiError, ApiResult},
    http::Validate,
    providers::{embeddings, llm::prompt::any_word_query},
    records::texts,
    state::AppState,
};

/// The usual constant of reciprocal-rank fusion: high ranks matter, but not overwhelmingly.
const RRF_K: f64 = 60.0;
/// Each list contributes this many candidates per wanted result (at least 20).
const CANDIDATES_PER_RESULT: i64 = 3;
/// Characters of an item's text in a result.
const RESULT_CHARS: usize = 1500;

#[derive(Default)]
struct Fused {
    ranks: Ranks,
    chunk_index: i32,
    chunk: Option<String>,
    score: f64,
}

pub async fn query(state: &AppState, user_id: Uuid, input: RagQuery) -> ApiResult<RagAnswer> {
    input.validate().map_err(ApiError::Validation)?;
    let k = input.k.unwrap_or(DEFAULT_K);
    let sources = input
        .sources
        .clone()
        .unwrap_or_else(|| SourceType::ALL.to_vec());
    Ok(RagAnswer {
        results: retrieve(state, user_id, input.query.trim(), k, &sources).await?,
    })
}

/// The `k` best items for `query` among `sources` (chat's context uses this too).
pub async fn retrieve(
    state: &AppState,
    user_id: Uuid,
    query: &str,
    k: i64,
    sources: &[SourceType],
) -> ApiResult<Vec<RagResult>> {
    let sources = texts(sources);
    let candidates = (k * CANDIDATES_PER_RESULT).max(20);
    let words = any_word_query(query);
    let text_q = async {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        repo::text_hits(&state.db, user_id, &words, &sources, candidates).await
    };
    let vector_q = async {
        let Some(provider) = embeddings::from_settings(&state.settings) else {
            return Ok(Vec::new());
        };
        // A provider failure leaves the text ranking to answer alone.
        let v = match provider.embed(&[query.to_string()]).await {
            Ok(mut v) if !v.is_empty() => v.swap_remove(0),
            Ok(_) => return Ok(Vec::new()),
            Err(e) => {
                tracing::warn!(error = %e, "query embedding failed; text ranking only");
                return Ok(Vec::new());
            }
        };
        repo::vector_hits(
            &state.db,
            user_id,
            provider.model(),
            &v,
            &sources,
            candidates,
        )
        .await
    };
    let (text_hits, vector_hits) = tokio::try_join!(text_q, vector_q)?;

    let mut fused: HashMap<(SourceType, Uuid), Fused> = HashMap::new();
    for (i, h) in text_hits.iter().enumerate() {
        let rank = i as u32 + 1;
        let f = fused
            .entry((SourceType::from_db(&h.source_type)?, h.source_id))
            .or_default();
        f.ranks.text = Some(rank);
        f.score += 1.0 / (RRF_K + f64::from(rank));
    }
    for (i, h) in vector_hits.into_iter().enumerate() {
        let rank = i as u32 + 1;
        let f = fused
            .entry((SourceType::from_db(&h.source_type)?, h.source_id))
            .or_default();
        f.ranks.vector = Some(rank);
        f.score += 1.0 / (RRF_K + f64::from(rank));
        f.chunk_index = h.chunk_index;
        f.chunk = Some(h.content);
    }
    let mut ranked: Vec<((SourceType, Uuid), Fused)> = fused.into_iter().collect();
    ranked.sort_by(|a, b| {
        b.1.score
            .total_cmp(&a.1.score)
            .then_with(|| a.0.1.cmp(&b.0.1))
    });

    // Read the items back (ownership and currency checked once more), in rank order, until
    // `k` are found.
    let mut texts_of: HashMap<(SourceType, Uuid), String> = HashMap::new();
    for source in [SourceType::Memories, SourceType::Notes, SourceType::Tasks] {
        let ids: Vec<Uuid> = ranked
            .iter()
            .filter(|(key, _)| key.0 == source)
            .map(|(key, _)| key.1)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let rows = match source {
            SourceType::Memories => repo::memory_texts(&state.db, user_id, &ids).await?,
            SourceType::Notes => repo::note_texts(&state.db, user_id, &ids).await?,
            _ => repo::task_texts(&state.db, user_id, &ids).await?,
        };
        for r in rows {
            texts_of.insert((source, r.id), r.text);
        }
    }
    let results = ranked
        .into_iter()
        .filter_map(|(key, f)| {
            let whole = texts_of.remove(&key)?;
            let text = f.chunk.unwrap_or(whole);
            Some(RagResult {
                source_type: key.0,
                source_id: key.1,
                chunk_index: f.chunk_index,
                text: text.chars().take(RESULT_CHARS).collect(),
                score: f.score,
                ranks: f.ranks,
            })
        })
        .take(k as usize)
        .collect();
    Ok(results)
}
