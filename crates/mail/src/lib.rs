//! Outgoing email: the one crate that talks SMTP (through lettre). It renders the platform's
//! mails ([`templates`]) and sends them ([`Mailer`]), telling the caller whether a failure is
//! worth a retry. Recording mails and retrying them is the worker's job, not this crate's.

mod mailer;
pub mod templates;

pub use mailer::{ConfigError, DEFAULT_TIMEOUT, MailTransport, Mailer, OutgoingMail, SendError};
pub use templates::Rendered;
