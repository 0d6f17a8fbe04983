//! Chat: a conversation joins one brand and one or more influencers; its messages are numbered
//! in the order the store accepted them, so a client that saw message `n` catches up with
//! everything after `n` and misses nothing.
//!
//! A brand opens a conversation with one influencer (an inquiry), with every member of a group
//! gig, or about one of its bookings; an influencer may only open a booking's conversation (no
//! cold messages to brands). Opening is idempotent: each subject has one conversation.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    UserId, ValidationErrors,
    booking::{Booking, BookingId},
    gig::{Gig, GigId, GigStatus},
    id::string_id,
};

/// The longest message, in characters.
pub const MAX_MESSAGE_LEN: usize = 4_000;
/// The longest client-supplied message id.
pub const MAX_CLIENT_ID_LEN: usize = 64;
/// The first characters of the last message a conversation list shows.
pub const PREVIEW_LEN: usize = 140;

string_id!(
    /// A conversation's id.
    ConversationId
);

impl ConversationId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
}

/// What a conversation is about; each subject has exactly one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// A brand's inquiry to one influencer.
    Direct,
    /// A brand's inquiry to every member of a group gig.
    Gig { gig_id: GigId },
    /// A booking: its brand and its members.
    Booking { booking_id: BookingId },
}

/// One party to a conversation and how far they have read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub user_id: UserId,
    /// The number of the last message this party has read (0: none). Sending a message reads
    /// everything up to it.
    pub read_seq: u64,
}

/// The start of the last message, for conversation lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePreview {
    pub seq: u64,
    pub sender_id: UserId,
    pub text: String,
    pub sent_at: Timestamp,
}

/// A conversation and where each party stands in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    /// Unique per subject: what makes opening idempotent.
    pub key: String,
    pub subject: Subject,
    pub brand_id: UserId,
    /// The influencers, in a stable order (the gig's owner first).
    pub member_ids: Vec<UserId>,
    /// The brand first, then the members.
    pub participants: Vec<Participant>,
    pub created_at: Timestamp,
    /// The creation, or the last message.
    pub last_activity_at: Timestamp,
    /// The number of the last message (0: none yet).
    pub last_seq: u64,
    pub last_message: Option<MessagePreview>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub conversation_id: ConversationId,
    /// 1, 2, 3, … within the conversation, in the order the store accepted them.
    pub seq: u64,
    pub sender_id: UserId,
    /// The sender's own id for it: a retried send with the same one is stored once.
    pub client_id: String,
    pub text: String,
    pub sent_at: Timestamp,
}

/// A message about to be stored: the store gives it its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub client_id: String,
    pub text: String,
    pub sent_at: Timestamp,
}

impl NewMessage {
    pub fn numbered(self, seq: u64) -> Message {
        Message {
            conversation_id: self.conversation_id,
            seq,
            sender_id: self.sender_id,
            client_id: self.client_id,
            text: self.text,
            sent_at: self.sent_at,
        }
    }
}

/// Why a conversation cannot be opened. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("only a brand can start a conversation outside a booking")]
    NotABrand,
    #[error("only a booking's brand and members can open its conversation")]
    NotAParty,
    #[error("only a published gig's members can be written to")]
    NotPublished,
}

impl Conversation {
    fn new(
        key: String,
        subject: Subject,
        brand_id: UserId,
        member_ids: Vec<UserId>,
        now: Timestamp,
    ) -> Self {
        let participants = std::iter::once(&brand_id)
            .chain(&member_ids)
            .map(|user_id| Participant {
                user_id: user_id.clone(),
                read_seq: 0,
            })
            .collect();
        Self {
            id: ConversationId::generate(),
            key,
            subject,
            brand_id,
            member_ids,
            participants,
            created_at: now,
            last_activity_at: now,
            last_seq: 0,
            last_message: None,
        }
    }

    /// A brand's inquiry to one influencer (the caller checked that the brand is a brand and
    /// the influencer an active influencer).
    pub fn direct(brand: &UserId, influencer: &UserId, now: Timestamp) -> Self {
        Self::new(
            format!("direct:{brand}:{influencer}"),
            Subject::Direct,
            brand.clone(),
            vec![influencer.clone()],
            now,
        )
    }

    /// A brand's inquiry to every accepted member of a published gig.
    pub fn about_gig(brand: &UserId, gig: &Gig, now: Timestamp) -> Result<Self, OpenError> {
        if gig.status != GigStatus::Published {
            return Err(OpenError::NotPublished);
        }
        Ok(Self::new(
            format!("gig:{brand}:{}", gig.id),
            Subject::Gig {
                gig_id: gig.id.clone(),
            },
            brand.clone(),
            // Publishing needs every member's acceptance: these are all accepted.
            gig.people(),
            now,
        ))
    }

    /// A booking's conversation, opened by `by`, who must be its brand or one of its members.
    pub fn about_booking(
        by: &UserId,
        booking: &Booking,
        now: Timestamp,
    ) -> Result<Self, OpenError> {
        if !booking.is_party(by) {
            return Err(OpenError::NotAParty);
        }
        Ok(Self::new(
            format!("booking:{}", booking.id),
            Subject::Booking {
                booking_id: booking.id.clone(),
            },
            booking.brand_id.clone(),
            booking.member_ids(),
            now,
        ))
    }

    pub fn is_party(&self, user: &UserId) -> bool {
        self.participants.iter().any(|p| &p.user_id == user)
    }

    /// Every party but `user`.
    pub fn others<'a>(&'a self, user: &'a UserId) -> impl Iterator<Item = &'a UserId> + 'a {
        self.participants
            .iter()
            .map(|p| &p.user_id)
            .filter(move |id| *id != user)
    }

    /// How far `user` has read (0 for a stranger).
    pub fn read_seq(&self, user: &UserId) -> u64 {
        self.participants
            .iter()
            .find(|p| &p.user_id == user)
            .map_or(0, |p| p.read_seq)
    }

    /// Messages `user` has not read: every message after their read mark is someone else's,
    /// since sending reads up to one's own message.
    pub fn unread_for(&self, user: &UserId) -> u64 {
        self.last_seq.saturating_sub(self.read_seq(user))
    }
}

/// The start of `text`, at most [`PREVIEW_LEN`] characters.
pub fn preview(text: &str) -> String {
    text.chars().take(PREVIEW_LEN).collect()
}

/// Adds what is wrong with a message to `errors`.
pub fn validate_message(client_id: &str, text: &str, errors: &mut ValidationErrors) {
    if client_id.is_empty()
        || client_id.len() > MAX_CLIENT_ID_LEN
        || !client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        errors.add(
            "client_id",
            "format",
            format!("must be 1 to {MAX_CLIENT_ID_LEN} letters, digits, '-' or '_'"),
        );
    }
    if text.trim().is_empty() || text.chars().count() > MAX_MESSAGE_LEN {
        errors.add(
            "text",
            "length",
            format!("must be 1 to {MAX_MESSAGE_LEN} characters, not only spaces"),
        );
    }
}

/// Which page of a conversation's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryPage {
    /// The latest messages.
    Latest,
    /// The messages just before this number (older history).
    Before(u64),
    /// The messages just after this number (catch-up).
    After(u64),
}

#[cfg(test)]
mod tests;
