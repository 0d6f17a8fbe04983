//! Reviews in SQLite: one `reviews` row per booking holding the review as JSON, a
//! `review_members` row per member it counts for, and each member's rating kept in their
//! profile (`rating_sum`, `review_count`, `rating` the rounded average), all written in the
//! review's transaction.

use async_trait::async_trait;
use noillin_domain::{UserId, booking::BookingId, review::Review};
use rusqlite::OptionalExtension;

use super::{
    SqliteStore, db_error, documents_from, from_json, outbox, stale_or_missing, to_json,
    version_value,
};
use crate::{Constraint, OutboxMessage, ReviewRepository, StoreError, distinct};

#[async_trait]
impl ReviewRepository for SqliteStore {
    async fn insert(&self, review: &Review, outbox: &[OutboxMessage]) -> Result<(), StoreError> {
        let id = review.booking_id.as_str().to_owned();
        let version = version_value("review", review.version)?;
        let document = to_json(review)?;
        let members: Vec<String> = distinct(&review.member_ids)
            .into_iter()
            .map(|m| m.as_str().to_owned())
            .collect();
        let rating = i64::from(review.rating);
        let messages = outbox.to_vec();
        self.write(move |tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO reviews (id, version, document) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (id) DO NOTHING",
                    rusqlite::params![id, version, document],
                )
                .map_err(db_error)?;
            if inserted != 1 {
                return Err(StoreError::Conflict(Constraint::ReviewExists));
            }
            for member in &members {
                tx.execute(
                    "INSERT INTO review_members (user_id, booking_id) VALUES (?1, ?2)",
                    rusqlite::params![member, id],
                )
                .map_err(db_error)?;
                // Every right-hand side reads the row as it was before this update.
                tx.execute(
                    "UPDATE influencer_profiles SET rating_sum = rating_sum + ?2, \
                     review_count = review_count + 1, \
                     rating = ROUND(CAST(rating_sum + ?2 AS REAL) / (review_count + 1), 2) \
                     WHERE user_id = ?1",
                    rusqlite::params![member, rating],
                )
                .map_err(db_error)?;
            }
            outbox::insert_messages(tx, &messages)
        })
        .await
    }

    async fn find(&self, booking: &BookingId) -> Result<Option<Review>, StoreError> {
        let id = booking.as_str().to_owned();
        self.look_up(move |connection| {
            connection
                .prepare_cached("SELECT document FROM reviews WHERE id = ?1")
                .map_err(db_error)?
                .query_row([id], |row| row.get::<_, String>(0))
                .optional()
                .map_err(db_error)?
                .map(|document| from_json("review", &document))
                .transpose()
        })
        .await
    }

    async fn update(&self, review: &Review, outbox: &[OutboxMessage]) -> Result<(), StoreError> {
        let id = review.booking_id.as_str().to_owned();
        let version = version_value("review", review.version)?;
        let expected = review
            .version
            .checked_sub(1)
            .map(|v| version_value("review", v))
            .transpose()?;
        let document = to_json(review)?;
        let messages = outbox.to_vec();
        self.write(move |tx| {
            let changed = match expected {
                Some(expected) => tx
                    .execute(
                        "UPDATE reviews SET version = ?2, document = ?3 \
                         WHERE id = ?1 AND version = ?4",
                        rusqlite::params![id, version, document, expected],
                    )
                    .map_err(db_error)?,
                None => 0,
            };
            if changed != 1 {
                return Err(stale_or_missing(tx, "reviews", &id));
            }
            outbox::insert_messages(tx, &messages)
        })
        .await
    }

    async fn for_influencer(
        &self,
        influencer: &UserId,
        before: Option<&BookingId>,
        limit: u32,
    ) -> Result<Vec<Review>, StoreError> {
        let user = influencer.as_str().to_owned();
        let before = before.map(|b| b.as_str().to_owned());
        self.read(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT r.document FROM review_members AS m \
                     JOIN reviews AS r ON r.id = m.booking_id \
                     WHERE m.user_id = ?1 AND (?2 IS NULL OR m.booking_id < ?2) \
                     ORDER BY m.booking_id DESC LIMIT ?3",
                )
                .map_err(db_error)?;
            documents_from::<Review>(
                "review",
                &mut statement,
                rusqlite::params![user, before, i64::from(limit)],
            )
        })
        .await
    }
}
