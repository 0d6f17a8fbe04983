//! Password reset end to end: the request stores a mail job in the outbox, the worker mails the
//! link through SMTP (a local sink here), and the token sets a new password once and ends every
//! session.

use std::time::Duration;

use noillin_test_support::{Platform, ReceivedMail, SmtpSink};
use reqwest::StatusCode;
use serde_json::json;

/// A platform whose worker sends mail to `sink`, with links to `APP_URL`.
async fn platform_mailing_to(sink: &SmtpSink) -> Platform {
    Platform::builder()
        .realtime(0)
        .env("SMTP_URL", &sink.url())
        .env("APP_URL", APP_URL)
        .start()
        .await
        .expect("platform starts")
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
