//! Sending one mail: over SMTP, or to the log when that is chosen explicitly. The
//! caller (the worker's email job) decides about retries; this module only says whether a
//! failure is worth retrying.
//!
//! lettre's pooled transport must never see a send cancelled halfway: it would put the
//! connection back in the pool mid-transaction, and the next mail's commands would land in the
//! previous mail's body. lettre itself has no timeout past connecting, so the timeout is ours,
//! and it is built so that nothing is cancelled: each send runs in its own task, which the
//! caller stops waiting for after the timeout (or when the caller itself is cancelled) but which
//! goes on to the end. Only a send that hangs for `ABANDON_AFTER` is cancelled, and its whole
//! pool is first swapped for a fresh one, so the broken connection cannot be reused.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use lettre::{
    Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::AsyncSmtpTransportBuilder,
};

/// How long [`Mailer::send`] waits for the relay (connecting included) before it reports a
/// transient failure.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// When a send still unanswered is cancelled, freeing its connection. RFC 5321 §4.5.3.2 lets a
/// relay take 10 minutes to answer the end of a message.
const ABANDON_AFTER: Duration = Duration::from_secs(600);

/// The domain part of every `Message-ID` the platform sends.
const MESSAGE_ID_DOMAIN: &str = "noillin";

/// One mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The recipient's address (`ada@example.com`).
    pub to: String,
    /// The recipient's name, shown by mail clients beside the address.
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Stable across retries of the same mail (e.g. the mail record's id), so the header
    /// built from it lets a relay or a reader recognise a duplicate.
    pub message_id: String,
}

impl OutgoingMail {
    /// The `Message-ID` header value: `<{message_id}@noillin>`, with every character that may
    /// not appear there replaced by `-`.
    pub fn message_id_header(&self) -> String {
        let local: String = self
            .message_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let local = local.trim_matches('.');
        let local = if local.is_empty() { "-" } else { local };
        format!("<{local}@{MESSAGE_ID_DOMAIN}>")
    }
}

/// Why a mail was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: the server could not be reached or timed out, or answered 4xx.
    #[error("transient mail failure: {0}")]
    Transient(String),
    /// Retrying will not help: a 5xx answer, an invalid address, a message that cannot be built.
    #[error("permanent mail failure: {0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_))
    }
}

/// Why a [`Mailer`] could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("SMTP_URL is not a usable SMTP URL: {0}")]
    SmtpUrl(String),
    #[error("the sender address {address:?} is not a valid mailbox: {reason}")]
    From { address: String, reason: String },
}

/// Where mails go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTransport<'a> {
    /// An SMTP relay, as lettre reads the URL: `smtp://host:port` (plain),
    /// `smtp://…?tls=required` (STARTTLS), `smtps://user:pass@host:port` (TLS from the start).
    Smtp(&'a str),
    /// The log, at info level: recipient, subject and the whole text part. **For development
    /// only**: the text of a password-reset mail holds a secret link, which is exactly what a
    /// developer running locally needs to read, and exactly what must not reach production
    /// logs. Never a fallback: only chosen explicitly (`MAIL_TRANSPORT=log`).
    Log,
}

/// Sends the platform's mails.
///
/// Over SMTP it hands every mail to the relay, over a small pool of connections; in log mode it
/// writes each mail to the log instead (see [`MailTransport::Log`]).
///
/// Cloning is cheap and clones share the connection pool.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    timeout: Duration,
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    Smtp(Arc<Smtp>),
    Log,
}

