//! Chat's rules: message limits, who opens which conversation, read marks.

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
