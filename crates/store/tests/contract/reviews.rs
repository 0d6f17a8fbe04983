//! Reviews: one per completed booking, counted in every member's rating as it is stored; a
//! reply is a compare-and-swap; an influencer's reviews page newest first.

use noillin_domain::{booking::Booking, review::Review};

use crate::bookings::{at, find};
use crate::gigs::{group_gig, single_gig};
use crate::ledger::completed;
use crate::outbox::{claim_all, message};
use crate::support::*;

fn review(booking: &Booking, rating: u8) -> Review {
    Review::of(
        booking,
        rating,
        format!("{rating} stars — \"great\""),
        now(),
    )
    .unwrap()
}

async fn insert(store: &Store, review: &Review) {
    store.reviews.insert(review, &[]).await.unwrap();
}

/// The rating and review count of `user`'s profile.
async fn rating(store: &Store, user: &UserId) -> (Option<f64>, u32) {
    let profile = store.profiles.influencer(user).await.unwrap().unwrap();
    (profile.rating, profile.review_count)
}

#[track_caller]
fn assert_conflict(result: Result<(), StoreError>, constraint: Constraint) {
    assert!(
        matches!(result, Err(StoreError::Conflict(c)) if c == constraint),
        "{result:?}"
    );
}

pub(crate) async fn a_review_counts_in_every_members_rating_once(store: &Store) {
    let (ana, _) = insert_influencer(store, "ana@example.com").await;
    let (bea, _) = insert_influencer(store, "bea@example.com").await;
    let (brand, _) = insert_brand(store, "brand@example.com").await;
    let gig = group_gig(&ana.id, &[(&bea.id, MemberState::Accepted)]);
    let first = completed(store, &gig, &brand.id, at(10, 0)).await;
    let second = completed(store, &gig, &brand.id, at(12, 0)).await;

    let five = review(&first, 5);
    let posted = message("review.posted", now());
    store
        .reviews
        .insert(&five, std::slice::from_ref(&posted))
        .await
        .unwrap();
    assert_eq!(rating(store, &ana.id).await, (Some(5.0), 1));
    insert(store, &review(&second, 4)).await;
    for member in [&ana.id, &bea.id] {
        assert_eq!(rating(store, member).await, (Some(4.5), 2), "every member");
    }
    assert_eq!(
        store.reviews.find(&first.id).await.unwrap(),
        Some(five.clone())
    );
    assert_eq!(
        find(store, &first.id).await.unwrap(),
        first,
        "the booking is untouched"
    );

    // The booking was reviewed already: nothing is written, its message included.
    let again = review(&first, 1);
    let result = store
        .reviews
        .insert(&again, &[message("review.posted", now())])
        .await;
    assert_conflict(result, Constraint::ReviewExists);
    assert_eq!(store.reviews.find(&first.id).await.unwrap(), Some(five));
    for member in [&ana.id, &bea.id] {
        assert_eq!(rating(store, member).await, (Some(4.5), 2));
    }
    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, vec![posted]);

    // The average reads to two decimals: (5 + 4 + 4) / 3.
    let alone = completed(store, &single_gig(&ana.id), &brand.id, at(14, 0)).await;
    insert(store, &review(&alone, 4)).await;
    assert_eq!(rating(store, &ana.id).await, (Some(4.33), 3));
    assert_eq!(rating(store, &bea.id).await, (Some(4.5), 2));
}

