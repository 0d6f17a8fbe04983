//! Password reset end to end: the request publishes a mail job on RabbitMQ (read here as the
//! mail worker reads it), the token sets a new password once and ends every session.

use std::time::Duration;

use noillin_messaging::{Broker, Concern, Event};
use noillin_test_support::{Platform, rabbitmq_url};
use reqwest::StatusCode;
use serde_json::json;

/// Takes the next mail job from the platform's email queue.
async fn next_reset_mail(platform: &Platform) -> Option<(String, String)> {
    let broker = Broker::connect(&rabbitmq_url(), &platform.namespace, "test-mail-reader")
        .await
        .expect("broker");
    let mut subscription = broker
        .consume(Concern::Email, 1, "test-mail-reader", Default::default())
        .await
        .expect("consumer");
    let delivery = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .ok()??
        .ok()?;
    let envelope = delivery.envelope().expect("a well-formed job");
    delivery.ack().await.expect("ack");
    broker.close().await;
    match envelope.event {
        Event::PasswordResetMail {
            email, reset_token, ..
        } => Some((email, reset_token)),
        other => panic!("unexpected job {other:?}"),
    }
}

#[tokio::test]
async fn a_reset_sets_a_new_password_once_and_ends_every_session() {
    let platform = Platform::builder()
        .realtime(0)
        .worker(0)
        .start()
        .await
        .unwrap();
    let api = platform.api();
    let user = api.register("influencer").await;

    let requested = api
        .post(
            "/auth/password-reset",
            &json!({ "email": user.email.to_uppercase() }),
            None,
        )
        .await;
    assert_eq!(requested.status, StatusCode::ACCEPTED);
    let (to, token) = next_reset_mail(&platform).await.expect("a reset mail job");
    assert_eq!(to, user.email);

    let weak = api
        .post(
            "/auth/password-reset/confirm",
            &json!({ "token": token, "password": "short" }),
            None,
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(weak.error_fields(), vec!["password"]);

    let confirmed = api
        .post(
            "/auth/password-reset/confirm",
            &json!({ "token": token, "password": "a brand new passphrase" }),
            None,
        )
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::NO_CONTENT,
        "a refused weak password left the token usable: {:?}",
        confirmed.body
    );

    assert_eq!(
        api.get("/auth/me", Some(&user.access)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = api
        .post(
            "/auth/refresh",
            &json!({ "refresh_token": user.refresh }),
            None,
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        api.login(&user.email, &user.password).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.login(&user.email, "a brand new passphrase")
            .await
            .status,
        StatusCode::OK
    );

    let again = api
        .post(
            "/auth/password-reset/confirm",
            &json!({ "token": token, "password": "yet another passphrase" }),
            None,
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reset token works once"
    );
    assert_eq!(again.error_fields(), vec!["token"]);
}

#[tokio::test]
async fn reset_requests_never_reveal_whether_an_account_exists_and_are_capped() {
    let platform = Platform::builder()
        .realtime(0)
        .worker(0)
        .start()
        .await
        .unwrap();
    let api = platform.api();
    let user = api.register("brand").await;

    for email in ["nobody@example.com", "not an email", user.email.as_str()] {
        let response = api
            .post("/auth/password-reset", &json!({ "email": email }), None)
            .await;
        assert_eq!(response.status, StatusCode::ACCEPTED, "{email}");
        assert_eq!(
            response.body,
            serde_json::Value::Null,
            "{email}: no body either way"
        );
    }
    for _ in 0..10 {
        api.post(
            "/auth/password-reset",
            &json!({ "email": user.email }),
            None,
        )
        .await;
    }

    let mut mails = 0;
    while next_reset_mail(&platform).await.is_some() {
        mails += 1;
    }
    assert_eq!(mails, 3, "at most 3 reset mails per account per hour");
}
