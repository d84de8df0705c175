//! The SQL of retrieval: both ranked lists, the items' texts, and the vectors. Every query
//! is scoped to one user.

use sqlx::PgExecutor;
use uuid::Uuid;

pub struct TextHit {
    pub source_type: String,
    pub source_id: Uuid,
}

/// The best full-text matches of `q` (`websearch_to_tsquery` syntax) among the user's
/// current memories, notes and tasks of the given source types, best first.
pub async fn text_hits(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    q: &str,
    sources: &[String],
    limit: i64,
) -> sqlx::Result<Vec<TextHit>> {
    sqlx::query_as!(
        TextHit,
        r#"select source_type as "source_type!", source_id as "source_id!"
           from (select 'memories' as source_type, m.id as source_id,
                        ts_rank_cd(m.search, q.q) as rank
                 from memories m, websearch_to_tsquery('english', $2) q(q)
                 where m.user_id = $1 and m.valid_until is null and m.search @@ q.q
                   and 'memories' = any($3)
                 union all
                 select 'notes', n.id, ts_rank_cd(n.search, q.q)
                 from notes n, websearch_to_tsquery('english', $2) q(q)
                 where n.user_id = $1 and n.search @@ q.q and 'notes' = any($3)
                 union all
                 select 'tasks', t.id, ts_rank_cd(t.search, q.q)
                 from tasks t, websearch_to_tsquery('english', $2) q(q)
                 where t.user_id = $1 and t.search @@ q.q and 'tasks' = any($3)) hits
           order by rank desc, source_id
           limit $4"#,
        user_id,
        q,
        sources,
        limit
    )
    .fetch_all(db)
    .await
}

pub struct VectorHit {
    pub source_type: String,
    pub source_id: Uuid,
    pub chunk_index: i32,
    pub content: String,
    pub score: f32,
}

/// The user's items most similar to the unit vector `v` (its best chunk each), by an exact
/// scan of their vectors of this model and size; only positive similarities.
pub async fn vector_hits(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    model: &str,
    v: &[f32],
    sources: &[String],
    limit: i64,
) -> sqlx::Result<Vec<VectorHit>> {
    sqlx::query_as!(
        VectorHit,
        r#"select source_type as "source_type!", source_id as "source_id!",
                  chunk_index as "chunk_index!", content as "content!", score as "score!"
           from (select distinct on (source_type, source_id)
                        source_type, source_id, chunk_index, content, score
                 from (select e.source_type, e.source_id, e.chunk_index, e.content,
                              (select sum(x.a * x.b) from unnest(e.vector, $3::real[]) x(a, b))::real
                                  as score
                       from embeddings e
                       where e.user_id = $1 and e.model = $2 and e.dims = cardinality($3::real[])
                         and e.source_type = any($4)) scored
                 where score > 0
                 order by source_type, source_id, score desc, chunk_index) best
           order by score desc, source_id
           limit $5"#,
        user_id,
        model,
        v,
        sources,
        limit
    )
    .fetch_all(db)
    .await
}

pub struct ItemText {
    pub id: Uuid,
    pub text: String,
}

/// The texts of the user's current memories among `ids`.
pub async fn memory_texts(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<ItemText>> {
    sqlx::query_as!(
        ItemText,
        r#"select id, content as text from memories
           where user_id = $1 and id = any($2) and valid_until is null"#,
        user_id,
        ids
    )
    .fetch_all(db)
    .await
}

/// The texts (title, then body) of the user's notes among `ids`.
pub async fn note_texts(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<ItemText>> {
    sqlx::query_as!(
        ItemText,
        r#"select id, title || E'\n\n' || plain_text as "text!" from notes
           where user_id = $1 and id = any($2)"#,
        user_id,
        ids
    )
    .fetch_all(db)
    .await
}

/// The texts (title, then description) of the user's tasks among `ids`.
pub async fn task_texts(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<ItemText>> {
    sqlx::query_as!(
        ItemText,
        r#"select id, title || coalesce(E'\n\n' || description, '') as "text!" from tasks
           where user_id = $1 and id = any($2)"#,
        user_id,
        ids
    )
    .fetch_all(db)
    .await
}

pub struct Chunk {
    pub chunk_index: i32,
    pub model: String,
    pub dims: i32,
    pub content: String,
}

/// The chunks an item is embedded as now.
pub async fn chunks(
    db: impl PgExecutor<'_>,
    source_type: &str,
    source_id: Uuid,
) -> sqlx::Result<Vec<Chunk>> {
    sqlx::query_as!(
        Chunk,
        r#"select chunk_index, model, dims, content from embeddings
           where source_type = $1 and source_id = $2 order by chunk_index"#,
        source_type,
        source_id
    )
    .fetch_all(db)
    .await
}

pub async fn delete_chunks(
    db: impl PgExecutor<'_>,
    source_type: &str,
    source_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "delete from embeddings where source_type = $1 and source_id = $2",
        source_type,
        source_id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub struct NewChunk<'a> {
    pub user_id: Uuid,
    pub source_type: &'a str,
    pub source_id: Uuid,
    pub chunk_index: i32,
    pub model: &'a str,
    pub content: &'a str,
    pub vector: &'a [f32],
}

pub async fn insert_chunk(db: impl PgExecutor<'_>, c: NewChunk<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"insert into embeddings (user_id, source_type, source_id, chunk_index, model, dims,
                                   content, vector)
           values ($1, $2, $3, $4, $5, cardinality($7::real[]), $6, $7)"#,
        c.user_id,
        c.source_type,
        c.source_id,
        c.chunk_index,
        c.model,
        c.content,
        c.vector
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Turn queuing of embedding jobs on or off for this database (see the migration).
pub async fn set_enabled(db: impl PgExecutor<'_>, enabled: bool) -> sqlx::Result<()> {
    sqlx::query!(
        "update retrieval_settings set embeddings_enabled = $1",
        enabled
    )
    .execute(db)
    .await?;
    Ok(())
}
