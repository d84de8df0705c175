use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    model::{AddCredits, AdminCredits, CreditResult, EntryKind, Posting, Transaction, Wallet},
    repo, service,
};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Problem},
    http::{IdempotencyKey, Page, Pagination, ValidJson, idempotency, pagination::PageParams},
    state::AppState,
    users,
};

/// The signed-in user's wallet.
#[utoipa::path(get, path = "/", tag = "wallet", security(("bearer" = [])),
    responses((status = 200, body = Wallet), (status = 401, body = Problem)))]
pub async fn get_wallet(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<Wallet>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::wallet(&mut conn, auth.user_id).await?))
}

/// Filters of `GET /wallet/transactions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TransactionFilter {
    /// Only entries of this kind (repeat the parameter for several kinds).
    pub kind: Option<EntryKind>,
}

/// The user's ledger entries, newest first.
#[utoipa::path(get, path = "/transactions", tag = "wallet", security(("bearer" = [])),
    params(PageParams, TransactionFilter),
    responses((status = 200, body = Page<Transaction>), (status = 422, body = Problem)))]
pub async fn list_transactions(
    State(state): State<AppState>,
    auth: AuthUser,
    page: Pagination,
    Query(params): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Page<Transaction>>> {
    let mut kinds = Vec::new();
    for (k, v) in params {
        if k == "kind" {
            let kind = EntryKind::parse(&v).ok_or_else(|| {
                ApiError::validation(
                    "kind",
                    "must be one of top_up, call_debit, chat_debit, refund, adjustment, signup_bonus",
                )
            })?;
            kinds.push(kind.as_str().to_string());
        }
    }
    let rows = repo::list_entries(
        &state.db,
        auth.user_id,
        &kinds,
        page.cursor_ts(),
        page.cursor_id(),
        page.fetch(),
    )
    .await?;
    let rows: Vec<Transaction> = rows.into_iter().map(Into::into).collect();
    Ok(Json(Page::from_rows(rows, &page, |t| (t.created_at, t.id))))
}

/// Add credits without paying. Only with the `test` payment provider (development);
/// otherwise `403`. Accepts `Idempotency-Key`.
#[utoipa::path(post, path = "/add-credits", tag = "wallet", security(("bearer" = [])),
    request_body = AddCredits,
    params(("Idempotency-Key" = Option<String>, Header, description = "1..=255 characters; replays the first response for 24 h")),
    responses((status = 200, body = CreditResult), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_credits(
    State(state): State<AppState>,
    auth: AuthUser,
    key: IdempotencyKey,
    ValidJson(input): ValidJson<AddCredits>,
) -> ApiResult<Response> {
    if state.settings.payments.provider != "test" {
        return Err(ApiError::Forbidden(
            "adding credits without paying is only possible with the test payment provider; use POST /api/v1/payments/checkout".into(),
        ));
    }
    let user_id = auth.user_id;
    idempotency::run(&state, user_id, &key, &input, async |tx| {
        let posting = Posting::new(EntryKind::TopUp, input.amount)
            .reference("add_credits", None)
            .description("Credits added (test payment provider)");
        let transaction = service::credit(tx, user_id, posting).await?;
        let wallet = service::wallet(tx, user_id).await?;
        Ok((
            StatusCode::OK,
            Json(CreditResult {
                transaction,
                wallet,
            }),
        )
            .into_response())
    })
    .await
}

/// Grant (positive `amount`) or take back (negative) a user's credits. Superusers only:
/// anyone else gets `403`. Taking back more than the user has available answers `402`.
/// Accepts `Idempotency-Key` (scoped to the superuser).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/credits", tag = "wallet",
    security(("bearer" = [])), request_body = AdminCredits,
    params(("id" = Uuid, Path, description = "The user to credit"),
        ("Idempotency-Key" = Option<String>, Header, description = "1..=255 characters; replays the first response for 24 h")),
    responses((status = 200, body = CreditResult), (status = 402, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn admin_credits(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(target): Path<Uuid>,
    key: IdempotencyKey,
    ValidJson(input): ValidJson<AdminCredits>,
) -> ApiResult<Response> {
    let me = users::repo::find(&state.db, auth.user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if !me.is_superuser {
        return Err(ApiError::Forbidden(
            "only superusers may grant credits".into(),
        ));
    }
    if users::repo::find(&state.db, target).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let admin = auth.user_id;
    idempotency::run(&state, admin, &key, &input, async |tx| {
        let posting = Posting::new(EntryKind::Adjustment, input.amount.abs())
            .reference("admin", Some(admin))
            .description(input.reason.trim());
        let transaction = if input.amount > 0 {
            service::credit(tx, target, posting).await?
        } else {
            service::debit(tx, target, posting).await?
        };
        let wallet = service::wallet(tx, target).await?;
        Ok((
            StatusCode::OK,
            Json(CreditResult {
                transaction,
                wallet,
            }),
        )
            .into_response())
    })
    .await
}
