//! Agent rules: catalog validation and defaults, ownership and the built-ins' read-only rule.

use sqlx::PgPool;
use uuid::Uuid;

use super::{
    model::{Agent, AgentInput},
    repo,
};
use crate::{
    error::{ApiError, ApiResult, FieldError},
    http::{Page, Pagination, Validate, json::parse_json},
    providers::{ProviderRegistry, Stage},
};

/// Check providers, models, voices and fallbacks against the catalog, and fill omitted
/// models/voices with the provider's default.
pub fn check_catalog(
    input: &mut AgentInput,
    reg: &ProviderRegistry,
) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut stage = |stage: Stage,
                     prefix: &str,
                     provider: &str,
                     model: &mut Option<String>,
                     voice: Option<&mut Option<String>>,
                     fallbacks: &[String]| {
        let names = || {
            reg.catalog()
                .iter()
                .filter(|i| i.kind == stage)
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match reg.info(stage, provider) {
            None => errors.push(FieldError::new(
                format!("{prefix}.provider"),
                format!(
                    "unknown {} provider {provider:?}; expected one of {}",
                    stage.as_str(),
                    names()
                ),
            )),
            Some(info) => {
                match model {
                    Some(m) if !info.has_model(m) => errors.push(FieldError::new(
                        format!("{prefix}.model"),
                        format!(
                            "unknown model {m:?} for {provider}; expected one of {}",
                            info.models.join(", ")
                        ),
                    )),
                    Some(_) => {}
                    None => *model = info.default_model.clone(),
                }
                if let Some(voice) = voice {
                    match voice {
                        Some(v) if !info.has_voice(v) => errors.push(FieldError::new(
                            format!("{prefix}.voice"),
                            format!(
                                "unknown voice {v:?} for {provider}; expected one of {}",
                                info.voices.join(", ")
                            ),
                        )),
                        Some(_) => {}
                        None => *voice = info.default_voice.clone(),
                    }
                }
            }
        }
        if fallbacks.len() > 5 {
            errors.push(FieldError::new(
                format!("{prefix}.fallbacks"),
                "must list at most 5 providers",
            ));
        }
        for (i, f) in fallbacks.iter().enumerate() {
            if reg.info(stage, f).is_none() {
                errors.push(FieldError::new(
                    format!("{prefix}.fallbacks[{i}]"),
                    format!(
                        "unknown {} provider {f:?}; expected one of {}",
                        stage.as_str(),
                        names()
                    ),
                ));
            }
        }
    };
    stage(
        Stage::Llm,
        "llm",
        &input.llm.provider.clone(),
        &mut input.llm.model,
        None,
        &input.llm.fallbacks.clone(),
    );
    stage(
        Stage::Stt,
        "stt",
        &input.stt.provider.clone(),
        &mut input.stt.model,
        None,
        &input.stt.fallbacks.clone(),
    );
    let tts_provider = input.tts.provider.clone();
    let tts_fallbacks = input.tts.fallbacks.clone();
    stage(
        Stage::Tts,
        "tts",
        &tts_provider,
        &mut input.tts.model,
        Some(&mut input.tts.voice),
        &tts_fallbacks,
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn validated(mut input: AgentInput, reg: &ProviderRegistry) -> ApiResult<AgentInput> {
    let mut errors = input.validate().err().unwrap_or_default();
    if let Err(e) = check_catalog(&mut input, reg) {
        errors.extend(e);
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(ApiError::Validation(errors))
    }
}

pub async fn list(db: &PgPool, user_id: Uuid, page: &Pagination) -> ApiResult<Page<Agent>> {
    let rows = repo::list(db, user_id, page).await?;
    Ok(Page::from_rows(rows, page, |a| (a.created_at, a.id)))
}

/// An agent the user may use: a built-in or their own (others' are `NotFound`).
pub async fn find(db: &PgPool, id: Uuid, user_id: Uuid) -> ApiResult<Agent> {
    repo::find_visible(db, id, user_id)
        .await?
        .ok_or(ApiError::NotFound)
}

pub async fn create(
    db: &PgPool,
    reg: &ProviderRegistry,
    user_id: Uuid,
    input: AgentInput,
) -> ApiResult<Agent> {
    let input = validated(input, reg)?;
    Ok(repo::insert(db, Uuid::now_v7(), user_id, &input).await?)
}

fn builtin_read_only() -> ApiError {
    ApiError::Forbidden(
        "built-in agents are read-only; create your own agent to customise one".into(),
    )
}

/// RFC 7396 merge: objects merge recursively, `null` removes a key.
fn merge(target: &mut serde_json::Value, patch: serde_json::Value) {
    use serde_json::Value;
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p,
    }
}

/// Apply a merge patch to the user's own agent.
pub async fn update(
    db: &PgPool,
    reg: &ProviderRegistry,
    id: Uuid,
    user_id: Uuid,
    patch: serde_json::Value,
) -> ApiResult<Agent> {
    if !patch.is_object() {
        return Err(ApiError::validation("body", "must be a JSON object"));
    }
    let mut tx = db.begin().await?;
    let current = repo::find_visible_for_update(&mut *tx, id, user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if current.is_builtin {
        return Err(builtin_read_only());
    }
    let mut doc = serde_json::to_value(current.to_input()).map_err(ApiError::internal)?;
    merge(&mut doc, patch);
    let bytes = serde_json::to_vec(&doc).map_err(ApiError::internal)?;
    let input = validated(parse_json::<AgentInput>(&bytes)?, reg)?;
    let agent = repo::update(&mut *tx, id, user_id, &input)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(agent)
}

pub async fn delete(db: &PgPool, id: Uuid, user_id: Uuid) -> ApiResult<()> {
    let agent = repo::find_visible(db, id, user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if agent.is_builtin {
        return Err(builtin_read_only());
    }
    if !repo::delete(db, id, user_id).await? {
        return Err(ApiError::NotFound);
    }
    Ok(())
}
