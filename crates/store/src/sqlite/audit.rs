//! The audit log in SQLite: one `audit_log` row per entry, inserted with [`insert_entry`] inside
//! the transaction of the action it records.

use async_trait::async_trait;
use noillin_domain::UserId;
use rusqlite::Transaction;

use super::{SqliteStore, db_error, from_json, millis, timestamp, to_json};
use crate::{AuditEntry, AuditLogRepository, StoreError};

/// Inserts `entry` as part of the caller's transaction.
pub(super) fn insert_entry(tx: &Transaction<'_>, entry: &AuditEntry) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit_log (id, actor_id, action, target, at, details) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            entry.id,
            entry.actor.as_ref().map(UserId::as_str),
            entry.action,
            entry.target,
            millis(entry.at),
            to_json(&entry.details)?,
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

/// A row as the raw column values, decoded outside rusqlite's row callback.
type EntryRow = (String, Option<String>, String, String, i64, String);

#[async_trait]
impl AuditLogRepository for SqliteStore {
    async fn list(&self, before: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let before = before.map(str::to_owned);
        let rows: Vec<EntryRow> = self
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached(
                        "SELECT id, actor_id, action, target, at, details FROM audit_log \
                         WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2",
                    )
                    .map_err(db_error)?;
                statement
                    .query_map(rusqlite::params![before, i64::from(limit)], |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                        ))
                    })
                    .map_err(db_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db_error)
            })
            .await?;
        rows.into_iter()
            .map(|(id, actor, action, target, at, details)| {
                Ok(AuditEntry {
                    id,
                    actor: actor.map(UserId::from_string),
                    action,
                    target,
                    at: timestamp(at)?,
                    details: from_json("audit details", &details)?,
                })
            })
            .collect()
    }
}
