//! What the worker does with each kind of message. Every handler is idempotent, because a
//! message can arrive more than once: its effects are stored under ids derived from the
//! message id (a notification, a mail record), and each side effect (a push, a mail) is done
//! only while its record says it has not been.

use std::sync::Arc;

use noillin_domain::{booking::MarketTerms, event::Event};
use noillin_messaging::{Concern, Envelope};
use noillin_payments::Payments;
use noillin_redis::Redis;
use noillin_search::LazySearch;
use noillin_store::{Store, StoreError};

use crate::{mailing::MailDesk, notify};

/// Why a message could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A dependency (store, Redis, SMTP server) is down or refused for now.
    #[error("{0}")]
    Unavailable(String),
    /// Stored data the message needs cannot be decoded; every retry would read it again.
    #[error("{0}")]
    Corrupt(String),
}

impl Failure {
    /// Whether trying again later can succeed (a dependency that is down) or never will (a
    /// message that cannot be read or handled).
    pub fn retryable(&self) -> bool {
        match self {
            Failure::Malformed(_) | Failure::Corrupt(_) => false,
            Failure::Unavailable(_) => true,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt(_) => Failure::Corrupt(format!("store: {e}")),
            _ => Failure::Unavailable(format!("store: {e}")),
        }
    }
}

impl From<noillin_redis::Error> for Failure {
    fn from(e: noillin_redis::Error) -> Self {
        Failure::Unavailable(e.to_string())
    }
}

/// What handlers reach.
pub struct Handlers {
    pub store: Store,
    pub redis: Redis,
    pub mail: MailDesk,
    /// The search index this process alone writes (the embedded one) or shares (Meilisearch).
    pub search: Arc<LazySearch>,
    /// Stripe: intents to read and cancel, refunds, transfers to influencers.
    pub payments: Payments,
    /// Fees, payout delay and approval window.
    pub terms: MarketTerms,
}

impl Handlers {
    /// Runs the effect of one message taken from `concern`'s queue (an event bound to two
    /// queues, like `booking.refund_due`, does one thing in each). `last_attempt`: a failure
    /// now parks the message, so a handler records its own final outcome (a mail marked failed)
    /// before giving up.
    pub async fn handle(
        &self,
        concern: Concern,
        envelope: &Envelope,
        last_attempt: bool,
    ) -> Result<(), Failure> {
        match &envelope.event {
            Event::InstanceStarted { service, instance } => {
                tracing::info!(service, instance, "platform instance started");
                Ok(())
            }
            Event::PasswordResetMail { .. } => {
                self.mail.password_reset(envelope, last_attempt).await
            }
            Event::UserSessionsEnded { .. } => crate::sessions::ended(self, envelope).await,
            Event::GigMemberInvited { .. }
            | Event::GigMemberAnswered { .. }
            | Event::GigPublished { .. }
            | Event::GigArchived { .. } => notify::gig_event(self, envelope, last_attempt).await,
            Event::BookingHoldExpiryDue { booking_id } => {
                crate::payments::settle_lapsed(self, booking_id).await
            }
            Event::PaymentEventReceived { .. } => {
                crate::payments::event_received(self, envelope, last_attempt).await
            }
            Event::BookingIntentCancelDue { .. } => {
                crate::payments::intent_cancel_due(self, envelope).await
            }
            Event::BookingRefundDue { .. } if concern == Concern::Payments => {
                crate::payments::refund_due(self, envelope).await
            }
            Event::BookingAutoCompleteDue { booking_id } => {
                crate::payouts::auto_complete(self, booking_id, envelope.correlation_id.as_deref())
                    .await
            }
            Event::BookingPayoutDue { booking_id } => {
                crate::payouts::pay_out(self, booking_id, envelope.correlation_id.as_deref()).await
            }
            Event::BookingRefundDue { .. }
            | Event::BookingConfirmed { .. }
            | Event::BookingCancelled { .. }
            | Event::BookingPaymentFailed { .. }
            | Event::BookingDelivered { .. }
            | Event::BookingRevisionRequested { .. }
            | Event::BookingCompleted { .. }
            | Event::BookingPayoutSent { .. }
            | Event::ReviewPosted { .. } => {
                notify::booking_event(self, envelope, last_attempt).await
            }
            Event::MessageCreated { .. } => {
                crate::chat::message_created(self, envelope, last_attempt).await
            }
            Event::ChatUnreadMailDue { .. } => {
                crate::chat::unread_mail_due(self, envelope, last_attempt).await
            }
            Event::SearchInfluencerChanged { .. } => {
                crate::search::influencer_changed(self, envelope).await
            }
            Event::SearchGigChanged { .. } => crate::search::gig_changed(self, envelope).await,
            Event::SearchReindexRequested { .. } => crate::search::reindex(self, envelope).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_stored_data_parks_the_message_at_once_with_its_reason() {
        let failure = Failure::from(StoreError::Corrupt(
            "unreadable role in SQLite: wizard".into(),
        ));
        assert!(!failure.retryable());
        assert!(
            failure
                .to_string()
                .contains("unreadable role in SQLite: wizard"),
            "{failure}"
        );
        assert!(Failure::from(StoreError::Unavailable("database is locked".into())).retryable());
    }
}
