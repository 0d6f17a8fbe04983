//! Sending mail with a record per mail: the record is stored before the first attempt, each
//! attempt holds it (two deliveries of one job never send at once), and the outcome is recorded
//! after it, so a mail is sent once per record (a crash between the SMTP server accepting it
//! and the record saying so is the one way it goes twice). A transient
//! refusal fails the message, which the retry tiers bring back later; a permanent one, or a
//! transient one on the message's last attempt, marks the mail failed and ends there.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use noillin_auth::secret::{random_token, token_hash};
use noillin_domain::event::Event;
use noillin_domain::{
    Email, User, UserId,
    booking::Booking,
    gig::Money,
    mail::{Mail, MailId, MailStatus},
    notification::{GigNotice, Notification},
};
use noillin_mail::{Mailer, OutgoingMail, Rendered, SendError, templates};
use noillin_messaging::Envelope;
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

    /// The password-reset mail of a `email.password_reset` job. The job names a stored request;
    /// the token is minted here, while this attempt holds the mail, and only its hash is stored
    /// on the request. Each attempt that reaches the SMTP server mints anew and replaces the
    /// hash, so a request has one working token: the one in the last mail sent. A mail recorded
    /// as sent is never sent again, so a redelivered job mints nothing.
    pub async fn password_reset(
        &self,
        envelope: &Envelope,
        last_attempt: bool,
    ) -> Result<(), Failure> {
        let Event::PasswordResetMail {
            request_id,
            user_id,
        } = &envelope.event
        else {
            return Err(Failure::Malformed("not a password reset job".into()));
        };
        let user = self
            .store
            .users
            .find_by_id(&UserId::from_string(user_id.as_str()))
            .await?
            .ok_or_else(|| Failure::Malformed(format!("unknown user {user_id}")))?;
        let id = MailId::from_string(envelope.id.to_string());
        let template = "password_reset";
        if !self
            .hold(
                &id,
                &user.email,
                template,
                templates::PASSWORD_RESET_SUBJECT,
            )
            .await?
        {
            return Ok(());
        }
        let token = random_token().map_err(|e| Failure::Unavailable(e.to_string()))?;
        let request = self
            .store
            .password_resets
            .set_token(
                request_id,
                &user.id,
                &token_hash(token.expose()),
                Timestamp::now(),
            )
            .await?;
        let Some(request) = request else {
            let reason = "the reset request was used, expired or unknown before its mail left";
            self.store
                .mails
                .record_attempt(&id, MailStatus::Failed, Some(reason), Timestamp::now())
                .await?;
            tracing::warn!(mail_id = %id, request_id, "{reason}");
            return Ok(());
        };
        let link = format!("{}/reset-password?token={}", self.app_url, token.expose());
        let expires = request
            .expires_at
            .strftime("at %H:%M UTC on %Y-%m-%d")
            .to_string();
        let rendered = templates::password_reset(&user.display_name, &link, &expires);
        self.deliver(
            &id,
            &user.email,
            Some(&user.display_name),
            template,
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
        self.notification_mail(
            notification,
            recipient,
            "gig_invitation",
            rendered,
            last_attempt,
        )
        .await
    }

    /// The mail that goes with a booking notification: its own headline and text, and a link
    /// to the booking.
    pub async fn booking_update(
        &self,
        notification: &Notification,
        recipient: &User,
        last_attempt: bool,
    ) -> Result<(), Failure> {
        let booking = notification
            .booking_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let link = format!("{}/bookings/{booking}", self.app_url);
        let rendered = templates::booking_update(
            &recipient.display_name,
            &notification.title,
            &notification.body,
            &link,
        );
        let template = notification.kind.as_str();
        self.notification_mail(notification, recipient, template, rendered, last_attempt)
            .await
    }

    /// The statement that goes with a payout notification: the booking's price, the fee, the
    /// recipient's share, what refunds took back, and the transfer.
    pub async fn payout_statement(
        &self,
        notification: &Notification,
        recipient: &User,
        booking: &Booking,
        last_attempt: bool,
    ) -> Result<(), Failure> {
        let Some(settlement) = &booking.settlement else {
            return Ok(());
        };
        let Some(share) = settlement
            .shares
            .iter()
            .find(|share| share.user_id == recipient.id)
        else {
            return Ok(());
        };
        let money = |amount_minor: i64| {
            Money {
                amount_minor,
                currency: settlement.currency.clone(),
            }
            .to_string()
        };
        let mut lines = vec![
            ("Booking".to_owned(), booking.gig_title.clone()),
            (
                "Kept of the brand's payment".to_owned(),
                money(settlement.gross_minor),
            ),
            ("Platform fee".to_owned(), money(settlement.fee_minor)),
            ("Your share".to_owned(), money(share.earned_minor)),
        ];
        if share.reversed_minor > 0 {
            lines.push((
                "Taken back by refunds".to_owned(),
                money(-share.reversed_minor),
            ));
        }
        if let Some(payout) = &share.payout {
            lines.push(("Transferred to you".to_owned(), money(payout.amount_minor)));
            if let Some(transfer) = &payout.transfer_id {
                lines.push(("Stripe transfer".to_owned(), transfer.clone()));
            }
        }
        let link = format!("{}/bookings/{}", self.app_url, booking.id);
        let rendered = templates::payout_statement(
            &recipient.display_name,
            &notification.title,
            &notification.body,
            &lines,
            &link,
        );
        let template = notification.kind.as_str();
        self.notification_mail(notification, recipient, template, rendered, last_attempt)
            .await
    }

    /// The one mail about what `recipient` left unread in a conversation, under `id` (one per
    /// unread stretch: the caller derives it from where the recipient's reading stopped).
    pub async fn unread_messages(
        &self,
        id: &MailId,
        recipient: &User,
        conversation_id: &str,
        lines: &[templates::UnreadLine],
        more: u64,
        last_attempt: bool,
    ) -> Result<(), Failure> {
        let link = format!("{}/conversations/{conversation_id}", self.app_url);
        let rendered = templates::unread_messages(&recipient.display_name, lines, more, &link);
        let template = "unread_messages";
        if !self
            .hold(id, &recipient.email, template, &rendered.subject)
            .await?
        {
            return Ok(());
        }
        self.deliver(
            id,
            &recipient.email,
            Some(&recipient.display_name),
            template,
            rendered,
            last_attempt,
        )
        .await
    }

    /// Sends the mail of `notification` to its recipient once: its record is named after the
    /// notification, so a redelivered event finds it.
    async fn notification_mail(
        &self,
        notification: &Notification,
        recipient: &User,
        template: &str,
        rendered: Rendered,
        last_attempt: bool,
    ) -> Result<(), Failure> {
        let id = MailId::from_string(notification.id.to_string());
        if !self
            .hold(&id, &recipient.email, template, &rendered.subject)
            .await?
        {
            return Ok(());
        }
        self.deliver(
            &id,
            &recipient.email,
            Some(&recipient.display_name),
            template,
            rendered,
            last_attempt,
        )
        .await
    }

    /// Stores the mail's record unless it exists and takes it for one sending attempt: `true`
    /// when this attempt is to send it, `false` when it was sent or failed for good before.
    async fn hold(
        &self,
        id: &MailId,
        to: &Email,
        template: &str,
        subject: &str,
    ) -> Result<bool, Failure> {
        let mails = &self.store.mails;
        let record = mails
            .insert(&Mail::queued(
                id.clone(),
                to.clone(),
                template,
                subject,
                Timestamp::now(),
            ))
            .await?;
        if record.status.is_final() {
            tracing::info!(mail_id = %id, status = record.status.as_str(), "mail already handled");
            return Ok(false);
        }
        let now = Timestamp::now();
        if mails
            .start_attempt(id, now, now + self.attempt_hold)
            .await?
            .is_none()
        {
            // Another delivery of the same job is sending it (or just finished): come back
            // later and find out which.
            return Err(Failure::Unavailable(format!(
                "mail {id} is being sent by another delivery"
            )));
        }
        Ok(true)
    }

    /// Sends a mail this attempt holds and records the outcome.
    async fn deliver(
        &self,
        id: &MailId,
        to: &Email,
        to_name: Option<&str>,
        template: &str,
        rendered: Rendered,
        last_attempt: bool,
    ) -> Result<(), Failure> {
        let mails = &self.store.mails;
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
            .record_attempt(id, status, error.as_deref(), Timestamp::now())
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
