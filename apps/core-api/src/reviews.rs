//! Reviews: the brand reviews a completed booking once, a member answers once. Storing a
//! review counts it in every member's rating in the same step, and tells search and the
//! members.

use noillin_domain::{
    User, UserId, ValidationErrors,
    booking::BookingId,
    event::Event,
    review::{Review, ReviewError, validate_review, validate_text},
};
use noillin_store::{Constraint, StoreError};

use crate::{
    AppState,
    bookings::{self, BookingError},
    outbox,
    paging::Page,
};

/// The brand's review of booking `id`.
pub async fn post(
    state: &AppState,
    caller: &User,
    id: &str,
    rating: i64,
    text: String,
    correlation_id: Option<&str>,
) -> Result<Review, BookingError> {
    let mut errors = ValidationErrors::default();
    validate_review(rating, &text, &mut errors);
    let text = errors.into_result(text).map_err(BookingError::Invalid)?;
    let booking = bookings::get(state, caller, id).await?;
    if booking.brand_id != caller.id {
        return Err(BookingError::BrandOnly);
    }
    let rating = u8::try_from(rating).unwrap_or(1);
    let review = Review::of(&booking, rating, text, state.clock.now()).map_err(review_error)?;
    let mut events = vec![Event::ReviewPosted {
        booking_id: booking.id.to_string(),
    }];
    // The rating each member's search document shows changed.
    events.extend(
        booking
            .members
            .iter()
            .map(|m| Event::SearchInfluencerChanged {
                user_id: m.user_id.to_string(),
            }),
    );
    let messages = outbox::messages(events, correlation_id).map_err(BookingError::Outbox)?;
    match state.store.reviews.insert(&review, &messages).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Constraint::ReviewExists)) => {
            return Err(BookingError::AlreadyReviewed);
        }
        Err(e) => return Err(e.into()),
    }
    state.relay_waker.wake();
    tracing::info!(booking_id = %booking.id, rating, "booking reviewed");
    Ok(review)
}

/// A member's answer to the review of booking `id`.
pub async fn reply(
    state: &AppState,
    caller: &User,
    id: &str,
    text: String,
) -> Result<Review, BookingError> {
    let mut errors = ValidationErrors::default();
    validate_text("text", &text, &mut errors);
    let text = errors.into_result(text).map_err(BookingError::Invalid)?;
    let booking = bookings::get(state, caller, id).await?;
    if !booking.is_member(&caller.id) {
        return Err(BookingError::MembersOnly);
    }
    let mut review = state
        .store
        .reviews
        .find(&booking.id)
        .await?
        .ok_or(BookingError::NotFound)?;
    review
        .answer(&caller.id, text, state.clock.now())
        .map_err(review_error)?;
    match state.store.reviews.update(&review, &[]).await {
        Ok(()) => Ok(review),
        // Another member answered first.
        Err(StoreError::Conflict(Constraint::StaleVersion)) => Err(BookingError::AlreadyReviewed),
        Err(e) => Err(e.into()),
    }
}

/// The review of booking `id`, for a party to it (or an administrator).
pub async fn of_booking(state: &AppState, viewer: &User, id: &str) -> Result<Review, BookingError> {
    let booking = bookings::get(state, viewer, id).await?;
    state
        .store
        .reviews
        .find(&booking.id)
        .await?
        .ok_or(BookingError::NotFound)
}

/// One page of the reviews counted in an influencer's rating, newest first; public.
pub async fn of_influencer(
    state: &AppState,
    influencer: &str,
    page: Page,
) -> Result<(Vec<Review>, Option<BookingId>), BookingError> {
    let before = page.cursor.clone().map(BookingId::from_string);
    let reviews = state
        .store
        .reviews
        .for_influencer(
            &UserId::from_string(influencer),
            before.as_ref(),
            page.limit,
        )
        .await?;
    let next = page.next(&reviews, |r| r.booking_id.clone());
    Ok((reviews, next))
}

fn review_error(e: ReviewError) -> BookingError {
    match e {
        ReviewError::NotCompleted { state } => BookingError::WrongState { state },
        ReviewError::AlreadyReplied => BookingError::AlreadyReviewed,
    }
}