struct Smtp {
    builder: AsyncSmtpTransportBuilder,
    description: String,
    /// The pool in use and its generation, which grows each time a pool is retired.
    current: Mutex<(u64, AsyncSmtpTransport<Tokio1Executor>)>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("transport", &self.describe())
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Mailer {
    /// A mailer sending through `transport`. `from` is a mailbox like
    /// `Noillin <no-reply@noillin.local>`.
    ///
    /// With a URL this must run inside a Tokio runtime: the connection pool starts a task that
    /// closes idle connections (lettre panics otherwise).
    pub fn new(transport: MailTransport<'_>, from: &str) -> Result<Self, ConfigError> {
        Self::with_timeout(transport, from, DEFAULT_TIMEOUT)
    }

    /// As [`Mailer::new`], waiting `timeout` for the relay instead of [`DEFAULT_TIMEOUT`].
    pub fn with_timeout(
        transport: MailTransport<'_>,
        from: &str,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let from = from.parse::<Mailbox>().map_err(|e| ConfigError::From {
            address: from.to_owned(),
            reason: e.to_string(),
        })?;
        let transport = match transport {
            MailTransport::Log => Transport::Log,
            MailTransport::Smtp(url) => {
                let url = url.trim();
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| ConfigError::SmtpUrl(e.to_string()))?
                    .timeout(Some(timeout));
                Transport::Smtp(Arc::new(Smtp {
                    current: Mutex::new((0, builder.clone().build())),
                    builder,
                    description: describe_url(url),
                }))
            }
        };
        Ok(Self {
            from,
            timeout,
            transport,
        })
    }

    /// Where mails go, for the startup log: `smtp://host:port` (never the credentials) or
    /// `log`.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(smtp) => smtp.description.clone(),
            Transport::Log => "log".to_owned(),
        }
    }

    /// Sends `mail` as a multipart/alternative message (text and HTML).
    ///
    /// A relay that does not answer within the timeout gives [`SendError::Transient`], but the
    /// send goes on in the background and the relay may still take the mail: a retry can then
    /// deliver it twice, with the same `Message-ID`.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), SendError> {
        let message = self.build(mail)?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                let smtp = Arc::clone(smtp);
                let task = tokio::spawn(async move { smtp.send(message).await });
                match tokio::time::timeout(self.timeout, task).await {
                    Ok(Ok(result)) => result?,
                    Ok(Err(failed)) => {
                        return Err(SendError::Transient(format!(
                            "the send task failed: {failed}"
                        )));
                    }
                    Err(_) => {
                        return Err(SendError::Transient(format!(
                            "no answer from the SMTP server within {:?}",
                            self.timeout
                        )));
                    }
                }
                tracing::debug!(message_id = %mail.message_id_header(), "mail sent");
            }
            Transport::Log => tracing::info!(
                to = %mail.to,
                subject = %mail.subject,
                message_id = %mail.message_id_header(),
                text = %mail.text,
                "mail not sent (MAIL_TRANSPORT=log: for development only)"
            ),
        }
        Ok(())
    }

    fn build(&self, mail: &OutgoingMail) -> Result<Message, SendError> {
        let address = mail
            .to
            .parse::<Address>()
            .map_err(|e| SendError::Permanent(format!("invalid recipient address: {e}")))?;
        let to = Mailbox::new(mail.to_name.as_deref().map(one_line), address);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(one_line(&mail.subject))
            .message_id(Some(mail.message_id_header()))
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
    }
}

impl Smtp {
    async fn send(&self, message: Message) -> Result<(), SendError> {
        let (generation, transport) = self.current().clone();
        let send = transport.send(message);
        tokio::pin!(send);
        tokio::select! {
            result = &mut send => result.map(drop).map_err(classify),
            () = tokio::time::sleep(ABANDON_AFTER) => {
                // Retire the pool before `send` is dropped, so the connection it gives back
                // goes to a pool nobody takes from any more.
                self.retire(generation);
                Err(SendError::Transient(format!(
                    "no answer from the SMTP server within {ABANDON_AFTER:?}"
                )))
            }
        }
    }

    fn current(&self) -> MutexGuard<'_, (u64, AsyncSmtpTransport<Tokio1Executor>)> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the pool of `generation` (unless that happened already) with a fresh one. The
    /// old pool closes its connections once its last send ends.
    fn retire(&self, generation: u64) {
        let mut current = self.current();
        if current.0 == generation {
            tracing::warn!("SMTP send abandoned; starting a fresh connection pool");
            *current = (generation + 1, self.builder.clone().build());
        }
    }
}

