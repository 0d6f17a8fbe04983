//! Reviews in MongoDB: one document per review in `reviews` (`_id` = the booking's id), with
//! `version` for the compare-and-swap of a reply and `member_ids` (indexed with `_id`) for an
//! influencer's reviews newest first.
//!
//! Each member's rating lives in their embedded influencer profile in `users`:
//! `influencer_profile.rating_sum` and `influencer_profile.review_count`, and
//! `influencer_profile.rating`, the average to two decimals ([`RatingTally::average`], so every
//! adapter rounds alike). Storing a review is one transaction: the insert (a duplicate `_id`
//! means the booking was reviewed already, and the transaction is aborted), then for each
//! member an `$inc` of the sum and the count and a `$set` of the average those give, then the
//! messages. Two reviews counted in one member's rating write that member's document, so their
//! transactions conflict and the second runs again from the start on the first's counts. A
//! member without an influencer profile has no rating to count in, and is skipped.

use async_trait::async_trait;
use futures::FutureExt;
use jiff::Timestamp;
use mongodb::{Collection, bson::doc, options::ReturnDocument};
use noillin_domain::{
    UserId,
    booking::BookingId,
    gig::GigId,
    review::{RatingTally, Review, ReviewReply},
};
use serde::{Deserialize, Serialize};

use super::{MongoStore, collect, corrupt, index, is_duplicate_key, unavailable};
use crate::{Constraint, OutboxMessage, ReviewRepository, StoreError, distinct};

/// Creates the indexes of `reviews`.
pub(super) async fn create_indexes(reviews: &Collection<ReviewDoc>) -> Result<(), StoreError> {
    reviews
        .create_index(index(
            doc! { "member_ids": 1, "_id": 1 },
            "reviews_member_ids",
            |_| {},
        ))
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// A document of `reviews`. `created_at` and the reply keep the domain's serde form (RFC 3339
/// strings at full precision): they are never queried.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ReviewDoc {
    #[serde(rename = "_id")]
    id: String,
    gig_id: String,
    gig_title: String,
    brand_id: String,
    /// Each member once, in the booking's order.
    member_ids: Vec<String>,
    rating: i32,
    text: String,
    created_at: Timestamp,
    #[serde(default)]
    reply: Option<ReviewReply>,
    version: i64,
}

fn version_value(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| {
        StoreError::Unavailable(format!(
            "review version {version} does not fit MongoDB's int64"
        ))
    })
}

impl ReviewDoc {
    fn encode(review: &Review) -> Result<Self, StoreError> {
        Ok(Self {
            id: review.booking_id.as_str().to_owned(),
            gig_id: review.gig_id.as_str().to_owned(),
            gig_title: review.gig_title.clone(),
            brand_id: review.brand_id.as_str().to_owned(),
            member_ids: distinct(&review.member_ids)
                .into_iter()
                .map(|id| id.as_str().to_owned())
                .collect(),
            rating: i32::from(review.rating),
            text: review.text.clone(),
            created_at: review.created_at,
            reply: review.reply.clone(),
            version: version_value(review.version)?,
        })
    }

    fn into_review(self) -> Result<Review, StoreError> {
        Ok(Review {
            booking_id: BookingId::from_string(self.id),
            gig_id: GigId::from_string(self.gig_id),
            gig_title: self.gig_title,
            brand_id: UserId::from_string(self.brand_id),
            member_ids: self
                .member_ids
                .into_iter()
                .map(UserId::from_string)
                .collect(),
            rating: u8::try_from(self.rating).map_err(|e| corrupt("review rating", e))?,
            text: self.text,
            created_at: self.created_at,
            reply: self.reply,
            version: u64::try_from(self.version).map_err(|e| corrupt("review version", e))?,
        })
    }
}

/// `users` projected on the counts of an influencer profile's rating.
#[derive(Debug, Deserialize)]
struct TallyDoc {
    influencer_profile: TallyFields,
}

#[derive(Debug, Deserialize)]
struct TallyFields {
    rating_sum: i64,
    review_count: i64,
}

impl TallyFields {
    fn tally(&self) -> Result<RatingTally, StoreError> {
        Ok(RatingTally {
            sum: u64::try_from(self.rating_sum).map_err(|e| corrupt("rating sum", e))?,
            count: u32::try_from(self.review_count).map_err(|e| corrupt("review count", e))?,
        })
    }
}

