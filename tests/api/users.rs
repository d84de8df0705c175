//! Users: profile, preferences, account deletion.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::*;

#[sqlx::test]
async fn profile_round_trip_with_merge_semantics(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let me: Value = app
        .get("/api/v1/users/me", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["timezone"], "UTC");
    assert_eq!(me["locale"], "en");
    for key in [
        "id",
        "full_name",
        "avatar_url",
        "is_superuser",
        "created_at",
        "updated_at",
    ] {
        assert!(me.get(key).is_some(), "{key}");
    }
    assert!(me.get("password_hash").is_none());

    let resp = app
        .patch_json(
            "/api/v1/users/me",
            &user.access_token,
            &json!({"timezone": "Europe/Paris", "avatar_url": "https://example.com/a.png"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["timezone"], "Europe/Paris");
    assert_eq!(me["full_name"], "Test User", "omitted fields are unchanged");

    // null clears a nullable field; PUT behaves like PATCH.
    let me: Value = app
        .put_json(
            "/api/v1/users/me",
            &user.access_token,
            &json!({"full_name": null}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(me["full_name"].is_null());
    assert_eq!(me["avatar_url"], "https://example.com/a.png");
    let again: Value = app
        .get("/api/v1/users/me", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(again["full_name"].is_null());
}

#[sqlx::test]
async fn profile_validation_names_fields(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    for (body, field) in [
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"timezone": null}), "timezone"),
        (json!({"avatar_url": "javascript:alert(1)"}), "avatar_url"),
        (json!({"locale": "not a locale!"}), "locale"),
        (json!({"is_superuser": true}), "is_superuser"),
        (json!({"email": "x@y.z"}), "email"),
    ] {
        let resp = app
            .patch_json("/api/v1/users/me", &user.access_token, &body)
            .await;
        let problem =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), vec![field], "{body}");
    }
    let me: Value = app
        .get("/api/v1/users/me", &user.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["is_superuser"], false);
    assert_eq!(me["timezone"], "UTC");
}

#[sqlx::test]
async fn preferences_replace_and_merge(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let t = &user.access_token;
    let prefs: Value = app
        .get("/api/v1/users/preferences", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prefs, json!({}));

    let put: Value = app
        .put_json(
            "/api/v1/users/preferences",
            t,
            &json!({"theme": "dark", "voice": {"speed": 1.0, "id": "a"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        put,
        json!({"theme": "dark", "voice": {"speed": 1.0, "id": "a"}})
    );

    let merged: Value = app
        .patch_json(
            "/api/v1/users/preferences",
            t,
            &json!({"voice": {"speed": 1.5}, "theme": null, "lang": "fr"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        merged,
        json!({"voice": {"speed": 1.5, "id": "a"}, "lang": "fr"})
    );
    let read: Value = app
        .get("/api/v1/users/preferences", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, merged);

    let resp = app
        .put_json("/api/v1/users/preferences", t, &json!([1, 2]))
        .await;
    assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let big = json!({"blob": "x".repeat(17 * 1024)});
    let resp = app.put_json("/api/v1/users/preferences", t, &big).await;
    assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let resp = app.patch_json("/api/v1/users/preferences", t, &big).await;
    assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let read: Value = app
        .get("/api/v1/users/preferences", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, merged, "rejected writes change nothing");
}

#[sqlx::test]
async fn deleting_the_account_needs_the_password_and_cascades(pool: PgPool) {
    let app = spawn_app(pool).await;
    let user = app.new_user().await;
    let other = app.new_user().await;
    app.login(&user.email, PASSWORD).await;
    let resp = app
        .request(
            reqwest::Method::DELETE,
            "/api/v1/users/me",
            Some(&user.access_token),
        )
        .json(&json!({"password": "not-the-password"}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let resp = app
        .request(
            reqwest::Method::DELETE,
            "/api/v1/users/me",
            Some(&user.access_token),
        )
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/users/me", &user.access_token)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions where user_id = $1")
        .bind(user.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    assert_eq!(
        app.get("/api/v1/users/me", &other.access_token)
            .await
            .status(),
        StatusCode::OK
    );
    // The email can be registered again.
    app.register(&user.email).await;
}
