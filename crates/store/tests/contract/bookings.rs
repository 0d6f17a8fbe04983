//! Bookings: the store's final guard against double booking, holds and daily caps, and the
//! messages a creation writes. Lists, updates, busy spans and races: `booking_reads.rs`.
//!
//! Every instant is fixed (liveness is judged at the guard's `now`, never the clock), so each
//! case says exactly which booking is live when.

use noillin_domain::{
    booking::{Booking, BookingId, BookingState, NewHold},
    payment::BookingPayment,
};
use noillin_store::{BookingGuard, BookingRefusal, DailyCap};

use crate::gigs::{group_gig, single_gig};
use crate::outbox::{claim_all, message};
use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// How long the cases' unpaid holds keep their slot.
pub(crate) const HOLD_TTL: SignedDuration = SignedDuration::from_mins(15);

/// When the cases' holds are made.
pub(crate) fn booked_at() -> Timestamp {
    "2030-03-04T08:00:00Z".parse().unwrap()
}

/// `hours:minutes` on the day the cases book (the day after [`booked_at`]), UTC.
pub(crate) fn at(hours: i64, minutes: i64) -> Timestamp {
    "2030-03-05T00:00:00Z".parse::<Timestamp>().unwrap()
        + SignedDuration::from_mins(hours * 60 + minutes)
}

/// An unpaid hold of `gig` at `start` for `brand`, made at [`booked_at`].
pub(crate) fn hold(gig: &Gig, brand: &UserId, start: Timestamp) -> Booking {
    let id = BookingId::generate();
    Booking::hold(NewHold {
        payment: BookingPayment {
            intent_id: format!("pi_{}", id.as_str()),
            client_secret: format!("pi_{}_secret", id.as_str()),
            paid: None,
            refund: None,
        },
        id,
        gig,
        brand_id: brand.clone(),
        start,
        time_zone: "Europe/Lisbon".into(),
        hold_token: format!("token-{}", uuid::Uuid::new_v4().simple()),
        now: booked_at(),
        hold_ttl: HOLD_TTL,
    })
}

/// `booking` in `state` from the start, as if it had been through its transitions.
pub(crate) fn in_state(mut booking: Booking, state: BookingState) -> Booking {
    booking.state = state;
    booking
}

/// Judged while the holds made at [`booked_at`] are live, with no limit that matters.
pub(crate) fn guard() -> BookingGuard {
    guard_at(booked_at() + SignedDuration::from_mins(1))
}

pub(crate) fn guard_at(now: Timestamp) -> BookingGuard {
    BookingGuard {
        now,
        max_live_holds: 1_000,
        daily_cap: None,
    }
}

/// A single gig of `owner` lasting `minutes`, with `before`/`after` minutes of buffer.
pub(crate) fn gig_of(owner: &UserId, minutes: u32, before: u32, after: u32) -> Gig {
    let mut gig = single_gig(owner);
    gig.terms.duration_minutes = minutes;
    gig.terms.buffer_before_minutes = before;
    gig.terms.buffer_after_minutes = after;
    gig
}

pub(crate) async fn create(store: &Store, booking: &Booking) {
    store.bookings.create(booking, &guard(), &[]).await.unwrap();
}

pub(crate) async fn create_with(
    store: &Store,
    booking: &Booking,
    guard: &BookingGuard,
) -> Result<(), BookingRefusal> {
    store.bookings.create(booking, guard, &[]).await
}

pub(crate) async fn find(store: &Store, id: &BookingId) -> Option<Booking> {
    store.bookings.find(id).await.unwrap()
}

