//! The wallet: balances, the ledger's invariants, holds, concurrency, pricing, admin grants.

use std::sync::Arc;

use cadence::wallet::{
    model::{EntryKind, HoldRef, HoldStatus, Posting},
    service::{self, WalletError},
};
use chrono::Duration;
use futures::future::join_all;
use proptest::{
    prelude::*,
    test_runner::{Config as ProptestConfig, RngAlgorithm, TestCaseError, TestRng, TestRunner},
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use uuid::Uuid;

use crate::helpers::*;

/// A user made directly in the database, with an empty wallet.
async fn sql_user(pool: &PgPool) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query("insert into users (id, email, password_hash) values ($1, $2, 'x')")
        .bind(id)
        .bind(format!("{}@example.com", id.simple()))
        .execute(pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    service::open_account(&mut conn, id).await.unwrap();
    id
}

async fn credit(pool: &PgPool, user: Uuid, amount: i64) {
    let mut conn = pool.acquire().await.unwrap();
    service::credit(&mut conn, user, Posting::new(EntryKind::Adjustment, amount))
        .await
        .unwrap();
}

/// Cached balance and reserved, checked against the entries: balance = sum of entries.
async fn checked_state(pool: &PgPool, user: Uuid) -> (i64, i64) {
    let account = account_id_of(pool, user).await;
    let (balance, reserved, sum, _) = ledger_of_account(pool, account).await;
    assert_eq!(balance, sum, "balance equals the sum of the user's entries");
    assert!(balance >= 0 && reserved >= 0 && balance - reserved >= 0);
    (balance, reserved)
}

#[sqlx::test]
async fn signup_bonus_is_credited_in_the_ledger(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.new_user().await;
    let resp = app.get("/api/v1/wallet", &user.access_token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let w: Value = resp.json().await.unwrap();
    assert_eq!(w["balance"], 1000);
    assert_eq!(w["reserved"], 0);
    assert_eq!(w["available"], 1000);
    assert!(w["updated_at"].as_str().unwrap().ends_with('Z'));

    let resp = app
        .get("/api/v1/wallet/transactions", &user.access_token)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page: Value = resp.json().await.unwrap();
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["kind"], "signup_bonus");
    assert_eq!(data[0]["amount"], 1000);
    assert_eq!(data[0]["balance_after"], 1000);
    assert!(page["next_cursor"].is_null());
    checked_state(&pool, user.id).await;
    assert_ledger_balanced(&pool).await;

    // Another user sees only their own.
    let other = app.new_user().await;
    let page: Value = app
        .get("/api/v1/wallet/transactions", &other.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_ne!(page["data"][0]["id"], data[0]["id"]);

    let resp = app
        .client
        .get(app.url("/api/v1/wallet"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[sqlx::test]
async fn signup_credits_setting_is_honoured(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), &[("CADENCE__BILLING__SIGNUP_CREDITS", "0")]).await;
    let user = app.new_user().await;
    assert_eq!(app.wallet(&user.access_token).await, (0, 0, 0));
    let account = account_id_of(&pool, user.id).await;
    assert_eq!(ledger_of_account(&pool, account).await, (0, 0, 0, 0));

    let app2 = spawn_app_with(pool.clone(), &[("CADENCE__BILLING__SIGNUP_CREDITS", "250")]).await;
    let user2 = app2.new_user().await;
    assert_eq!(app2.wallet(&user2.access_token).await, (250, 0, 250));
}

#[sqlx::test]
async fn transactions_are_paged_and_filtered_by_kind(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.new_user().await;
    for amount in 1..=5 {
        let resp = app
            .post_idem(
                "/api/v1/wallet/add-credits",
                &user.access_token,
                None,
                &json!({"amount": amount}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["transaction"]["kind"], "top_up");
        assert_eq!(body["transaction"]["amount"], amount);
        assert_eq!(
            body["wallet"]["balance"],
            body["transaction"]["balance_after"]
        );
    }
    assert_eq!(app.wallet(&user.access_token).await.0, 1015);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/wallet/transactions?limit=2&cursor={c}"),
            None => "/api/v1/wallet/transactions?limit=2".to_string(),
        };
        let page: Value = app
            .get(&path, &user.access_token)
            .await
            .json()
            .await
            .unwrap();
        for t in page["data"].as_array().unwrap() {
            seen.push((
                t["amount"].as_i64().unwrap(),
                t["balance_after"].as_i64().unwrap(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    // Newest first, no duplicates or gaps, balance_after consistent.
    assert_eq!(
        seen,
        vec![
            (5, 1015),
            (4, 1010),
            (3, 1006),
            (2, 1003),
            (1, 1001),
            (1000, 1000)
        ]
    );

    let page: Value = app
        .get(
            "/api/v1/wallet/transactions?kind=signup_bonus",
            &user.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let page: Value = app
        .get(
            "/api/v1/wallet/transactions?kind=top_up&kind=refund",
            &user.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 5);
    let resp = app
        .get("/api/v1/wallet/transactions?kind=gift", &user.access_token)
        .await;
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), vec!["kind"]);
}

#[sqlx::test]
async fn add_credits_validates_and_needs_the_test_provider(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.new_user().await;
    for (body, field) in [
        (json!({"amount": 0}), "amount"),
        (json!({"amount": -5}), "amount"),
        (json!({"amount": 10, "balance": 5}), "balance"),
        (json!({}), "amount"),
    ] {
        let resp = app
            .post_idem(
                "/api/v1/wallet/add-credits",
                &user.access_token,
                None,
                &body,
            )
            .await;
        let problem =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), vec![field]);
    }
    assert_eq!(app.wallet(&user.access_token).await.0, 1000);

    let stripe = spawn_app_with(pool.clone(), &[("CADENCE__PAYMENTS__PROVIDER", "stripe")]).await;
    let user = stripe.new_user().await;
    let resp = stripe
        .post_idem(
            "/api/v1/wallet/add-credits",
            &user.access_token,
            None,
            &json!({"amount": 10}),
        )
        .await;
    assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(stripe.wallet(&user.access_token).await.0, 1000);
}

#[sqlx::test]
async fn admin_credits_are_for_superusers_only(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let admin = app.new_user().await;
    let user = app.new_user().await;
    let path = format!("/api/v1/admin/users/{}/credits", user.id);

    // Not (yet) a superuser: 403, nothing changes.
    let resp = app
        .post_idem(
            &path,
            &admin.access_token,
            None,
            &json!({"amount": 50, "reason": "thanks"}),
        )
        .await;
    assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.wallet(&user.access_token).await.0, 1000);

    make_superuser(&pool, admin.id).await;
    let resp = app
        .post_idem(
            &path,
            &admin.access_token,
            None,
            &json!({"amount": 50, "reason": "thanks"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["transaction"]["kind"], "adjustment");
    assert_eq!(body["transaction"]["amount"], 50);
    assert_eq!(body["transaction"]["description"], "thanks");
    assert_eq!(body["wallet"]["balance"], 1050);
    assert_eq!(app.wallet(&user.access_token).await.0, 1050);
    assert_eq!(app.wallet(&admin.access_token).await.0, 1000);

    let resp = app
        .post_idem(
            &path,
            &admin.access_token,
            None,
            &json!({"amount": -1051, "reason": "too much"}),
        )
        .await;
    assert_problem(resp, StatusCode::PAYMENT_REQUIRED, "insufficient_credits").await;
    let resp = app
        .post_idem(
            &path,
            &admin.access_token,
            None,
            &json!({"amount": -1050, "reason": "all"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.wallet(&user.access_token).await, (0, 0, 0));

    for (body, field) in [
        (json!({"amount": 0, "reason": "x"}), "amount"),
        // |i64::MIN| does not fit an i64: still a 422, never an overflow.
        (json!({"amount": i64::MIN, "reason": "x"}), "amount"),
        (
            json!({"amount": -1_000_000_001i64, "reason": "x"}),
            "amount",
        ),
        (json!({"amount": 5, "reason": "  "}), "reason"),
        (json!({"amount": 5}), "reason"),
    ] {
        let resp = app.post_idem(&path, &admin.access_token, None, &body).await;
        let problem =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), vec![field]);
    }
    let resp = app
        .post_idem(
            &format!("/api/v1/admin/users/{}/credits", Uuid::now_v7()),
            &admin.access_token,
            None,
            &json!({"amount": 5, "reason": "ghost"}),
        )
        .await;
    assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    checked_state(&pool, user.id).await;
    assert_ledger_balanced(&pool).await;
}

/// 200 concurrent admin debits of `amount` through the API against 100 available credits.
async fn concurrent_api_debits(connect: PgConnectOptions, amount: i64) -> (usize, usize, i64) {
    let pool = wide_pool(connect, 24).await;
    let app = spawn_app_with(pool.clone(), &[("CADENCE__BILLING__SIGNUP_CREDITS", "100")]).await;
    let admin = app.new_user().await;
    make_superuser(&pool, admin.id).await;
    let user = app.new_user().await;
    let path = format!("/api/v1/admin/users/{}/credits", user.id);
    let app = Arc::new(app);
    let tasks = (0..200).map(|i| {
        let app = app.clone();
        let path = path.clone();
        let token = admin.access_token.clone();
        tokio::spawn(async move {
            app.post_idem(
                &path,
                &token,
                None,
                &json!({"amount": -amount, "reason": format!("debit {i}")}),
            )
            .await
            .status()
        })
    });
    let statuses: Vec<StatusCode> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::PAYMENT_REQUIRED)
        .count();
    assert_eq!(ok + refused, 200, "only 200 or 402: {statuses:?}");
    let (balance, reserved) = checked_state(&pool, user.id).await;
    assert_eq!(reserved, 0);
    let debits: i64 = sqlx::query_scalar(
        "select count(*) from ledger_entries e join ledger_accounts a on a.id = e.account_id
         where a.user_id = $1 and e.kind = 'adjustment'",
    )
    .bind(user.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(debits as usize, ok, "one ledger entry per successful debit");
    assert_eq!(app.wallet(&user.access_token).await.0, balance);
    assert_ledger_balanced(&pool).await;
    pool.close().await;
    (ok, refused, balance)
}

#[sqlx::test]
async fn two_hundred_concurrent_debits_of_one_credit(_o: PgPoolOptions, connect: PgConnectOptions) {
    assert_eq!(concurrent_api_debits(connect, 1).await, (100, 100, 0));
}

#[sqlx::test]
async fn two_hundred_concurrent_debits_of_seven_credits(
    _o: PgPoolOptions,
    connect: PgConnectOptions,
) {
    assert_eq!(concurrent_api_debits(connect, 7).await, (14, 186, 2));
}

/// The same at the service level (the call and chat modules debit this way).
#[sqlx::test]
async fn concurrent_service_debits_never_overdraw(_o: PgPoolOptions, connect: PgConnectOptions) {
    let pool = wide_pool(connect, 24).await;
    for (amount, expect_ok, expect_left) in [(1, 100, 0), (7, 14, 2)] {
        let user = sql_user(&pool).await;
        credit(&pool, user, 100).await;
        let tasks = (0..200).map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.acquire().await.unwrap();
                service::debit(&mut conn, user, Posting::new(EntryKind::ChatDebit, amount)).await
            })
        });
        let results: Vec<_> = join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(WalletError::InsufficientCredits { .. })))
            .count();
        assert_eq!((ok, refused), (expect_ok, 200 - expect_ok));
        assert_eq!(checked_state(&pool, user).await, (expect_left, 0));
    }
    assert_ledger_balanced(&pool).await;
    pool.close().await;
}

