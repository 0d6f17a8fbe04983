//! Booking documents: their shape, their decoding, and the list filter.

use mongodb::bson;
use noillin_domain::{booking::StateChange, payment::CancellationPolicy};

use super::*;

fn booking() -> Booking {
    let at = |ms: i64| Timestamp::from_millisecond(ms).unwrap();
    let brand = UserId::generate();
    Booking {
        id: BookingId::generate(),
        gig_id: GigId::generate(),
        gig_title: "Tripla: três vozes".into(),
        brand_id: brand.clone(),
        members: vec![
            BookingMember {
                user_id: UserId::generate(),
                share_bps: 6_000,
            },
            BookingMember {
                user_id: UserId::generate(),
                share_bps: 4_000,
            },
        ],
        price: Money {
            amount_minor: 45_000,
            currency: "EUR".into(),
        },
        start: at(1_780_000_000_000),
        end: at(1_780_003_600_000),
        busy_start: at(1_779_999_400_000),
        busy_end: at(1_780_004_500_000),
        time_zone: "Europe/Lisbon".into(),
        state: BookingState::PendingPayment,
        hold_expires_at: at(1_779_000_900_000),
        hold_token: "token".into(),
        history: vec![StateChange {
            state: BookingState::PendingPayment,
            at: Timestamp::new(1_779_000_000, 123_456_789).unwrap(),
            reason: "slot held until payment".into(),
            by: Some(brand),
        }],
        payment: Some(BookingPayment {
            intent_id: "pi_1".into(),
            client_secret: "pi_1_secret_2".into(),
            paid: Some(noillin_domain::payment::Paid {
                amount: Money {
                    amount_minor: 45_000,
                    currency: "EUR".into(),
                },
                at: Timestamp::new(1_779_000_100, 5).unwrap(),
                event_id: "evt_1".into(),
            }),
            refund: None,
        }),
        cancellation: CancellationPolicy::default(),
        deliveries: Vec::new(),
        auto_complete_at: None,
        settlement: None,
        version: 5_000_000_000,
        created_at: Timestamp::new(1_779_000_000, 123_456_789).unwrap(),
        updated_at: Timestamp::new(1_779_000_000, 123_456_789).unwrap(),
    }
}

#[test]
fn booking_documents_use_native_types_and_round_trip() {
    let booking = booking();
    let document = bson::to_document(&BookingDoc::encode(&booking).unwrap()).unwrap();
    assert_eq!(document.get_str("_id").unwrap(), booking.id.as_str());
    assert_eq!(document.get_str("state").unwrap(), "pending_payment");
    assert_eq!(document.get_i64("version").unwrap(), 5_000_000_000);
    for field in ["start", "end", "busy_start", "busy_end", "hold_expires_at"] {
        assert!(document.get_datetime(field).is_ok(), "{field}");
    }
    assert_eq!(
        *document.get_datetime("live_until").unwrap(),
        date(booking.hold_expires_at)
    );
    let members = document.get_array("members").unwrap();
    let second = members[1].as_document().unwrap();
    assert_eq!(
        second.get_str("user_id").unwrap(),
        booking.members[1].user_id.as_str()
    );
    assert_eq!(second.get_i64("share_bps").unwrap(), 4_000);

    let back: BookingDoc = bson::from_document(document).unwrap();
    assert_eq!(back.into_booking().unwrap(), booking);
}

#[test]
fn paid_bookings_are_live_for_ever_and_ended_ones_never() {
    let live_until = |state: BookingState| {
        let booking = Booking { state, ..booking() };
        BookingDoc::encode(&booking).unwrap().live_until
    };
    for state in [BookingState::Confirmed, BookingState::Delivered] {
        assert_eq!(live_until(state), DateTime::MAX, "{state:?}");
    }
    for state in [
        BookingState::Completed,
        BookingState::Cancelled,
        BookingState::Expired,
        BookingState::Refunded,
    ] {
        assert_eq!(live_until(state), DateTime::MIN, "{state:?}");
    }
}

#[test]
fn unexpected_booking_documents_are_errors_not_panics() {
    let mut document = bson::to_document(&BookingDoc::encode(&booking()).unwrap()).unwrap();
    document.insert("version", -1_i64);
    let decoded: BookingDoc = bson::from_document(document.clone()).unwrap();
    assert!(matches!(
        decoded.into_booking(),
        Err(StoreError::Corrupt(_))
    ));

    document.insert("version", 1_i64);
    document.insert(
        "members",
        vec![doc! { "user_id": "u1", "share_bps": i64::from(u32::MAX) + 1 }],
    );
    let decoded: BookingDoc = bson::from_document(document.clone()).unwrap();
    assert!(matches!(
        decoded.into_booking(),
        Err(StoreError::Corrupt(_))
    ));

    document.insert("state", "abandoned");
    assert!(bson::from_document::<BookingDoc>(document).is_err());
}

#[test]
fn a_list_filter_matches_the_party_on_either_side_the_state_and_ids_below_before() {
    let user = UserId::from_string("u1");
    let filter = BookingFilter {
        party: Some(user),
        state: Some(BookingState::Confirmed),
    };
    assert_eq!(
        list_filter(&filter, Some(&BookingId::from_string("b9"))),
        doc! {
            "$or": [{ "brand_id": "u1" }, { "members.user_id": "u1" }],
            "state": "confirmed",
            "_id": { "$lt": "b9" },
        }
    );
    assert_eq!(list_filter(&BookingFilter::default(), None), doc! {});
}

#[test]
fn only_a_booking_with_something_due_stores_when_rounded_up() {
    let pending = bson::to_document(&BookingDoc::encode(&booking()).unwrap()).unwrap();
    assert!(
        !pending.contains_key("due_ms"),
        "absent when nothing is due"
    );

    let due = Timestamp::from_millisecond(1_780_300_000_000).unwrap()
        + jiff::SignedDuration::from_micros(1);
    let delivered = Booking {
        state: BookingState::Delivered,
        auto_complete_at: Some(due),
        ..booking()
    };
    let document = bson::to_document(&BookingDoc::encode(&delivered).unwrap()).unwrap();
    assert_eq!(document.get_i64("due_ms").unwrap(), 1_780_300_000_001);
    let back: BookingDoc = bson::from_document(document).unwrap();
    assert_eq!(back.into_booking().unwrap(), delivered);
}
