//! The embedded adapter: one SQLite file in WAL mode, shared safely by several processes.
//!
//! rusqlite is synchronous, so every operation runs on the blocking pool (`spawn_blocking`).
//! Each process has one writing connection and a few reading ones: WAL lets readers run beside
//! the writer and beside each other, so reads neither wait for a write nor for one another.
//! Several processes (core-api replicas, the worker) may open the same file; every write
//! transaction is `BEGIN IMMEDIATE`, so it takes the write lock up front and waits for it through
//! the busy handler (a deferred transaction that upgrades to a writer would fail with
//! `SQLITE_BUSY` at once instead).
//!
//! Timestamps are stored as unix milliseconds: sub-millisecond precision is dropped. Gigs
//! (`gigs.rs`), bookings (`bookings.rs`) and availability rules (`availability.rs`) are stored
//! as JSON documents (the domain types' serde form, timestamps as RFC 3339 strings at full
//! precision), with the fields they are looked up by copied into indexed columns.
//!
//! A state change and the outbox messages it emits are written in the same transaction
//! (`outbox::insert_messages` inside the change's `write` closure).

mod accounts;
mod audit;
mod availability;
mod bookings;
mod chat;
mod gigs;
mod ledger;
mod mails;
mod migrations;
mod notifications;
mod outbox;
mod payments;
mod reviews;
mod sessions;

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, ffi};

use crate::{Constraint, StoreError, StoreHealth};

/// File name of the database inside `DATA_DIR`.
const FILE_NAME: &str = "noillin.sqlite3";

/// How long a statement waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SqliteStore {
    /// The one writing connection of this process; the mutex makes writes one at a time.
    connection: Arc<Mutex<Connection>>,
    /// Read-only connections, used one operation at a time each.
    readers: Arc<Readers>,
}

/// A fixed set of read-only connections: a permit guarantees an idle one is in `idle`.
struct Readers {
    idle: Mutex<Vec<Connection>>,
    permits: tokio::sync::Semaphore,
}

/// A reading connection in use; given back to the idle ones when dropped, also when the lookup
/// panicked, so a permit always finds a connection.
struct Borrowed<'a> {
    connection: Option<Connection>,
    readers: &'a Readers,
}

impl Drop for Borrowed<'_> {
    fn drop(&mut self) {
        if let (Some(connection), Ok(mut idle)) = (self.connection.take(), self.readers.idle.lock())
        {
            idle.push(connection);
        }
    }
}

/// How many reading connections a process opens: reads are CPU-bound in SQLite, so a couple per
/// core keeps every core busy without piling up memory (each connection has its own page cache).
fn reader_count() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .saturating_mul(2)
        .clamp(2, 16)
}

impl SqliteStore {
    /// Opens (creating if needed) `noillin.sqlite3` in `data_dir` and applies the migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let data_dir = data_dir.to_owned();
        let connection = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            std::fs::create_dir_all(&data_dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", data_dir.display()))
            })?;
            let path = data_dir.join(FILE_NAME);
            let mut connection = Connection::open(&path).map_err(db_error)?;
            configure(&connection)?;
            let applied = migrations::migrate(&mut connection, Timestamp::now().as_millisecond())?;
            // Opened after the migrations, so no reader ever sees an older schema.
            let readers = (0..reader_count())
                .map(|_| open_reader(&path))
                .collect::<Result<Vec<_>, _>>()?;
            tracing::info!(
                path = %path.display(),
                migrations_applied = applied,
                schema_version = migrations::MIGRATIONS.len(),
                readers = readers.len(),
                "SQLite store opened"
            );
            Ok((connection, readers))
        })
        .await
        .map_err(join_error)??;
        let (connection, readers) = connection;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            readers: Arc::new(Readers {
                permits: tokio::sync::Semaphore::new(readers.len()),
                idle: Mutex::new(readers),
            }),
        })
    }

    /// Runs `f` on an idle reading connection, on the blocking pool, outside any explicit
    /// transaction (a single statement is its own snapshot).
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        // Never closed, so acquiring only waits.
        let permit = self
            .readers
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("SQLite readers closed".into()))?;
        let readers = self.readers.clone();
        let result = tokio::task::spawn_blocking(move || {
            let connection = readers
                .idle
                .lock()
                .map_err(|_| poisoned())?
                .pop()
                .ok_or_else(|| StoreError::Unavailable("no idle SQLite reader".into()))?;
            let result = f(&connection);
            // Given back even when `f` failed: a failed statement leaves the connection usable.
            readers
                .idle
                .lock()
                .map_err(|_| poisoned())?
                .push(connection);
            result
        })
        .await;
        match result {
            Ok(result) => result,
            Err(e) => {
                // The task panicked with the connection in hand: one reader fewer from now on.
                permit.forget();
                Err(join_error(e))
            }
        }
    }

    /// Runs `f` on an idle reading connection on the calling task, not the blocking pool: only
    /// for lookups by a unique index, which take microseconds and never wait for a lock (WAL
    /// readers do not), so handing them to another thread would cost more than running them.
    async fn look_up<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError>,
    {
        // Never closed, so acquiring only waits.
        let _permit = self
            .readers
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("SQLite readers closed".into()))?;
        let borrowed = Borrowed {
            connection: Some(
                self.readers
                    .idle
                    .lock()
                    .map_err(|_| poisoned())?
                    .pop()
                    .ok_or_else(|| StoreError::Unavailable("no idle SQLite reader".into()))?,
            ),
            readers: &self.readers,
        };
        match &borrowed.connection {
            Some(connection) => f(connection),
            None => Err(StoreError::Unavailable("no idle SQLite reader".into())),
        }
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction, committed when `f` succeeds and rolled back
    /// otherwise.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().map_err(|_| poisoned())?;
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let value = f(&tx)?;
            tx.commit().map_err(db_error)?;
            Ok(value)
        })
        .await
        .map_err(join_error)?
    }
}