#[sqlx::test]
async fn settle_called_twice_concurrently_charges_once(
    _o: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = wide_pool(connect, 24).await;
    let user = sql_user(&pool).await;
    credit(&pool, user, 1000).await;
    let mut holds = Vec::new();
    for _ in 0..10 {
        let mut conn = pool.acquire().await.unwrap();
        let call = Uuid::now_v7();
        let hold = service::reserve(
            &mut conn,
            user,
            50,
            Duration::minutes(5),
            HoldRef::new("call", call),
        )
        .await
        .unwrap();
        holds.push((hold.id, call));
    }
    assert_eq!(checked_state(&pool, user).await, (1000, 500));
    // Every hold settled by 4 racing callers.
    let tasks = holds.iter().flat_map(|(hold, _)| {
        let pool = pool.clone();
        let hold = *hold;
        (0..4).map(move |_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.acquire().await.unwrap();
                service::settle(&mut conn, hold, 30).await.unwrap()
            })
        })
    });
    let settlements: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    for (hold, call) in &holds {
        let mine: Vec<_> = settlements.iter().filter(|s| s.hold.id == *hold).collect();
        assert_eq!(mine.len(), 4);
        assert_eq!(mine.iter().filter(|s| !s.already_settled).count(), 1);
        assert!(mine.iter().all(|s| s.charged == 30));
        let entries: i64 = sqlx::query_scalar(
            "select count(*) from ledger_entries where reference_id = $1 and kind = 'call_debit' and amount < 0",
        )
        .bind(call)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(entries, 1, "one call_debit per settled hold");
    }
    assert_eq!(checked_state(&pool, user).await, (700, 0));
    // Releasing or extending a settled hold changes nothing.
    let mut conn = pool.acquire().await.unwrap();
    let released = service::release(&mut conn, holds[0].0).await.unwrap();
    assert_eq!(released.status, HoldStatus::Settled);
    assert!(matches!(
        service::extend(&mut conn, holds[0].0, 5, Duration::minutes(1)).await,
        Err(WalletError::HoldClosed(HoldStatus::Settled))
    ));
    drop(conn);
    assert_eq!(checked_state(&pool, user).await, (700, 0));
    assert_ledger_balanced(&pool).await;
    pool.close().await;
}

