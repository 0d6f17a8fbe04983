//! Reviews: the brand rates a completed booking once, 1 to 5 stars with a text; a member may
//! reply once. Every member's rating is the average of the reviews of bookings they were in.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    UserId, ValidationErrors,
    booking::{Booking, BookingId, BookingState},
    gig::GigId,
};

/// The longest review or reply, in characters.
pub const MAX_REVIEW_TEXT_LEN: usize = 2_000;

/// A brand's review of a completed booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// One review per booking, so the booking's id is the review's.
    pub booking_id: BookingId,
    pub gig_id: GigId,
    pub gig_title: String,
    pub brand_id: UserId,
    /// Every influencer the booking booked: each one's rating counts this review.
    pub member_ids: Vec<UserId>,
    /// 1 to 5.
    pub rating: u8,
    pub text: String,
    pub created_at: Timestamp,
    #[serde(default)]
    pub reply: Option<ReviewReply>,
    /// Bumped by every change; a reply is a compare-and-swap on it.
    pub version: u64,
}

/// A member's answer to a review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewReply {
    pub by: UserId,
    pub text: String,
    pub at: Timestamp,
}

/// Why a review or reply was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("only a completed booking can be reviewed; this one is {}", state.as_str())]
    NotCompleted { state: BookingState },
    #[error("the review was answered already")]
    AlreadyReplied,
}

/// Adds what is wrong with a rating and its text to `errors`.
pub fn validate_review(rating: i64, text: &str, errors: &mut ValidationErrors) {
    if !(1..=5).contains(&rating) {
        errors.add("rating", "out_of_range", "must be between 1 and 5");
    }
    validate_text("text", text, errors);
}

/// Adds what is wrong with a review's or reply's text to `errors`, under `field`.
pub fn validate_text(field: &str, text: &str, errors: &mut ValidationErrors) {
    let length = text.trim().chars().count();
    if length == 0 || text.chars().count() > MAX_REVIEW_TEXT_LEN {
        errors.add(
            field,
            "length",
            format!("must be 1 to {MAX_REVIEW_TEXT_LEN} characters"),
        );
    }
}

impl Review {
    /// The brand's review of `booking` (checked input: see [`validate_review`]).
    pub fn of(
        booking: &Booking,
        rating: u8,
        text: String,
        now: Timestamp,
    ) -> Result<Review, ReviewError> {
        if booking.state != BookingState::Completed {
            return Err(ReviewError::NotCompleted {
                state: booking.state,
            });
        }
        Ok(Review {
            booking_id: booking.id.clone(),
            gig_id: booking.gig_id.clone(),
            gig_title: booking.gig_title.clone(),
            brand_id: booking.brand_id.clone(),
            member_ids: booking.member_ids(),
            rating: rating.clamp(1, 5),
            text,
            created_at: now,
            reply: None,
            version: 0,
        })
    }

    /// A member answers, once.
    pub fn answer(&mut self, by: &UserId, text: String, now: Timestamp) -> Result<(), ReviewError> {
        if self.reply.is_some() {
            return Err(ReviewError::AlreadyReplied);
        }
        self.reply = Some(ReviewReply {
            by: by.clone(),
            text,
            at: now,
        });
        self.version += 1;
        Ok(())
    }
}

/// An influencer's rating: the sum and count of the ratings of their reviews, kept by the store
/// as reviews arrive, so the average never needs the reviews themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RatingTally {
    pub sum: u64,
    pub count: u32,
}

impl RatingTally {
    /// The average to two decimals, once there is a review.
    pub fn average(&self) -> Option<f64> {
        (self.count > 0).then(|| {
            let average = self.sum as f64 / f64::from(self.count);
            (average * 100.0).round() / 100.0
        })
    }

    pub fn with(self, rating: u8) -> RatingTally {
        RatingTally {
            sum: self.sum + u64::from(rating),
            count: self.count.saturating_add(1),
        }
    }
}
