//! Mail delivery through a real SMTP exchange (a local sink): a server that refuses for now is
//! tried again with backoff; one that refuses for good is recorded as failed, not retried.

use std::time::Duration;

use noillin_domain::mail::{Mail, MailId, MailStatus};
use noillin_test_support::{Platform, SmtpSink, TestUser, eventually_some};
use reqwest::StatusCode;

const WAIT: Duration = Duration::from_secs(20);

async fn platform(sink: &SmtpSink) -> Platform {
    Platform::builder()
        .realtime(0)
        .env("SMTP_URL", &sink.url())
        .env("WORKER_RETRY_DELAYS_MS", "200,400,800")
        .start()
        .await
        .expect("platform starts")
}

/// Invites `member` into a new gig of `owner` and returns the record of the invitation mail.
async fn invitation_mail(platform: &Platform, owner: &TestUser, member: &TestUser) -> Mail {
    let api = platform.api();
    let gig = api.create_gig(owner, "Mail test gig").await;
    api.invite(owner, &gig, &[member]).await;
    let id = eventually_some(WAIT, || async {
        let response = api.get("/notifications", Some(&member.access)).await;
        assert_eq!(response.status, StatusCode::OK);
        response.body["items"][0]["id"]
            .as_str()
            .map(MailId::from_string)
    })
    .await
    .unwrap_or_else(|| panic!("the invitation is notified\n{}", platform.logs()));
    let store = platform.store().await;
    let settled = eventually_some(WAIT, || async {
        let record = store.mails.find(&id).await.expect("store");
        record.filter(|m| m.status.is_final())
    })
    .await;
    match settled {
        Some(mail) => mail,
        None => {
            let record = store.mails.find(&id).await.expect("store");
            panic!("the mail settles: {record:?}\n{}", platform.logs())
        }
    }
}

#[tokio::test]
async fn a_mail_refused_for_now_is_retried_with_backoff_until_it_goes_through() {
    let sink = SmtpSink::start().await;
    sink.fail_next(2, "451 4.3.0 try again later");
    let platform = platform(&sink).await;
    let api = platform.api();
    let (owner, member) = (
        api.register("influencer").await,
        api.register("influencer").await,
    );

    let mail = invitation_mail(&platform, &owner, &member).await;

    println!(
        "transient SMTP refusal: {} attempts, status {}, {} delivered",
        mail.attempts,
        mail.status.as_str(),
        sink.messages().len()
    );
    assert_eq!(mail.status, MailStatus::Sent);
    assert_eq!(mail.attempts, 3, "two refusals, then accepted");
    assert_eq!(mail.last_error, None);
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(sink.messages()[0].to, vec![member.email.clone()]);
}

#[tokio::test]
async fn a_mail_refused_for_good_is_recorded_failed_and_not_retried() {
    let sink = SmtpSink::start().await;
    let platform = platform(&sink).await;
    let api = platform.api();
    let (owner, member) = (
        api.register("influencer").await,
        api.register("influencer").await,
    );
    sink.reject_recipient(&member.email, "550 5.1.1 no such mailbox");

    let mail = invitation_mail(&platform, &owner, &member).await;
    // Retries, had there been any, would have come within this.
    tokio::time::sleep(Duration::from_secs(2)).await;

    println!(
        "permanent SMTP refusal: {} attempt(s), status {}, error {:?}, {} SMTP transactions",
        mail.attempts,
        mail.status.as_str(),
        mail.last_error,
        sink.attempts()
    );
    assert_eq!(mail.status, MailStatus::Failed);
    assert_eq!(mail.attempts, 1);
    assert!(
        mail.last_error
            .as_deref()
            .is_some_and(|e| e.contains("550")),
        "{:?}",
        mail.last_error
    );
    assert_eq!(sink.attempts(), 1, "not retried");
    assert!(sink.messages().is_empty());
}
