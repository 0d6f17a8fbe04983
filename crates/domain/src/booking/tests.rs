use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;
use crate::payment::BookingPayment;
use crate::{
    SocialPlatform,
    gig::{FULL_SHARE_BPS, GigMember, GigStatus, GigTerms, MemberState},
};

pub(super) fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn gig() -> Gig {
    let owner = UserId::generate();
    let partner = UserId::generate();
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
            buffer_before_minutes: 10,
            buffer_after_minutes: 15,
            min_notice_minutes: 0,
            horizon_days: 60,
            max_per_day: None,
        },
        cancellation: Default::default(),
        status: GigStatus::Published,
        members: vec![
            GigMember {
                user_id: owner,
                share_bps: FULL_SHARE_BPS - 4000,
                state: MemberState::Accepted,
            },
            GigMember {
                user_id: partner,
                share_bps: 4000,
                state: MemberState::Accepted,
            },
        ],
        version: 3,
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    }
}

pub(super) fn held(now: Timestamp) -> (Gig, Booking) {
    let gig = gig();
    let booking = Booking::hold(NewHold {
        id: BookingId::generate(),
        gig: &gig,
        brand_id: UserId::generate(),
        start: at("2026-12-01T10:00:00Z"),
        time_zone: "Europe/Paris".into(),
        hold_token: "token".into(),
        now,
        hold_ttl: SignedDuration::from_mins(15),
        payment: BookingPayment {
            intent_id: "pi_1".into(),
            client_secret: "pi_1_secret_x".into(),
            paid: None,
            refund: None,
        },
    });
    (gig, booking)
}

#[test]
fn a_hold_books_every_member_with_their_share_the_price_and_the_buffered_span() {
    let now = at("2026-11-30T09:00:00Z");
    let (gig, booking) = held(now);
    assert_eq!(booking.state, BookingState::PendingPayment);
    assert_eq!(
        booking.member_ids(),
        vec![gig.owner_id.clone(), gig.members[1].user_id.clone()]
    );
    assert_eq!(booking.members[1].share_bps, 4000);
    assert_eq!(booking.price, gig.price);
    assert_eq!(booking.end, at("2026-12-01T11:00:00Z"));
    assert_eq!(booking.busy_start, at("2026-12-01T09:50:00Z"));
    assert_eq!(booking.busy_end, at("2026-12-01T11:15:00Z"));
    assert_eq!(booking.hold_expires_at, at("2026-11-30T09:15:00Z"));
    assert_eq!(booking.history.len(), 1);
    assert!(booking.is_party(&booking.brand_id.clone()));
    assert!(booking.is_party(&gig.members[1].user_id));
    assert!(!booking.is_party(&UserId::generate()));
}

#[test]
fn an_unpaid_hold_is_live_until_its_expiry_and_dead_from_then_on() {
    let now = at("2026-11-30T09:00:00Z");
    let (_, booking) = held(now);
    assert!(booking.is_live(now));
    assert!(booking.is_live(at("2026-11-30T09:14:59Z")));
    assert!(!booking.is_live(at("2026-11-30T09:15:00Z")));
}

#[test]
fn paid_bookings_stay_live_and_ended_ones_never_are() {
    let now = at("2026-11-30T09:00:00Z");
    let (_, mut booking) = held(now);
    for state in BookingState::ALL {
        booking.state = state;
        let live = matches!(state, BookingState::Confirmed | BookingState::Delivered);
        if state != BookingState::PendingPayment {
            assert_eq!(
                booking.is_live(at("2099-01-01T00:00:00Z")),
                live,
                "{state:?}"
            );
        }
    }
}

#[test]
fn a_hold_expires_only_once_lapsed_and_only_from_pending() {
    let now = at("2026-11-30T09:00:00Z");
    let (_, mut booking) = held(now);
    assert_eq!(
        booking.expire(at("2026-11-30T09:10:00Z")),
        Err(BookingTransitionError::HoldStillLive)
    );
    assert_eq!(booking.version, 0);
    booking.expire(at("2026-11-30T09:15:00Z")).unwrap();
    assert_eq!(booking.state, BookingState::Expired);
    assert_eq!(booking.version, 1);
    assert_eq!(booking.history.last().unwrap().by, None);
    assert_eq!(
        booking.expire(at("2026-11-30T10:00:00Z")),
        Err(BookingTransitionError::NotPending {
            state: BookingState::Expired
        })
    );
    let brand = booking.brand_id.clone();
    assert!(booking.cancel_hold(&brand, "changed my mind", now).is_err());
    assert_eq!(booking.version, 1);
}

#[test]
fn the_brand_cancels_a_pending_hold_and_the_history_says_who_and_why() {
    let now = at("2026-11-30T09:00:00Z");
    let (_, mut booking) = held(now);
    let brand = booking.brand_id.clone();
    booking
        .cancel_hold(&brand, "changed my mind", at("2026-11-30T09:05:00Z"))
        .unwrap();
    assert_eq!(booking.state, BookingState::Cancelled);
    assert!(!booking.is_live(at("2026-11-30T09:05:00Z")));
    let last = booking.history.last().unwrap();
    assert_eq!(
        (last.state, last.reason.as_str(), last.by.as_ref()),
        (BookingState::Cancelled, "changed my mind", Some(&brand))
    );
    assert_eq!(booking.updated_at, at("2026-11-30T09:05:00Z"));
}

#[test]
fn state_names_round_trip() {
    for state in BookingState::ALL {
        assert_eq!(BookingState::parse(state.as_str()), Some(state));
        assert_eq!(
            serde_json::to_value(state).unwrap(),
            serde_json::json!(state.as_str())
        );
    }
    assert_eq!(BookingState::parse("paid"), None);
}

#[test]
fn cells_of_a_span_on_cell_boundaries_are_exactly_the_cells_it_covers() {
    let span = Interval::new(at("2026-12-01T10:00:00Z"), at("2026-12-01T10:30:00Z"));
    let cells = hold_cells(span);
    assert_eq!(cells.clone().count(), 2);
    let next = Interval::new(at("2026-12-01T10:30:00Z"), at("2026-12-01T10:45:00Z"));
    assert_eq!(*hold_cells(next).start(), cells.end() + 1);
}

fn minute(m: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + m * 60).unwrap()
}

proptest! {
    /// Overlapping spans must meet on a common key, or two holds could both be taken.
    #[test]
    fn overlapping_spans_always_share_a_cell(
        a_start in 0i64..20_000, a_len in 1i64..4_320,
        b_start in 0i64..20_000, b_len in 1i64..4_320,
        a_seconds in 0i64..60,
    ) {
        let a = Interval::new(
            minute(a_start) + SignedDuration::from_secs(a_seconds),
            minute(a_start + a_len),
        );
        let b = Interval::new(minute(b_start), minute(b_start + b_len));
        let overlap = a.start < b.end && b.start < a.end;
        let (ca, cb) = (hold_cells(a), hold_cells(b));
        let share = ca.start() <= cb.end() && cb.start() <= ca.end();
        prop_assert!(!overlap || share);
    }

    /// A hold's key count is bounded by its length, whatever the alignment.
    #[test]
    fn a_span_meets_at_most_one_cell_more_than_its_length_in_cells(
        start in 0i64..20_000, len in 1i64..4_320,
    ) {
        let span = Interval::new(minute(start), minute(start + len));
        let cells = hold_cells(span).count() as i64;
        prop_assert!(cells >= 1);
        prop_assert!(cells <= (len + 14) / 15 + 1);
    }
}
