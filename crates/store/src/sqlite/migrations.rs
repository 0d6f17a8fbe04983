//! The SQLite schema, as an ordered list of migrations applied at open.
//!
//! Migration `n` (1-based) is `MIGRATIONS[n - 1]`; its version is recorded in
//! `schema_migrations`. To change the schema, append one line here pointing at a new file, never
//! edit or reorder an applied one.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::db_error;
use crate::StoreError;

/// Every migration in order.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_users_sessions_resets.sql"),
    include_str!("migrations/0002_gigs_availability.sql"),
    include_str!("migrations/0003_outbox_notifications_mails.sql"),
    include_str!("migrations/0004_outbox_attempts.sql"),
    include_str!("migrations/0005_account_names_once.sql"),
    include_str!("migrations/0006_reset_requests_audit_log.sql"),
    include_str!("migrations/0007_bookings.sql"),
    include_str!("migrations/0008_payments.sql"),
    include_str!("migrations/0009_after_booking.sql"),
    include_str!("migrations/0010_chat.sql"),
    include_str!("migrations/0011_notification_conversation.sql"),
    // Append new migrations here: include_str!("migrations/0012_....sql"),
];

/// Applies the migrations not applied yet. Safe when several processes open the same file at
/// once: each migration runs in its own `BEGIN IMMEDIATE` transaction (one writer at a time) and
/// re-checks inside it whether another process applied it meanwhile.
pub(super) fn migrate(connection: &mut Connection, now_ms: i64) -> Result<usize, StoreError> {
    // Checked first without the write lock, like each migration below: only a fresh file needs
    // it, and an existing database then opens without queueing behind writers.
    if !has_migrations_table(connection)? {
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER PRIMARY KEY NOT NULL,
                 applied_at INTEGER NOT NULL
             ) STRICT;",
        )
        .map_err(db_error)?;
        tx.commit().map_err(db_error)?;
    }

    let mut applied = 0;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = i64::try_from(index + 1)
            .map_err(|_| StoreError::Unavailable("too many migrations".into()))?;
        // Cheap check outside any write lock, so an up-to-date database opens without queueing
        // behind writers.
        if is_applied(connection, version)? {
            continue;
        }
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        if !is_applied(&tx, version)? {
            tx.execute_batch(sql).map_err(db_error)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                (version, now_ms),
            )
            .map_err(db_error)?;
            applied += 1;
        }
        tx.commit().map_err(db_error)?;
    }

    let latest: Option<i64> = connection
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .map_err(db_error)?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if latest.is_some_and(|latest| latest > known) {
        tracing::warn!(
            database_version = latest,
            known_version = known,
            "the SQLite database was migrated by a newer release"
        );
    }
    Ok(applied)
}

fn has_migrations_table(connection: &Connection) -> Result<bool, StoreError> {
    connection
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |_| Ok(()),
        )
        .optional()
        .map(|row| row.is_some())
        .map_err(db_error)
}

fn is_applied(connection: &Connection, version: i64) -> Result<bool, StoreError> {
    connection
        .query_row(
            "SELECT 1 FROM schema_migrations WHERE version = ?1",
            [version],
            |_| Ok(()),
        )
        .optional()
        .map(|row| row.is_some())
        .map_err(db_error)
}
