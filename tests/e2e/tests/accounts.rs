//! Accounts across processes: refreshes and sign-in throttling over several core-api
//! processes, suspension and sign-out reaching realtime's sockets, the hashing queue's metrics,
//! Redis going away (password reset: `password_reset.rs`; what one core-api answers alone:
//! `apps/core-api/tests/api/accounts.rs`).

use std::time::Duration;

use noillin_domain::event::Event;
use noillin_messaging::{Broker, Envelope};
use noillin_redis::Push;
use noillin_test_support::{Platform, SocketError, TcpProxy, eventually, rabbitmq_url};
use reqwest::StatusCode;
use serde_json::json;
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
