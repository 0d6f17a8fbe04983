//! Domain events: what happened, as the rest of the platform hears of it. They are domain
//! types (plain data, no I/O); the messaging crate carries them in envelopes through the
//! transactional outbox and RabbitMQ, and decides which queue each one reaches.

use serde::{Deserialize, Serialize};

use crate::payment::PaymentEvent;

/// Every event the platform emits. The serde tag is the event's [name](Event::name), which is
/// also its routing key on the wire, so the broker routes on exactly what consumers deserialize.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    /// A process of the platform started (deploy tracking; also proves the pipeline end to end).
    #[serde(rename = "system.instance_started")]
    InstanceStarted { service: String, instance: String },
    /// Someone asked to reset the password of this account: mint the link's token for the
    /// stored request and mail it. No secret travels: the mail worker makes the token and the
    /// store keeps only its hash.
    #[serde(rename = "email.password_reset")]
    PasswordResetMail { request_id: String, user_id: String },
    /// Every session of the user ended (password reset, suspension, reinstatement): its token
    /// version is now `token_version`. Tell the realtime nodes, which have no store, and close
    /// the user's open sockets.
    #[serde(rename = "user.sessions_ended")]
    UserSessionsEnded { user_id: String, token_version: u32 },
    /// The owner of a draft group gig invited an influencer into it.
    #[serde(rename = "gig.member_invited")]
    GigMemberInvited {
        gig_id: String,
        title: String,
        owner_id: String,
        member_id: String,
    },
    /// An invited member accepted or declined.
    #[serde(rename = "gig.member_answered")]
    GigMemberAnswered {
        gig_id: String,
        title: String,
        owner_id: String,
        member_id: String,
        accepted: bool,
    },
    /// A gig was published; `member_ids` are its members other than the owner.
    #[serde(rename = "gig.published")]
    GigPublished {
        gig_id: String,
        title: String,
        owner_id: String,
        member_ids: Vec<String>,
    },
    /// A gig was archived; `member_ids` are its accepted members other than the owner.
    #[serde(rename = "gig.archived")]
    GigArchived {
        gig_id: String,
        title: String,
        owner_id: String,
        member_ids: Vec<String>,
    },
    /// An unpaid hold reaches its expiry now: if the booking is still unpaid, it expires and
    /// its Redis hold is released. Delivered after the hold's time to live; reads and new
    /// bookings treat a lapsed hold as dead already, so this only tidies up.
    #[serde(rename = "booking.hold_expiry_due")]
    BookingHoldExpiryDue { booking_id: String },
    /// A verified payment-provider event, stored once by its id: the worker applies it to its
    /// booking.
    #[serde(rename = "payment.event_received")]
    PaymentEventReceived { event: PaymentEvent },
    /// An unpaid hold ended (abandoned, lapsed, its payment cancelled): cancel its payment
    /// intent so that it can no longer be paid.
    #[serde(rename = "booking.intent_cancel_due")]
    BookingIntentCancelDue { booking_id: String },
    /// Money is owed back to the brand (see the booking's refund): ask the provider for it,
    /// and tell the brand why.
    #[serde(rename = "booking.refund_due")]
    BookingRefundDue { booking_id: String },
    /// A booking was paid: the brand and every member hear of it.
    #[serde(rename = "booking.confirmed")]
    BookingConfirmed { booking_id: String },
    /// A paid booking was cancelled by `by_id`: every other party hears of it.
    #[serde(rename = "booking.cancelled")]
    BookingCancelled { booking_id: String, by_id: String },
    /// An attempt to pay was refused; the brand may try again while the hold lasts.
    #[serde(rename = "booking.payment_failed")]
    BookingPaymentFailed { booking_id: String, reason: String },
    /// A member delivered the booking: the brand hears of it.
    #[serde(rename = "booking.delivered")]
    BookingDelivered { booking_id: String },
    /// The brand asked for a revision: the members hear of it.
    #[serde(rename = "booking.revision_requested")]
    BookingRevisionRequested { booking_id: String },
    /// A delivered booking's approval window may have passed: if it is still delivered and
    /// due, it completes by itself. Delivered after the window; a sweep finds what it misses.
    #[serde(rename = "booking.auto_complete_due")]
    BookingAutoCompleteDue { booking_id: String },
    /// The booking completed (approved, or by itself): every party hears of it.
    #[serde(rename = "booking.completed")]
    BookingCompleted { booking_id: String },
    /// A settled booking's members may be paid now: transfer each one's share. Delivered
    /// after the payout delay; a sweep finds what it misses.
    #[serde(rename = "booking.payout_due")]
    BookingPayoutDue { booking_id: String },
    /// A member's share of the booking was transferred: tell them, with a statement.
    #[serde(rename = "booking.payout_sent")]
    BookingPayoutSent {
        booking_id: String,
        member_id: String,
    },
    /// The brand reviewed the booking: its members hear of it.
    #[serde(rename = "review.posted")]
    ReviewPosted { booking_id: String },
    /// A message was stored: recipients with no socket open are notified.
    #[serde(rename = "message.created")]
    MessageCreated {
        conversation_id: String,
        seq: u64,
        sender_id: String,
        recipient_ids: Vec<String>,
    },
    /// A message reaches the age at which, if `recipient_id` still has not read it, they get
    /// one mail about what is unread in the conversation.
    #[serde(rename = "chat.unread_mail_due")]
    ChatUnreadMailDue {
        conversation_id: String,
        recipient_id: String,
        seq: u64,
    },
    /// Something an influencer's search document shows changed (profile, account status, the
    /// prices of the gigs they own). Only the id travels: the search-sync handler reads the
    /// current state, so a late or repeated event never indexes an old one.
    #[serde(rename = "search.influencer_changed")]
    SearchInfluencerChanged { user_id: String },
    /// Something a gig's search document shows changed (created, edited, published, archived,
    /// members changed); as for [`Event::SearchInfluencerChanged`], only the id travels.
    #[serde(rename = "search.gig_changed")]
    SearchGigChanged { gig_id: String },
    /// An operator asked to rebuild one search index (`influencers` or `gigs`) from the store:
    /// the worker, the index's one writer, builds a fresh copy beside the live one and swaps it
    /// in.
    #[serde(rename = "search.reindex_requested")]
    SearchReindexRequested { index: String },
}

