//! A booking's payment transitions: confirming, late payments, refusals, cancellations with
//! refunds, and refunds settling.

use jiff::{SignedDuration, Timestamp};

use super::tests::{at, held};
use super::*;
use crate::payment::{Canceller, ChargeFacts, IntentFacts};

fn paid_facts(booking: &Booking) -> IntentFacts {
    IntentFacts {
        intent_id: "pi_1".into(),
        booking_id: Some(booking.id.to_string()),
        amount: booking.price.clone(),
    }
}

fn charge(amount_refunded_minor: i64) -> ChargeFacts {
    ChargeFacts {
        charge_id: "ch_1".into(),
        intent_id: Some("pi_1".into()),
        amount: Money {
            amount_minor: 45_000,
            currency: "EUR".into(),
        },
        amount_refunded_minor,
    }
}

const NOW: &str = "2026-11-30T09:00:00Z";

#[test]
fn a_payment_while_the_hold_is_live_confirms_once() {
    let (_, mut booking) = held(at(NOW));
    let facts = paid_facts(&booking);
    let outcome = booking
        .accept_payment(&facts, "evt_1", at("2026-11-30T09:10:00Z"))
        .unwrap();
    assert_eq!(outcome, PaymentOutcome::Confirmed);
    assert_eq!(booking.state, BookingState::Confirmed);
    assert_eq!(booking.paid_minor(), 45_000);
    assert!(booking.is_live(at("2099-01-01T00:00:00Z")));
    let version = booking.version;
    assert_eq!(
        booking.accept_payment(&facts, "evt_1", at("2026-11-30T09:11:00Z")),
        Ok(PaymentOutcome::AlreadyRecorded)
    );
    assert_eq!(
        booking.version, version,
        "a repeated payment changes nothing"
    );
}

#[test]
fn a_payment_for_another_intent_amount_or_currency_changes_nothing() {
    let (_, mut booking) = held(at(NOW));
    let before = booking.clone();
    let mut other_intent = paid_facts(&booking);
    other_intent.intent_id = "pi_other".into();
    let mut less = paid_facts(&booking);
    less.amount.amount_minor -= 1;
    let mut dollars = paid_facts(&booking);
    dollars.amount.currency = "USD".into();
    for facts in [other_intent, less, dollars] {
        assert!(booking.accept_payment(&facts, "evt_x", at(NOW)).is_err());
        assert_eq!(booking, before);
    }
}

#[test]
fn a_payment_after_the_hold_lapsed_is_confirmed_only_through_a_reclaim() {
    let (_, mut booking) = held(at(NOW));
    let facts = paid_facts(&booking);
    let late = at("2026-11-30T09:20:00Z");
    assert_eq!(
        booking.accept_payment(&facts, "evt_1", late),
        Ok(PaymentOutcome::HoldLapsed)
    );
    assert_eq!(booking.state, BookingState::PendingPayment);
    booking.expire(late).unwrap();
    assert_eq!(
        booking.accept_payment(&facts, "evt_1", late),
        Ok(PaymentOutcome::HoldLapsed)
    );
    booking.confirm_reclaimed(&facts, "evt_1", late).unwrap();
    assert_eq!(booking.state, BookingState::Confirmed);
    assert_eq!(booking.paid_minor(), 45_000);
}

#[test]
fn a_payment_the_booking_cannot_take_is_recorded_with_a_full_refund_once() {
    let (_, mut booking) = held(at(NOW));
    let facts = paid_facts(&booking);
    let late = at("2026-11-30T09:20:00Z");
    assert!(booking.refuse_payment(&facts, "evt_1", "the slot was taken", late));
    assert_eq!(booking.state, BookingState::Expired);
    let refund = booking.payment.as_ref().unwrap().refund.clone().unwrap();
    assert_eq!(refund.due_minor, 45_000);
    assert!(!refund.settled());
    assert!(!booking.refuse_payment(&facts, "evt_1", "again", late));

    // An abandoned hold that gets paid keeps its state and owes everything back.
    let (_, mut abandoned) = held(at(NOW));
    let brand = abandoned.brand_id.clone();
    abandoned
        .cancel_hold(&brand, "changed my mind", at(NOW))
        .unwrap();
    assert_eq!(
        abandoned.accept_payment(&facts, "evt_2", late),
        Ok(PaymentOutcome::Unwanted)
    );
    assert!(abandoned.refuse_payment(&facts, "evt_2", "you cancelled the hold", late));
    assert_eq!(abandoned.state, BookingState::Cancelled);
}

