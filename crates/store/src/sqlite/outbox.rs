//! The outbox in SQLite: one `outbox` row per message. State changes insert their messages with
//! [`insert_messages`] inside their own write transaction; a claim is one `UPDATE` in a
//! `BEGIN IMMEDIATE` transaction, so concurrent claims (from this process or another one on
//! the same file) are serialized by the write lock and never take the same row.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::Transaction;

use super::{SqliteStore, corrupt, db_error, millis, timestamp};
use crate::{OutboxMessage, OutboxRepository, StoreError};

/// Inserts `messages` as part of the caller's transaction.
pub(super) fn insert_messages(
    tx: &Transaction<'_>,
    messages: &[OutboxMessage],
) -> Result<(), StoreError> {
    let mut statement = tx
        .prepare_cached(
            "INSERT INTO outbox (id, routing_key, correlation_id, payload, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
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
            ])
            .map_err(db_error)?;
    }
    Ok(())
}

/// The message columns in the order [`message_from_row`] reads them.
const MESSAGE_COLUMNS: &str = "id, routing_key, correlation_id, payload, created_at";

/// A row as the raw column values, decoded outside rusqlite's row callback (whose error type
/// cannot carry a [`StoreError`]).
type MessageRow = (String, String, Option<String>, String, i64);

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn decode(
    (id, routing_key, correlation_id, payload, created_at): MessageRow,
) -> Result<OutboxMessage, StoreError> {
    Ok(OutboxMessage {
        id,
        routing_key,
        correlation_id,
        payload,
        created_at: timestamp(created_at)?,
    })
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
        // The subquery walks the primary key in id order, skipping the few held rows at the
        // front, and stops after `limit` claimable ones.
        let sql = format!(
            "UPDATE outbox SET claim_token = ?1, lease_until = ?2 WHERE id IN ( \
                 SELECT id FROM outbox WHERE lease_until IS NULL OR lease_until < ?3 \
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

    async fn pending(&self) -> Result<u64, StoreError> {
        let count = self
            .read(|connection| {
                connection
                    .query_row("SELECT COUNT(*) FROM outbox", [], |row| {
                        row.get::<_, i64>(0)
                    })
                    .map_err(db_error)
            })
            .await?;
        u64::try_from(count).map_err(|e| corrupt("outbox count", e))
    }
}