impl Event {
    /// The event's name: its serde tag, and the routing key it travels under.
    pub fn name(&self) -> &'static str {
        match self {
            Event::InstanceStarted { .. } => "system.instance_started",
            Event::PasswordResetMail { .. } => "email.password_reset",
            Event::UserSessionsEnded { .. } => "user.sessions_ended",
            Event::GigMemberInvited { .. } => "gig.member_invited",
            Event::GigMemberAnswered { .. } => "gig.member_answered",
            Event::GigPublished { .. } => "gig.published",
            Event::GigArchived { .. } => "gig.archived",
            Event::BookingHoldExpiryDue { .. } => "booking.hold_expiry_due",
            Event::PaymentEventReceived { .. } => "payment.event_received",
            Event::BookingIntentCancelDue { .. } => "booking.intent_cancel_due",
            Event::BookingRefundDue { .. } => "booking.refund_due",
            Event::BookingConfirmed { .. } => "booking.confirmed",
            Event::BookingCancelled { .. } => "booking.cancelled",
            Event::BookingPaymentFailed { .. } => "booking.payment_failed",
            Event::BookingDelivered { .. } => "booking.delivered",
            Event::BookingRevisionRequested { .. } => "booking.revision_requested",
            Event::BookingAutoCompleteDue { .. } => "booking.auto_complete_due",
            Event::BookingCompleted { .. } => "booking.completed",
            Event::BookingPayoutDue { .. } => "booking.payout_due",
            Event::BookingPayoutSent { .. } => "booking.payout_sent",
            Event::ReviewPosted { .. } => "review.posted",
            Event::MessageCreated { .. } => "message.created",
            Event::ChatUnreadMailDue { .. } => "chat.unread_mail_due",
            Event::SearchInfluencerChanged { .. } => "search.influencer_changed",
            Event::SearchGigChanged { .. } => "search.gig_changed",
            Event::SearchReindexRequested { .. } => "search.reindex_requested",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        gig::Money,
        payment::{IntentFacts, PaymentEventKind},
    };

