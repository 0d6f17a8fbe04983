//! Notifications: what a user is told about, how it reads, and which kinds also go by email.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{UserId, booking::BookingId, chat::ConversationId, gig::GigId, id::string_id};

string_id! {
    /// A notification's id. Derived from the event that caused it and the recipient, so the
    /// same event handled twice yields the same id (and the second store is a no-op); built as
    /// a UUIDv8 whose first 48 bits are the event's UUIDv7 timestamp, so ids sort by the
    /// event's time.
    NotificationId
}

impl NotificationId {
    /// The id of the notification of `kind` that event `event_id` gives `recipient`.
    pub fn derive(event_id: Uuid, recipient: &UserId, kind: NotificationKind) -> Self {
        let event = event_id.as_bytes();
        let mut hash = Fnv64::default();
        hash.write(event);
        hash.write(recipient.as_str().as_bytes());
        hash.write(kind.as_str().as_bytes());
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&event[..6]);
        bytes[6..14].copy_from_slice(&hash.finish().to_be_bytes());
        // The last two bytes mix in a second pass so every non-version bit depends on the input.
        hash.write(&bytes[6..14]);
        bytes[14..].copy_from_slice(&hash.finish().to_be_bytes()[..2]);
        Self(
            uuid::Builder::from_custom_bytes(bytes)
                .into_uuid()
                .to_string(),
        )
    }
}

/// FNV-1a, 64 bits: a stable hash (std's `DefaultHasher` may change between releases, and
/// these ids are stored).
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// You were invited into a group gig.
    GigInvitation,
    /// A member you invited accepted.
    GigInvitationAccepted,
    /// A member you invited declined.
    GigInvitationDeclined,
    /// A group gig you are a member of was published.
    GigPublished,
    /// A group gig you are a member of was archived.
    GigArchived,
    /// A booking of yours (as its brand or a member) is paid and confirmed.
    BookingConfirmed,
    /// A paid booking of yours was cancelled by another party.
    BookingCancelled,
    /// Your payment for a held slot was refused; you may try again while the hold lasts.
    PaymentFailed,
    /// Money is on its way back to you, and why.
    RefundIssued,
    /// A member delivered your booking: approve it or ask for a revision.
    BookingDelivered,
    /// The brand asked for a revision of what you delivered, and why.
    RevisionRequested,
    /// A booking of yours is complete (approved, or its approval window passed).
    BookingCompleted,
    /// Your share of a booking was transferred to your payout account.
    PayoutSent,
    /// The brand reviewed a booking of yours.
    ReviewPosted,
    /// Someone wrote to you while you had no socket open.
    MessageReceived,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 15] = [
        NotificationKind::GigInvitation,
        NotificationKind::GigInvitationAccepted,
        NotificationKind::GigInvitationDeclined,
        NotificationKind::GigPublished,
        NotificationKind::GigArchived,
        NotificationKind::BookingConfirmed,
        NotificationKind::BookingCancelled,
        NotificationKind::PaymentFailed,
        NotificationKind::RefundIssued,
        NotificationKind::BookingDelivered,
        NotificationKind::RevisionRequested,
        NotificationKind::BookingCompleted,
        NotificationKind::PayoutSent,
        NotificationKind::ReviewPosted,
        NotificationKind::MessageReceived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::GigInvitation => "gig_invitation",
            NotificationKind::GigInvitationAccepted => "gig_invitation_accepted",
            NotificationKind::GigInvitationDeclined => "gig_invitation_declined",
            NotificationKind::GigPublished => "gig_published",
            NotificationKind::GigArchived => "gig_archived",
            NotificationKind::BookingConfirmed => "booking_confirmed",
            NotificationKind::BookingCancelled => "booking_cancelled",
            NotificationKind::PaymentFailed => "payment_failed",
            NotificationKind::RefundIssued => "refund_issued",
            NotificationKind::BookingDelivered => "booking_delivered",
            NotificationKind::RevisionRequested => "revision_requested",
            NotificationKind::BookingCompleted => "booking_completed",
            NotificationKind::PayoutSent => "payout_sent",
            NotificationKind::ReviewPosted => "review_posted",
            NotificationKind::MessageReceived => "message_received",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s)
    }

    /// Whether this kind is also sent by email: the ones that ask the recipient to act, and
    /// the ones that commit or free their time or money (a payout's mail is its statement).
    pub fn emailed(self) -> bool {
        matches!(
            self,
            NotificationKind::GigInvitation
                | NotificationKind::BookingConfirmed
                | NotificationKind::BookingCancelled
                | NotificationKind::RefundIssued
                | NotificationKind::BookingDelivered
                | NotificationKind::RevisionRequested
                | NotificationKind::PayoutSent
        )
    }
}

