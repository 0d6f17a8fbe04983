//! Accounts: registration, sign-in, refresh rotation, sign-out, throttling, administrators'
//! status changes and the audit log (what crosses processes — sockets closed on suspension,
//! racing core-api processes, the reset mail — is in `tests/e2e/tests/accounts.rs` and
//! `password_reset.rs`).

use std::time::Duration;

use noillin_auth::{Claims, Role, TokenKeys, unix_now};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, sign_in_new_admin, spawn_app, spawn_app_with};

/// A JWT secret the tests know, to forge and expire tokens as an attacker or time would.
const JWT_SECRET: &str = "in-process-accounts-test-secret-0123456789";

/// The `/api/v1` URL of `path` on `app`, for requests the API client cannot make.
fn url(app: &TestApp, path: &str) -> String {
    format!("{}/api/v1{path}", app.address)
}

#[tokio::test]
async fn a_registered_user_is_signed_in_and_sees_itself() {
    let app = spawn_app().await;
    let api = &app.api;

    let response = api
        .post(
            "/auth/register",
            &json!({ "email": "  Ana.Silva@Example.COM", "password": "correct horse battery", "role": "influencer", "display_name": "Ana" }),
            None,
        )
        .await;

    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    let user = &response.body["user"];
    assert_eq!(user["email"], "ana.silva@example.com");
    assert_eq!(user["role"], "influencer");
    assert_eq!(user["status"], "active");
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());
    let tokens = &response.body["tokens"];
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap();

    let me = api.get("/auth/me", Some(access)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], user["id"]);
    assert_eq!(me.body["display_name"], "Ana");
}

