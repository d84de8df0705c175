use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use uuid::Uuid;

use super::{
    model::{
        CreatePushSubscription, Notification, NotificationFilter, NotificationKind,
        NotificationListParams, NotificationStatus, PushSubscription, VapidPublicKey,
    },
    repo, service, webpush,
};
use crate::{
    auth::AuthUser,
    config::Environment,
    error::{ApiError, ApiResult, Problem},
    http::{Page, Pagination, QueryParams, ValidJson, pagination::PageParams},
    state::AppState,
};

/// The user's notifications, newest first.
#[utoipa::path(get, path = "/", tag = "notifications", security(("bearer" = [])),
    params(NotificationListParams, PageParams),
    responses((status = 200, body = Page<Notification>), (status = 422, body = Problem)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    auth: AuthUser,
    page: Pagination,
    query: QueryParams,
) -> ApiResult<Json<Page<Notification>>> {
    let filter = NotificationFilter {
        statuses: query.many("status", &NotificationStatus::expected())?,
        kind: query.one("kind", &NotificationKind::expected())?,
        unread: query.boolean("unread")?.unwrap_or(false),
    };
    Ok(Json(
        service::list(&state.db, auth.user_id, filter, page).await?,
    ))
}

/// One notification with its deliveries.
#[utoipa::path(get, path = "/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Notification), (status = 404, body = Problem)))]
pub async fn get_notification(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Notification>> {
    Ok(Json(service::get(&state.db, auth.user_id, id).await?))
}

/// Acknowledge a notification: `acknowledged`, and its escalation stops.
#[utoipa::path(post, path = "/{id}/ack", tag = "notifications", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Notification), (status = 404, body = Problem)))]
pub async fn ack_notification(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Notification>> {
    Ok(Json(
        service::acknowledge(&state.db, auth.user_id, id).await?,
    ))
}

/// The VAPID application server key for `PushManager.subscribe`.
#[utoipa::path(get, path = "/vapid-public-key", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = VapidPublicKey)))]
pub async fn vapid_public_key(
    State(state): State<AppState>,
    _auth: AuthUser,
) -> ApiResult<Json<VapidPublicKey>> {
    let key = webpush::vapid_key(&state).await?;
    Ok(Json(VapidPublicKey {
        key: webpush::public_key_b64(&key),
    }))
}

fn check_subscription(env: Environment, input: &CreatePushSubscription) -> ApiResult<()> {
    let url = url::Url::parse(&input.endpoint).ok().filter(|u| {
        input.endpoint.len() <= 2048
            && u.host_str().is_some()
            && (u.scheme() == "https"
                // Local push services (the simulator) outside production.
                || (u.scheme() == "http"
                    && env != Environment::Production
                    && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))))
    });
    if url.is_none() {
        return Err(ApiError::validation("endpoint", "must be an https URL"));
    }
    let p256dh = B64.decode(input.keys.p256dh.trim_end_matches('=')).ok();
    if !p256dh.is_some_and(|k| k.len() == 65 && p256::PublicKey::from_sec1_bytes(&k).is_ok()) {
        return Err(ApiError::validation(
            "keys.p256dh",
            "must be a base64url P-256 public key (65 bytes, uncompressed)",
        ));
    }
    let auth = B64.decode(input.keys.auth.trim_end_matches('=')).ok();
    if auth.is_none_or(|a| a.len() != 16) {
        return Err(ApiError::validation(
            "keys.auth",
            "must be a base64url 16-byte secret",
        ));
    }
    Ok(())
}

/// Register a browser's push subscription (`PushSubscription.toJSON()`). The same endpoint
/// again updates its keys.
#[utoipa::path(post, path = "/push-subscriptions", tag = "notifications", security(("bearer" = [])),
    request_body = CreatePushSubscription,
    responses((status = 201, body = PushSubscription, headers(("Location" = String))),
              (status = 422, body = Problem)))]
pub async fn create_push_subscription(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<CreatePushSubscription>,
) -> ApiResult<impl IntoResponse> {
    check_subscription(state.settings.env, &input)?;
    let row = repo::upsert_subscription(
        &state.db,
        auth.user_id,
        &input.endpoint,
        input.keys.p256dh.trim_end_matches('='),
        input.keys.auth.trim_end_matches('='),
    )
    .await?;
    let location = [(
        header::LOCATION,
        format!("/api/v1/notifications/push-subscriptions/{}", row.id),
    )];
    let sub = PushSubscription {
        id: row.id,
        endpoint: row.endpoint,
        created_at: row.created_at,
    };
    Ok((StatusCode::CREATED, location, Json(sub)))
}

/// The user's push subscriptions, newest first.
#[utoipa::path(get, path = "/push-subscriptions", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Page<PushSubscription>)))]
pub async fn list_push_subscriptions(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<Page<PushSubscription>>> {
    let data = repo::subscriptions(&state.db, auth.user_id)
        .await?
        .into_iter()
        .map(|r| PushSubscription {
            id: r.id,
            endpoint: r.endpoint,
            created_at: r.created_at,
        })
        .collect();
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

/// Remove a push subscription.
#[utoipa::path(delete, path = "/push-subscriptions/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_push_subscription(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    if repo::delete_subscription(&state.db, auth.user_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
