//! Accounts through the gateway: registration, sign-in, refresh rotation, sign-out, throttling
//! and suspension (password reset: `password_reset.rs`).

use std::time::Duration;

use noillin_auth::{Claims, Role, unix_now};
use noillin_messaging::{Broker, Envelope, Event};
use noillin_redis::Push;
use noillin_test_support::{Platform, SocketError, TcpProxy, eventually, rabbitmq_url};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn a_registered_user_is_signed_in_and_sees_itself() {
    let platform = Platform::start_api_only().await;
    let api = platform.api();

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
    let platform = Platform::start_api_only().await;
    let api = platform.api();
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
        .post(platform.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let not_json = reqwest::Client::new()
        .post(platform.url("/api/v1/auth/register"))
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
    let platform = Platform::start_api_only().await;
    let api = platform.api();
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
    let platform = Platform::start_api_only().await;
    let api = platform.api();
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
    let platform = Platform::start_api_only().await;
    let api = platform.api();
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
async fn of_racing_refreshes_with_one_token_exactly_one_wins() {
    let platform = Platform::builder()
        .core_api(2)
        .realtime(0)
        .worker(0)
        .start()
        .await
        .unwrap();
    let api = platform.api();
    let user = api.register("brand").await;

    let attempts = (0..10).map(|_| {
        let api = api.clone();
        let token = user.refresh.clone();
        tokio::spawn(async move { api.refresh(&token).await.status })
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|status| status.expect("task completes"))
        .collect();

    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(won, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test]
async fn logout_ends_that_sign_in_only() {
    let platform = Platform::start_api_only().await;
    let api = platform.api();
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
    let platform = Platform::start_api_only().await;
    let api = platform.api();
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
    let platform = Platform::start_api_only().await;
    let api = platform.api();
    let user = api.register("brand").await;
    let now = unix_now();
    let expired = platform.expired_token_for(&user.id, Role::Brand);
    let wrong_audience = platform
        .tokens
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
    let forged = noillin_auth::TokenKeys::new(b"another-secret-another-secret-another")
        .issue(&user.id, Role::Admin, 0, "forged", Duration::from_secs(60))
        .unwrap();
    let tampered = platform.tampered_token(&user.access, &user.id);
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
        .get(platform.url("/api/v1/auth/me"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_even_for_the_right_password() {
    let platform = Platform::builder()
        .realtime(0)
        .worker(0)
        .env("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")
        .start()
        .await
        .unwrap();
    let api = platform.api();
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
    let platform = Platform::builder()
        .realtime(0)
        .worker(0)
        .env("LOGIN_MAX_FAILURES_PER_IP", "5")
        .start()
        .await
        .unwrap();
    let api = platform.api();

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
async fn suspension_ends_every_session_at_once_and_reinstatement_restores_sign_in() {
    let platform = Platform::builder().start().await.unwrap();
    let api = platform.api();
    let admin = platform.sign_in_new_admin().await;
    let user = api.register("influencer").await;
    let mut socket = platform.connect_socket(&user.access).await.unwrap();

    let suspended = api
        .set_user_status(&user.id, "suspended", Some(&admin.access))
        .await;

    assert_eq!(suspended.status, StatusCode::OK, "{:?}", suspended.body);
    assert_eq!(suspended.body["status"], "suspended");
    let me = api.get("/auth/me", Some(&user.access)).await;
    assert_eq!(
        me.status,
        StatusCode::UNAUTHORIZED,
        "the access token stops working immediately"
    );
    assert_eq!(me.body["type"], "/problems/token-revoked");
    let refreshed = api.refresh(&user.refresh).await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    let login = api.login(&user.email, &user.password).await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert_eq!(login.body["type"], "/problems/account-suspended");
    // The close travels as an event through the outbox, RabbitMQ and the worker.
    assert!(
        socket.closed_within(Duration::from_secs(20)).await,
        "the open socket is closed\n{}",
        platform.logs()
    );
    match platform.connect_socket(&user.access).await {
        Err(SocketError::Refused(message)) => assert_eq!(message, "token revoked"),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("a revoked token opened a socket"),
    }

    let reinstated = api
        .set_user_status(&user.id, "active", Some(&admin.access))
        .await;
    assert_eq!(reinstated.status, StatusCode::OK);
    assert_eq!(
        api.login(&user.email, &user.password).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_redelivered_sessions_ended_event_does_not_close_sockets_opened_since() {
    let platform = Platform::builder().start().await.unwrap();
    let api = platform.api();
    let user = api.register("influencer").await;
    let mut before = platform.connect_socket(&user.access).await.unwrap();
    let envelope = Envelope::new(
        Event::UserSessionsEnded {
            user_id: user.id.clone(),
            token_version: 0,
        },
        Some("redelivery-test".into()),
    );
    let broker = Broker::connect(&rabbitmq_url(), &platform.namespace, "redelivery-test")
        .await
        .expect("broker");

    broker.publish(&envelope).await.expect("first copy");
    assert!(
        before.closed_within(Duration::from_secs(20)).await,
        "the first copy closes the open socket\n{}",
        platform.logs()
    );
    // The version realtime reads (a sign-in id of no sign-in: only the version matters here).
    let recorded = platform
        .redis()
        .sign_in_state(&user.id, "no-sign-in")
        .await
        .unwrap();
    assert_eq!(recorded.token_version, Some(0));
    // Signed in again (the token is as new as the recorded version).
    let mut since = platform.connect_socket(&user.access).await.unwrap();
    broker.publish(&envelope).await.expect("second copy");
    broker.close().await;
    let second_copy_done = eventually(Duration::from_secs(20), || async {
        platform
            .logs()
            .contains("sessions already ended for this event")
    })
    .await;
    assert!(
        second_copy_done,
        "the second copy is handled\n{}",
        platform.logs()
    );

    // A close sent for the second copy would have reached the node by now.
    assert!(
        !since.closed_within(Duration::from_secs(1)).await,
        "the socket opened since stays open"
    );
}

#[tokio::test]
async fn every_admin_action_is_in_the_audit_log_newest_first() {
    let platform = Platform::start_api_only().await;
    let api = platform.api();
    let admin = platform.sign_in_new_admin().await;
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
    let platform = Platform::start_api_only().await;
    let api = platform.api();
    let admin = platform.sign_in_new_admin().await;
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
    let platform = Platform::start_api_only().await;
    let response = platform
        .api()
        .send(
            Method::POST,
            "/auth/register",
            Some(&json!({ "email": "root@example.com", "password": "correct horse battery", "role": "admin", "display_name": "Root" })),
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Sends `count` sign-ins at once and returns their answers.
async fn concurrent_logins(
    api: &noillin_test_support::ApiClient,
    count: usize,
    credentials: impl Fn(usize) -> (String, String),
) -> Vec<noillin_test_support::ApiResponse> {
    let attempts = (0..count).map(|i| {
        let api = api.clone();
        let (email, password) = credentials(i);
        tokio::spawn(async move { api.login(&email, &password).await })
    });
    futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|response| response.expect("task completes"))
        .collect()
}

fn count_status(responses: &[noillin_test_support::ApiResponse], status: StatusCode) -> usize {
    responses.iter().filter(|r| r.status == status).count()
}

#[tokio::test]
async fn of_thirty_concurrent_wrong_guesses_at_one_account_only_the_limit_is_answered() {
    let platform = Platform::builder()
        .core_api(2)
        .realtime(0)
        .worker(0)
        .env("LOGIN_MAX_FAILURES_PER_ACCOUNT", "10")
        .start()
        .await
        .unwrap();
    let api = platform.api();
    let user = api.register("brand").await;

    let responses = concurrent_logins(&api, 30, |_| {
        (user.email.clone(), "wrong password here".to_owned())
    })
    .await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        count_status(&responses, StatusCode::UNAUTHORIZED),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        count_status(&responses, StatusCode::TOO_MANY_REQUESTS),
        20,
        "{statuses:?}"
    );
    for refused in responses
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
    {
        assert!(refused.headers.contains_key("retry-after"));
    }
    let right = api.login(&user.email, &user.password).await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "at the limit even the right password waits for the window"
    );
}

#[tokio::test]
async fn of_thirty_concurrent_guesses_from_one_address_only_the_limit_is_answered() {
    let platform = Platform::builder()
        .core_api(2)
        .realtime(0)
        .worker(0)
        .env("LOGIN_MAX_FAILURES_PER_IP", "10")
        .start()
        .await
        .unwrap();
    let api = platform.api();

    // Unknown emails count like wrong passwords.
    let responses = concurrent_logins(&api, 30, |i| {
        (
            format!("guess{i}@example.com"),
            "wrong password here".to_owned(),
        )
    })
    .await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        count_status(&responses, StatusCode::UNAUTHORIZED),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        count_status(&responses, StatusCode::TOO_MANY_REQUESTS),
        20,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn right_passwords_do_not_count_against_the_address() {
    let platform = Platform::builder()
        .realtime(0)
        .worker(0)
        .env("LOGIN_MAX_FAILURES_PER_IP", "3")
        .start()
        .await
        .unwrap();
    let api = platform.api();
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
async fn sign_ins_beyond_the_hashing_queue_are_refused_with_503_and_counted() {
    let platform = Platform::builder()
        .realtime(0)
        .worker(0)
        .env("PASSWORD_HASH_CONCURRENCY", "1")
        .env("PASSWORD_HASH_QUEUE", "1")
        // Sign-ins in progress count towards the throttle's limit until they succeed.
        .env("LOGIN_MAX_FAILURES_PER_ACCOUNT", "100")
        .start()
        .await
        .unwrap();
    let api = platform.api();
    let user = api.register("brand").await;

    // One hash runs and one waits; every hash takes tens of milliseconds, so of twenty sent
    // at once most find both places taken.
    let responses =
        concurrent_logins(&api, 20, |_| (user.email.clone(), user.password.clone())).await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    let refused = count_status(&responses, StatusCode::SERVICE_UNAVAILABLE);
    let signed_in = count_status(&responses, StatusCode::OK);
    assert_eq!(refused + signed_in, 20, "{statuses:?}");
    assert!(refused >= 1, "{statuses:?}");
    assert!(
        signed_in >= 2,
        "the running and the waiting sign-in: {statuses:?}"
    );
    for response in responses
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
    {
        assert_eq!(response.content_type(), "application/problem+json");
        assert!(response.headers.contains_key("retry-after"));
    }
    let core_api = &platform.core_api[0];
    assert_eq!(
        platform
            .metric(core_api, "password_hash_refused_total")
            .await,
        refused as f64
    );
    assert_eq!(
        platform.metric(core_api, "password_hash_running").await,
        0.0
    );
    assert_eq!(
        platform.metric(core_api, "password_hash_waiting").await,
        0.0
    );
    assert_eq!(
        api.login(&user.email, &user.password).await.status,
        StatusCode::OK,
        "refused sign-ins count as no failure"
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_accepted_whatever_its_case() {
    let platform = Platform::start_api_only().await;
    let user = platform.api().register("brand").await;

    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = reqwest::Client::new()
            .get(platform.url("/api/v1/auth/me"))
            .header("authorization", format!("{scheme} {}", user.access))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn after_logout_the_sign_ins_access_token_is_refused_everywhere_and_other_sign_ins_work() {
    let platform = Platform::builder().worker(0).start().await.unwrap();
    let api = platform.api();
    let user = api.register("influencer").await;
    let second = api.login(&user.email, &user.password).await;
    let second_access = second.body["access_token"].as_str().unwrap();
    let second_refresh = second.body["refresh_token"].as_str().unwrap();
    let mut first_socket = platform.connect_socket(&user.access).await.unwrap();
    let mut second_socket = platform.connect_socket(second_access).await.unwrap();

    let out = api
        .post(
            "/auth/logout",
            &json!({ "refresh_token": user.refresh }),
            Some(&user.access),
        )
        .await;

    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(
        first_socket.closed_within(Duration::from_secs(5)).await,
        "the signed-out socket is closed"
    );
    let me = api.get("/auth/me", Some(&user.access)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.body["type"], "/problems/token-revoked");
    match platform.connect_socket(&user.access).await {
        Err(SocketError::Refused(message)) => assert_eq!(message, "token revoked"),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("a signed-out token opened a socket"),
    }

    assert_eq!(
        api.get("/auth/me", Some(second_access)).await.status,
        StatusCode::OK,
        "the other sign-in is untouched"
    );
    platform
        .redis()
        .publish_push(&Push {
            room: format!("user:{}", user.id),
            event: "notification".into(),
            data: json!({ "kind": "hello" }),
        })
        .await
        .unwrap();
    assert_eq!(
        second_socket
            .expect_event("notification", Duration::from_secs(5))
            .await,
        Some(json!({ "kind": "hello" })),
        "the other sign-in's socket stays open"
    );
    assert!(platform.connect_socket(second_access).await.is_ok());
    let rotated = api.refresh(second_refresh).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let rotated_access = rotated.body["access_token"].as_str().unwrap();
    assert_eq!(
        api.get("/auth/me", Some(rotated_access)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_reused_refresh_token_ends_the_access_tokens_of_its_sign_in() {
    let platform = Platform::builder().worker(0).start().await.unwrap();
    let api = platform.api();
    let user = api.register("brand").await;
    let rotated = api.refresh(&user.refresh).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let rotated_access = rotated.body["access_token"].as_str().unwrap();
    let other = api.login(&user.email, &user.password).await;
    let other_access = other.body["access_token"].as_str().unwrap();
    let mut socket = platform.connect_socket(rotated_access).await.unwrap();

    let replay = api.refresh(&user.refresh).await;

    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(
        socket.closed_within(Duration::from_secs(5)).await,
        "the revoked sign-in's socket is closed"
    );
    for (which, token) in [("first", user.access.as_str()), ("rotated", rotated_access)] {
        let me = api.get("/auth/me", Some(token)).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{which}");
        assert_eq!(me.body["type"], "/problems/token-revoked", "{which}");
    }
    match platform.connect_socket(rotated_access).await {
        Err(SocketError::Refused(message)) => assert_eq!(message, "token revoked"),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("a token of a revoked sign-in opened a socket"),
    }
    assert_eq!(
        api.get("/auth/me", Some(other_access)).await.status,
        StatusCode::OK,
        "another sign-in of the same user keeps working"
    );
}

#[tokio::test]
async fn without_redis_an_access_token_is_not_trusted() {
    let (proxy, proxied_redis) = TcpProxy::in_front_of(&noillin_test_support::redis_url()).await;
    let platform = Platform::builder()
        .realtime(0)
        .worker(0)
        .env_for("core-api", "REDIS_URL", &proxied_redis)
        .start()
        .await
        .unwrap();
    let api = platform.api();
    let user = api.register("brand").await;

    proxy.cut().await;
    let me = api.get("/auth/me", Some(&user.access)).await;

    assert_eq!(
        me.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "whether the sign-in ended cannot be told"
    );
    assert!(me.headers.contains_key("retry-after"));
    proxy.restore();
    assert_eq!(
        api.get("/auth/me", Some(&user.access)).await.status,
        StatusCode::OK
    );
}