#[sqlx::test]
async fn reserve_settle_release_race_never_overdraws(_o: PgPoolOptions, connect: PgConnectOptions) {
    let pool = wide_pool(connect, 24).await;
    let user = sql_user(&pool).await;
    credit(&pool, user, 100).await;
    // 60 callers each reserve 10, then settle 0..=24 (some more than held) or release; 40
    // more debit 3 at the same time.
    let calls = (0..60i64).map(|i| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            let hold = match service::reserve(
                &mut conn,
                user,
                10,
                Duration::minutes(5),
                HoldRef::default(),
            )
            .await
            {
                Ok(h) => h,
                Err(WalletError::InsufficientCredits { .. }) => return (0, 0),
                Err(e) => panic!("{e}"),
            };
            if i % 3 == 0 {
                service::release(&mut conn, hold.id).await.unwrap();
                (1, 0)
            } else {
                let s = service::settle(&mut conn, hold.id, i % 25).await.unwrap();
                assert!(!s.already_settled);
                assert_eq!(s.charged + s.shortfall, i % 25);
                (1, s.charged)
            }
        })
    });
    let debits = (0..40).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            match service::debit(&mut conn, user, Posting::new(EntryKind::ChatDebit, 3)).await {
                Ok(_) => (0, 3),
                Err(WalletError::InsufficientCredits { .. }) => (0, 0),
                Err(e) => panic!("{e}"),
            }
        })
    });
    let results: Vec<(i64, i64)> = join_all(calls.chain(debits))
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let spent: i64 = results.iter().map(|r| r.1).sum();
    let (balance, reserved) = checked_state(&pool, user).await;
    assert_eq!(reserved, 0, "every hold was closed");
    assert_eq!(balance, 100 - spent);
    assert!(balance >= 0);
    let active: i64 =
        sqlx::query_scalar("select count(*) from wallet_holds where status = 'active'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(active, 0);
    assert_ledger_balanced(&pool).await;
    pool.close().await;
}

