//! The outbox in SQLite: one `outbox` row per message. State changes insert their messages with
//! [`insert_messages`] inside their own write transaction; a claim is one `UPDATE` in a
//! `BEGIN IMMEDIATE` transaction, so concurrent claims (from this process or another one on
//! the same file) are serialized by the write lock and never take the same row. A message the
//! broker refused is held back by `lease_until` with no claim token, and a parked one has
//! `parked_at` set, which every claim skips.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, Transaction};

use super::{SqliteStore, corrupt, db_error, millis, timestamp};
use crate::{
    OutboxMessage, OutboxRefusal, OutboxRepository, ParkedOutboxMessage, RefusalPolicy, StoreError,
};

/// Inserts `messages` as part of the caller's transaction.
pub(super) fn insert_messages(
    tx: &Transaction<'_>,
    messages: &[OutboxMessage],
) -> Result<(), StoreError> {
    let mut statement = tx
        .prepare_cached(
            "INSERT INTO outbox (id, routing_key, correlation_id, payload, created_at, \
             deliver_after_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(db_error)?;
    for message in messages {
        statement
            .execute(rusqlite::params![
                message.id,
                message.routing_key,
                message.correlation_id,
                message.payload,
                millis(message.created_at),
                message.deliver_after.map(delay_millis),
            ])
            .map_err(db_error)?;
    }
    Ok(())
}

/// The message columns in the order [`message_from_row`] reads them.
const MESSAGE_COLUMNS: &str =
    "id, routing_key, correlation_id, payload, created_at, deliver_after_ms";

/// A row as the raw column values, decoded outside rusqlite's row callback (whose error type
/// cannot carry a [`StoreError`]).
type MessageRow = (String, String, Option<String>, String, i64, Option<i64>);

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn decode(
    (id, routing_key, correlation_id, payload, created_at, deliver_after): MessageRow,
) -> Result<OutboxMessage, StoreError> {
    Ok(OutboxMessage {
        id,
        routing_key,
        correlation_id,
        payload,
        created_at: timestamp(created_at)?,
        deliver_after: deliver_after.map(delay).transpose()?,
    })
}

/// A delivery delay in whole milliseconds; a delay beyond `i64` milliseconds (millions of years)
/// is held at the largest one.
fn delay_millis(delay: std::time::Duration) -> i64 {
    i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)
}

fn delay(millis: i64) -> Result<std::time::Duration, StoreError> {
    u64::try_from(millis)
        .map(std::time::Duration::from_millis)
        .map_err(|e| corrupt("outbox delivery delay", e))
}