/// One notification of one user.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: NotificationId,
    pub user_id: UserId,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    /// The gig it is about.
    pub gig_id: Option<GigId>,
    /// The booking it is about.
    pub booking_id: Option<BookingId>,
    /// The conversation it is about (a message received).
    pub conversation_id: Option<ConversationId>,
    /// When the event happened (not when the notification was stored).
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
    /// When it was pushed to the user's open sockets; `None` until a push succeeded.
    pub pushed_at: Option<Timestamp>,
}

impl Notification {
    /// Marks it read at `now`. Reading it again keeps the first read time, so "when did they
    /// see it" stays true. `true` when this changed it.
    pub fn mark_read(&mut self, now: Timestamp) -> bool {
        if self.read_at.is_some() {
            return false;
        }
        self.read_at = Some(now);
        true
    }
}

/// What a gig notification says about its gig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GigNotice<'a> {
    pub gig_id: &'a GigId,
    pub gig_title: &'a str,
    /// The display name of whoever acted (the owner who invited or published, the member who
    /// answered).
    pub actor_name: &'a str,
}

impl Notification {
    /// The notification of `kind` about a gig for `recipient`, caused by event `event_id` that
    /// happened at `occurred_at`.
    pub fn about_gig(
        event_id: Uuid,
        occurred_at: Timestamp,
        recipient: &UserId,
        kind: NotificationKind,
        notice: &GigNotice<'_>,
    ) -> Self {
        let GigNotice {
            gig_title,
            actor_name,
            ..
        } = notice;
        let (title, body) = match kind {
            NotificationKind::GigInvitation => (
                "You are invited to a group gig".to_owned(),
                format!(
                    "{actor_name} invited you to join \u{201c}{gig_title}\u{201d}. Accept or decline it in your dashboard."
                ),
            ),
            NotificationKind::GigInvitationAccepted => (
                "Invitation accepted".to_owned(),
                format!("{actor_name} accepted your invitation to \u{201c}{gig_title}\u{201d}."),
            ),
            NotificationKind::GigInvitationDeclined => (
                "Invitation declined".to_owned(),
                format!("{actor_name} declined your invitation to \u{201c}{gig_title}\u{201d}."),
            ),
            NotificationKind::GigPublished => (
                "Group gig published".to_owned(),
                format!(
                    "{actor_name} published \u{201c}{gig_title}\u{201d}; brands can book it now."
                ),
            ),
            NotificationKind::GigArchived => (
                "Group gig archived".to_owned(),
                format!(
                    "{actor_name} archived \u{201c}{gig_title}\u{201d}; it can no longer be booked."
                ),
            ),
            // Booking kinds are made by [`Notification::about_booking`].
            NotificationKind::BookingConfirmed
            | NotificationKind::BookingCancelled
            | NotificationKind::PaymentFailed
            | NotificationKind::RefundIssued
            | NotificationKind::BookingDelivered
            | NotificationKind::RevisionRequested
            | NotificationKind::BookingCompleted
            | NotificationKind::PayoutSent
            | NotificationKind::ReviewPosted
            | NotificationKind::MessageReceived => (
                "Gig update".to_owned(),
                format!("{actor_name} changed \u{201c}{gig_title}\u{201d}."),
            ),
        };
        Self {
            id: NotificationId::derive(event_id, recipient, kind),
            user_id: recipient.clone(),
            kind,
            title,
            body,
            gig_id: Some(notice.gig_id.clone()),
            booking_id: None,
            conversation_id: None,
            created_at: occurred_at,
            read_at: None,
            pushed_at: None,
        }
    }
}