pub(crate) async fn a_reply_is_a_compare_and_swap_on_the_reviews_version(store: &Store) {
    let (ana, _) = insert_influencer(store, "ana@example.com").await;
    let brand = UserId::generate();
    let booking = completed(store, &single_gig(&ana.id), &brand, at(10, 0)).await;
    let original = review(&booking, 5);
    insert(store, &original).await;

    let mut answered = original.clone();
    answered
        .answer(&ana.id, "Thank you!".into(), now())
        .unwrap();
    assert_eq!(answered.version, 1);
    let replied = message("review.replied", now());
    store
        .reviews
        .update(&answered, std::slice::from_ref(&replied))
        .await
        .unwrap();
    assert_eq!(
        store.reviews.find(&booking.id).await.unwrap(),
        Some(answered.clone())
    );
    assert_eq!(
        rating(store, &ana.id).await,
        (Some(5.0), 1),
        "a reply rates nothing"
    );

    // A second reply from the same read is stale, and writes nothing.
    let mut late = original.clone();
    late.answer(&ana.id, "Thanks again".into(), now()).unwrap();
    let result = store
        .reviews
        .update(&late, &[message("review.replied", now())])
        .await;
    assert_conflict(result, Constraint::StaleVersion);
    assert_eq!(
        store.reviews.find(&booking.id).await.unwrap(),
        Some(answered)
    );
    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, vec![replied]);

    // A review never stored is not found.
    let other = completed(store, &single_gig(&ana.id), &brand, at(12, 0)).await;
    let mut unknown = review(&other, 3);
    unknown.answer(&ana.id, "?".into(), now()).unwrap();
    let result = store.reviews.update(&unknown, &[]).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_eq!(store.reviews.find(&other.id).await.unwrap(), None);
}

pub(crate) async fn an_influencers_reviews_page_newest_first(store: &Store) {
    let (ana, bea) = (UserId::generate(), UserId::generate());
    let brand = UserId::generate();
    let mut reviews = Vec::new();
    for hour in [8, 10, 12] {
        let booking = completed(store, &single_gig(&ana), &brand, at(hour, 0)).await;
        reviews.push(review(&booking, 4));
    }
    let together = group_gig(&bea, &[(&ana, MemberState::Accepted)]);
    let booking = completed(store, &together, &brand, at(14, 0)).await;
    reviews.push(review(&booking, 5));
    for review in &reviews {
        insert(store, review).await;
    }
    let mut newest_first = reviews.clone();
    newest_first.sort_by(|a, b| b.booking_id.cmp(&a.booking_id));

    let page = store.reviews.for_influencer(&ana, None, 3).await.unwrap();
    assert_eq!(page, newest_first[..3].to_vec());
    let rest = store
        .reviews
        .for_influencer(&ana, Some(&page[2].booking_id), 3)
        .await
        .unwrap();
    assert_eq!(rest, newest_first[3..].to_vec());
    let bea_reviews = store.reviews.for_influencer(&bea, None, 10).await.unwrap();
    assert_eq!(
        bea_reviews,
        vec![reviews[3].clone()],
        "only the reviews counted for her"
    );
    let nobody = UserId::generate();
    assert!(
        store
            .reviews
            .for_influencer(&nobody, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .reviews
            .for_influencer(&ana, None, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn a_profile_update_keeps_the_rating_reviews_made(store: &Store) {
    let (ana, _) = insert_influencer(store, "ana@example.com").await;
    let booking = completed(store, &single_gig(&ana.id), &UserId::generate(), at(10, 0)).await;
    insert(store, &review(&booking, 4)).await;

    // An update made from a read before the review, and one from a read after it.
    let before = influencer_profile(&ana.id);
    let after = store.profiles.influencer(&ana.id).await.unwrap().unwrap();
    for read in [before, after] {
        let edited = InfluencerProfile {
            bio: "New bio".into(),
            ..read
        };
        store
            .profiles
            .update_influencer(&edited, &[])
            .await
            .unwrap();
        let stored = store.profiles.influencer(&ana.id).await.unwrap().unwrap();
        assert_eq!(stored.bio, "New bio");
        assert_eq!((stored.rating, stored.review_count), (Some(4.0), 1));
    }

    // The next review still counts from the stored tally.
    let next = completed(store, &single_gig(&ana.id), &UserId::generate(), at(12, 0)).await;
    insert(store, &review(&next, 5)).await;
    assert_eq!(rating(store, &ana.id).await, (Some(4.5), 2));
}