/// A connection that can only read (`query_only`), with the same busy timeout as the writer.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(db_error)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(db_error)?;
    connection
        .pragma_update(None, "query_only", "ON")
        .map_err(db_error)?;
    Ok(connection)
}

/// Per-connection settings, and WAL mode for the file.
fn configure(connection: &Connection) -> Result<(), StoreError> {
    connection.busy_timeout(BUSY_TIMEOUT).map_err(db_error)?;
    // Switching a fresh file to WAL upgrades a read lock to an exclusive one, and SQLite does not
    // call the busy handler for such upgrades (it could deadlock): when several processes create
    // the file at once, the losers get SQLITE_BUSY at once. Retry them within the busy timeout.
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mode = loop {
        match connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        {
            Ok(mode) => break mode,
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(db_error(e)),
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "SQLite refused WAL mode (journal_mode is {mode})"
        )));
    }
    // NORMAL is durable in WAL mode except for the last transactions before a power loss.
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .map_err(db_error)?;
    connection
        .pragma_update(None, "foreign_keys", "ON")
        .map_err(db_error)?;
    Ok(())
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Maps a SQLite error: a unique violation on `users.email` is a conflict, a column value of
/// the wrong type or range is corrupt data, everything else (including "database is
/// locked/busy") makes the store unavailable for this operation.
fn db_error(error: rusqlite::Error) -> StoreError {
    if matches!(
        error,
        rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
    ) {
        return StoreError::Corrupt(format!("unreadable column in SQLite: {error}"));
    }
    if let rusqlite::Error::SqliteFailure(
        ffi::Error {
            code: ErrorCode::ConstraintViolation,
            extended_code,
        },
        Some(message),
    ) = &error
        && matches!(
            *extended_code,
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
        && violated_columns(message).any(|column| column == "users.email")
    {
        return StoreError::Conflict(Constraint::UserEmail);
    }
    StoreError::Unavailable(error.to_string())
}

/// The `table.column` names in "UNIQUE constraint failed: users.email" (several, comma-separated,
/// for a composite key). This message is the only place SQLite names the violated columns.
fn violated_columns(message: &str) -> impl Iterator<Item = &str> {
    message
        .split_once("constraint failed: ")
        .map(|(_, columns)| columns)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|column| !column.is_empty())
}

fn join_error(error: tokio::task::JoinError) -> StoreError {
    StoreError::Unavailable(format!("SQLite task failed: {error}"))
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("SQLite connection poisoned by an earlier panic".into())
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("unreadable {what} in SQLite: {detail}"))
}

/// `NotFound` when a write meant for one existing row changed none.
/// A record's version as SQLite stores it (a signed 64-bit integer); `what` names the record.
fn version_value(what: &str, version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| {
        StoreError::Unavailable(format!(
            "{what} version {version} does not fit SQLite's INTEGER"
        ))
    })
}

/// Why a compare-and-swap `UPDATE` of row `id` in `table` changed nothing: the row is there at
/// another version (someone changed it first), or it is not there at all. Read in the same
/// transaction, so it sees what the `UPDATE` saw.
fn stale_or_missing(tx: &rusqlite::Transaction<'_>, table: &str, id: &str) -> StoreError {
    let exists = tx
        .prepare_cached(&format!("SELECT 1 FROM {table} WHERE id = ?1"))
        .and_then(|mut statement| statement.query_row([id], |_| Ok(())).optional());
    match exists {
        Ok(Some(())) => StoreError::Conflict(Constraint::StaleVersion),
        Ok(None) => StoreError::NotFound,
        Err(e) => db_error(e),
    }
}