#[sqlx::test]
async fn settle_beyond_the_hold_takes_the_rest_but_never_overdraws(pool: PgPool) {
    let user = sql_user(&pool).await;
    credit(&pool, user, 100).await;
    let mut conn = pool.acquire().await.unwrap();
    let hold = service::reserve(
        &mut conn,
        user,
        40,
        Duration::minutes(5),
        HoldRef::default(),
    )
    .await
    .unwrap();
    assert!(matches!(
        service::debit(&mut conn, user, Posting::new(EntryKind::ChatDebit, 61)).await,
        Err(WalletError::InsufficientCredits {
            needed: 61,
            available: 60
        })
    ));
    let hold = service::extend(&mut conn, hold.id, 20, Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(hold.amount, 60);
    assert_eq!(checked_state(&pool, user).await, (100, 60));
    let s = service::settle(&mut conn, hold.id, 150).await.unwrap();
    assert_eq!((s.charged, s.shortfall), (100, 50));
    assert_eq!(s.entry.as_ref().unwrap().amount, -100);
    assert_eq!(s.entry.as_ref().unwrap().balance_after, 0);
    assert_eq!(s.entry.as_ref().unwrap().kind, EntryKind::CallDebit);
    drop(conn);
    assert_eq!(checked_state(&pool, user).await, (0, 0));
    assert_ledger_balanced(&pool).await;
}

#[sqlx::test]
async fn expired_holds_are_released_by_the_sweeper(pool: PgPool) {
    let user = sql_user(&pool).await;
    credit(&pool, user, 100).await;
    let mut conn = pool.acquire().await.unwrap();
    let expired = service::reserve(
        &mut conn,
        user,
        30,
        Duration::seconds(-1),
        HoldRef::default(),
    )
    .await
    .unwrap();
    let live = service::reserve(
        &mut conn,
        user,
        20,
        Duration::minutes(5),
        HoldRef::default(),
    )
    .await
    .unwrap();
    drop(conn);
    assert_eq!(checked_state(&pool, user).await, (100, 50));
    // Several instances sweeping at once release each hold once.
    let sweeps = (0..4).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move { cadence::wallet::sweep(&pool).await.unwrap() })
    });
    join_all(sweeps).await.into_iter().for_each(|r| r.unwrap());
    cadence::wallet::sweep(&pool).await.unwrap();
    assert_eq!(checked_state(&pool, user).await, (100, 20));
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        service::hold(&mut conn, expired.id).await.unwrap().status,
        HoldStatus::Expired
    );
    assert!(matches!(
        service::settle(&mut conn, expired.id, 10).await,
        Err(WalletError::HoldClosed(HoldStatus::Expired))
    ));
    assert_eq!(
        service::hold(&mut conn, live.id).await.unwrap().status,
        HoldStatus::Active
    );
}