impl Notification {
    /// The notification of a message `recipient` received while no socket of theirs was open:
    /// who wrote and the start of what they wrote.
    pub fn about_message(
        event_id: Uuid,
        occurred_at: Timestamp,
        recipient: &UserId,
        conversation_id: &ConversationId,
        sender_name: &str,
        preview: &str,
    ) -> Self {
        let kind = NotificationKind::MessageReceived;
        Self {
            id: NotificationId::derive(event_id, recipient, kind),
            user_id: recipient.clone(),
            kind,
            title: format!("New message from {sender_name}"),
            body: preview.to_owned(),
            gig_id: None,
            booking_id: None,
            conversation_id: Some(conversation_id.clone()),
            created_at: occurred_at,
            read_at: None,
            pushed_at: None,
        }
    }
}

/// What a booking notification says about its booking, as its recipient reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingNotice<'a> {
    pub booking_id: &'a BookingId,
    pub gig_id: &'a GigId,
    pub gig_title: &'a str,
    /// The start as the recipient reads it: in their own zone, named.
    pub local_start: &'a str,
    /// The price paid, or the amount going back for a refund.
    pub amount: &'a str,
    /// Why it happened (a cancellation's or a refund's reason, a refused payment's cause).
    pub reason: &'a str,
}

impl Notification {
    /// The notification of `kind` about a booking for `recipient`, caused by event `event_id`
    /// that happened at `occurred_at`.
    pub fn about_booking(
        event_id: Uuid,
        occurred_at: Timestamp,
        recipient: &UserId,
        kind: NotificationKind,
        notice: &BookingNotice<'_>,
    ) -> Self {
        let BookingNotice {
            gig_title,
            local_start,
            amount,
            reason,
            ..
        } = notice;
        let (title, body) = match kind {
            NotificationKind::BookingCancelled => (
                "Booking cancelled".to_owned(),
                format!(
                    "\u{201c}{gig_title}\u{201d} on {local_start} was cancelled: {reason}. The slot is free again."
                ),
            ),
            NotificationKind::PaymentFailed => (
                "Payment refused".to_owned(),
                format!(
                    "Your payment for \u{201c}{gig_title}\u{201d} on {local_start} was refused ({reason}). You can try again while the slot is held."
                ),
            ),
            NotificationKind::RefundIssued => (
                "Refund on its way".to_owned(),
                format!(
                    "{amount} for \u{201c}{gig_title}\u{201d} on {local_start} is being returned to you: {reason}."
                ),
            ),
            NotificationKind::BookingDelivered => (
                "Delivered: your answer is due".to_owned(),
                format!(
                    "\u{201c}{gig_title}\u{201d} on {local_start} was delivered. Approve it or ask for a revision; without an answer it completes by itself."
                ),
            ),
            NotificationKind::RevisionRequested => (
                "Revision requested".to_owned(),
                format!(
                    "The brand asked for a revision of \u{201c}{gig_title}\u{201d} on {local_start}: {reason}."
                ),
            ),
            NotificationKind::BookingCompleted => (
                "Booking complete".to_owned(),
                format!("\u{201c}{gig_title}\u{201d} on {local_start} is complete: {reason}."),
            ),
            NotificationKind::PayoutSent => (
                "Payout sent".to_owned(),
                format!(
                    "{amount} for \u{201c}{gig_title}\u{201d} on {local_start} was transferred to your payout account."
                ),
            ),
            NotificationKind::ReviewPosted => (
                "New review".to_owned(),
                format!(
                    "The brand reviewed \u{201c}{gig_title}\u{201d} on {local_start}: {reason}."
                ),
            ),
            // Gig kinds are made by [`Notification::about_gig`].
            NotificationKind::BookingConfirmed
            | NotificationKind::GigInvitation
            | NotificationKind::GigInvitationAccepted
            | NotificationKind::GigInvitationDeclined
            | NotificationKind::GigPublished
            | NotificationKind::GigArchived
            | NotificationKind::MessageReceived => (
                "Booking confirmed".to_owned(),
                format!(
                    "\u{201c}{gig_title}\u{201d} on {local_start} is paid ({amount}) and confirmed."
                ),
            ),
        };
        Self {
            id: NotificationId::derive(event_id, recipient, kind),
            user_id: recipient.clone(),
            kind,
            title,
            body,
            gig_id: Some(notice.gig_id.clone()),
            booking_id: Some(notice.booking_id.clone()),
            conversation_id: None,
            created_at: occurred_at,
            read_at: None,
            pushed_at: None,
        }
    }
}

#[cfg(test)]
mod tests;