#[async_trait]
impl ReviewRepository for MongoStore {
    async fn insert(&self, review: &Review, outbox: &[OutboxMessage]) -> Result<(), StoreError> {
        let document = ReviewDoc::encode(review)?;
        let rating = i64::from(review.rating);
        self.transact(outbox, &document, |store, session, document| {
            async move {
                match store
                    .reviews
                    .insert_one(document)
                    .session(&mut *session)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_duplicate_key(&e) => {
                        return Ok(Err(StoreError::Conflict(Constraint::ReviewExists)));
                    }
                    Err(e) => return Err(e),
                }
                for member in &document.member_ids {
                    let counted = store
                        .users
                        .clone_with_type::<TallyDoc>()
                        .find_one_and_update(
                            doc! { "_id": member, "influencer_profile": { "$exists": true } },
                            doc! { "$inc": {
                                "influencer_profile.rating_sum": rating,
                                "influencer_profile.review_count": 1_i64,
                            } },
                        )
                        .projection(doc! {
                            "influencer_profile.rating_sum": 1,
                            "influencer_profile.review_count": 1,
                        })
                        .return_document(ReturnDocument::After)
                        .session(&mut *session)
                        .await?;
                    let Some(counted) = counted else {
                        continue;
                    };
                    let average = match counted.influencer_profile.tally() {
                        Ok(tally) => tally.average(),
                        Err(e) => return Ok(Err(e)),
                    };
                    store
                        .users
                        .update_one(
                            doc! { "_id": member },
                            doc! { "$set": { "influencer_profile.rating": average } },
                        )
                        .session(&mut *session)
                        .await?;
                }
                Ok(Ok(()))
            }
            .boxed()
        })
        .await?
    }

    async fn find(&self, booking: &BookingId) -> Result<Option<Review>, StoreError> {
        self.reviews
            .find_one(doc! { "_id": booking.as_str() })
            .await
            .map_err(unavailable)?
            .map(ReviewDoc::into_review)
            .transpose()
    }

    async fn update(&self, review: &Review, outbox: &[OutboxMessage]) -> Result<(), StoreError> {
        let document = ReviewDoc::encode(review)?;
        self.replace_versioned(
            &self.reviews,
            "review",
            review.booking_id.as_str(),
            review.version,
            &document,
            outbox,
        )
        .await
    }

    async fn for_influencer(
        &self,
        influencer: &UserId,
        before: Option<&BookingId>,
        limit: u32,
    ) -> Result<Vec<Review>, StoreError> {
        // A limit of 0 means "no limit" to the server.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut filter = doc! { "member_ids": influencer.as_str() };
        if let Some(before) = before {
            filter.insert("_id", doc! { "$lt": before.as_str() });
        }
        let cursor = self
            .reviews
            .find(filter)
            .sort(doc! { "_id": -1 })
            .limit(i64::from(limit))
            .await
            .map_err(unavailable)?;
        collect(cursor, ReviewDoc::into_review).await
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson::{self, Document};

    use super::*;

    fn review() -> Review {
        let at = Timestamp::new(1_780_000_000, 123_456_789).unwrap();
        Review {
            booking_id: BookingId::generate(),
            gig_id: GigId::generate(),
            gig_title: "Tripla: três vozes".into(),
            brand_id: UserId::generate(),
            member_ids: vec![UserId::generate(), UserId::generate()],
            rating: 4,
            text: "Great — \"really\" great.".into(),
            created_at: at,
            reply: Some(ReviewReply {
                by: UserId::generate(),
                text: "Thanks!".into(),
                at,
            }),
            version: 5_000_000_000,
        }
    }

    #[test]
    fn review_documents_use_native_types_and_round_trip() {
        let review = review();
        let document: Document = bson::to_document(&ReviewDoc::encode(&review).unwrap()).unwrap();
        assert_eq!(document.get_str("_id").unwrap(), review.booking_id.as_str());
        assert_eq!(document.get_i64("version").unwrap(), 5_000_000_000);
        assert_eq!(document.get_i32("rating").unwrap(), 4);
        let members = document.get_array("member_ids").unwrap();
        assert_eq!(members[1].as_str().unwrap(), review.member_ids[1].as_str());
        let back: ReviewDoc = bson::from_document(document).unwrap();
        assert_eq!(back.into_review().unwrap(), review);
    }

    #[test]
    fn a_member_listed_twice_is_counted_once() {
        let mut review = review();
        review.member_ids.push(review.member_ids[0].clone());
        assert_eq!(ReviewDoc::encode(&review).unwrap().member_ids.len(), 2);
    }

    #[test]
    fn unexpected_review_documents_are_errors_not_panics() {
        let mut document = ReviewDoc::encode(&review()).unwrap();
        document.rating = 300;
        assert!(matches!(
            document.into_review(),
            Err(StoreError::Corrupt(_))
        ));
        let mut document = ReviewDoc::encode(&review()).unwrap();
        document.version = -1;
        assert!(matches!(
            document.into_review(),
            Err(StoreError::Corrupt(_))
        ));
        let tally = TallyFields {
            rating_sum: -1,
            review_count: 1,
        };
        assert!(tally.tally().is_err());
    }
}
