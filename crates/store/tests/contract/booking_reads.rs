//! Bookings after their creation: compare-and-swap updates, lists, busy spans and live starts,
//! and racing creations through two handles on one store.

use noillin_domain::{
    availability::Interval,
    booking::{Booking, BookingId, BookingState},
};
use noillin_store::{BookingFilter, BookingRefusal};

use crate::bookings::{
    at, booked_at, create, create_with, find, gig_of, guard, guard_at, hold, in_state,
};
use crate::gigs::group_gig;
use crate::outbox::message;
use crate::support::*;

fn party(user: &UserId) -> BookingFilter {
    BookingFilter {
        party: Some(user.clone()),
        state: None,
    }
}

fn in_state_for(user: Option<&UserId>, state: BookingState) -> BookingFilter {
    BookingFilter {
        party: user.cloned(),
        state: Some(state),
    }
}

async fn list(store: &Store, filter: &BookingFilter) -> Vec<BookingId> {
    let bookings = store.bookings.list(filter, None, 100).await.unwrap();
    ids(&bookings)
}

fn ids(bookings: &[Booking]) -> Vec<BookingId> {
    bookings.iter().map(|b| b.id.clone()).collect()
}

/// The ids of `bookings`, newest (greatest) first.
fn newest_first(bookings: &[&Booking]) -> Vec<BookingId> {
    let mut ids: Vec<BookingId> = bookings.iter().map(|b| b.id.clone()).collect();
    ids.sort_by(|a, b| b.cmp(a));
    ids
}

/// `booking` one version on, in `state`.
fn moved(booking: &Booking, state: BookingState) -> Booking {
    Booking {
        state,
        version: booking.version + 1,
        updated_at: booking.updated_at + SignedDuration::from_secs(60),
        ..booking.clone()
    }
}

/// Busy spans as sortable `(member, start, end)`.
fn spans(busy: Vec<(UserId, Interval)>) -> Vec<(UserId, Timestamp, Timestamp)> {
    let mut spans: Vec<_> = busy
        .into_iter()
        .map(|(member, span)| (member, span.start, span.end))
        .collect();
    spans.sort();
    spans
}

// ---------------------------------------------------------------------------------------------
// Updates
// ---------------------------------------------------------------------------------------------