#[async_trait]
impl OutboxRepository for SqliteStore {
    async fn append(&self, messages: &[OutboxMessage]) -> Result<(), StoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        let messages = messages.to_vec();
        self.write(move |tx| insert_messages(tx, &messages)).await
    }

    async fn claim(
        &self,
        claim_token: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let claim_token = claim_token.to_owned();
        let (now, lease_until) = (millis(now), millis(lease_until));
        // The subquery walks the primary key in id order, skipping the few held or parked rows
        // at the front, and stops after `limit` claimable ones.
        let sql = format!(
            "UPDATE outbox SET claim_token = ?1, lease_until = ?2 WHERE id IN ( \
                 SELECT id FROM outbox \
                 WHERE parked_at IS NULL AND (lease_until IS NULL OR lease_until < ?3) \
                 ORDER BY id LIMIT ?4) \
             RETURNING {MESSAGE_COLUMNS}"
        );
        let rows = self
            .write(move |tx| {
                let mut statement = tx.prepare_cached(&sql).map_err(db_error)?;
                statement
                    .query_map(
                        rusqlite::params![claim_token, lease_until, now, i64::from(limit)],
                        message_from_row,
                    )
                    .map_err(db_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db_error)
            })
            .await?;
        // RETURNING yields rows in no defined order.
        let mut messages = rows
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        messages.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(messages)
    }

    async fn complete(&self, claim_token: &str, ids: &[String]) -> Result<u64, StoreError> {
        let claim_token = claim_token.to_owned();
        let ids = ids.to_vec();
        self.write(move |tx| {
            let mut statement = tx
                .prepare_cached("DELETE FROM outbox WHERE id = ?1 AND claim_token = ?2")
                .map_err(db_error)?;
            let mut deleted = 0;
            for id in &ids {
                // `id` is the primary key: at most one row each.
                if statement
                    .execute(rusqlite::params![id, claim_token])
                    .map_err(db_error)?
                    == 1
                {
                    deleted += 1;
                }
            }
            Ok(deleted)
        })
        .await
    }

    async fn release(&self, claim_token: &str, ids: &[String]) -> Result<(), StoreError> {
        let claim_token = claim_token.to_owned();
        let ids = ids.to_vec();
        self.write(move |tx| {
            let mut statement = tx
                .prepare_cached(
                    "UPDATE outbox SET claim_token = NULL, lease_until = NULL \
                     WHERE id = ?1 AND claim_token = ?2",
                )
                .map_err(db_error)?;
            for id in &ids {
                statement
                    .execute(rusqlite::params![id, claim_token])
                    .map_err(db_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn refuse(
        &self,
        claim_token: &str,
        refusals: &[OutboxRefusal],
        now: Timestamp,
        policy: &RefusalPolicy,
    ) -> Result<Vec<String>, StoreError> {
        let claim_token = claim_token.to_owned();
        let refusals = refusals.to_vec();
        let policy = *policy;
        self.write(move |tx| {
            let mut count = tx
                .prepare_cached(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?3 \
                     WHERE id = ?1 AND claim_token = ?2 RETURNING attempts",
                )
                .map_err(db_error)?;
            let mut hold = tx
                .prepare_cached(
                    "UPDATE outbox SET claim_token = NULL, lease_until = ?2 WHERE id = ?1",
                )
                .map_err(db_error)?;
            let mut park = tx
                .prepare_cached(
                    "UPDATE outbox SET claim_token = NULL, lease_until = NULL, parked_at = ?2 \
                     WHERE id = ?1",
                )
                .map_err(db_error)?;
            let mut parked = Vec::new();
            for refusal in &refusals {
                let attempts: Option<i64> = count
                    .query_row(
                        rusqlite::params![refusal.id, claim_token, refusal.reason],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(db_error)?;
                // No longer held by this claim (its lease ended): whoever holds it decides.
                let Some(attempts) = attempts else { continue };
                let attempts =
                    u32::try_from(attempts).map_err(|e| corrupt("outbox attempts", e))?;
                if policy.parks_after(attempts) {
                    park.execute(rusqlite::params![refusal.id, millis(now)])
                        .map_err(db_error)?;
                    parked.push(refusal.id.clone());
                } else {
                    let retry_at = policy.retry_at(now, attempts);
                    hold.execute(rusqlite::params![refusal.id, millis(retry_at)])
                        .map_err(db_error)?;
                }
            }
            Ok(parked)
        })
        .await
    }

    async fn parked(&self, limit: u32) -> Result<Vec<ParkedOutboxMessage>, StoreError> {
        let rows = self
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached(
                        "SELECT id, routing_key, attempts, last_error, parked_at FROM outbox \
                         WHERE parked_at IS NOT NULL ORDER BY parked_at, id LIMIT ?1",
                    )
                    .map_err(db_error)?;
                statement
                    .query_map([i64::from(limit)], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, i64>(2)?,
                            row.get::<_, Option<String>>(3)?,
                            row.get::<_, i64>(4)?,
                        ))
                    })
                    .map_err(db_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db_error)
            })
            .await?;
        rows.into_iter()
            .map(|(id, routing_key, attempts, reason, parked_at)| {
                Ok(ParkedOutboxMessage {
                    id,
                    routing_key,
                    attempts: u32::try_from(attempts).map_err(|e| corrupt("outbox attempts", e))?,
                    reason: reason.unwrap_or_default(),
                    parked_at: timestamp(parked_at)?,
                })
            })
            .collect()
    }

    async fn retry_parked(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE outbox SET parked_at = NULL, attempts = 0, last_error = NULL, \
                     claim_token = NULL, lease_until = NULL \
                     WHERE id = ?1 AND parked_at IS NOT NULL",
                    [id],
                )
                .map_err(db_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn pending(&self) -> Result<u64, StoreError> {
        let count = self
            .read(|connection| {
                connection
                    .query_row(
                        "SELECT COUNT(*) FROM outbox WHERE parked_at IS NULL",
                        [],
                        |row| row.get::<_, i64>(0),
                    )
                    .map_err(db_error)
            })
            .await?;
        u64::try_from(count).map_err(|e| corrupt("outbox count", e))
    }
}
