//! Password reset end to end: the request stores a reset request and its mail job in the
//! outbox, the worker mints the token and mails the link through SMTP (a local sink here), and
//! the token sets a new password once and ends every session. The token exists only in the
//! worker's memory and in the mail: never in the store, a queue or a log.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use noillin_domain::event::Event;
use noillin_domain::{UserId, mail::MailId};
use noillin_messaging::{Broker, Envelope};
use noillin_store::PasswordResetRequest;
use noillin_test_support::{
    Platform, ReceivedMail, SmtpSink, eventually, eventually_some, rabbitmq_url,
};
use reqwest::StatusCode;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

/// A platform whose worker sends mail to `sink`, with links to `APP_URL`.
async fn platform_mailing_to(sink: &SmtpSink) -> Platform {
    Platform::builder()
        .realtime(0)
        .env("SMTP_URL", &sink.url())
        .env("APP_URL", APP_URL)
        .env("WORKER_RETRY_DELAYS_MS", "200,400,800")
        .start()
        .await
        .expect("platform starts")
}

/// Every byte the platform wrote to disk (the SQLite store and its WAL) and to its logs, as
/// text: where a secret that was stored, queued through the outbox or logged would show.
fn everything_written(platform: &Platform) -> String {
    let mut written = platform.logs();
    let mut dirs = vec![platform.dir().to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("readable test directory")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                written.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    written
}

const APP_URL: &str = "https://app.noillin.test";

/// The token in a reset mail's link, checked to be in both the text and the HTML part.
fn reset_token(mail: &ReceivedMail) -> String {
    let text = mail.text_body().expect("a text part");
    let prefix = format!("{APP_URL}/reset-password?token=");
    let start = text.find(&prefix).expect("the link in the text") + prefix.len();
    let token: String = text[start..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let html = mail.html_body().expect("an HTML part");
    assert!(html.contains(&token), "the link is in the HTML part too");
    token
}

#[tokio::test]
async fn a_reset_sets_a_new_password_once_and_ends_every_session() {
    let sink = SmtpSink::start().await;
    let platform = platform_mailing_to(&sink).await;
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
    let mail = sink.wait_for(1, Duration::from_secs(15)).await.remove(0);
    assert_eq!(mail.to, vec![user.email.clone()]);
    assert_eq!(
        mail.subject().as_deref(),
        Some("Reset your Noillin password")
    );
    let token = reset_token(&mail);

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
    let refreshed = api.refresh(&user.refresh).await;
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
    let sink = SmtpSink::start().await;
    let platform = platform_mailing_to(&sink).await;
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

    sink.wait_for(3, Duration::from_secs(15)).await;
    // Give a fourth mail, if one had been let through, the time to arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = sink.messages();
    assert_eq!(mails.len(), 3, "at most 3 reset mails per account per hour");
    assert!(mails.iter().all(|m| m.to == vec![user.email.clone()]));
}

#[tokio::test]
async fn a_reset_token_is_never_stored_queued_or_logged_in_plain() {
    let sink = SmtpSink::start().await;
    let platform = platform_mailing_to(&sink).await;
    let api = platform.api();
    let user = api.register("influencer").await;

    let requested = api
        .post(
            "/auth/password-reset",
            &json!({ "email": user.email }),
            None,
        )
        .await;
    assert_eq!(requested.status, StatusCode::ACCEPTED);
    let mail = sink.wait_for(1, WAIT).await.remove(0);
    let token = reset_token(&mail);
    let confirmed = api
        .post(
            "/auth/password-reset/confirm",
            &json!({ "token": token, "password": "a brand new passphrase" }),
            None,
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::NO_CONTENT);

    // The outbox row of the mail job was in the SQLite file (its WAL keeps deleted rows'
    // bytes for a while) and its payload went through RabbitMQ: neither may hold the token.
    if std::env::var_os("MONGO_URI").is_none() {
        let written = everything_written(&platform);
        assert!(
            !written.contains(&token),
            "the reset token was written somewhere"
        );
    }
}

#[tokio::test]
async fn a_redelivered_reset_job_mails_once_and_the_mailed_token_keeps_working() {
    let sink = SmtpSink::start().await;
    let platform = platform_mailing_to(&sink).await;
    let api = platform.api();
    let user = api.register("brand").await;
    let store = platform.store().await;
    let user_id = UserId::from_string(user.id.as_str());
    let request = PasswordResetRequest {
        id: format!("redelivery-{}", user.id),
        user_id: user_id.clone(),
        expires_at: Timestamp::now() + SignedDuration::from_mins(30),
    };
    store.password_resets.insert(&request, &[]).await.unwrap();

    // The same job twice (a relay that published, then lost its lease, publishes again).
    let envelope = Envelope::new(
        Event::PasswordResetMail {
            request_id: request.id.clone(),
            user_id: user.id.clone(),
        },
        Some("redelivery-test".into()),
    );
    let broker = Broker::connect(&rabbitmq_url(), &platform.namespace, "redelivery-test")
        .await
        .expect("broker");
    broker.publish(&envelope).await.expect("first copy");
    broker.publish(&envelope).await.expect("second copy");
    broker.close().await;

    let mail = sink.wait_for(1, WAIT).await.remove(0);
    let token = reset_token(&mail);
    // Both copies are handled once one has found the mail already sent.
    let second_copy_done = eventually(WAIT, || async {
        platform.logs().contains("mail already handled")
    })
    .await;
    assert!(
        second_copy_done,
        "the second copy is handled\n{}",
        platform.logs()
    );
    let record = eventually_some(WAIT, || async {
        store
            .mails
            .find(&MailId::from_string(envelope.id.to_string()))
            .await
            .unwrap()
    })
    .await
    .expect("the mail's record");
    assert_eq!(record.attempts, 1, "{record:?}");
    assert_eq!(sink.messages().len(), 1, "one mail");

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
        "the token in the one mail sent is the request's working token: {:?}",
        confirmed.body
    );
}
