use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

const START: &str = "2027-03-10T10:00:00Z";

fn hours_before(hours: i64) -> Timestamp {
    at(START) - SignedDuration::from_hours(hours)
}

#[test]
fn the_default_policy_gives_all_back_three_days_ahead_half_one_day_ahead_then_nothing() {
    let policy = CancellationPolicy::default();
    let refund = |now| cancellation_refund(&policy, 45_000, 0, at(START), now, Canceller::Brand);
    assert_eq!(refund(hours_before(100)), 45_000);
    assert_eq!(
        refund(hours_before(72)),
        45_000,
        "the full window includes its edge"
    );
    assert_eq!(
        refund(hours_before(72) + SignedDuration::from_secs(1)),
        22_500
    );
    assert_eq!(
        refund(hours_before(24)),
        22_500,
        "the partial window includes its edge"
    );
    assert_eq!(refund(hours_before(24) + SignedDuration::from_secs(1)), 0);
    assert_eq!(
        refund(at(START) + SignedDuration::from_hours(1)),
        0,
        "after the start"
    );
}

#[test]
fn members_and_administrators_always_give_everything_back() {
    let policy = CancellationPolicy::default();
    for by in [Canceller::Member, Canceller::Admin] {
        assert_eq!(
            cancellation_refund(&policy, 45_000, 0, at(START), hours_before(1), by),
            45_000
        );
        assert_eq!(
            cancellation_refund(&policy, 45_000, 5_000, at(START), hours_before(1), by),
            40_000,
            "only what is left"
        );
    }
}

#[test]
fn a_partial_refund_rounds_in_the_brands_favour() {
    let policy = CancellationPolicy {
        full_refund_hours: 48,
        partial_refund_hours: 0,
        partial_refund_percent: 33,
    };
    // 33% of 1001 minor units is 330.33: the brand gets 331.
    assert_eq!(
        cancellation_refund(
            &policy,
            1_001,
            0,
            at(START),
            hours_before(1),
            Canceller::Brand
        ),
        331
    );
}

#[test]
fn a_policy_that_asks_for_less_notice_for_all_than_for_part_is_refused() {
    let mut errors = ValidationErrors::default();
    CancellationPolicy {
        full_refund_hours: 10,
        partial_refund_hours: 20,
        partial_refund_percent: 101,
    }
    .validate("cancellation", &mut errors);
    let text = format!("{errors:?}");
    assert!(text.contains("cancellation.partial_refund_hours"), "{text}");
    assert!(
        text.contains("cancellation.partial_refund_percent"),
        "{text}"
    );

    let mut errors = ValidationErrors::default();
    CancellationPolicy::default().validate("cancellation", &mut errors);
    assert!(errors.is_empty());
}

#[test]
fn payment_events_keep_their_shape_through_json() {
    let event = PaymentEvent {
        id: "evt_1".into(),
        created: at(START),
        kind: PaymentEventKind::IntentSucceeded {
            intent: IntentFacts {
                intent_id: "pi_1".into(),
                booking_id: Some("b".into()),
                amount: Money {
                    amount_minor: 45_000,
                    currency: "EUR".into(),
                },
            },
        },
    };
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["kind"]["type"], "intent_succeeded");
    assert_eq!(serde_json::from_value::<PaymentEvent>(json).unwrap(), event);
}

proptest! {
    /// Whoever cancels and whenever, the refund is never negative and never more than what is
    /// left of the payment; and an earlier cancel by the brand never gets less back.
    #[test]
    fn refunds_stay_within_what_is_left_and_grow_with_notice(
        paid in 0i64..10_000_000,
        refunded_part in 0u32..=100,
        full in 0u32..500,
        partial_below in 0u32..500,
        percent in 0u8..=100,
        notice_a in -100i64..1000,
        notice_b in -100i64..1000,
        by in prop_oneof![Just(Canceller::Brand), Just(Canceller::Member), Just(Canceller::Admin)],
    ) {
        let policy = CancellationPolicy {
            full_refund_hours: full,
            partial_refund_hours: full.saturating_sub(partial_below),
            partial_refund_percent: percent,
        };
        let already = paid * i64::from(refunded_part) / 100;
        let refund = |notice: i64| {
            cancellation_refund(&policy, paid, already, at(START), hours_before(notice), by)
        };
        let (early, late) = (notice_a.max(notice_b), notice_a.min(notice_b));
        prop_assert!(refund(early) >= 0);
        prop_assert!(refund(early) <= paid - already);
        if already == 0 {
            prop_assert!(refund(early) >= refund(late));
        }
    }
}
