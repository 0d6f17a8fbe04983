//! Outgoing email as the platform records it: one record per mail, with its status and the
//! attempts made. The mail's text is not kept (a password-reset mail carries a secret link).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Email, id::string_id};

string_id! {
    /// A mail's id: the id of what caused it (a job's message id, a notification id), so a
    /// redelivered job finds its mail already recorded.
    MailId
}

/// Where a mail is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    /// Not sent yet: never tried, or every try so far failed transiently.
    Queued,
    /// The SMTP server accepted it (or, without SMTP, it was written to the log).
    Sent,
    /// Given up: the server refused it for good, or the transient failures outlasted the
    /// retries.
    Failed,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Queued => "queued",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [MailStatus::Queued, MailStatus::Sent, MailStatus::Failed]
            .into_iter()
            .find(|status| status.as_str() == s)
    }

    /// Whether no further attempt may be made: a sent mail is never sent again, a failed one
    /// is not retried.
    pub fn is_final(self) -> bool {
        self != MailStatus::Queued
    }
}

/// One outgoing mail.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    pub id: MailId,
    pub to: Email,
    /// The template it is rendered from (`password_reset`, `gig_invitation`, …).
    pub template: String,
    pub subject: String,
    pub status: MailStatus,
    /// Sending attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Mail {
    /// A mail about to be sent for the first time.
    pub fn queued(id: MailId, to: Email, template: &str, subject: &str, now: Timestamp) -> Self {
        Self {
            id,
            to,
            template: template.to_owned(),
            subject: subject.to_owned(),
            status: MailStatus::Queued,
            attempts: 0,
            last_error: None,
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_only_queued_allows_another_attempt() {
        for status in [MailStatus::Queued, MailStatus::Sent, MailStatus::Failed] {
            assert_eq!(MailStatus::parse(status.as_str()), Some(status));
            assert_eq!(status.is_final(), status != MailStatus::Queued);
        }
        assert_eq!(MailStatus::parse("bounced"), None);
    }

    #[test]
    fn a_new_mail_is_queued_with_no_attempts() {
        let mail = Mail::queued(
            MailId::from_string("m-1"),
            Email::parse("ana@example.com").unwrap(),
            "password_reset",
            "Reset your password",
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(mail.status, MailStatus::Queued);
        assert_eq!((mail.attempts, mail.last_error.as_deref()), (0, None));
    }
}