pub(crate) async fn a_booking_update_is_a_compare_and_swap_on_the_version(store: &Store) {
    let ana = UserId::generate();
    let gig = gig_of(&ana, 60, 0, 0);
    let brand = UserId::generate();
    let booking = hold(&gig, &brand, at(10, 0));
    create(store, &booking).await;
    let past_the_hold = guard_at(booking.hold_expires_at + SignedDuration::from_hours(1));

    // Paid: the booking keeps its time after the hold's expiry.
    let confirmed = moved(&booking, BookingState::Confirmed);
    store
        .bookings
        .update(&confirmed, &[message("booking.confirmed", now())])
        .await
        .unwrap();
    assert_eq!(find(store, &booking.id).await, Some(confirmed.clone()));
    let rival = hold(&gig, &brand, at(10, 30));
    let result = create_with(store, &rival, &past_the_hold).await;
    assert!(
        matches!(result, Err(BookingRefusal::SlotTaken)),
        "{result:?}"
    );

    // Another writer that read version 0 too, one that skipped a version, one at version 0.
    for version in [1, 3, 0] {
        let stale = Booking {
            state: BookingState::Cancelled,
            version,
            ..booking.clone()
        };
        let result = store
            .bookings
            .update(&stale, &[message("booking.cancelled", now())])
            .await;
        assert!(
            matches!(result, Err(StoreError::Conflict(Constraint::StaleVersion))),
            "version {version}: {result:?}"
        );
    }
    let unknown = Booking {
        id: BookingId::generate(),
        ..confirmed.clone()
    };
    let result = store
        .bookings
        .update(&unknown, &[message("booking.cancelled", now())])
        .await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_eq!(find(store, &booking.id).await, Some(confirmed.clone()));
    assert_eq!(find(store, &unknown.id).await, None);
    assert_eq!(
        store.outbox.pending().await.unwrap(),
        1,
        "only the winner's"
    );

    // Cancelled: the time is free again, for the rival as for the busy spans.
    let cancelled = moved(&confirmed, BookingState::Cancelled);
    store.bookings.update(&cancelled, &[]).await.unwrap();
    let day = (at(0, 0), at(24, 0));
    let busy = store
        .bookings
        .busy(std::slice::from_ref(&ana), day.0, day.1, guard().now)
        .await
        .unwrap();
    assert_eq!(busy, vec![]);
    create_with(store, &rival, &past_the_hold).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

pub(crate) async fn bookings_are_listed_newest_first_to_their_parties(store: &Store) {
    let (ana, bea) = (UserId::generate(), UserId::generate());
    let (brand, other_brand) = (UserId::generate(), UserId::generate());
    let single = hold(&gig_of(&ana, 60, 0, 0), &brand, at(9, 0));
    let group = hold(
        &group_gig(&bea, &[(&ana, MemberState::Accepted)]),
        &brand,
        at(11, 0),
    );
    let beas = hold(&gig_of(&bea, 60, 0, 0), &other_brand, at(14, 0));
    for booking in [&single, &group, &beas] {
        create(store, booking).await;
    }

    assert_eq!(
        list(store, &party(&brand)).await,
        newest_first(&[&single, &group])
    );
    assert_eq!(
        list(store, &party(&ana)).await,
        newest_first(&[&single, &group])
    );
    assert_eq!(
        list(store, &party(&bea)).await,
        newest_first(&[&group, &beas])
    );
    assert_eq!(
        list(store, &party(&other_brand)).await,
        vec![beas.id.clone()]
    );
    assert_eq!(list(store, &party(&UserId::generate())).await, vec![]);
    assert_eq!(
        list(store, &BookingFilter::default()).await,
        newest_first(&[&single, &group, &beas])
    );
    // Whole bookings, not only their ids.
    let listed = store.bookings.list(&party(&other_brand), None, 10).await;
    assert_eq!(listed.unwrap(), vec![beas.clone()]);

    store
        .bookings
        .update(&moved(&group, BookingState::Cancelled), &[])
        .await
        .unwrap();
    let cancelled = BookingState::Cancelled;
    let pending = BookingState::PendingPayment;
    assert_eq!(
        list(store, &in_state_for(Some(&ana), cancelled)).await,
        vec![group.id.clone()]
    );
    assert_eq!(
        list(store, &in_state_for(Some(&ana), pending)).await,
        vec![single.id.clone()]
    );
    assert_eq!(
        list(store, &in_state_for(Some(&bea), pending)).await,
        vec![beas.id.clone()]
    );
    assert_eq!(
        list(store, &in_state_for(None, cancelled)).await,
        vec![group.id.clone()]
    );
    assert_eq!(
        list(store, &in_state_for(Some(&brand), BookingState::Confirmed)).await,
        vec![]
    );
}

pub(crate) async fn paging_through_bookings_returns_each_once_newest_first(store: &Store) {
    let (ana, brand) = (UserId::generate(), UserId::generate());
    let mut bookings = Vec::new();
    for hour in 0..7 {
        let booking = hold(&gig_of(&ana, 60, 0, 0), &brand, at(hour * 2, 0));
        create(store, &booking).await;
        bookings.push(booking);
    }
    // Someone else's, seen only by administrators.
    let others = hold(&gig_of(&UserId::generate(), 60, 0, 0), &brand, at(1, 0));
    create(store, &others).await;

    let everyone: Vec<&Booking> = bookings.iter().chain([&others]).collect();
    let anas: Vec<&Booking> = bookings.iter().collect();
    for (filter, expected) in [
        (party(&ana), newest_first(&anas)),
        (BookingFilter::default(), newest_first(&everyone)),
    ] {
        let (mut sizes, mut seen) = (Vec::new(), Vec::<BookingId>::new());
        loop {
            let page = store.bookings.list(&filter, seen.last(), 3).await.unwrap();
            if page.is_empty() {
                break;
            }
            sizes.push(page.len());
            seen.extend(ids(&page));
            assert!(sizes.len() <= 5, "paging does not end: {sizes:?}");
        }
        assert_eq!(seen, expected, "{filter:?}");
        assert_eq!(sizes.iter().sum::<usize>(), expected.len());
        assert!(sizes.iter().all(|&size| size <= 3), "{sizes:?}");
        assert_eq!(store.bookings.list(&filter, None, 0).await.unwrap(), vec![]);
    }
}

// ---------------------------------------------------------------------------------------------
// Busy spans and live starts
// ---------------------------------------------------------------------------------------------

pub(crate) async fn busy_spans_and_live_starts_are_those_of_live_bookings_in_range(store: &Store) {
    let (ana, bea) = (UserId::generate(), UserId::generate());
    let brand = UserId::generate();
    let anas_gig = gig_of(&ana, 60, 0, 15);
    let group_gig = group_gig(&bea, &[(&ana, MemberState::Accepted)]);
    let mut lapsed = hold(&anas_gig, &brand, at(15, 0));
    lapsed.hold_expires_at = booked_at();
    for booking in [
        // Ends where the range starts.
        hold(&anas_gig, &brand, at(6, 0)),
        in_state(hold(&anas_gig, &brand, at(8, 0)), BookingState::Confirmed),
        hold(&anas_gig, &brand, at(10, 0)),
        hold(&group_gig, &brand, at(12, 0)),
        in_state(hold(&anas_gig, &brand, at(14, 0)), BookingState::Cancelled),
        lapsed,
        // Starts where the range ends.
        hold(&anas_gig, &brand, at(16, 0)),
    ] {
        create(store, &booking).await;
    }

    let (from, to) = (at(7, 15), at(16, 0));
    let asked = [ana.clone(), bea.clone(), UserId::generate(), ana.clone()];
    let busy = store
        .bookings
        .busy(&asked, from, to, guard().now)
        .await
        .unwrap();
    let mut expected = vec![
        (ana.clone(), at(8, 0), at(9, 15)),
        (ana.clone(), at(10, 0), at(11, 15)),
        (ana.clone(), at(12, 0), at(13, 15)),
        (bea.clone(), at(12, 0), at(13, 15)),
    ];
    expected.sort();
    assert_eq!(spans(busy), expected);
    // Once the holds lapsed, only the confirmed booking keeps Ana busy.
    let later = booked_at() + SignedDuration::from_hours(2);
    let busy = store.bookings.busy(&asked, from, to, later).await.unwrap();
    assert_eq!(spans(busy), vec![(ana.clone(), at(8, 0), at(9, 15))]);
    assert_eq!(
        store.bookings.busy(&[], from, to, later).await.unwrap(),
        vec![]
    );

    let starts = |from: Timestamp, now: Timestamp| {
        let store = store.clone();
        let gig = anas_gig.id.clone();
        async move {
            let mut starts = store
                .bookings
                .live_starts(&gig, from, at(16, 0), now)
                .await
                .unwrap();
            starts.sort();
            starts
        }
    };
    let now = guard().now;
    assert_eq!(
        starts(at(6, 0), now).await,
        vec![at(6, 0), at(8, 0), at(10, 0)]
    );
    assert_eq!(starts(at(6, 1), now).await, vec![at(8, 0), at(10, 0)]);
    assert_eq!(starts(at(0, 0), later).await, vec![at(8, 0)]);
}

// ---------------------------------------------------------------------------------------------
// Races, through every handle of `stores` (handles on one store, as separate processes have)
// ---------------------------------------------------------------------------------------------

/// How many creations race.
const RACERS: usize = 32;

pub(crate) async fn racing_overlapping_creations_have_exactly_one_winner(stores: &[Store]) {
    let ana = UserId::generate();
    let brand = UserId::generate();
    // Different gigs of Ana, of different lengths and buffers, every one of them busy at 10:00.
    let bookings: Vec<Booking> = (0..RACERS)
        .map(|i| {
            let step = u32::try_from(i).unwrap();
            let gig = gig_of(&ana, 30 + 15 * (step % 4), 5 * (step % 3), 10);
            let start = at(10, 0) - SignedDuration::from_mins(5 * i64::from(step % 6));
            hold(&gig, &brand, start)
        })
        .collect();
    let results = concurrently(RACERS, |i| {
        let store = stores[i % stores.len()].clone();
        let booking = bookings[i].clone();
        async move { store.bookings.create(&booking, &guard(), &[]).await }
    })
    .await;

    let winners: Vec<usize> = (0..RACERS).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let taken = results
        .iter()
        .filter(|r| matches!(r, Err(BookingRefusal::SlotTaken)))
        .count();
    assert_eq!(taken, RACERS - 1, "{results:?}");

    let winner = &bookings[winners[0]];
    for store in stores {
        let busy = store
            .bookings
            .busy(std::slice::from_ref(&ana), at(0, 0), at(24, 0), guard().now)
            .await
            .unwrap();
        assert_eq!(busy, vec![(ana.clone(), winner.busy())]);
        assert_eq!(list(store, &party(&ana)).await, vec![winner.id.clone()]);
    }
}

pub(crate) async fn racing_disjoint_creations_all_succeed(stores: &[Store]) {
    let ana = UserId::generate();
    let brand = UserId::generate();
    // Back to back: each busy span [start, start + 75 min) ends where the next begins.
    let gig = gig_of(&ana, 60, 0, 15);
    let bookings: Vec<Booking> = (0..RACERS)
        .map(|i| {
            let step = i64::try_from(i).unwrap();
            hold(&gig, &brand, at(0, 75 * step))
        })
        .collect();
    let results = concurrently(RACERS, |i| {
        let store = stores[i % stores.len()].clone();
        let booking = bookings[i].clone();
        async move { store.bookings.create(&booking, &guard(), &[]).await }
    })
    .await;

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let busy = stores[0]
        .bookings
        .busy(std::slice::from_ref(&ana), at(0, 0), at(48, 0), guard().now)
        .await
        .unwrap();
    assert_eq!(busy.len(), RACERS);
    let mut expected = ids(&bookings);
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        list(&stores[1 % stores.len()], &party(&ana)).await,
        expected
    );
}
