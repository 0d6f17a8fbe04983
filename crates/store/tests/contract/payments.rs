//! Payments in the store: provider events recorded once with their message, bookings that
//! take their time again after a lapsed hold (reclaims), and the lapsed unpaid holds the
//! reconciler walks.

use noillin_domain::{
    booking::{Booking, BookingState},
    gig::Money,
    payment::{IntentFacts, PaymentEvent, PaymentEventKind},
};
use noillin_store::{BookingRefusal, Constraint, DailyCap, StoreError};

use crate::bookings::{HOLD_TTL, at, booked_at, create, find, gig_of, guard_at, hold};
use crate::outbox::{claim_all, message};
use crate::support::*;

fn event(id: &str) -> PaymentEvent {
    PaymentEvent {
        id: id.to_owned(),
        created: booked_at(),
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
    }
}

/// After the hold lapsed: the booking as a late payment confirms it.
fn confirmed_late(booking: &Booking) -> Booking {
    let mut late = booking.clone();
    let intent = IntentFacts {
        intent_id: booking.payment.as_ref().unwrap().intent_id.clone(),
        booking_id: Some(booking.id.to_string()),
        amount: booking.price.clone(),
    };
    late.confirm_reclaimed(&intent, "evt_late", after_lapse())
        .unwrap();
    late
}

fn after_lapse() -> Timestamp {
    booked_at() + HOLD_TTL + SignedDuration::from_mins(5)
}

pub(crate) async fn an_event_is_recorded_once_with_its_message(store: &Store) {
    let first = message("payment.event_received", now());
    assert!(
        store
            .payment_events
            .record(&event("evt_once"), now(), std::slice::from_ref(&first))
            .await
            .unwrap()
    );
    let again = message("payment.event_received", now());
    assert!(
        !store
            .payment_events
            .record(&event("evt_once"), now(), std::slice::from_ref(&again))
            .await
            .unwrap(),
        "a second delivery of one event is a duplicate"
    );
    let (_, claimed) = claim_all(store).await;
    let ids: Vec<&str> = claimed.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![first.id.as_str()],
        "the duplicate's message is not stored"
    );
    assert!(
        store
            .payment_events
            .record(&event("evt_other"), now(), &[])
            .await
            .unwrap()
    );
}

pub(crate) async fn racing_deliveries_of_one_event_record_it_once(stores: &[Store]) {
    const RACERS: usize = 16;
    let results = concurrently(RACERS, |i| {
        let store = stores[i % stores.len()].clone();
        async move {
            store
                .payment_events
                .record(
                    &event("evt_race"),
                    now(),
                    &[message("payment.event_received", now())],
                )
                .await
        }
    })
    .await;
    let recorded = results.iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(recorded, 1, "{results:?}");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let (_, claimed) = claim_all(&stores[0]).await;
    assert_eq!(claimed.len(), 1);
}

pub(crate) async fn a_lapsed_booking_is_reclaimed_while_its_slot_is_free(store: &Store) {
    let ana = UserId::generate();
    let gig = gig_of(&ana, 60, 0, 15);
    let booking = hold(&gig, &UserId::generate(), at(10, 0));
    create(store, &booking).await;

    let late = confirmed_late(&booking);
    let charge = late.charge_postings();
    store
        .bookings
        .reclaim(
            &late,
            &guard_at(after_lapse()),
            &charge,
            &[message("booking.confirmed", now())],
        )
        .await
        .unwrap();
    let stored = find(store, &booking.id).await.unwrap();
    assert_eq!(stored.state, BookingState::Confirmed);
    assert_eq!(stored, late);
    let entries = store.ledger.booking_entries(&booking.id).await.unwrap();
    let postings: Vec<_> = entries.into_iter().map(|e| e.posting).collect();
    assert_eq!(postings, charge, "the charge is written with it");
    let busy = store
        .bookings
        .busy(
            std::slice::from_ref(&ana),
            at(0, 0),
            at(24, 0),
            after_lapse(),
        )
        .await
        .unwrap();
    assert_eq!(
        busy,
        vec![(ana.clone(), booking.busy())],
        "its time is taken again"
    );
    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed.len(), 1);

    // Reclaiming again from the same read is stale.
    let result = store
        .bookings
        .reclaim(&late, &guard_at(after_lapse()), &[], &[])
        .await;
    assert!(
        matches!(
            result,
            Err(BookingRefusal::Store(StoreError::Conflict(
                Constraint::StaleVersion
            )))
        ),
        "{result:?}"
    );
}