/// A 5xx reply, or a client-side refusal (e.g. the server lacks 8BITMIME for this message),
/// is permanent; everything else (connection refused, timeouts, TLS, 4xx, garbled replies)
/// may go away, so it is transient.
fn classify(error: lettre::transport::smtp::Error) -> SendError {
    let text = error.to_string();
    if error.is_permanent() || error.is_client() {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}

/// `scheme://host:port` plus the `tls` mode if given; user, password and EHLO name left out.
fn describe_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("smtp", url));
    let (authority_and_path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = authority_and_path.split('/').next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let tls = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("tls="))
        .filter(|mode| !mode.is_empty());
    let has_port = host_port
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    // lettre's defaults for a URL without a port.
    let host_port = match (has_port, scheme, tls) {
        (true, ..) => host_port.to_owned(),
        (false, "smtps", _) => format!("{host_port}:465"),
        (false, _, Some(_)) => format!("{host_port}:587"),
        (false, ..) => format!("{host_port}:25"),
    };
    match tls {
        Some(mode) => format!("{scheme}://{host_port}?tls={mode}"),
        None => format!("{scheme}://{host_port}"),
    }
}

/// A value made fit for a header: control characters (CR and LF above all) become spaces.
/// lettre would encode them anyway; this keeps a subject or a name one readable line.
pub(crate) fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(message_id: &str) -> OutgoingMail {
        OutgoingMail {
            to: "ada@example.com".to_owned(),
            to_name: None,
            subject: "s".to_owned(),
            text: "t".to_owned(),
            html: "h".to_owned(),
            message_id: message_id.to_owned(),
        }
    }

    #[test]
    fn describe_url_leaves_out_credentials_and_ehlo_name() {
        let cases = [
            ("smtp://127.0.0.1:2525", "smtp://127.0.0.1:2525"),
            (
                "smtps://user:p%40ss@mail.example.com",
                "smtps://mail.example.com:465",
            ),
            (
                "smtp://u:secret@mail.example.com:587/ehlo.example?tls=required",
                "smtp://mail.example.com:587?tls=required",
            ),
            (
                "smtp://mail.example.com?tls=opportunistic",
                "smtp://mail.example.com:587?tls=opportunistic",
            ),
            ("smtp://mail.example.com", "smtp://mail.example.com:25"),
        ];
        for (url, expected) in cases {
            assert_eq!(describe_url(url), expected, "for {url}");
        }
    }

    #[test]
    fn message_id_header_is_stable_and_well_formed() {
        assert_eq!(mail("job-42").message_id_header(), "<job-42@noillin>");
        assert_eq!(mail("a b<c>@d").message_id_header(), "<a-b-c--d@noillin>");
        assert_eq!(mail("").message_id_header(), "<-@noillin>");
    }

    #[test]
    fn log_mode_is_only_what_is_chosen() {
        let mailer = Mailer::new(MailTransport::Log, "Noillin <no-reply@noillin.local>").unwrap();
        assert_eq!(mailer.describe(), "log");
        assert!(matches!(
            Mailer::new(MailTransport::Smtp("  "), "a@example.com"),
            Err(ConfigError::SmtpUrl(_))
        ));
    }

    #[test]
    fn a_bad_sender_or_url_is_a_config_error() {
        assert!(matches!(
            Mailer::new(MailTransport::Log, "not an address"),
            Err(ConfigError::From { .. })
        ));
        assert!(matches!(
            Mailer::new(
                MailTransport::Smtp("http://mail.example.com"),
                "a@example.com"
            ),
            Err(ConfigError::SmtpUrl(_))
        ));
    }

    #[tokio::test]
    async fn a_tls_url_builds_with_the_process_crypto_provider() {
        // What the binaries do at start; lettre would fall back to ring without it.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mailer = Mailer::new(
            MailTransport::Smtp("smtps://user:secret@mail.example.com"),
            "Noillin <no-reply@noillin.local>",
        )
        .unwrap();
        assert_eq!(mailer.describe(), "smtps://mail.example.com:465");
    }
}