#[sqlx::test]
async fn the_database_refuses_to_rewrite_the_ledger(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.new_user().await;
    let account = account_id_of(&pool, user.id).await;
    let before = ledger_of_account(&pool, account).await;
    for sql in [
        "update ledger_entries set amount = amount + 1",
        "update ledger_entries set description = 'edited'",
        "delete from ledger_entries",
        "truncate ledger_entries",
        "update ledger_accounts set balance = balance + 500 where kind = 'user'",
        // One-sided (unbalanced) entry.
        "insert into ledger_entries (id, transaction_id, account_id, kind, amount)
         select gen_random_uuid(), gen_random_uuid(), id, 'refund', 5 from ledger_accounts where kind = 'user'",
        // Balanced, but overdrawing the user.
        "with t as (select gen_random_uuid() as tx)
         insert into ledger_entries (id, transaction_id, account_id, kind, amount)
         select gen_random_uuid(), t.tx, a.id, 'chat_debit', case when a.kind = 'user' then -5000 else 5000 end
         from t, ledger_accounts a where a.kind = 'user' or a.system_code = 'revenue'",
        "update ledger_accounts set reserved = 5000 where kind = 'user'",
    ] {
        let r = sqlx::query(sql).execute(&pool).await;
        assert!(r.is_err(), "the database accepted: {sql}");
    }
    assert_eq!(ledger_of_account(&pool, account).await, before);
    assert_eq!(app.wallet(&user.access_token).await.0, 1000);
}