#[track_caller]
fn assert_slot_taken(result: Result<(), BookingRefusal>) {
    assert!(
        matches!(result, Err(BookingRefusal::SlotTaken)),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

pub(crate) async fn a_group_booking_round_trips_with_every_field(store: &Store) {
    let (owner, other) = (UserId::generate(), UserId::generate());
    let mut gig = group_gig(&owner, &[(&other, MemberState::Accepted)]);
    gig.title = "Tripla: três vozes, um \"reel\"".into();
    gig.terms.buffer_before_minutes = 10;
    let mut booking = hold(&gig, &UserId::generate(), at(10, 0));
    booking.history.push(noillin_domain::booking::StateChange {
        state: BookingState::PendingPayment,
        at: booked_at() + SignedDuration::from_millis(1_500),
        reason: "payment failed — card declined".into(),
        by: None,
    });
    // More than fits in 32 bits.
    booking.version = 5_000_000_000;
    create(store, &booking).await;

    let stored = find(store, &booking.id).await.unwrap();
    assert_eq!(stored, booking);
    assert_eq!(stored.busy_start, at(9, 50));
    assert_eq!(stored.member_ids(), vec![owner, other]);
    assert_eq!(find(store, &BookingId::generate()).await, None);
}

pub(crate) async fn an_overlap_with_any_members_live_booking_is_refused_counting_buffers(
    store: &Store,
) {
    let (ana, bea) = (UserId::generate(), UserId::generate());
    let brand = UserId::generate();
    // Ana is busy [10:00, 11:15): an hour and a 15-minute buffer after.
    let first = hold(&gig_of(&ana, 60, 0, 15), &brand, at(10, 0));
    create(store, &first).await;

    // Bea's group gig with Ana as second member: overlapping Ana's buffer only is refused.
    let together = group_gig(&bea, &[(&ana, MemberState::Accepted)]);
    let in_buffer = hold(&together, &brand, at(11, 0));
    assert_slot_taken(create_with(store, &in_buffer, &guard()).await);
    // A booking ending before Ana's starts is refused when its own buffer after reaches in.
    let buffered = hold(&gig_of(&ana, 30, 0, 10), &brand, at(9, 25));
    assert_slot_taken(create_with(store, &buffered, &guard()).await);

    // Touching spans are allowed on both sides: [11:15, 12:30) and [9:00, 10:00).
    let after = hold(&together, &brand, at(11, 15));
    create(store, &after).await;
    let before = hold(&gig_of(&ana, 45, 5, 10), &brand, at(9, 5));
    create(store, &before).await;

    // Bea is now busy through the group booking: her own gig overlapping it is refused, for any
    // brand, while someone else's gig at that time is not.
    let bea_alone = hold(&gig_of(&bea, 30, 0, 0), &UserId::generate(), at(12, 0));
    assert_slot_taken(create_with(store, &bea_alone, &guard()).await);
    let someone_else = hold(&gig_of(&UserId::generate(), 60, 0, 0), &brand, at(11, 30));
    create(store, &someone_else).await;

    for refused in [&in_buffer, &buffered, &bea_alone] {
        assert_eq!(find(store, &refused.id).await, None);
    }
}

pub(crate) async fn lapsed_cancelled_and_expired_bookings_do_not_block_confirmed_ones_always_do(
    store: &Store,
) {
    let ana = UserId::generate();
    let gig = gig_of(&ana, 60, 0, 0);
    let brand = UserId::generate();

    // A hold blocks until its expiry, and from its expiry on no longer does.
    let lapsing = hold(&gig, &brand, at(9, 0));
    create(store, &lapsing).await;
    let expiry = lapsing.hold_expires_at;
    let rival = hold(&gig, &brand, at(9, 30));
    let just_before = guard_at(expiry - SignedDuration::from_millis(1));
    assert_slot_taken(create_with(store, &rival, &just_before).await);
    create_with(store, &rival, &guard_at(expiry)).await.unwrap();

    // Cancelled and expired bookings block nothing even while their hold would be live.
    for (hour, state) in [(12, BookingState::Cancelled), (14, BookingState::Expired)] {
        create(store, &in_state(hold(&gig, &brand, at(hour, 0)), state)).await;
        create(store, &hold(&gig, &brand, at(hour, 0))).await;
    }

    // Confirmed and delivered bookings block long after their hold's expiry.
    let years_later = guard_at(booked_at() + SignedDuration::from_hours(24 * 365 * 20));
    for (hour, state) in [(16, BookingState::Confirmed), (18, BookingState::Delivered)] {
        create(store, &in_state(hold(&gig, &brand, at(hour, 0)), state)).await;
        let later = hold(&gig, &brand, at(hour, 30));
        assert_slot_taken(create_with(store, &later, &years_later).await);
    }
}

pub(crate) async fn the_hold_limit_counts_only_the_brands_live_unpaid_holds(store: &Store) {
    let (brand, other_brand) = (UserId::generate(), UserId::generate());
    // Each booking of its own influencer, so no overlap decides anything.
    let fresh = |brand: &UserId| hold(&gig_of(&UserId::generate(), 60, 0, 0), brand, at(10, 0));
    let limit = BookingGuard {
        max_live_holds: 2,
        ..guard()
    };

    let mut lapsed = fresh(&brand);
    lapsed.hold_expires_at = booked_at();
    for booking in [
        fresh(&brand),
        lapsed,
        in_state(fresh(&brand), BookingState::Confirmed),
        in_state(fresh(&brand), BookingState::Cancelled),
        in_state(fresh(&brand), BookingState::Expired),
        fresh(&other_brand),
        fresh(&other_brand),
        fresh(&other_brand),
    ] {
        create(store, &booking).await;
    }

    // One live hold of the brand (other brands' do not count): a second is allowed, a third is
    // not.
    create_with(store, &fresh(&brand), &limit).await.unwrap();
    let third = fresh(&brand);
    let result = create_with(store, &third, &limit).await;
    assert!(
        matches!(result, Err(BookingRefusal::TooManyHolds)),
        "{result:?}"
    );
    assert_eq!(find(store, &third.id).await, None);
    // Once the holds lapse they no longer count.
    let after_expiry = BookingGuard {
        now: booked_at() + HOLD_TTL,
        ..limit
    };
    create_with(store, &third, &after_expiry).await.unwrap();
}

pub(crate) async fn the_daily_cap_counts_only_the_gigs_live_bookings_starting_that_day(
    store: &Store,
) {
    let ana = UserId::generate();
    let gig = gig_of(&ana, 60, 0, 0);
    let brand = UserId::generate();
    let capped = BookingGuard {
        daily_cap: Some(DailyCap {
            day_start: at(0, 0),
            day_end: at(24, 0),
            max: 2,
        }),
        ..guard()
    };

    let mut lapsed = hold(&gig, &brand, at(8, 0));
    lapsed.hold_expires_at = booked_at();
    for booking in [
        hold(&gig, &brand, at(9, 0)),
        lapsed,
        in_state(hold(&gig, &brand, at(11, 0)), BookingState::Cancelled),
        // The days before and after: the day is half-open.
        in_state(hold(&gig, &brand, at(-2, 0)), BookingState::Confirmed),
        hold(&gig, &brand, at(24, 0)),
        // Another gig of the same influencer that day.
        hold(&gig_of(&ana, 60, 0, 0), &brand, at(20, 0)),
    ] {
        create(store, &booking).await;
    }

    create_with(store, &hold(&gig, &brand, at(13, 0)), &capped)
        .await
        .unwrap();
    let third = hold(&gig, &brand, at(15, 0));
    let result = create_with(store, &third, &capped).await;
    assert!(matches!(result, Err(BookingRefusal::DayFull)), "{result:?}");
    assert_eq!(find(store, &third.id).await, None);
    // Without a cap, or on another day, the same booking is fine.
    create(store, &third).await;
    let next_day = BookingGuard {
        daily_cap: Some(DailyCap {
            day_start: at(24, 0),
            day_end: at(48, 0),
            max: 2,
        }),
        ..guard()
    };
    create_with(store, &hold(&gig, &brand, at(30, 0)), &next_day)
        .await
        .unwrap();
}

pub(crate) async fn refusals_come_in_the_documented_order(store: &Store) {
    let ana = UserId::generate();
    let gig = gig_of(&ana, 60, 0, 0);
    let brand = UserId::generate();
    create(store, &hold(&gig, &brand, at(9, 0))).await;
    let everything_full = BookingGuard {
        now: guard().now,
        max_live_holds: 1,
        daily_cap: Some(DailyCap {
            day_start: at(0, 0),
            day_end: at(24, 0),
            max: 1,
        }),
    };

    // Busy, over the hold limit and the day full: busy first.
    let overlapping = hold(&gig, &brand, at(9, 30));
    assert_slot_taken(create_with(store, &overlapping, &everything_full).await);
    // Free, over the hold limit and the day full: the hold limit next.
    let free = hold(&gig, &brand, at(12, 0));
    let result = create_with(store, &free, &everything_full).await;
    assert!(
        matches!(result, Err(BookingRefusal::TooManyHolds)),
        "{result:?}"
    );
    // Within the hold limit, the day full: the daily cap last.
    let room_for_holds = BookingGuard {
        max_live_holds: 2,
        ..everything_full
    };
    let result = create_with(store, &free, &room_for_holds).await;
    assert!(matches!(result, Err(BookingRefusal::DayFull)), "{result:?}");
    assert_eq!(find(store, &free.id).await, None);
}

pub(crate) async fn a_created_booking_stores_its_messages_and_a_refused_one_none(store: &Store) {
    let gig = gig_of(&UserId::generate(), 60, 0, 0);
    let brand = UserId::generate();
    let booking = hold(&gig, &brand, at(10, 0));
    let expiry = OutboxMessage {
        deliver_after: Some(std::time::Duration::from_secs(15 * 60)),
        ..message("booking.hold_lapsed", now())
    };
    let held = message("booking.held", now());
    let mut batch = vec![expiry, held];
    batch.sort_by(|a, b| a.id.cmp(&b.id));
    store
        .bookings
        .create(&booking, &guard(), &batch)
        .await
        .unwrap();

    let refused = hold(&gig, &brand, at(10, 30));
    let result = store
        .bookings
        .create(&refused, &guard(), &[message("booking.held", now())])
        .await;
    assert_slot_taken(result);

    assert_eq!(store.outbox.pending().await.unwrap(), 2);
    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, batch, "every field, the delay included");
}

pub(crate) async fn due_bookings_are_found_once_due_by_id_until_nothing_is_due(store: &Store) {
    use crate::ledger::{approved_at, auto_complete_at, delivered, paid, payout_due, terms};

    let brand = UserId::generate();
    let mut waiting = Vec::new();
    for hour in [8, 10, 12] {
        let gig = gig_of(&UserId::generate(), 60, 0, 0);
        waiting.push(delivered(store, &gig, &brand, at(hour, 0)).await);
    }
    waiting.sort_by(|a, b| a.id.cmp(&b.id));
    let ids = |bookings: &[Booking]| -> Vec<BookingId> {
        bookings.iter().map(|b| b.id.clone()).collect()
    };
    // Neither a paid booking not yet delivered nor an unpaid hold has anything due.
    paid(
        store,
        &gig_of(&UserId::generate(), 60, 0, 0),
        &brand,
        at(14, 0),
    )
    .await;
    create(
        store,
        &hold(&gig_of(&UserId::generate(), 60, 0, 0), &brand, at(16, 0)),
    )
    .await;
    let far = auto_complete_at() + SignedDuration::from_hours(24 * 365);

    let due = |before: Timestamp, after: Option<BookingId>, limit: u32| {
        let store = store.clone();
        async move {
            let found = store
                .bookings
                .due(before, after.as_ref(), limit)
                .await
                .unwrap();
            ids(&found)
        }
    };
    let just_before = auto_complete_at() - SignedDuration::from_millis(1);
    assert!(due(just_before, None, 10).await.is_empty());
    assert_eq!(due(auto_complete_at(), None, 10).await, ids(&waiting));
    assert_eq!(
        store.bookings.due(far, None, 10).await.unwrap(),
        waiting,
        "every field"
    );

    // Keyset pages by ascending id.
    let first_page = due(far, None, 2).await;
    assert_eq!(first_page, ids(&waiting[..2]));
    let next_page = due(far, Some(first_page[1].clone()), 2).await;
    assert_eq!(next_page, ids(&waiting[2..]));
    assert!(due(far, Some(waiting[2].id.clone()), 2).await.is_empty());
    assert!(due(far, None, 0).await.is_empty());

    // A revision asked for: nothing due any more.
    let mut revised = waiting[0].clone();
    revised
        .request_revision(
            &brand,
            "shorter, please",
            terms().max_revisions,
            approved_at(),
        )
        .unwrap();
    store.bookings.update(&revised, &[]).await.unwrap();
    // Approved: due again once its members may be paid, until each one is.
    let mut approved = waiting[1].clone();
    approved.approve(&brand, &terms(), approved_at()).unwrap();
    store
        .bookings
        .update_with_ledger(&approved, &approved.settlement_postings(), &[])
        .await
        .unwrap();
    assert_eq!(
        due(payout_due() - SignedDuration::from_millis(1), None, 10).await,
        Vec::<BookingId>::new()
    );
    assert_eq!(due(payout_due(), None, 10).await, ids(&[approved.clone()]));
    assert_eq!(
        due(far, None, 10).await,
        ids(&[approved.clone(), waiting[2].clone()])
    );

    for member in approved.member_ids() {
        let payout = approved
            .start_payout(&member, i64::MAX, payout_due())
            .unwrap();
        store
            .bookings
            .update_with_ledger(&approved, &[payout], &[])
            .await
            .unwrap();
        approved
            .record_transfer(&member, &format!("tr_{member}"), payout_due())
            .unwrap();
        store.bookings.update(&approved, &[]).await.unwrap();
    }
    assert_eq!(approved.due_at(), None);
    assert_eq!(due(far, None, 10).await, ids(&waiting[2..]));
}