#[tokio::test]
async fn invalid_registrations_are_refused_with_field_errors_and_create_nothing() {
    let app = spawn_app().await;
    let api = &app.api;
    let good = json!({ "email": "b@example.com", "password": "correct horse battery", "role": "brand", "display_name": "Acme" });
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases = [
        ("bad email", with("email", json!("not-an-email")), "email"),
        (
            "short password",
            with("password", json!("short")),
            "password",
        ),
        (
            "password is the email",
            with("password", json!("b@example.com")),
            "password",
        ),
        (
            "common password",
            with("password", json!("password123")),
            "password",
        ),
        ("admin role", with("role", json!("admin")), "role"),
        (
            "empty name",
            with("display_name", json!("   ")),
            "display_name",
        ),
        ("missing email", without("email"), "email"),
        (
            "wrong type",
            with("password", json!(12345678901u64)),
            "password",
        ),
        (
            "mass assignment of status",
            with("status", json!("active")),
            "status",
        ),
        (
            "mass assignment of token version",
            with("token_version", json!(7)),
            "token_version",
        ),
    ];
    for (case, body, field) in cases {
        let response = api.post("/auth/register", &body, None).await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{case}: {:?}",
            response.body
        );
        assert_eq!(
            response.content_type(),
            "application/problem+json",
            "{case}"
        );
        assert_eq!(
            response.body["type"], "/problems/validation-failed",
            "{case}"
        );
        assert!(
            response.error_fields().contains(&field.to_owned()),
            "{case}: {:?}",
            response.body
        );
    }

    let malformed = reqwest::Client::new()
        .post(url(&app, "/auth/register"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let not_json = reqwest::Client::new()
        .post(url(&app, "/auth/register"))
        .header("content-type", "text/plain")
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let oversized = api
        .post(
            "/auth/register",
            &with("display_name", json!("x".repeat(100 * 1024))),
            None,
        )
        .await;
    assert_eq!(oversized.status, StatusCode::PAYLOAD_TOO_LARGE);

    // None of them created the account.
    let login = api.login("b@example.com", "correct horse battery").await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_email_can_register_only_once_whatever_its_case() {
    let app = spawn_app().await;
    let api = &app.api;
    let body = |email: &str| json!({ "email": email, "password": "correct horse battery", "role": "brand", "display_name": "Acme" });
    assert_eq!(
        api.post("/auth/register", &body("dup@example.com"), None)
            .await
            .status,
        StatusCode::CREATED
    );

    let again = api
        .post("/auth/register", &body("DUP@Example.com"), None)
        .await;

    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["type"], "/problems/email-taken");
}

#[tokio::test]
async fn wrong_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    let api = &app.api;
    let user = api.register("brand").await;

    let wrong_password = api.login(&user.email, "not the password at all").await;
    let unknown_email = api
        .login("nobody@example.com", "not the password at all")
        .await;
    let not_an_email = api.login("nobody", "not the password at all").await;

    for response in [&wrong_password, &unknown_email, &not_an_email] {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(response.body, wrong_password.body);
        assert_eq!(response.headers["www-authenticate"], "Bearer");
    }
    let right = api.login(&user.email.to_uppercase(), &user.password).await;
    assert_eq!(
        right.status,
        StatusCode::OK,
        "emails sign in case-insensitively"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_whole_family() {
    let app = spawn_app().await;
    let api = &app.api;
    let user = api.register("brand").await;

    let first = api.refresh(&user.refresh).await;
    assert_eq!(first.status, StatusCode::OK);
    let r2 = first.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r2, user.refresh);
    let new_access = first.body["access_token"].as_str().unwrap();
    assert_eq!(
        api.get("/auth/me", Some(new_access)).await.status,
        StatusCode::OK
    );

    let replay = api.refresh(&user.refresh).await;
    assert_eq!(
        replay.status,
        StatusCode::UNAUTHORIZED,
        "a used refresh token is refused"
    );

    let after = api.refresh(&r2).await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "reuse revoked the rotated token too"
    );

    // Another sign-in of the same user is a different family and still works.
    let other = api.login(&user.email, &user.password).await;
    let other_refresh = other.body["refresh_token"].as_str().unwrap();
    let rotated = api.refresh(other_refresh).await;
    assert_eq!(rotated.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_that_sign_in_only() {
    let app = spawn_app().await;
    let api = &app.api;
    let user = api.register("influencer").await;
    let second = api.login(&user.email, &user.password).await;
    let second_refresh = second.body["refresh_token"].as_str().unwrap();

    let out = api
        .post(
            "/auth/logout",
            &json!({ "refresh_token": user.refresh }),
            Some(&user.access),
        )
        .await;

    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let refreshed = api.refresh(&user.refresh).await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    let other = api.refresh(second_refresh).await;
    assert_eq!(
        other.status,
        StatusCode::OK,
        "the other sign-in is untouched"
    );
}

#[tokio::test]
async fn a_user_cannot_sign_out_someone_elses_session() {
    let app = spawn_app().await;
    let api = &app.api;
    let victim = api.register("brand").await;
    let attacker = api.register("brand").await;

    let out = api
        .post(
            "/auth/logout",
            &json!({ "refresh_token": victim.refresh }),
            Some(&attacker.access),
        )
        .await;

    assert_eq!(out.status, StatusCode::NO_CONTENT, "no hint either way");
    let refreshed = api.refresh(&victim.refresh).await;
    assert_eq!(
        refreshed.status,
        StatusCode::OK,
        "the victim's session survives"
    );
}

#[tokio::test]
async fn bad_access_tokens_are_refused_with_401() {
    let app = spawn_app_with(&[("JWT_SECRET", JWT_SECRET)]).await;
    let api = &app.api;
    let tokens = TokenKeys::new(JWT_SECRET.as_bytes());
    let user = api.register("brand").await;
    let now = unix_now();
    let expired = tokens
        .sign(&Claims {
            sub: user.id.clone(),
            role: Role::Brand,
            ver: 0,
            sid: "expired-sign-in".into(),
            iat: now - 600,
            exp: now - 60,
            iss: "noillin".into(),
            aud: "noillin-api".into(),
        })
        .unwrap();
    let wrong_audience = tokens
        .sign(&Claims {
            sub: user.id.clone(),
            role: Role::Brand,
            ver: 0,
            sid: "wrong-audience".into(),
            iat: now - 10,
            exp: now + 60,
            iss: "noillin".into(),
            aud: "elsewhere".into(),
        })
        .unwrap();
    let forged = TokenKeys::new(b"another-secret-another-secret-another")
        .issue(&user.id, Role::Admin, 0, "forged", Duration::from_secs(60))
        .unwrap();
    // The user's signature over an administrator's claims.
    let admin_claims = tokens
        .issue(
            &user.id,
            Role::Admin,
            0,
            "tampered",
            Duration::from_secs(600),
        )
        .unwrap();
    let mut parts: Vec<&str> = user.access.split('.').collect();
    parts[1] = admin_claims.split('.').nth(1).unwrap();
    let tampered = parts.join(".");
    let alg_none = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        user.access.split('.').nth(1).unwrap()
    );

    let cases = [
        ("expired", Some(expired.as_str()), "/problems/token-expired"),
        (
            "wrong audience",
            Some(wrong_audience.as_str()),
            "/problems/invalid-token",
        ),
        ("forged", Some(forged.as_str()), "/problems/invalid-token"),
        (
            "tampered",
            Some(tampered.as_str()),
            "/problems/invalid-token",
        ),
        (
            "alg none",
            Some(alg_none.as_str()),
            "/problems/invalid-token",
        ),
        (
            "refresh token as access token",
            Some(user.refresh.as_str()),
            "/problems/invalid-token",
        ),
        ("missing", None, "/problems/missing-token"),
    ];
    for (case, token, kind) in cases {
        let response = api.get("/auth/me", token).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(response.body["type"], kind, "{case}");
    }
    let garbage = reqwest::Client::new()
        .get(url(&app, "/auth/me"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_even_for_the_right_password() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")]).await;
    let api = &app.api;
    let user = api.register("brand").await;
    let bystander = api.register("brand").await;

    for attempt in 1..=3 {
        let response = api.login(&user.email, "wrong password here").await;
        assert_eq!(
            response.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let blocked = api.login(&user.email, &user.password).await;

    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = blocked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(
        api.login(&bystander.email, &bystander.password)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_client_address_across_accounts() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES_PER_IP", "5")]).await;
    let api = &app.api;

    for i in 0..5 {
        let response = api
            .login(&format!("guess{i}@example.com"), "wrong password here")
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let blocked = api
        .login("guess99@example.com", "wrong password here")
        .await;

    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn every_admin_action_is_in_the_audit_log_newest_first() {
    let app = spawn_app().await;
    let api = &app.api;
    let admin = sign_in_new_admin(&app).await;
    let user = api.register("brand").await;
    for status in ["suspended", "active"] {
        let changed = api
            .set_user_status(&user.id, status, Some(&admin.access))
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    }
    // Refused changes are not actions: nothing is recorded for them.
    let own = api
        .set_user_status(&admin.id, "suspended", Some(&admin.access))
        .await;
    assert_eq!(own.status, StatusCode::CONFLICT);

    let log = api.get("/admin/audit-log", Some(&admin.access)).await;
    assert_eq!(log.status, StatusCode::OK, "{:?}", log.body);
    let items = log.body["items"].as_array().unwrap();
    let summary: Vec<(&str, Option<&str>, &str)> = items
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor_id"].as_str(),
                e["target"].as_str().unwrap(),
            )
        })
        .collect();
    let user_target = format!("user:{}", user.id);
    let admin_target = format!("user:{}", admin.id);
    assert_eq!(
        summary,
        vec![
            (
                "user.reinstated",
                Some(admin.id.as_str()),
                user_target.as_str()
            ),
            (
                "user.suspended",
                Some(admin.id.as_str()),
                user_target.as_str()
            ),
            // Created at the command line: no acting user.
            ("admin.created", None, admin_target.as_str()),
        ]
    );
    assert_eq!(items[1]["details"]["previous_status"], "active");

    let first = api
        .get("/admin/audit-log?limit=2", Some(&admin.access))
        .await;
    let cursor = first.body["next_before"].as_str().unwrap().to_owned();
    let rest = api
        .get(
            &format!("/admin/audit-log?limit=2&before={cursor}"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(rest.body["items"][0]["action"], "admin.created");
    assert_eq!(rest.body["next_before"], Value::Null);

    let too_many = api
        .get("/admin/audit-log?limit=101", Some(&admin.access))
        .await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_many.error_fields(), vec!["limit"]);
}

#[tokio::test]
async fn only_admins_change_users_and_never_themselves() {
    let app = spawn_app().await;
    let api = &app.api;
    let admin = sign_in_new_admin(&app).await;
    let brand = api.register("brand").await;
    let influencer = api.register("influencer").await;
    let suspend = "suspended";

    let by_brand = api
        .set_user_status(&influencer.id, suspend, Some(&brand.access))
        .await;
    assert_eq!(by_brand.status, StatusCode::FORBIDDEN);
    let by_influencer = api
        .set_user_status(&brand.id, suspend, Some(&influencer.access))
        .await;
    assert_eq!(by_influencer.status, StatusCode::FORBIDDEN);
    let anonymous = api.set_user_status(&brand.id, suspend, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let unknown = api
        .set_user_status("no-such-user", suspend, Some(&admin.access))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let own = api
        .set_user_status(&admin.id, suspend, Some(&admin.access))
        .await;
    assert_eq!(own.status, StatusCode::CONFLICT);
    let bad_status = api
        .set_user_status(&brand.id, "deleted", Some(&admin.access))
        .await;
    assert_eq!(bad_status.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing changed for anyone.
    assert_eq!(
        api.get("/auth/me", Some(&brand.access)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.get("/auth/me", Some(&influencer.access)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn admins_cannot_self_register() {
    let app = spawn_app().await;
    let response = app
        .api
        .send(
            Method::POST,
            "/auth/register",
            Some(&json!({ "email": "root@example.com", "password": "correct horse battery", "role": "admin", "display_name": "Root" })),
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn right_passwords_do_not_count_against_the_address() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES_PER_IP", "3")]).await;
    let api = &app.api;
    let user = api.register("brand").await;

    for attempt in 0..5 {
        let response = api.login(&user.email, &user.password).await;
        assert_eq!(response.status, StatusCode::OK, "sign-in {attempt}");
    }
    for attempt in 0..3 {
        let response = api.login(&user.email, "wrong password here").await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "guess {attempt}");
    }
    assert_eq!(
        api.login(&user.email, &user.password).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_accepted_whatever_its_case() {
    let app = spawn_app().await;
    let user = app.api.register("brand").await;

    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = reqwest::Client::new()
            .get(url(&app, "/auth/me"))
            .header("authorization", format!("{scheme} {}", user.access))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn a_reset_confirmation_with_an_unknown_token_is_refused_naming_the_token() {
    let app = spawn_app().await;
    let api = &app.api;
    let user = api.register("brand").await;

    let refused = api
        .post(
            "/auth/password-reset/confirm",
            &json!({ "token": "f".repeat(64), "password": "a brand new passphrase" }),
            None,
        )
        .await;

    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.content_type(), "application/problem+json");
    assert_eq!(refused.error_fields(), vec!["token"]);
    assert_eq!(
        api.login(&user.email, &user.password).await.status,
        StatusCode::OK,
        "the password is unchanged"
    );
}
