//! The ledger in SQLite: `ledger_entries`, one row per movement keyed by its idempotency key,
//! and `ledger_balances`, each account's running balance per currency, both written inside the
//! booking change's write transaction ([`post`]). The write lock makes the read of the
//! account's last `seq` and balance and the writes that follow one step.

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::{
    booking::BookingId,
    ledger::{Account, Balance, EntryKind, LedgerEntry, Posting},
};
use rusqlite::{OptionalExtension, Row, Transaction};

use super::{SqliteStore, corrupt, db_error, millis};
use crate::{Constraint, LedgerRepository, StoreError, ledger::StoredEntry};

const ENTRY_COLUMNS: &str = "key, account, seq, booking_id, kind, amount_minor, currency, \
                             balance_after_minor, at_ms, available_at_ms";

/// Writes `postings` inside `tx`, as the ledger port describes: known keys skipped, each new
/// entry with its account's next `seq` and running balance, and a payout past the available
/// balance refusing the whole transaction.
pub(super) fn post(tx: &Transaction<'_>, postings: &[Posting]) -> Result<(), StoreError> {
    for posting in postings {
        let known = tx
            .prepare_cached("SELECT 1 FROM ledger_entries WHERE key = ?1")
            .map_err(db_error)?
            .query_row([&posting.key], |_| Ok(()))
            .optional()
            .map_err(db_error)?;
        if known.is_some() {
            continue;
        }
        let account = posting.account.key();
        let seq: i64 = tx
            .prepare_cached(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger_entries WHERE account = ?1",
            )
            .map_err(db_error)?
            .query_row([&account], |row| row.get(0))
            .map_err(db_error)?;
        let balance: i64 = tx
            .prepare_cached(
                "SELECT balance_minor FROM ledger_balances WHERE account = ?1 AND currency = ?2",
            )
            .map_err(db_error)?
            .query_row([&account, &posting.currency], |row| row.get(0))
            .optional()
            .map_err(db_error)?
            .unwrap_or(0);
        let after = balance
            .checked_add(posting.amount_minor)
            .ok_or_else(|| corrupt("ledger balance", "overflow"))?;
        let entry = StoredEntry::of(posting, seq, after);
        if posting.kind == EntryKind::Payout {
            let pending = pending_in(tx, &account, &posting.currency, entry.at_ms)?;
            if after - pending < 0 {
                return Err(StoreError::Conflict(Constraint::InsufficientBalance));
            }
        }
        tx.prepare_cached(&format!(
            "INSERT INTO ledger_entries ({ENTRY_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ))
        .map_err(db_error)?
        .execute(rusqlite::params![
            entry.key,
            entry.account,
            entry.seq,
            entry.booking_id,
            entry.kind,
            entry.amount_minor,
            entry.currency,
            entry.balance_after_minor,
            entry.at_ms,
            entry.available_at_ms,
        ])
        .map_err(db_error)?;
        tx.prepare_cached(
            "INSERT INTO ledger_balances (account, currency, balance_minor) VALUES (?1, ?2, ?3) \
             ON CONFLICT (account, currency) DO UPDATE SET balance_minor = excluded.balance_minor",
        )
        .map_err(db_error)?
        .execute(rusqlite::params![account, posting.currency, after])
        .map_err(db_error)?;
    }
    Ok(())
}

/// The account's earnings in `currency` not yet payable at `now_ms`.
fn pending_in(
    connection: &rusqlite::Connection,
    account: &str,
    currency: &str,
    now_ms: i64,
) -> Result<i64, StoreError> {
    connection
        .prepare_cached(
            "SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries \
             WHERE account = ?1 AND kind = 'earning' AND available_at_ms > ?2 AND currency = ?3",
        )
        .map_err(db_error)?
        .query_row(rusqlite::params![account, now_ms, currency], |row| {
            row.get(0)
        })
        .map_err(db_error)
}

/// An entry's columns, in `ENTRY_COLUMNS` order.
fn read_entry(row: &Row<'_>) -> rusqlite::Result<StoredEntry> {
    Ok(StoredEntry {
        key: row.get(0)?,
        account: row.get(1)?,
        seq: row.get(2)?,
        booking_id: row.get(3)?,
        kind: row.get(4)?,
        amount_minor: row.get(5)?,
        currency: row.get(6)?,
        balance_after_minor: row.get(7)?,
        at_ms: row.get(8)?,
        available_at_ms: row.get(9)?,
    })
}

fn entries_from(
    statement: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
) -> Result<Vec<LedgerEntry>, StoreError> {
    statement
        .query_map(params, read_entry)
        .map_err(db_error)?
        .map(|row| {
            row.map_err(db_error)
                .and_then(|entry| entry.decode("SQLite"))
        })
        .collect()
}

#[async_trait]
impl LedgerRepository for SqliteStore {
    async fn balances(
        &self,
        account: &Account,
        now: Timestamp,
    ) -> Result<Vec<Balance>, StoreError> {
        let account = account.key();
        let now = millis(now);
        self.read(move |connection| {
            let balances: Vec<(String, i64)> = connection
                .prepare_cached(
                    "SELECT currency, balance_minor FROM ledger_balances \
                     WHERE account = ?1 ORDER BY currency",
                )
                .map_err(db_error)?
                .query_map([&account], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(db_error)?
                .collect::<Result<_, _>>()
                .map_err(db_error)?;
            balances
                .into_iter()
                .map(|(currency, balance_minor)| {
                    let pending_minor = pending_in(connection, &account, &currency, now)?;
                    Ok(Balance {
                        currency,
                        balance_minor,
                        pending_minor,
                    })
                })
                .collect()
        })
        .await
    }

    async fn entries(
        &self,
        account: &Account,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let account = account.key();
        let before = before.map_or(i64::MAX, |seq| i64::try_from(seq).unwrap_or(i64::MAX));
        self.read(move |connection| {
            let mut statement = connection
                .prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM ledger_entries \
                     WHERE account = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3"
                ))
                .map_err(db_error)?;
            entries_from(
                &mut statement,
                rusqlite::params![account, before, i64::from(limit)],
            )
        })
        .await
    }

    async fn booking_entries(&self, booking: &BookingId) -> Result<Vec<LedgerEntry>, StoreError> {
        let booking = booking.as_str().to_owned();
        self.read(move |connection| {
            let mut statement = connection
                .prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM ledger_entries \
                     WHERE booking_id = ?1 ORDER BY rowid"
                ))
                .map_err(db_error)?;
            entries_from(&mut statement, [booking])
        })
        .await
    }
}
