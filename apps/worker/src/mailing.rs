//! Sending mail with a record per mail: the record is stored before the first attempt, each
//! attempt holds it (two deliveries of one job never send at once), and the outcome is recorded
//! after it, so a mail is sent once per record (a crash between the SMTP server accepting it
//! and the record saying so is the one way it goes twice). A transient
//! refusal fails the message, which the retry tiers bring back later; a permanent one, or a
//! transient one on the message's last attempt, marks the mail failed and ends there.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use noillin_domain::{
    Email, User,
    mail::{Mail, MailId, MailStatus},
    notification::{GigNotice, Notification},
};
use noillin_mail::{Mailer, OutgoingMail, Rendered, SendError, templates};
use noillin_messaging::{Envelope, Event};
use noillin_store::Store;

use crate::handlers::Failure;

/// Renders and sends the platform's mails, keeping their records.
pub struct MailDesk {
    mailer: Mailer,
    store: Store,
    /// Where the web apps are, for links in mails (no trailing slash).
    app_url: String,
    /// How long one sending attempt holds a mail: a few times what the mailer waits for the
    /// server, so only a sender that died lets another attempt take the mail early.
    attempt_hold: SignedDuration,
}

impl MailDesk {
    pub fn new(mailer: Mailer, store: Store, app_url: String, smtp_timeout: Duration) -> Self {
        let attempt_hold =
            SignedDuration::try_from(smtp_timeout * 3).unwrap_or(SignedDuration::from_mins(1));
        Self {
            mailer,
            store,
            app_url,
            attempt_hold,
        }
    }

    /// The password-reset mail of a `email.password_reset` job.
    pub async fn password_reset(
        &self,
        envelope: &Envelope,
        last_attempt: bool,
    ) -> Result<(), Failure> {
        let Event::PasswordResetMail {
            email,
            display_name,
            reset_token,
            expires_at,
            ..
        } = &envelope.event
        else {
            return Err(Failure::Malformed("not a password reset job".into()));
        };
        let to = Email::parse(email).map_err(|e| Failure::Malformed(format!("email: {e}")))?;
        let link = format!("{}/reset-password?token={reset_token}", self.app_url);
        let expires = expires_at.strftime("at %H:%M UTC on %Y-%m-%d").to_string();
        let rendered = templates::password_reset(display_name, &link, &expires);
        self.send(
            MailId::from_string(envelope.id.to_string()),
            &to,
            Some(display_name),
            "password_reset",
            rendered,
            last_attempt,
        )
        .await
    }

    /// The mail that goes with a gig invitation notification.
    pub async fn gig_invitation(
        &self,
        notification: &Notification,
        recipient: &User,
        notice: &GigNotice<'_>,
        last_attempt: bool,
    ) -> Result<(), Failure> {
        let link = format!("{}/gigs/{}", self.app_url, notice.gig_id);
        let rendered = templates::gig_invitation(
            &recipient.display_name,
            notice.actor_name,
            notice.gig_title,
            &link,
        );
        self.send(
            MailId::from_string(notification.id.to_string()),
            &recipient.email,
            Some(&recipient.display_name),
            "gig_invitation",
            rendered,
            last_attempt,
        )
        .await
    }

    async fn send(
        &self,
        id: MailId,
        to: &Email,
        to_name: Option<&str>,
        template: &str,
        rendered: Rendered,
        last_attempt: bool,
    ) -> Result<(), Failure> {
        let mails = &self.store.mails;
        let record = mails
            .insert(&Mail::queued(
                id.clone(),
                to.clone(),
                template,
                &rendered.subject,
                Timestamp::now(),
            ))
            .await?;
        if record.status.is_final() {
            tracing::info!(mail_id = %id, status = record.status.as_str(), "mail already handled");
            return Ok(());
        }
        let now = Timestamp::now();
        if mails
            .start_attempt(&id, now, now + self.attempt_hold)
            .await?
            .is_none()
        {
            // Another delivery of the same job is sending it (or just finished): come back
            // later and find out which.
            return Err(Failure::Unavailable(format!(
                "mail {id} is being sent by another delivery"
            )));
        }
        let outgoing = OutgoingMail {
            to: to.to_string(),
            to_name: to_name.map(str::to_owned),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            message_id: id.to_string(),
        };
        let (status, error) = match self.mailer.send(&outgoing).await {
            Ok(()) => (MailStatus::Sent, None),
            Err(SendError::Transient(e)) if !last_attempt => (MailStatus::Queued, Some(e)),
            Err(SendError::Transient(e) | SendError::Permanent(e)) => (MailStatus::Failed, Some(e)),
        };
        let record = mails
            .record_attempt(&id, status, error.as_deref(), Timestamp::now())
            .await?;
        metrics::counter!("mails_total", "template" => template.to_owned(), "outcome" => status.as_str())
            .increment(1);
        match (status, error) {
            (MailStatus::Queued, Some(e)) => {
                Err(Failure::Unavailable(format!("smtp refused for now: {e}")))
            }
            (MailStatus::Failed, error) => {
                tracing::warn!(mail_id = %id, template, attempts = record.attempts, error = error.as_deref().unwrap_or(""), "mail failed for good");
                Ok(())
            }
            _ => {
                tracing::info!(mail_id = %id, template, attempts = record.attempts, "mail sent");
                Ok(())
            }
        }
    }
}