#[test]
fn a_full_refund_settling_ends_the_booking_refunded_and_old_reports_change_nothing() {
    let (_, mut booking) = held(at(NOW));
    let facts = paid_facts(&booking);
    booking.refuse_payment(&facts, "evt_1", "the slot was taken", at(NOW));
    assert!(booking.record_refund(&charge(0), at(NOW)).is_none());
    assert!(booking.record_refund(&charge(45_000), at(NOW)).is_some());
    assert_eq!(booking.state, BookingState::Refunded);
    let version = booking.version;
    assert!(booking.record_refund(&charge(45_000), at(NOW)).is_none());
    assert!(booking.record_refund(&charge(10_000), at(NOW)).is_none());
    assert_eq!(booking.version, version);
}

#[test]
fn cancelling_a_paid_booking_refunds_by_who_and_when_and_a_partial_refund_stays_cancelled() {
    let start = at("2026-12-01T10:00:00Z");
    let pay = |booking: &mut Booking| {
        let facts = paid_facts(booking);
        booking.accept_payment(&facts, "evt_1", at(NOW)).unwrap();
    };
    let (_, mut booking) = held(at(NOW));
    assert_eq!(booking.start, start);
    pay(&mut booking);
    let brand = booking.brand_id.clone();
    // 25 hours ahead: the default policy gives half back.
    let owed = booking
        .cancel_paid(
            &brand,
            Canceller::Brand,
            "plans changed",
            &MarketTerms::default(),
            start - SignedDuration::from_hours(25),
        )
        .unwrap();
    assert_eq!(owed, 22_500);
    assert_eq!(booking.state, BookingState::Cancelled);
    assert!(!booking.is_live(start));
    assert!(booking.record_refund(&charge(22_500), at(NOW)).is_some());
    assert_eq!(
        booking.state,
        BookingState::Cancelled,
        "half back: stays cancelled"
    );
    assert!(
        booking
            .payment
            .as_ref()
            .unwrap()
            .refund
            .as_ref()
            .unwrap()
            .settled()
    );
    assert!(matches!(
        booking.cancel_paid(
            &brand,
            Canceller::Brand,
            "again",
            &MarketTerms::default(),
            at(NOW)
        ),
        Err(BookingTransitionError::NotConfirmed {
            state: BookingState::Cancelled
        })
    ));

    let (_, mut late) = held(at(NOW));
    pay(&mut late);
    let owed = late
        .cancel_paid(
            &brand,
            Canceller::Brand,
            "too late",
            &MarketTerms::default(),
            start - SignedDuration::from_hours(1),
        )
        .unwrap();
    assert_eq!(owed, 0);
    assert!(late.payment.as_ref().unwrap().refund.is_none());

    let (_, mut by_member) = held(at(NOW));
    pay(&mut by_member);
    let member = by_member.members[0].user_id.clone();
    let owed = by_member
        .cancel_paid(
            &member,
            Canceller::Member,
            "ill",
            &MarketTerms::default(),
            start - SignedDuration::from_hours(1),
        )
        .unwrap();
    assert_eq!(owed, 45_000);
    assert!(by_member.record_refund(&charge(45_000), at(NOW)).is_some());
    assert_eq!(by_member.state, BookingState::Refunded);
}

#[test]
fn an_unpaid_hold_whose_payment_was_cancelled_expires_at_once() {
    let (_, mut booking) = held(at(NOW));
    booking
        .payment_canceled(at("2026-11-30T09:01:00Z"))
        .unwrap();
    assert_eq!(booking.state, BookingState::Expired);
    assert!(booking.payment_canceled(at(NOW)).is_err());
    let _: Timestamp = booking.updated_at;
}