#[sqlx::test]
async fn deleting_the_account_keeps_its_ledger_detached(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.new_user().await;
    let resp = app
        .post_idem(
            "/api/v1/wallet/add-credits",
            &user.access_token,
            Some("k1"),
            &json!({"amount": 40}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post_idem(
            "/api/v1/payments/checkout",
            &user.access_token,
            None,
            &json!({"amount_credits": 60}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let checkout: Value = resp.json().await.unwrap();
    let url = checkout["checkout_url"].as_str().unwrap();
    let path = &url[url.find("/api/").unwrap()..];
    let resp = app.client.post(app.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.wallet(&user.access_token).await.0, 1100);
    let account = account_id_of(&pool, user.id).await;
    let before = ledger_of_account(&pool, account).await;
    assert_eq!(before.3, 3);

    let resp = app
        .request(
            reqwest::Method::DELETE,
            "/api/v1/users/me",
            Some(&user.access_token),
        )
        .json(&json!({"password": user.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // Entries and payments remain; nothing points at the person any more.
    assert_eq!(ledger_of_account(&pool, account).await, before);
    let owner: Option<Uuid> =
        sqlx::query_scalar("select user_id from ledger_accounts where id = $1")
            .bind(account)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(owner, None);
    let payments: Vec<(Option<Uuid>, String, i64)> = sqlx::query_as(
        "select user_id, status, amount_credits from payments where account_id = $1",
    )
    .bind(account)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(payments, vec![(None, "succeeded".to_string(), 60)]);
    let keys: i64 = sqlx::query_scalar("select count(*) from idempotency_keys where user_id = $1")
        .bind(user.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        keys, 0,
        "idempotency records are personal and go with the user"
    );
    assert_ledger_balanced(&pool).await;
}

#[sqlx::test]
async fn pricing_is_public_and_configurable(pool: PgPool) {
    let mut settings = test_settings(&[("CADENCE__PRICING__STT_PER_SECOND", "3")]);
    settings.pricing.llm_models.insert(
        "big-model".into(),
        cadence::config::LlmModelPrice {
            input_per_1k: 10,
            output_per_1k: 30,
        },
    );
    let app = spawn_with_settings(pool, settings).await;
    let resp = app
        .client
        .get(app.url("/api/v1/pricing"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["stt_per_second"], 3);
    assert_eq!(p["llm_default"]["input_per_1k"], 2);
    assert_eq!(p["llm_models"]["big-model"]["output_per_1k"], 30);
    let units = p["units"].as_array().unwrap();
    assert!(
        units
            .iter()
            .any(|u| u["unit"] == "call_minute" && u["credits"] == 5)
    );
    assert!(units.iter().any(|u| u["unit"] == "llm_input_1k_tokens"
        && u["model"] == "big-model"
        && u["credits"] == 10));
    assert!(p["rounding"].as_str().unwrap().contains("rounded up"));

    // The function chat and voice use, on the same settings.
    use cadence::wallet::pricing::{LlmUsage, Usage, cost};
    let bill = cost(
        &app.state.settings.pricing,
        &Usage {
            stt_seconds: 10.0,
            llm: vec![
                LlmUsage::new("big-model", 1000, 100),
                LlmUsage::new("other", 500, 0),
            ],
            tts_characters: 0,
            call_seconds: 0.0,
        },
    );
    assert_eq!(bill.stt_millicredits, 30_000);
    assert_eq!(bill.llm_millicredits, 10_000 + 3_000 + 1_000);
    assert_eq!(bill.total_credits, 44);
}

#[sqlx::test]
async fn openapi_lists_the_wallet_and_payment_routes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/api/v1/wallet", "get"),
        ("/api/v1/wallet/transactions", "get"),
        ("/api/v1/wallet/add-credits", "post"),
        ("/api/v1/pricing", "get"),
        ("/api/v1/payments", "get"),
        ("/api/v1/payments/checkout", "post"),
        ("/api/v1/payments/webhook", "post"),
        ("/api/v1/payments/{id}", "get"),
        ("/api/v1/payments/{id}/test-checkout", "post"),
        ("/api/v1/admin/users/{id}/credits", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} in OpenAPI"
        );
    }
}

// ---- Property test: random operation sequences against an in-memory model. ----

#[derive(Debug, Clone)]
enum Op {
    Credit(i64),
    Debit(i64),
    Reserve(i64),
    Extend(prop::sample::Index, i64),
    Settle(prop::sample::Index, i64),
    Release(prop::sample::Index),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1..60i64).prop_map(Op::Credit),
        (1..60i64).prop_map(Op::Debit),
        (1..60i64).prop_map(Op::Reserve),
        (any::<prop::sample::Index>(), 0..30i64).prop_map(|(i, n)| Op::Extend(i, n)),
        (any::<prop::sample::Index>(), 0..90i64).prop_map(|(i, n)| Op::Settle(i, n)),
        any::<prop::sample::Index>().prop_map(Op::Release),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ModelHold {
    Active(i64),
    Settled(i64),
    Released,
}

#[derive(Debug, Default)]
struct Model {
    balance: i64,
    reserved: i64,
    holds: Vec<(Uuid, Uuid, ModelHold)>, // (hold id, reference id, state)
}

impl Model {
    fn available(&self) -> i64 {
        self.balance - self.reserved
    }
}

fn check(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg()) }
}

async fn run_case(pool: &PgPool, ops: &[Op]) -> Result<(), String> {
    let user = sql_user(pool).await;
    let account = account_id_of(pool, user).await;
    let mut m = Model::default();
    let mut conn = pool.acquire().await.unwrap();
    for (step, op) in ops.iter().enumerate() {
        macro_rules! ctx {
            ($what:expr) => {
                format!("step {step} {op:?}: {} (model {m:?})", $what)
            };
        }
        match op {
            Op::Credit(n) => {
                let e = service::credit(&mut conn, user, Posting::new(EntryKind::Refund, *n))
                    .await
                    .map_err(|e| ctx!(&e.to_string()))?;
                m.balance += n;
                check(e.balance_after == m.balance, || ctx!("balance_after"))?;
            }
            Op::Debit(n) => {
                let r =
                    service::debit(&mut conn, user, Posting::new(EntryKind::ChatDebit, *n)).await;
                if *n <= m.available() {
                    r.map_err(|e| ctx!(&e.to_string()))?;
                    m.balance -= n;
                } else {
                    check(
                        matches!(r, Err(WalletError::InsufficientCredits { .. })),
                        || ctx!("debit beyond available must be refused"),
                    )?;
                }
            }
            Op::Reserve(n) => {
                let reference = Uuid::now_v7();
                let r = service::reserve(
                    &mut conn,
                    user,
                    *n,
                    Duration::minutes(5),
                    HoldRef::new("call", reference),
                )
                .await;
                if *n <= m.available() {
                    let h = r.map_err(|e| ctx!(&e.to_string()))?;
                    m.reserved += n;
                    m.holds.push((h.id, reference, ModelHold::Active(*n)));
                } else {
                    check(
                        matches!(r, Err(WalletError::InsufficientCredits { .. })),
                        || ctx!("reserve beyond available must be refused"),
                    )?;
                }
            }
            Op::Extend(i, extra) => {
                if m.holds.is_empty() {
                    continue;
                }
                let idx = i.index(m.holds.len());
                let (id, _, state) = m.holds[idx];
                let r = service::extend(&mut conn, id, *extra, Duration::minutes(5)).await;
                match state {
                    ModelHold::Active(amount) if *extra <= m.available() => {
                        r.map_err(|e| ctx!(&e.to_string()))?;
                        m.reserved += extra;
                        m.holds[idx].2 = ModelHold::Active(amount + extra);
                    }
                    ModelHold::Active(_) => check(
                        matches!(r, Err(WalletError::InsufficientCredits { .. })),
                        || ctx!("extend beyond available must be refused"),
                    )?,
                    _ => check(matches!(r, Err(WalletError::HoldClosed(_))), || {
                        ctx!("extending a closed hold must fail")
                    })?,
                }
            }
            Op::Settle(i, actual) => {
                if m.holds.is_empty() {
                    continue;
                }
                let idx = i.index(m.holds.len());
                let (id, _, state) = m.holds[idx];
                let r = service::settle(&mut conn, id, *actual).await;
                match state {
                    ModelHold::Active(amount) => {
                        let s = r.map_err(|e| ctx!(&e.to_string()))?;
                        let charged = (*actual).min(m.available() + amount);
                        check(!s.already_settled && s.charged == charged, || {
                            ctx!(&format!("settled {s:?}, expected charge {charged}"))
                        })?;
                        m.balance -= charged;
                        m.reserved -= amount;
                        m.holds[idx].2 = ModelHold::Settled(charged);
                    }
                    ModelHold::Settled(charged) => {
                        let s = r.map_err(|e| ctx!(&e.to_string()))?;
                        check(s.already_settled && s.charged == charged, || {
                            ctx!("second settle must repeat the first")
                        })?;
                    }
                    ModelHold::Released => check(
                        matches!(r, Err(WalletError::HoldClosed(HoldStatus::Released))),
                        || ctx!("settling a released hold must fail"),
                    )?,
                }
            }
            Op::Release(i) => {
                if m.holds.is_empty() {
                    continue;
                }
                let idx = i.index(m.holds.len());
                let (id, _, state) = m.holds[idx];
                service::release(&mut conn, id)
                    .await
                    .map_err(|e| ctx!(&e.to_string()))?;
                if let ModelHold::Active(amount) = state {
                    m.reserved -= amount;
                    m.holds[idx].2 = ModelHold::Released;
                }
            }
        }
        // Invariants after every step.
        let (balance, reserved, sum, _) = ledger_of_account(pool, account).await;
        check(balance == m.balance && reserved == m.reserved, || {
            ctx!(&format!("db balance {balance} reserved {reserved}"))
        })?;
        check(balance == sum, || {
            ctx!(&format!("balance {balance} != sum of entries {sum}"))
        })?;
        check(
            balance >= 0 && reserved >= 0 && balance - reserved >= 0,
            || ctx!("negative"),
        )?;
        let active: Option<i64> = sqlx::query_scalar(
            "select sum(amount)::bigint from wallet_holds where account_id = $1 and status = 'active'",
        )
        .bind(account)
        .fetch_one(pool)
        .await
        .unwrap();
        check(active.unwrap_or(0) == reserved, || {
            ctx!("reserved != sum of active holds")
        })?;
        let settled_twice: i64 = sqlx::query_scalar(
            "select count(*) from (select reference_id from ledger_entries
              where account_id = $1 and kind = 'call_debit' group by reference_id having count(*) > 1) t",
        )
        .bind(account)
        .fetch_one(pool)
        .await
        .unwrap();
        check(settled_twice == 0, || ctx!("a hold was charged twice"))?;
        let total: Option<i64> =
            sqlx::query_scalar("select sum(amount)::bigint from ledger_entries")
                .fetch_one(pool)
                .await
                .unwrap();
        check(total.unwrap_or(0) == 0, || {
            ctx!("the ledger does not sum to zero")
        })?;
    }
    Ok(())
}

#[sqlx::test]
async fn ledger_invariants_hold_for_random_operation_sequences(pool: PgPool) {
    // CADENCE_PROPTEST_SEED=<64 hex digits> replays a run.
    let seed: [u8; 32] = match std::env::var("CADENCE_PROPTEST_SEED") {
        Ok(hex_seed) => hex::decode(hex_seed.trim())
            .expect("CADENCE_PROPTEST_SEED is hex")
            .try_into()
            .expect("CADENCE_PROPTEST_SEED is 32 bytes"),
        Err(_) => rand::random(),
    };
    let seed_hex = hex::encode(seed);
    let handle = tokio::runtime::Handle::current();
    let runner_pool = pool.clone();
    let result = tokio::task::spawn_blocking(move || {
        let config = ProptestConfig {
            cases: 32,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
        runner.run(&prop::collection::vec(op(), 1..30), |ops| {
            handle
                .block_on(run_case(&runner_pool, &ops))
                .map_err(TestCaseError::fail)
        })
    })
    .await
    .unwrap();
    if let Err(e) = result {
        panic!("ledger property failed; replay with CADENCE_PROPTEST_SEED={seed_hex}\n{e}");
    }
}
