//! The mailer against a real SMTP server (the test-support sink) on loopback: what arrives,
//! and how each way a relay can fail is reported.

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use noillin_mail::{MailTransport, Mailer, OutgoingMail, SendError, templates};
use noillin_test_support::SmtpSink;

const FROM: &str = "Noillin <no-reply@noillin.local>";
const WAIT: Duration = Duration::from_secs(5);

fn invitation(to: &str, message_id: &str) -> OutgoingMail {
    let rendered = templates::gig_invitation(
        "Ada <Lovelace>",
        "Acme",
        "Summer launch",
        "https://noillin.local/dashboard?tab=invitations&x=1",
    );
    OutgoingMail {
        to: to.to_owned(),
        to_name: Some("Ada Lovelace".to_owned()),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        message_id: message_id.to_owned(),
    }
}

fn mailer_for(sink: &SmtpSink) -> Mailer {
    Mailer::new(MailTransport::Smtp(&sink.url()), FROM).expect("the sink URL is a valid SMTP URL")
}

#[tokio::test]
async fn a_sent_mail_arrives_with_recipient_subject_both_parts_and_message_id() {
    let sink = SmtpSink::start().await;
    let mail = invitation("ada@example.com", "mail-1");

    mailer_for(&sink).send(&mail).await.unwrap();

    let received = sink.wait_for(1, WAIT).await.remove(0);
    assert_eq!(received.to, vec!["ada@example.com"]);
    assert_eq!(received.from, "no-reply@noillin.local");
    assert_eq!(
        received.subject().as_deref(),
        Some("You are invited to “Summer launch”")
    );
    assert_eq!(received.message_id().as_deref(), Some("<mail-1@noillin>"));
    assert!(received.header("To").unwrap().contains("ada@example.com"));
    assert!(
        received
            .header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    let text = received.text_body().unwrap();
    let html = received.html_body().unwrap();
    assert_eq!(text, mail.text);
    assert_eq!(html, mail.html);
    assert!(text.contains("https://noillin.local/dashboard?tab=invitations&x=1"));
    assert!(html.contains("Ada &lt;Lovelace&gt;"));
}

#[tokio::test]
async fn several_mails_sent_at_once_all_arrive() {
    let sink = SmtpSink::start().await;
    let mailer = mailer_for(&sink);
    let sends = (0..5).map(|n| {
        let mailer = mailer.clone();
        async move {
            let mail = invitation(&format!("user{n}@example.com"), &format!("m{n}"));
            mailer.send(&mail).await
        }
    });
    for result in futures_join_all(sends).await {
        result.unwrap();
    }
    let mut ids: Vec<_> = sink
        .wait_for(5, WAIT)
        .await
        .iter()
        .map(|m| m.message_id().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "<m0@noillin>",
            "<m1@noillin>",
            "<m2@noillin>",
            "<m3@noillin>",
            "<m4@noillin>"
        ]
    );
}

/// Runs the futures concurrently on the test's runtime (spawned, so the pool is really shared).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.expect("a send task does not panic"));
    }
    outputs
}

#[tokio::test]
async fn a_4xx_reply_is_transient_and_the_next_try_goes_through() {
    let sink = SmtpSink::start().await;
    sink.fail_next(1, "451 4.3.0 try again later");
    let mailer = mailer_for(&sink);
    let mail = invitation("ada@example.com", "retry-1");

    let error = mailer.send(&mail).await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(error.to_string().contains("try again later"), "{error}");

    mailer.send(&mail).await.unwrap();
    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
    assert_eq!(sink.attempts(), 2);
}

#[tokio::test]
async fn a_5xx_reply_to_rcpt_is_permanent() {
    let sink = SmtpSink::start().await;
    sink.reject_recipient("gone@example.com", "550 5.1.1 no such user");

    let error = mailer_for(&sink)
        .send(&invitation("gone@example.com", "m"))
        .await
        .unwrap_err();

    assert!(matches!(error, SendError::Permanent(_)), "{error:?}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    // A port that was free a moment ago and that nobody listens on now.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mailer = Mailer::new(
        MailTransport::Smtp(&format!("smtp://127.0.0.1:{port}")),
        FROM,
    )
    .unwrap();

    let error = mailer
        .send(&invitation("ada@example.com", "m"))
        .await
        .unwrap_err();

    assert!(error.is_transient(), "{error:?}");
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_is_transient_and_the_next_mail_is_not_mixed_in() {
    let sink = SmtpSink::start().await;
    sink.set_delay(Duration::from_secs(1));
    let mailer = Mailer::with_timeout(
        MailTransport::Smtp(&sink.url()),
        FROM,
        Duration::from_millis(300),
    )
    .unwrap();

    let error = mailer
        .send(&invitation("ada@example.com", "slow"))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(error.to_string().contains("no answer"), "{error}");

    // The slow send goes on in the background on its connection; this one takes another.
    sink.set_delay(Duration::ZERO);
    mailer
        .send(&invitation("bo@example.com", "next"))
        .await
        .unwrap();
    let messages = sink.wait_for(2, WAIT).await;
    for received in &messages {
        let expected = if received.to == ["bo@example.com"] {
            "<next@noillin>"
        } else {
            "<slow@noillin>"
        };
        assert_eq!(received.message_id().as_deref(), Some(expected));
        assert_eq!(
            received.data.matches("Message-ID").count(),
            1,
            "{}",
            received.data
        );
    }
}

#[tokio::test]
async fn an_invalid_recipient_address_is_permanent_and_nothing_is_sent() {
    let sink = SmtpSink::start().await;

    let error = mailer_for(&sink)
        .send(&invitation("not an address", "m"))
        .await
        .unwrap_err();

    assert!(matches!(error, SendError::Permanent(_)), "{error:?}");
    assert_eq!(sink.attempts(), 0);
}

/// Collects what the log subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("no writer panicked")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn log_mode_sends_nothing_and_logs_the_text_for_the_developer() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mailer = Mailer::new(MailTransport::Log, FROM).unwrap();
    let rendered =
        templates::password_reset("Ada", "https://noillin.local/reset/s3cret", "in 1 hour");
    let mail = OutgoingMail {
        to: "ada@example.com".to_owned(),
        to_name: None,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        message_id: "reset-1".to_owned(),
    };

    mailer.send(&mail).await.unwrap();

    assert_eq!(mailer.describe(), "log");
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("ada@example.com"), "{logged}");
    assert!(
        logged.contains("https://noillin.local/reset/s3cret"),
        "{logged}"
    );
}
