//! The embedding job: a note, memory or task is (re-)embedded when it is written (database
//! triggers queue one job per version of the row, see the migration). The job reads the
//! row's current text, cuts it into chunks (notes: by paragraphs, with overlap), and
//! replaces the item's vectors when the text or the model changed. A provider failure
//! retries with backoff; until then the item is found by text alone. No provider
//! configured: nothing to do.

use serde::Deserialize;
use uuid::Uuid;

use super::{model::SourceType, repo};
use crate::{
    jobs::{JobError, JobResult},
    providers::{ProviderError, embeddings},
    state::AppState,
};

pub const JOB: &str = "embeddings.index";

/// A chunk holds about this many characters (a paragraph longer than this is cut).
const CHUNK_CHARS: usize = 1200;
/// The tail of a chunk repeated at the start of the next, so a sentence that straddles
/// the cut is whole in one of them.
const OVERLAP_CHARS: usize = 200;
/// Chunks embedded per item at most.
const MAX_CHUNKS: usize = 200;

#[derive(Debug, Deserialize)]
struct Payload {
    source_type: SourceType,
    source_id: Uuid,
    user_id: Uuid,
}

/// Queue embedding jobs from the triggers only when this server embeds.
pub async fn sync_settings(state: &AppState) -> sqlx::Result<()> {
    let enabled = embeddings::from_settings(&state.settings).is_some();
    repo::set_enabled(&state.db, enabled).await
}

/// [`sync_settings`] at start-up without making the database a start-up dependency: when it
/// cannot be reached, the server starts anyway (`/health/ready` says what is down) and the
/// setting is recorded in the background as soon as the database answers.
pub async fn sync_settings_at_start(state: &AppState) {
    let Err(e) = sync_settings(state).await else {
        return;
    };
    tracing::warn!(error = %e, "could not record the embedding setting; retrying in the background");
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = state.shutdown.cancelled() => return,
                () = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            }
            if sync_settings(&state).await.is_ok() {
                tracing::info!("embedding setting recorded");
                return;
            }
        }
    });
}

fn clip(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn tail(s: &str, n: usize) -> &str {
    let count = s.chars().count();
    if count <= n {
        return s;
    }
    let skip = count - n;
    let start = s.char_indices().nth(skip).map_or(0, |(i, _)| i);
    // Start at a word.
    match s[start..].find(char::is_whitespace) {
        Some(w) => s[start + w..].trim_start(),
        None => &s[start..],
    }
}

/// Cut a text into chunks at paragraph breaks, each at most about [`CHUNK_CHARS`], each
/// after the first starting with the last [`OVERLAP_CHARS`] of the one before.
pub fn chunk(text: &str) -> Vec<String> {
    let mut pieces: Vec<&str> = Vec::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let mut rest = para;
        while rest.chars().count() > CHUNK_CHARS {
            let head = clip(rest, CHUNK_CHARS);
            let cut = head
                .rfind(char::is_whitespace)
                .filter(|&i| i > 0)
                .unwrap_or(head.len());
            pieces.push(rest[..cut].trim());
            rest = rest[cut..].trim_start();
        }
        if !rest.is_empty() {
            pieces.push(rest);
        }
    }
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    for p in pieces {
        if !current.is_empty() && current.chars().count() + p.chars().count() + 2 > CHUNK_CHARS {
            let overlap = tail(&current, OVERLAP_CHARS).to_string();
            chunks.push(std::mem::take(&mut current));
            if overlap.chars().count() + p.chars().count() + 2 <= CHUNK_CHARS {
                current = overlap;
            }
        }
        if !current.is_empty() {
            current.push_str("\n\n");
        }
        current.push_str(p);
    }
    if !current.trim().is_empty() {
        chunks.push(current);
    }
    chunks.truncate(MAX_CHUNKS);
    chunks
}