/// Runs `statement` and decodes the JSON document (a `what`) in the first column of each row.
fn documents_from<T: serde::de::DeserializeOwned>(
    what: &str,
    statement: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError> {
    let documents = statement
        .query_map(params, |row| row.get::<_, String>(0))
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    documents
        .iter()
        .map(|document| from_json::<T>(what, document))
        .collect()
}

fn changed_one(changed: usize) -> Result<(), StoreError> {
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

fn millis(timestamp: Timestamp) -> i64 {
    timestamp.as_millisecond()
}

fn timestamp(millis: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(millis).map_err(|e| corrupt("timestamp", e))
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Unavailable(format!("cannot encode for SQLite: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| corrupt(what, e))
}

#[async_trait]
impl StoreHealth for SqliteStore {
    fn adapter(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|connection| {
            connection
                .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .map_err(db_error)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opening_creates_the_directory_and_a_configured_wal_database() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("nested/data");
        let store = SqliteStore::open(&data_dir).await.unwrap();
        store.ping().await.unwrap();
        assert!(data_dir.join(FILE_NAME).exists());
        let connection = store.connection.lock().unwrap();
        let pragma = |name: &str| -> i64 {
            connection
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(pragma("foreign_keys"), 1);
        assert_eq!(pragma("synchronous"), 1, "NORMAL");
        assert_eq!(pragma("busy_timeout"), 5000);
        let mode: String = connection
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn reads_do_not_wait_for_the_writing_connection_and_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let writer = store.connection.clone();
        let holder = std::thread::spawn(move || {
            let _busy_writer = writer.lock().unwrap();
            locked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        locked_rx.recv().unwrap();

        let reads = futures::future::join_all((0..3 * reader_count()).map(|_| store.ping()));
        let answered = tokio::time::timeout(Duration::from_secs(10), reads).await;
        release_tx.send(()).unwrap();
        holder.join().unwrap();

        let answers = answered.expect("reads finished while the writer was held");
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        let write = store
            .read(|connection| {
                connection
                    .execute("CREATE TABLE not_allowed (x)", [])
                    .map_err(db_error)
            })
            .await;
        assert!(
            matches!(write, Err(StoreError::Unavailable(_))),
            "{write:?}"
        );
    }

    #[tokio::test]
    async fn reopening_applies_no_migration_twice() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).await.unwrap());
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let mut connection = store.connection.lock().unwrap();
        assert_eq!(migrations::migrate(&mut connection, 0).unwrap(), 0);
        let versions: Vec<i64> = connection
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<i64> = (1..=migrations::MIGRATIONS.len() as i64).collect();
        assert_eq!(versions, expected);
    }

    #[tokio::test]
    async fn reset_links_mailed_before_reset_requests_existed_keep_working() {
        use crate::PasswordResetRepository;
        use noillin_domain::UserId;

        let dir = tempfile::tempdir().unwrap();
        {
            // A database as the releases before reset requests left it.
            let connection = Connection::open(dir.path().join(FILE_NAME)).unwrap();
            connection
                .execute_batch(
                    "CREATE TABLE schema_migrations (
                         version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL
                     ) STRICT;",
                )
                .unwrap();
            for (version, sql) in (1_i64..).zip(&migrations::MIGRATIONS[..3]) {
                connection.execute_batch(sql).unwrap();
                connection
                    .execute("INSERT INTO schema_migrations VALUES (?1, 0)", [version])
                    .unwrap();
            }
            connection
                .execute(
                    "INSERT INTO password_resets (token_hash, user_id, expires_at) \
                     VALUES ('old-hash', 'user-1', ?1)",
                    [i64::MAX / 2],
                )
                .unwrap();
        }

        let store = SqliteStore::open(dir.path()).await.unwrap();
        assert_eq!(
            store.live_user("old-hash", Timestamp::now()).await.unwrap(),
            Some(UserId::from_string("user-1"))
        );
    }

    #[test]
    fn only_a_unique_violation_on_users_email_is_an_email_conflict() {
        let failure = |extended_code, message: &str| {
            rusqlite::Error::SqliteFailure(ffi::Error::new(extended_code), Some(message.into()))
        };
        assert!(matches!(
            db_error(failure(
                ffi::SQLITE_CONSTRAINT_UNIQUE,
                "UNIQUE constraint failed: users.email"
            )),
            StoreError::Conflict(Constraint::UserEmail)
        ));
        for (code, message) in [
            (
                ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
                "UNIQUE constraint failed: users.id",
            ),
            (
                ffi::SQLITE_CONSTRAINT_UNIQUE,
                "UNIQUE constraint failed: users.email_verified",
            ),
            (
                ffi::SQLITE_CONSTRAINT_NOTNULL,
                "NOT NULL constraint failed: users.email",
            ),
            (ffi::SQLITE_BUSY, "database is locked"),
        ] {
            assert!(
                matches!(db_error(failure(code, message)), StoreError::Unavailable(_)),
                "{message}"
            );
        }
    }
}
