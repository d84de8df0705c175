//! Auth: registration, login, refresh rotation and reuse detection, logout scopes, strict
//! JWT validation, password policy, rate limits, WebSocket tickets.

use std::collections::HashSet;

use cadence::{accounts::service, auth::jwt::Claims};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::*;

const SECRET: &str = "test-secret-with-at-least-thirty-two-bytes!!";

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    app.get("/api/v1/users/me", token).await.status()
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": token}),
    )
    .await
}

#[sqlx::test]
async fn register_returns_a_token_pair_and_the_user(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({"email": "Ada@Example.com", "password": PASSWORD, "full_name": "Ada"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().contains_key("location"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["email"], "Ada@Example.com");
    assert_eq!(body["user"]["full_name"], "Ada");
    assert_eq!(body["user"]["is_superuser"], false);
    assert!(
        body["refresh_token"].as_str().unwrap().len() >= 43,
        "256-bit refresh token"
    );
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(me_status(&app, token).await, StatusCode::OK);

    // The refresh token is stored only as a hash.
    let raw = body["refresh_token"].as_str().unwrap();
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("select token_hash from refresh_tokens")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], raw.as_bytes());
    assert_eq!(stored[0], service::hash_token(raw));
}

#[sqlx::test]
async fn existing_email_in_any_case_is_409_and_creates_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.register("dup@example.com").await;
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({"email": "DUP@example.com", "password": PASSWORD}),
        )
        .await;
    assert_problem(resp, StatusCode::CONFLICT, "conflict").await;
    let n: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Login is case-insensitive too.
    assert_eq!(
        app.login("dUp@EXAMPLE.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test]
async fn unknown_fields_and_bad_emails_are_422(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({"email": "a@example.com", "password": PASSWORD, "is_superuser": true}),
        )
        .await;
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), vec!["is_superuser"]);

    let resp = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({"email": "not-an-email", "password": PASSWORD}),
        )
        .await;
    let body = assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), vec!["email"]);
}

