use axum::{Json, extract::State, http::StatusCode};
use serde_json::Value;

use super::{
    model::{DeleteMe, MAX_PREFERENCES_BYTES, UpdateMe, User},
    repo,
};
use crate::{
    auth::{AuthUser, password},
    error::{ApiError, ApiResult, Problem},
    http::ValidJson,
    state::AppState,
};

/// The signed-in user.
#[utoipa::path(get, path = "/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem)))]
pub async fn get_me(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<User>> {
    Ok(Json(
        repo::find(&state.db, auth.user_id)
            .await?
            .ok_or(ApiError::NotFound)?,
    ))
}

/// Update the profile (merge semantics; `null` clears `full_name` and `avatar_url`).
#[utoipa::path(patch, path = "/me", tag = "users", security(("bearer" = [])), request_body = UpdateMe,
    responses((status = 200, body = User), (status = 422, body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<UpdateMe>,
) -> ApiResult<Json<User>> {
    let mut tx = state.db.begin().await?;
    let current = repo::find(&mut *tx, auth.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let full_name = input.full_name.apply(current.full_name);
    let avatar_url = input.avatar_url.apply(current.avatar_url);
    let timezone = input
        .timezone
        .apply(Some(current.timezone))
        .unwrap_or_default();
    let locale = input.locale.apply(Some(current.locale)).unwrap_or_default();
    let user = repo::update_profile(
        &mut *tx,
        auth.user_id,
        full_name.as_deref(),
        avatar_url.as_deref(),
        &timezone,
        &locale,
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(user))
}

/// Same as `PATCH /me`, for clients of the older API.
#[utoipa::path(put, path = "/me", tag = "users", security(("bearer" = [])), request_body = UpdateMe,
    responses((status = 200, body = User), (status = 422, body = Problem)))]
pub async fn put_me(
    state: State<AppState>,
    auth: AuthUser,
    input: ValidJson<UpdateMe>,
) -> ApiResult<Json<User>> {
    update_me(state, auth, input).await
}

/// Delete the account and everything it owns (financial records are kept, detached).
#[utoipa::path(delete, path = "/me", tag = "users", security(("bearer" = [])), request_body = DeleteMe,
    responses((status = 204), (status = 422, body = Problem)))]
pub async fn delete_me(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<DeleteMe>,
) -> ApiResult<StatusCode> {
    let stored = repo::password_hash(&state.db, auth.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if password::verify(input.password, Some(stored)).await? == password::Verified::No {
        return Err(ApiError::validation("password", "is incorrect"));
    }
    repo::delete(&state.db, auth.user_id).await?;
    state.auth.evict(&[auth.session_id]);
    Ok(StatusCode::NO_CONTENT)
}

/// The user's preferences (a JSON object, `{}` by default).
#[utoipa::path(get, path = "/preferences", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
pub async fn get_preferences(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        repo::preferences(&state.db, auth.user_id)
            .await?
            .ok_or(ApiError::NotFound)?,
    ))
}

fn check_preferences(prefs: &Value) -> ApiResult<()> {
    if !prefs.is_object() {
        return Err(ApiError::validation("body", "must be a JSON object"));
    }
    if serde_json::to_vec(prefs).map_err(ApiError::internal)?.len() > MAX_PREFERENCES_BYTES {
        return Err(ApiError::validation("body", "must be at most 16 KiB"));
    }
    crate::notifications::prefs::validate_preferences(prefs)?;
    crate::memories::model::validate_preferences(prefs)?;
    Ok(())
}

/// Replace the preferences object.
#[utoipa::path(put, path = "/preferences", tag = "users", security(("bearer" = [])),
    request_body = Object, responses((status = 200, body = Object), (status = 422, body = Problem)))]
pub async fn replace_preferences(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(prefs): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    check_preferences(&prefs)?;
    let saved = repo::replace_preferences(&state.db, auth.user_id, &prefs)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(saved))
}

/// RFC 7396 JSON merge patch: objects merge recursively, `null` removes a key.
fn merge(target: &mut Value, patch: Value) {
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

/// Merge into the preferences object (JSON merge patch).
#[utoipa::path(patch, path = "/preferences", tag = "users", security(("bearer" = [])),
    request_body = Object, responses((status = 200, body = Object), (status = 422, body = Problem)))]
pub async fn merge_preferences(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(patch): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    if !patch.is_object() {
        return Err(ApiError::validation("body", "must be a JSON object"));
    }
    let mut tx = state.db.begin().await?;
    let mut prefs = repo::preferences_for_update(&mut *tx, auth.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    merge(&mut prefs, patch);
    check_preferences(&prefs)?;
    let saved = repo::replace_preferences(&mut *tx, auth.user_id, &prefs)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(saved))
}

#[cfg(test)]
mod tests {
    use super::merge;
    use serde_json::json;

    #[test]
    fn merge_patch_semantics() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge(&mut t, json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(t, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }
}