pub(crate) async fn a_lapsed_booking_whose_slot_went_to_another_is_not_reclaimed(store: &Store) {
    let ana = UserId::generate();
    let gig = gig_of(&ana, 60, 0, 15);
    let booking = hold(&gig, &UserId::generate(), at(10, 0));
    create(store, &booking).await;
    // Once the first hold lapsed, another brand holds an overlapping slot.
    let mut rival = hold(&gig, &UserId::generate(), at(10, 30));
    rival.hold_expires_at = after_lapse() + HOLD_TTL;
    store
        .bookings
        .create(&rival, &guard_at(after_lapse()), &[])
        .await
        .unwrap();

    let late = confirmed_late(&booking);
    let result = store
        .bookings
        .reclaim(
            &late,
            &guard_at(after_lapse()),
            &late.charge_postings(),
            &[message("booking.confirmed", now())],
        )
        .await;
    assert!(
        matches!(result, Err(BookingRefusal::SlotTaken)),
        "{result:?}"
    );
    assert_eq!(
        find(store, &booking.id).await.unwrap(),
        booking,
        "nothing written"
    );
    let (_, claimed) = claim_all(store).await;
    assert!(claimed.is_empty());
    let entries = store.ledger.booking_entries(&booking.id).await.unwrap();
    assert!(entries.is_empty(), "no posting either: {entries:?}");

    // The daily cap counts others, never the booking itself.
    let bob = UserId::generate();
    let mut capped = gig_of(&bob, 60, 0, 0);
    capped.terms.max_per_day = Some(1);
    let alone = hold(&capped, &UserId::generate(), at(9, 0));
    create(store, &alone).await;
    let day = DailyCap {
        day_start: at(0, 0),
        day_end: at(24, 0),
        max: 1,
    };
    let mut cap_guard = guard_at(after_lapse());
    cap_guard.daily_cap = Some(day);
    store
        .bookings
        .reclaim(&confirmed_late(&alone), &cap_guard, &[], &[])
        .await
        .unwrap();
}

pub(crate) async fn lapsed_unpaid_holds_are_listed_oldest_first(store: &Store) {
    let brand = UserId::generate();
    let mut holds = Vec::new();
    for (hour, minutes_ago) in [(8, 30), (9, 10), (11, 50)] {
        let gig = gig_of(&UserId::generate(), 60, 0, 0);
        let mut booking = hold(&gig, &brand, at(hour, 0));
        booking.hold_expires_at = after_lapse() - SignedDuration::from_mins(minutes_ago);
        create(store, &booking).await;
        holds.push(booking);
    }
    // Paid and live ones are not lapsed holds.
    let gig = gig_of(&UserId::generate(), 60, 0, 0);
    let live = hold(&gig, &brand, at(12, 0));
    create(store, &live).await;
    let mut paid = hold(&gig_of(&UserId::generate(), 60, 0, 0), &brand, at(13, 0));
    paid.hold_expires_at = booked_at();
    create(store, &paid).await;
    store
        .bookings
        .update(&confirmed_late(&paid), &[])
        .await
        .unwrap();

    let lapsed = store
        .bookings
        .lapsed_pending(after_lapse() - SignedDuration::from_mins(20), 10)
        .await
        .unwrap();
    let ids: Vec<_> = lapsed.iter().map(|b| b.id.clone()).collect();
    assert_eq!(ids, vec![holds[2].id.clone(), holds[0].id.clone()]);
    let first = store
        .bookings
        .lapsed_pending(after_lapse(), 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].id, holds[2].id);
}