#[sqlx::test]
async fn password_policy_boundaries(pool: PgPool) {
    let app = spawn_app(pool).await;
    let try_pw = |pw: String| {
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/register",
                None,
                &json!({"email": format!("{}@example.com", Uuid::new_v4().simple()), "password": pw}),
            )
            .await
        }
    };
    let field_of = |body: Value| error_fields(&body);

    let r = try_pw("Zq7#kLm".into()).await; // 7
    assert_eq!(
        field_of(assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await),
        vec!["password"]
    );
    assert_eq!(
        try_pw("Zq7#kLm2".into()).await.status(),
        StatusCode::CREATED
    ); // 8
    let r = try_pw("password123".into()).await; // common
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let r = try_pw("Iloveyou1".to_uppercase()).await; // common, any case
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let r = try_pw(format!("{}!", "a9".repeat(128))).await; // 257
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // 256 characters work, and every one of them counts (no truncation).
    let long = format!("{}Q", "b8".repeat(127)) + "Z";
    assert_eq!(long.chars().count(), 256);
    let email = "long@example.com";
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({"email": email, "password": long}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(app.login(email, &long).await.status(), StatusCode::OK);
    assert_eq!(
        app.login(email, &long[..255]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let changed_last = format!("{}Y", &long[..255]);
    assert_eq!(
        app.login(email, &changed_last).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test]
async fn stored_hash_is_argon2id_with_the_required_parameters(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let hash: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}

#[sqlx::test]
async fn weaker_hashes_are_upgraded_on_login(pool: PgPool) {
    use argon2::{
        Algorithm as A, Argon2, Params, PasswordHasher, Version, password_hash::SaltString,
    };
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let weak = Argon2::new(
        A::Argon2id,
        Version::V0x13,
        Params::new(1024, 1, 1, None).unwrap(),
    );
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let weak_hash = weak
        .hash_password(PASSWORD.as_bytes(), &salt)
        .unwrap()
        .to_string();
    sqlx::query("update users set password_hash = $2 where id = $1")
        .bind(user.id)
        .bind(&weak_hash)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::OK
    );
    let hash: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}

#[sqlx::test]
async fn unknown_email_and_wrong_password_look_identical(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("request_id");
        v
    };
    let a = app.login(&user.email, "wrong-password-here").await;
    let b = app
        .login("nobody-here@example.com", "wrong-password-here")
        .await;
    assert_eq!(a.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(b.status(), StatusCode::UNAUTHORIZED);
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(strip(a), strip(b));
}

#[sqlx::test]
async fn refresh_rotates_the_token(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let resp = refresh(&app, &user.refresh_token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    let new_refresh = body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, user.refresh_token);
    assert_eq!(
        me_status(&app, body["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
    // The new token works in turn.
    assert_eq!(refresh(&app, &new_refresh).await.status(), StatusCode::OK);
}

#[sqlx::test]
async fn reusing_a_spent_refresh_token_revokes_the_whole_session(pool: PgPool) {
    let app = spawn_app_with(pool, &[("CADENCE__AUTH__REFRESH_GRACE_SECS", "0")]).await;
    let user = app.new_user().await;
    let first: Value = refresh(&app, &user.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    let rotated = first["refresh_token"].as_str().unwrap().to_string();
    let access = first["access_token"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // Replay of the spent token: refused, and the session dies.
    let replay = refresh(&app, &user.refresh_token).await;
    assert_problem(replay, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let revoked: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select revoked_at from sessions where user_id = $1")
            .bind(user.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        revoked.is_some(),
        "revocation committed although the request failed"
    );
    // Every token of the session stops working at once.
    assert_eq!(
        refresh(&app, &rotated).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me_status(&app, &access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me_status(&app, &user.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    // Other sessions of the user are untouched.
    let other: Value = app.login(&user.email, PASSWORD).await.json().await.unwrap();
    assert_eq!(
        me_status(&app, other["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
}

#[sqlx::test]
async fn parallel_refreshes_within_the_grace_window_all_succeed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let tasks = (0..10).map(|_| refresh(&app, &user.refresh_token));
    let results = futures::future::join_all(tasks).await;
    let mut tokens = HashSet::new();
    for resp in results {
        assert!(!resp.status().is_server_error(), "{}", resp.status());
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        tokens.insert(body["refresh_token"].as_str().unwrap().to_string());
        assert_eq!(
            me_status(&app, body["access_token"].as_str().unwrap()).await,
            StatusCode::OK
        );
    }
    assert_eq!(
        tokens.len(),
        10,
        "each caller got its own new refresh token"
    );
    let live: i64 = sqlx::query_scalar("select count(*) from sessions where revoked_at is null")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(live, 1, "the session survives");
}

#[sqlx::test]
async fn logout_scopes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let login = || async {
        let v: Value = app.login(&user.email, PASSWORD).await.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_string()
    };
    let (s1, s2, s3) = (user.access_token.clone(), login().await, login().await);

    // local: only this session.
    let r = app
        .request(reqwest::Method::POST, "/api/v1/auth/logout", Some(&s1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &s1).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &s2).await, StatusCode::OK);
    assert_eq!(me_status(&app, &s3).await, StatusCode::OK);

    // others: every session but this one.
    let s4 = login().await;
    let r = app
        .post_json(
            "/api/v1/auth/logout",
            Some(&s2),
            &json!({"scope": "others"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &s2).await, StatusCode::OK);
    assert_eq!(me_status(&app, &s3).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &s4).await, StatusCode::UNAUTHORIZED);

    // global: all of them.
    let s5 = login().await;
    let r = app
        .post_json(
            "/api/v1/auth/logout",
            Some(&s5),
            &json!({"scope": "global"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &s2).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &s5).await, StatusCode::UNAUTHORIZED);

    let r = app
        .post_json(
            "/api/v1/auth/logout",
            Some(&s5),
            &json!({"scope": "everyone"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn sessions_can_be_listed_and_revoked(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let other: Value = app.login(&user.email, PASSWORD).await.json().await.unwrap();
    let other_token = other["access_token"].as_str().unwrap();
    let list: Value = app
        .get("/api/v1/auth/sessions", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    let sessions = list["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap();

    // Another user cannot revoke it.
    let intruder = app.new_user().await;
    let r = app
        .delete(
            &format!("/api/v1/auth/sessions/{other_id}"),
            &intruder.access_token,
        )
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(me_status(&app, other_token).await, StatusCode::OK);

    let r = app
        .delete(
            &format!("/api/v1/auth/sessions/{other_id}"),
            &user.access_token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, other_token).await, StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn password_change_revokes_other_sessions(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let other: Value = app.login(&user.email, PASSWORD).await.json().await.unwrap();
    let new_pw = "a-brand-new-passphrase";
    let r = app
        .post_json(
            "/api/v1/auth/password",
            Some(&user.access_token),
            &json!({"current_password": "not-it-at-all", "new_password": new_pw}),
        )
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let r = app
        .post_json(
            "/api/v1/auth/password",
            Some(&user.access_token),
            &json!({"current_password": PASSWORD, "new_password": new_pw}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &user.access_token).await, StatusCode::OK);
    assert_eq!(
        me_status(&app, other["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&user.email, new_pw).await.status(),
        StatusCode::OK
    );
}

fn claims(user: &TestUser, sid: Uuid) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: user.id,
        sid,
        iat: now,
        nbf: now,
        exp: now + 600,
        iss: "cadence".into(),
        aud: "cadence-api".into(),
    }
}

fn sign(claims: &impl serde::Serialize, kid: Option<&str>, key: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(String::from);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
}

#[sqlx::test]
async fn jwt_validation_is_strict(pool: PgPool) {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let sid: Uuid = sqlx::query_scalar("select id from sessions where user_id = $1")
        .bind(user.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let good = claims(&user, sid);
    // Sanity: a correctly forged token is accepted, so each negative below fails for its own reason.
    assert_eq!(
        me_status(&app, &sign(&good, Some("k1"), SECRET)).await,
        StatusCode::OK
    );

    let mut cases: Vec<(&str, String)> = Vec::new();
    let payload = B64.encode(serde_json::to_vec(&good).unwrap());
    cases.push((
        "alg none",
        format!(
            "{}.{}.",
            B64.encode(r#"{"alg":"none","typ":"JWT","kid":"k1"}"#),
            payload
        ),
    ));
    cases.push((
        "wrong key",
        sign(&good, Some("k1"), "another-secret-of-at-least-32-bytes!!"),
    ));
    cases.push((
        "wrong iss",
        sign(
            &Claims {
                iss: "someone-else".into(),
                ..good.clone()
            },
            Some("k1"),
            SECRET,
        ),
    ));
    cases.push((
        "wrong aud",
        sign(
            &Claims {
                aud: "other-api".into(),
                ..good.clone()
            },
            Some("k1"),
            SECRET,
        ),
    ));
    let now = chrono::Utc::now().timestamp();
    cases.push((
        "expired",
        sign(
            &Claims {
                exp: now - 120,
                ..good.clone()
            },
            Some("k1"),
            SECRET,
        ),
    ));
    cases.push((
        "nbf in future",
        sign(
            &Claims {
                nbf: now + 3600,
                ..good.clone()
            },
            Some("k1"),
            SECRET,
        ),
    ));
    let mut no_exp = serde_json::to_value(&good).unwrap();
    no_exp.as_object_mut().unwrap().remove("exp");
    cases.push(("missing exp", sign(&no_exp, Some("k1"), SECRET)));
    let valid = sign(&good, Some("k1"), SECRET);
    let mut bytes = valid.clone().into_bytes();
    let dot = valid.find('.').unwrap() + 5;
    bytes[dot] = if bytes[dot] == b'A' { b'B' } else { b'A' };
    cases.push(("tampered byte", String::from_utf8(bytes).unwrap()));
    cases.push(("unknown kid", sign(&good, Some("k9"), SECRET)));
    cases.push(("no kid", sign(&good, None, SECRET)));
    let hs512 = {
        let mut h = Header::new(Algorithm::HS512);
        h.kid = Some("k1".into());
        jsonwebtoken::encode(&h, &good, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
    };
    cases.push(("other HMAC alg", hs512));
    cases.push(("garbage", "not.a.jwt".into()));
    cases.push((
        "unknown session",
        sign(&claims(&user, Uuid::now_v7()), Some("k1"), SECRET),
    ));

    for (name, token) in cases {
        let resp = app.get("/api/v1/users/me", &token).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
    }
}

#[sqlx::test]
async fn rotated_keys_still_validate_by_kid(pool: PgPool) {
    let old_secret = "the-old-key-that-signed-earlier-tokens";
    let app = spawn_app_with(
        pool,
        &[(
            "CADENCE__AUTH__JWT_PREVIOUS_KEYS",
            &format!("k0:{old_secret}"),
        )],
    )
    .await;
    let user = app.new_user().await;
    let sid: Uuid = sqlx::query_scalar("select id from sessions where user_id = $1")
        .bind(user.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let c = claims(&user, sid);
    assert_eq!(
        me_status(&app, &sign(&c, Some("k0"), old_secret)).await,
        StatusCode::OK
    );
    // The old key is bound to its kid.
    assert_eq!(
        me_status(&app, &sign(&c, Some("k1"), old_secret)).await,
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test]
async fn login_is_rate_limited_per_ip_and_per_account(pool: PgPool) {
    let app = spawn_app_with(
        pool,
        &[
            ("CADENCE__AUTH__LOGIN_RATE_PER_ACCOUNT", "3"),
            ("CADENCE__AUTH__LOGIN_RATE_PER_IP", "5"),
        ],
    )
    .await;
    let user = app.new_user().await;
    for _ in 0..3 {
        assert_eq!(
            app.login(&user.email, "wrong-password-x").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let resp = app.login(&user.email, PASSWORD).await;
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    assert_problem(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(
        retry.is_some_and(|s| (1..=60).contains(&s)),
        "Retry-After {retry:?}"
    );
    // Per IP: other accounts from the same address run out too.
    assert_eq!(
        app.login("a@example.com", "wrong-password-x")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("b@example.com", "wrong-password-x")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[sqlx::test]
async fn register_is_rate_limited(pool: PgPool) {
    let app = spawn_app_with(pool, &[("CADENCE__AUTH__REGISTER_RATE_PER_IP", "2")]).await;
    app.new_user().await;
    app.new_user().await;
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({"email": "third@example.com", "password": PASSWORD}),
        )
        .await;
    assert_problem(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[sqlx::test]
async fn forwarded_for_is_trusted_only_from_configured_proxies(pool: PgPool) {
    let app = spawn_app_with(
        pool,
        &[
            ("CADENCE__AUTH__REGISTER_RATE_PER_IP", "1"),
            ("CADENCE__SERVER__TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    let reg = |ip: &'static str| {
        app.request(reqwest::Method::POST, "/api/v1/auth/register", None)
            .header("x-forwarded-for", ip)
            .json(&json!({"email": format!("{}@example.com", Uuid::new_v4().simple()), "password": PASSWORD}))
            .send()
    };
    assert_eq!(
        reg("203.0.113.1").await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        reg("203.0.113.2").await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        reg("203.0.113.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let sessions: Vec<String> = sqlx::query_scalar("select ip from sessions order by created_at")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, vec!["203.0.113.1", "203.0.113.2"]);
}

#[sqlx::test]
async fn ws_tickets_are_single_use_and_expire(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let user = app.new_user().await;
    let resp = app
        .post_json(
            "/api/v1/auth/ws-ticket",
            Some(&user.access_token),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    let ticket = body["ticket"].as_str().unwrap();
    let redeemed = service::redeem_ws_ticket(&app.state, ticket).await.unwrap();
    assert_eq!(redeemed.user_id, user.id);
    assert!(
        service::redeem_ws_ticket(&app.state, ticket).await.is_err(),
        "single use"
    );
    assert!(
        service::redeem_ws_ticket(&app.state, "made-up")
            .await
            .is_err()
    );

    // A ticket past its expiry is refused.
    let short = spawn_app_with(pool, &[("CADENCE__AUTH__WS_TICKET_TTL_SECS", "0")]).await;
    let body: Value = short
        .post_json(
            "/api/v1/auth/ws-ticket",
            Some(&user.access_token),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        service::redeem_ws_ticket(&short.state, body["ticket"].as_str().unwrap())
            .await
            .is_err()
    );

    // Tickets need a signed-in caller.
    let r = app
        .post_json("/api/v1/auth/ws-ticket", None, &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