    #[test]
    fn an_events_name_is_its_serde_tag() {
        let events = [
            Event::InstanceStarted {
                service: "core-api".into(),
                instance: "1".into(),
            },
            Event::PasswordResetMail {
                request_id: "r".into(),
                user_id: "u".into(),
            },
            Event::UserSessionsEnded {
                user_id: "u".into(),
                token_version: 2,
            },
            Event::GigMemberInvited {
                gig_id: "g".into(),
                title: "t".into(),
                owner_id: "o".into(),
                member_id: "m".into(),
            },
            Event::GigMemberAnswered {
                gig_id: "g".into(),
                title: "t".into(),
                owner_id: "o".into(),
                member_id: "m".into(),
                accepted: true,
            },
            Event::GigPublished {
                gig_id: "g".into(),
                title: "t".into(),
                owner_id: "o".into(),
                member_ids: vec!["m".into()],
            },
            Event::GigArchived {
                gig_id: "g".into(),
                title: "t".into(),
                owner_id: "o".into(),
                member_ids: vec![],
            },
            Event::BookingHoldExpiryDue {
                booking_id: "b".into(),
            },
            Event::PaymentEventReceived {
                event: PaymentEvent {
                    id: "evt_1".into(),
                    created: jiff::Timestamp::UNIX_EPOCH,
                    kind: PaymentEventKind::IntentCanceled {
                        intent: IntentFacts {
                            intent_id: "pi_1".into(),
                            booking_id: Some("b".into()),
                            amount: Money {
                                amount_minor: 100,
                                currency: "EUR".into(),
                            },
                        },
                    },
                },
            },
            Event::BookingIntentCancelDue {
                booking_id: "b".into(),
            },
            Event::BookingRefundDue {
                booking_id: "b".into(),
            },
            Event::BookingConfirmed {
                booking_id: "b".into(),
            },
            Event::BookingCancelled {
                booking_id: "b".into(),
                by_id: "u".into(),
            },
            Event::BookingPaymentFailed {
                booking_id: "b".into(),
                reason: "declined".into(),
            },
            Event::BookingDelivered {
                booking_id: "b".into(),
            },
            Event::BookingRevisionRequested {
                booking_id: "b".into(),
            },
            Event::BookingAutoCompleteDue {
                booking_id: "b".into(),
            },
            Event::BookingCompleted {
                booking_id: "b".into(),
            },
            Event::BookingPayoutDue {
                booking_id: "b".into(),
            },
            Event::BookingPayoutSent {
                booking_id: "b".into(),
                member_id: "m".into(),
            },
            Event::ReviewPosted {
                booking_id: "b".into(),
            },
            Event::MessageCreated {
                conversation_id: "c".into(),
                seq: 1,
                sender_id: "s".into(),
                recipient_ids: vec!["r".into()],
            },
            Event::ChatUnreadMailDue {
                conversation_id: "c".into(),
                recipient_id: "r".into(),
                seq: 1,
            },
            Event::SearchInfluencerChanged {
                user_id: "u".into(),
            },
            Event::SearchGigChanged { gig_id: "g".into() },
            Event::SearchReindexRequested {
                index: "gigs".into(),
            },
        ];
        for event in events {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["type"], event.name());
            assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
        }
    }
}
