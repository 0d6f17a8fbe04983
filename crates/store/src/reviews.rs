//! The reviews port: a brand's review of a completed booking, counted in every member's rating
//! in the same atomic step as it is stored.

use async_trait::async_trait;
use noillin_domain::{UserId, booking::BookingId, review::Review};

use crate::{OutboxMessage, StoreError};

/// Reviews and the ratings they make.
#[async_trait]
pub trait ReviewRepository: Send + Sync {
    /// Stores the review with `outbox` and adds its rating to each of its members' rating
    /// (their profile's sum and count of ratings, so `rating` reads back as the average to two
    /// decimals and `review_count` as the count), in one atomic step.
    /// `Conflict(ReviewExists)` when the booking has a review already; nothing is written then.
    async fn insert(&self, review: &Review, outbox: &[OutboxMessage]) -> Result<(), StoreError>;
    async fn find(&self, booking: &BookingId) -> Result<Option<Review>, StoreError>;
    /// Replaces the review if its stored version is `review.version - 1`, with `outbox`
    /// (compare-and-swap: `Conflict(StaleVersion)` otherwise, `NotFound` when there is none).
    /// The rating cannot change, so no profile is touched.
    async fn update(&self, review: &Review, outbox: &[OutboxMessage]) -> Result<(), StoreError>;
    /// The reviews counted in an influencer's rating, newest first (descending booking id): at
    /// most `limit`, with a booking id below `before` when given.
    async fn for_influencer(
        &self,
        influencer: &UserId,
        before: Option<&BookingId>,
        limit: u32,
    ) -> Result<Vec<Review>, StoreError>;
}