/// The item's text now, or `None` when it is gone (or, for a memory, no longer current).
async fn item_text(state: &AppState, p: &Payload) -> sqlx::Result<Option<String>> {
    let ids = [p.source_id];
    let rows = match p.source_type {
        SourceType::Memories => repo::memory_texts(&state.db, p.user_id, &ids).await?,
        SourceType::Notes => repo::note_texts(&state.db, p.user_id, &ids).await?,
        SourceType::Tasks => repo::task_texts(&state.db, p.user_id, &ids).await?,
        SourceType::Documents => Vec::new(),
    };
    Ok(rows.into_iter().next().map(|r| r.text))
}

fn retry(e: ProviderError) -> JobError {
    match e {
        ProviderError::RateLimited {
            retry_after: Some(d),
        } => JobError::RetryIn(d, anyhow::anyhow!("embeddings provider rate limited")),
        e => JobError::Retry(anyhow::anyhow!("embeddings provider: {e}")),
    }
}

pub async fn run(state: AppState, job: crate::jobs::Job) -> JobResult {
    let p: Payload = serde_json::from_value(job.payload.clone()).map_err(JobError::fail)?;
    let Some(provider) = embeddings::from_settings(&state.settings) else {
        return Ok(());
    };
    let kind = p.source_type.as_str();
    let Some(text) = item_text(&state, &p).await? else {
        repo::delete_chunks(&state.db, kind, p.source_id).await?;
        return Ok(());
    };
    let chunks = match p.source_type {
        SourceType::Notes => chunk(&text),
        _ => vec![clip(text.trim(), 8000).to_string()],
    };
    let existing = repo::chunks(&state.db, kind, p.source_id).await?;
    let unchanged = existing.len() == chunks.len()
        && existing.iter().zip(&chunks).all(|(e, c)| {
            e.content == *c && e.model == provider.model() && e.dims as u32 == provider.dims()
        });
    if unchanged {
        return Ok(());
    }
    let vectors = if chunks.is_empty() {
        Vec::new()
    } else {
        provider.embed(&chunks).await.map_err(retry)?
    };
    let mut tx = state.db.begin().await?;
    repo::delete_chunks(&mut *tx, kind, p.source_id).await?;
    for (i, (c, v)) in chunks.iter().zip(&vectors).enumerate() {
        repo::insert_chunk(
            &mut *tx,
            repo::NewChunk {
                user_id: p.user_id,
                source_type: kind,
                source_id: p.source_id,
                chunk_index: i as i32,
                model: provider.model(),
                content: c,
                vector: v,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_are_one_chunk() {
        assert_eq!(chunk("Title\n\nA body."), vec!["Title\n\nA body."]);
        assert!(chunk("  \n\n ").is_empty());
    }

    #[test]
    fn long_texts_are_cut_at_paragraphs_with_overlap() {
        let para = |n: usize| format!("Paragraph {n} {}", "word ".repeat(60).trim());
        let text: Vec<String> = (0..10).map(para).collect();
        let chunks = chunk(&text.join("\n\n"));
        assert!(chunks.len() > 1, "{chunks:?}");
        for c in &chunks {
            assert!(c.chars().count() <= CHUNK_CHARS, "{}", c.len());
        }
        // Every paragraph is in some chunk, and consecutive chunks share text.
        for n in 0..10 {
            assert!(
                chunks
                    .iter()
                    .any(|c| c.contains(&format!("Paragraph {n} ")))
            );
        }
        for pair in chunks.windows(2) {
            let end = tail(&pair[0], 50);
            assert!(pair[1].contains(end), "no overlap between {pair:?}");
        }
    }

    #[test]
    fn a_huge_paragraph_is_cut_at_words() {
        let text = "abc ".repeat(1000);
        let chunks = chunk(&text);
        assert!(chunks.len() >= 3);
        assert!(
            chunks
                .iter()
                .all(|c| !c.starts_with(' ') && c.chars().count() <= CHUNK_CHARS)
        );
    }
}
