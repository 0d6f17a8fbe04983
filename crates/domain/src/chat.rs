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
mod tests {
    use jiff::SignedDuration;
    use proptest::prelude::*;

    use super::*;
    use crate::{
        SocialPlatform,
        booking::NewHold,
        gig::{FULL_SHARE_BPS, GigMember, GigTerms, MemberState, Money},
        payment::BookingPayment,
    };

    fn at() -> Timestamp {
        "2030-03-04T08:00:00Z".parse().unwrap()
    }

    fn member(user_id: &UserId, share_bps: u32) -> GigMember {
        GigMember {
            user_id: user_id.clone(),
            share_bps,
            state: MemberState::Accepted,
        }
    }

    /// A published gig of `owner` with `partner` as a second member, listed before the owner
    /// (the conversation still puts the owner first).
    fn gig(owner: &UserId, partner: &UserId) -> Gig {
        Gig {
            id: GigId::generate(),
            owner_id: owner.clone(),
            title: "Story feature".into(),
            description: String::new(),
            deliverables: vec![],
            platform: SocialPlatform::Instagram,
            category: "sportswear".into(),
            price: Money {
                amount_minor: 45_000,
                currency: "EUR".into(),
            },
            terms: GigTerms {
                duration_minutes: 60,
                interval_minutes: None,
                buffer_before_minutes: 0,
                buffer_after_minutes: 0,
                min_notice_minutes: 0,
                horizon_days: 60,
                max_per_day: None,
            },
            cancellation: Default::default(),
            status: GigStatus::Published,
            members: vec![
                member(partner, 4_000),
                member(owner, FULL_SHARE_BPS - 4_000),
            ],
            version: 1,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn booking(gig: &Gig, brand: &UserId) -> Booking {
        Booking::hold(NewHold {
            id: BookingId::generate(),
            gig,
            brand_id: brand.clone(),
            start: at() + SignedDuration::from_hours(48),
            time_zone: "Europe/Paris".into(),
            hold_token: "token".into(),
            now: at(),
            hold_ttl: SignedDuration::from_mins(15),
            payment: BookingPayment {
                intent_id: "pi_1".into(),
                client_secret: "pi_1_secret_x".into(),
                paid: None,
                refund: None,
            },
        })
    }

    fn errors(client_id: &str, text: &str) -> Vec<(String, &'static str)> {
        let mut errors = ValidationErrors::default();
        validate_message(client_id, text, &mut errors);
        errors.0.into_iter().map(|e| (e.field, e.code)).collect()
    }

    fn text_error() -> Vec<(String, &'static str)> {
        vec![("text".to_owned(), "length")]
    }

    fn client_id_error() -> Vec<(String, &'static str)> {
        vec![("client_id".to_owned(), "format")]
    }

    #[test]
    fn a_message_has_1_to_4000_characters_not_only_spaces() {
        assert_eq!(errors("c-1", "hi"), vec![]);
        assert_eq!(errors("c-1", " x "), vec![], "spaces around text are kept");
        assert_eq!(errors("c-1", ""), text_error());
        assert_eq!(errors("c-1", "   \n\t "), text_error());
        assert_eq!(errors("c-1", &"a".repeat(MAX_MESSAGE_LEN)), vec![]);
        assert_eq!(
            errors("c-1", &"a".repeat(MAX_MESSAGE_LEN + 1)),
            text_error()
        );
        // Characters, not bytes: 4,000 two-byte and four-byte characters fit.
        assert_eq!(errors("c-1", &"é".repeat(MAX_MESSAGE_LEN)), vec![]);
        assert_eq!(errors("c-1", &"👋".repeat(MAX_MESSAGE_LEN)), vec![]);
        assert_eq!(
            errors("c-1", &"é".repeat(MAX_MESSAGE_LEN + 1)),
            text_error()
        );
    }

    #[test]
    fn a_client_id_is_1_to_64_letters_digits_dashes_or_underscores() {
        for good in [
            "a",
            "0",
            "018f3c7e-9b1a-7cc2-8a61-1b2c3d4e5f60",
            "A_b-9",
            &"x".repeat(MAX_CLIENT_ID_LEN),
        ] {
            assert_eq!(errors(good, "hi"), vec![], "{good}");
        }
        for bad in [
            "",
            &"x".repeat(MAX_CLIENT_ID_LEN + 1),
            "with space",
            "dot.ted",
            "slash/ed",
            "é",
            "a\n",
            "$where",
        ] {
            assert_eq!(errors(bad, "hi"), client_id_error(), "{bad:?}");
        }
        // Both problems are reported at once.
        assert_eq!(
            errors("", ""),
            vec![
                ("client_id".to_owned(), "format"),
                ("text".to_owned(), "length")
            ]
        );
    }

    #[test]
    fn a_preview_is_the_first_140_characters() {
        assert_eq!(preview("short"), "short");
        let long = "é".repeat(PREVIEW_LEN + 1);
        assert_eq!(preview(&long), "é".repeat(PREVIEW_LEN));
        assert_eq!(preview(&"a".repeat(PREVIEW_LEN)).len(), PREVIEW_LEN);
    }

    #[test]
    fn a_direct_conversation_joins_the_brand_and_one_influencer() {
        let brand = UserId::generate();
        let ana = UserId::generate();
        let conversation = Conversation::direct(&brand, &ana, at());
        assert_eq!(conversation.key, format!("direct:{brand}:{ana}"));
        assert_eq!(conversation.subject, Subject::Direct);
        assert_eq!(conversation.brand_id, brand);
        assert_eq!(conversation.member_ids, vec![ana.clone()]);
        assert_eq!(
            conversation.participants,
            vec![
                Participant {
                    user_id: brand.clone(),
                    read_seq: 0
                },
                Participant {
                    user_id: ana.clone(),
                    read_seq: 0
                },
            ]
        );
        assert_eq!(
            (conversation.created_at, conversation.last_activity_at),
            (at(), at())
        );
        assert_eq!(
            (conversation.last_seq, &conversation.last_message),
            (0, &None)
        );

        // The key names the subject, not the conversation: opening again finds the same.
        let again = Conversation::direct(&brand, &ana, at() + SignedDuration::from_secs(1));
        assert_eq!(again.key, conversation.key);
        assert_ne!(again.id, conversation.id);
        assert_ne!(
            Conversation::direct(&ana, &brand, at()).key,
            conversation.key
        );
    }

    #[test]
    fn a_gig_conversation_needs_a_published_gig_and_puts_its_owner_first() {
        let brand = UserId::generate();
        let owner = UserId::generate();
        let partner = UserId::generate();
        let gig = gig(&owner, &partner);
        let conversation = Conversation::about_gig(&brand, &gig, at()).unwrap();
        assert_eq!(conversation.key, format!("gig:{brand}:{}", gig.id));
        assert_eq!(
            conversation.subject,
            Subject::Gig {
                gig_id: gig.id.clone()
            }
        );
        assert_eq!(
            conversation.member_ids,
            vec![owner.clone(), partner.clone()]
        );
        let parties: Vec<&UserId> = conversation
            .participants
            .iter()
            .map(|p| &p.user_id)
            .collect();
        assert_eq!(parties, vec![&brand, &owner, &partner]);

        for status in [GigStatus::Draft, GigStatus::Archived] {
            let unpublished = Gig {
                status,
                ..gig.clone()
            };
            assert_eq!(
                Conversation::about_gig(&brand, &unpublished, at()),
                Err(OpenError::NotPublished)
            );
        }
        // Another brand writing to the same gig has a conversation of its own.
        let other = Conversation::about_gig(&UserId::generate(), &gig, at()).unwrap();
        assert_ne!(other.key, conversation.key);
    }

    #[test]
    fn a_booking_conversation_is_opened_by_its_parties_only() {
        let brand = UserId::generate();
        let owner = UserId::generate();
        let partner = UserId::generate();
        let booking = booking(&gig(&owner, &partner), &brand);

        let by_brand = Conversation::about_booking(&brand, &booking, at()).unwrap();
        let by_member = Conversation::about_booking(&partner, &booking, at()).unwrap();
        assert_eq!(by_brand.key, format!("booking:{}", booking.id));
        assert_eq!(
            by_member.key, by_brand.key,
            "one conversation whoever opens it"
        );
        assert_eq!(
            by_member.brand_id, brand,
            "the booking's brand, not the opener"
        );
        assert_eq!(by_member.member_ids, booking.member_ids());
        assert_eq!(
            by_member.subject,
            Subject::Booking {
                booking_id: booking.id.clone()
            }
        );
        assert_eq!(by_member.participants[0].user_id, brand);
        assert_eq!(
            Conversation::about_booking(&UserId::generate(), &booking, at()),
            Err(OpenError::NotAParty)
        );
    }

    #[test]
    fn parties_read_marks_and_unread_counts() {
        let brand = UserId::generate();
        let ana = UserId::generate();
        let stranger = UserId::generate();
        let mut conversation = Conversation::direct(&brand, &ana, at());
        assert!(conversation.is_party(&brand));
        assert!(conversation.is_party(&ana));
        assert!(!conversation.is_party(&stranger));
        assert_eq!(conversation.others(&brand).collect::<Vec<_>>(), vec![&ana]);
        assert_eq!(conversation.others(&ana).collect::<Vec<_>>(), vec![&brand]);
        assert_eq!(
            conversation.others(&stranger).collect::<Vec<_>>(),
            vec![&brand, &ana]
        );

        conversation.last_seq = 5;
        conversation.participants[0].read_seq = 5;
        conversation.participants[1].read_seq = 2;
        assert_eq!(conversation.read_seq(&brand), 5);
        assert_eq!(conversation.unread_for(&brand), 0);
        assert_eq!(conversation.unread_for(&ana), 3);
        assert_eq!(conversation.read_seq(&stranger), 0);
        assert_eq!(conversation.unread_for(&stranger), 5);
    }

    #[test]
    fn numbering_a_new_message_keeps_its_fields() {
        let message = NewMessage {
            conversation_id: ConversationId::generate(),
            sender_id: UserId::generate(),
            client_id: "c-1".into(),
            text: "hello".into(),
            sent_at: at(),
        };
        let numbered = message.clone().numbered(7);
        assert_eq!(numbered.seq, 7);
        assert_eq!(numbered.conversation_id, message.conversation_id);
        assert_eq!(numbered.sender_id, message.sender_id);
        assert_eq!(numbered.client_id, message.client_id);
        assert_eq!(numbered.text, message.text);
        assert_eq!(numbered.sent_at, message.sent_at);
    }

    #[test]
    fn subjects_serialize_with_their_kind() {
        let gig_id = GigId::from_string("g-1");
        assert_eq!(
            serde_json::to_value(Subject::Gig { gig_id }).unwrap(),
            serde_json::json!({ "kind": "gig", "gig_id": "g-1" })
        );
        assert_eq!(
            serde_json::to_value(Subject::Direct).unwrap(),
            serde_json::json!({ "kind": "direct" })
        );
    }

    proptest! {
        #[test]
        fn unread_is_what_follows_the_read_mark_and_never_underflows(
            last_seq in any::<u64>(),
            read_seq in any::<u64>(),
        ) {
            let brand = UserId::generate();
            let ana = UserId::generate();
            let mut conversation = Conversation::direct(&brand, &ana, at());
            conversation.last_seq = last_seq;
            conversation.participants[1].read_seq = read_seq;
            let unread = conversation.unread_for(&ana);
            prop_assert!(unread <= last_seq);
            if read_seq <= last_seq {
                prop_assert_eq!(unread, last_seq - read_seq);
            } else {
                prop_assert_eq!(unread, 0);
            }
        }
    }
}
