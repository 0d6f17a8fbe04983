//! The ledger in MongoDB, written only inside a booking change's transaction ([`post`]):
//! - `ledger_entries`: one document per movement, `{key, account, seq, booking_id,
//!   booking_seq, kind, amount_minor, currency, balance_after_minor, at_ms, available_at_ms}`,
//!   never changed. `key` is unique (a movement is counted once), `(account, seq)` is unique,
//!   `(booking_id, booking_seq)` keeps a booking's entries in the order written, and a partial
//!   index over the earnings alone, `(account, available_at_ms)`, sums what is still pending.
//! - `ledger_balances`: each account's running balance per currency (`_id` =
//!   `<account>/<currency>`, `{account, currency, balance_minor}`), so a balance is read, never
//!   summed.
//! - `ledger_accounts`: one document per account (`_id` = the account's key, `{seq}`), the last
//!   `seq` it gave.
//!
//! # Why concurrent postings stay consistent
//!
//! Every posting to an account first `$inc`s the account's `ledger_accounts` document, inside
//! the transaction, before it reads the balance, sums the pending earnings or writes anything
//! else. MongoDB lets only one of two transactions that write one document commit (the other
//! fails with a write conflict, and so does one whose snapshot predates the first's commit),
//! and [`MongoStore::transact`] runs the loser again from the start on a fresh snapshot. So the
//! writers of one account run as if one at a time: each reads the balance, the last `seq` and
//! the pending earnings its predecessor left, and of two payouts that the balance allows only
//! one at a time, the second is refused with `Conflict(InsufficientBalance)` when it no longer
//! fits. A balance document is only ever created or changed after its account's document was
//! written in the same transaction, so creating it (an upsert) never races.
//!
//! The `ledger_accounts` documents are created before the transaction, outside it (an upsert
//! with `$setOnInsert`; a racing upsert that loses with a duplicate key found it created), as
//! the booking calendars are: an upsert inside racing transactions would race on inserting the
//! document instead of conflicting on updating it. They hold nothing anyone reads but the
//! ledger itself, so one left behind by a refused write changes no answer.
//!
//! Writes to one booking's entries also conflict on the booking document, which the same
//! transaction replaces, so `booking_seq` (the next after the booking's last) is never handed
//! out twice; the unique `(booking_id, booking_seq)` index backs that up.

use async_trait::async_trait;
use futures::TryStreamExt;
use jiff::Timestamp;
use mongodb::{
    ClientSession, Collection,
    bson::{Document, doc},
    error::Error as MongoError,
    options::ReturnDocument,
};
use noillin_domain::{
    booking::BookingId,
    ledger::{Account, Balance, EntryKind, LedgerEntry, Posting},
};
use serde::{Deserialize, Serialize};

use super::{MongoStore, collect, corrupt, index, is_duplicate_key, unavailable};
use crate::{Constraint, LedgerRepository, StoreError, bookings::millis_down, ledger::StoredEntry};

/// The kind the pending-earnings index covers, as stored.
const EARNING: &str = "earning";

/// Creates the indexes of `ledger_entries` and `ledger_balances` (`ledger_accounts` is only
/// ever read by `_id`).
pub(super) async fn create_indexes(
    entries: &Collection<EntryDoc>,
    balances: &Collection<BalanceDoc>,
) -> Result<(), StoreError> {
    entries
        .create_indexes([
            index(doc! { "key": 1 }, "ledger_entries_key_unique", |o| {
                o.unique = Some(true);
            }),
            // An account's entries newest first, and its next place.
            index(
                doc! { "account": 1, "seq": 1 },
                "ledger_entries_account_seq_unique",
                |o| o.unique = Some(true),
            ),
            // A booking's entries in the order written.
            index(
                doc! { "booking_id": 1, "booking_seq": 1 },
                "ledger_entries_booking_unique",
                |o| o.unique = Some(true),
            ),
            // Earnings by payout date: what is pending is the few ahead of `now`, not the
            // whole account.
            index(
                doc! { "account": 1, "available_at_ms": 1 },
                "ledger_entries_pending",
                |o| o.partial_filter_expression = Some(doc! { "kind": EARNING }),
            ),
        ])
        .await
        .map_err(unavailable)?;
    balances
        .create_index(index(
            doc! { "account": 1, "currency": 1 },
            "ledger_balances_account",
            |_| {},
        ))
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// A document of `ledger_entries`: the entry as both adapters store it, and its place among
/// its booking's entries.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct EntryDoc {
    #[serde(flatten)]
    entry: StoredEntry,
    /// The entry's place among its booking's entries: 1, 2, 3, … in the order written.
    booking_seq: i64,
}

impl EntryDoc {
    fn into_entry(self) -> Result<LedgerEntry, StoreError> {
        self.entry.decode("MongoDB")
    }
}

/// A document of `ledger_balances`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct BalanceDoc {
    #[serde(rename = "_id")]
    id: String,
    account: String,
    currency: String,
    balance_minor: i64,
}

/// A document of `ledger_accounts`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AccountDoc {
    #[serde(rename = "_id")]
    id: String,
    /// The last `seq` given to an entry of the account (0: none yet).
    seq: i64,
}

/// `ledger_entries` projected on `booking_seq`.
#[derive(Debug, Deserialize)]
struct BookingSeqDoc {
    booking_seq: i64,
}

fn balance_id(account: &str, currency: &str) -> String {
    format!("{account}/{currency}")
}

/// The stages that sum the earnings of `account` in `currency` still pending at `now_ms`
/// (payable only after it), over the partial index of earnings.
fn pending_pipeline(account: &str, currency: &str, now_ms: i64) -> Vec<Document> {
    vec![
        doc! { "$match": {
            "account": account,
            "kind": EARNING,
            "available_at_ms": { "$gt": now_ms },
            "currency": currency,
        } },
        doc! { "$group": { "_id": null, "pending": { "$sum": "$amount_minor" } } },
    ]
}

/// The sum a [`pending_pipeline`] answered (0 when no earning is pending).
fn pending_of(groups: &[Document]) -> Result<i64, StoreError> {
    match groups.first() {
        None => Ok(0),
        Some(group) => match group.get("pending") {
            Some(mongodb::bson::Bson::Int64(sum)) => Ok(*sum),
            Some(mongodb::bson::Bson::Int32(sum)) => Ok(i64::from(*sum)),
            other => Err(corrupt("pending earnings", format!("{other:?}"))),
        },
    }
}

impl MongoStore {
    /// Makes sure every account `postings` move has its `ledger_accounts` document, outside any
    /// transaction (see the module docs).
    pub(super) async fn ensure_ledger_accounts(
        &self,
        postings: &[Posting],
    ) -> Result<(), StoreError> {
        let mut accounts: Vec<String> = Vec::new();
        for posting in postings {
            let account = posting.account.key();
            if !accounts.contains(&account) {
                accounts.push(account);
            }
        }
        for account in accounts {
            let upsert = self
                .ledger_accounts
                .update_one(
                    doc! { "_id": &account },
                    doc! { "$setOnInsert": { "seq": 0_i64 } },
                )
                .upsert(true)
                .await;
            match upsert {
                Ok(_) => {}
                // A concurrent upsert inserted it first: it exists, which is all we need.
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }

    /// Writes `postings` in the session's transaction as the ledger port describes: a known key
    /// is skipped, each new entry takes its account's next `seq` and running balance, and a
    /// payout past the available balance refuses the whole transaction
    /// (`Ok(Err(Conflict(InsufficientBalance)))`). The accounts' documents must exist
    /// ([`ensure_ledger_accounts`](Self::ensure_ledger_accounts)).
    pub(super) async fn post(
        &self,
        session: &mut ClientSession,
        postings: &[Posting],
    ) -> Result<Result<(), StoreError>, MongoError> {
        for posting in postings {
            let known = self
                .ledger_entries
                .clone_with_type::<Document>()
                .find_one(doc! { "key": &posting.key })
                .projection(doc! { "_id": 1 })
                .session(&mut *session)
                .await?;
            if known.is_some() {
                continue;
            }
            let account = posting.account.key();
            // First the write that makes the account's writers conflict (the module docs).
            let counted = self
                .ledger_accounts
                .find_one_and_update(doc! { "_id": &account }, doc! { "$inc": { "seq": 1_i64 } })
                .return_document(ReturnDocument::After)
                .session(&mut *session)
                .await?;
            let Some(counted) = counted else {
                return Ok(Err(StoreError::Unavailable(format!(
                    "the ledger account {account} has no document"
                ))));
            };
            let id = balance_id(&account, &posting.currency);
            let balance = self
                .ledger_balances
                .find_one(doc! { "_id": &id })
                .session(&mut *session)
                .await?
                .map_or(0, |found| found.balance_minor);
            let Some(after) = balance.checked_add(posting.amount_minor) else {
                return Ok(Err(StoreError::Unavailable(format!(
                    "the balance of {account} in {} would overflow",
                    posting.currency
                ))));
            };
            let at_ms = millis_down(posting.at);
            if posting.kind == EntryKind::Payout {
                let groups: Vec<Document> = self
                    .ledger_entries
                    .aggregate(pending_pipeline(&account, &posting.currency, at_ms))
                    .session(&mut *session)
                    .await?
                    .stream(&mut *session)
                    .try_collect()
                    .await?;
                let pending = match pending_of(&groups) {
                    Ok(pending) => pending,
                    Err(e) => return Ok(Err(e)),
                };
                if after.saturating_sub(pending) < 0 {
                    return Ok(Err(StoreError::Conflict(Constraint::InsufficientBalance)));
                }
            }
            let last = self
                .ledger_entries
                .clone_with_type::<BookingSeqDoc>()
                .find_one(doc! { "booking_id": posting.booking_id.as_str() })
                .sort(doc! { "booking_seq": -1 })
                .projection(doc! { "booking_seq": 1, "_id": 0 })
                .session(&mut *session)
                .await?
                .map_or(0, |found| found.booking_seq);
            let entry = EntryDoc {
                entry: StoredEntry::of(posting, counted.seq, after),
                booking_seq: last + 1,
            };
            self.ledger_entries
                .insert_one(&entry)
                .session(&mut *session)
                .await?;
            self.ledger_balances
                .update_one(
                    doc! { "_id": &id },
                    doc! {
                        "$set": { "balance_minor": after },
                        "$setOnInsert": { "account": &account, "currency": &posting.currency },
                    },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        Ok(Ok(()))
    }
}

#[async_trait]
impl LedgerRepository for MongoStore {
    async fn balances(
        &self,
        account: &Account,
        now: Timestamp,
    ) -> Result<Vec<Balance>, StoreError> {
        let account = account.key();
        let cursor = self
            .ledger_balances
            .find(doc! { "account": &account })
            .sort(doc! { "currency": 1 })
            .await
            .map_err(unavailable)?;
        let stored: Vec<BalanceDoc> = cursor.try_collect().await.map_err(unavailable)?;
        let now_ms = millis_down(now);
        let mut balances = Vec::with_capacity(stored.len());
        for balance in stored {
            let groups: Vec<Document> = self
                .ledger_entries
                .aggregate(pending_pipeline(&account, &balance.currency, now_ms))
                .await
                .map_err(unavailable)?
                .try_collect()
                .await
                .map_err(unavailable)?;
            balances.push(Balance {
                pending_minor: pending_of(&groups)?,
                currency: balance.currency,
                balance_minor: balance.balance_minor,
            });
        }
        Ok(balances)
    }

    async fn entries(
        &self,
        account: &Account,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        // A limit of 0 means "no limit" to the server.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut filter = doc! { "account": account.key() };
        if let Some(before) = before {
            // Every stored seq is below i64::MAX, so a larger `before` filters nothing out.
            filter.insert(
                "seq",
                doc! { "$lt": i64::try_from(before).unwrap_or(i64::MAX) },
            );
        }
        let cursor = self
            .ledger_entries
            .find(filter)
            .sort(doc! { "seq": -1 })
            .limit(i64::from(limit))
            .await
            .map_err(unavailable)?;
        collect(cursor, EntryDoc::into_entry).await
    }

    async fn booking_entries(&self, booking: &BookingId) -> Result<Vec<LedgerEntry>, StoreError> {
        let cursor = self
            .ledger_entries
            .find(doc! { "booking_id": booking.as_str() })
            .sort(doc! { "booking_seq": 1 })
            .await
            .map_err(unavailable)?;
        collect(cursor, EntryDoc::into_entry).await
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson::{self, Bson};
    use noillin_domain::UserId;

    use super::*;

    #[test]
    fn entry_documents_use_native_types_and_round_trip() {
        let at = Timestamp::from_millisecond(1_780_000_000_123).unwrap();
        let posting = Posting {
            key: "earning:b1:u1".into(),
            account: Account::Influencer(UserId::from_string("u1")),
            booking_id: BookingId::from_string("b1"),
            kind: EntryKind::Earning,
            amount_minor: 38_250,
            currency: "EUR".into(),
            at,
            available_at: at + jiff::SignedDuration::from_hours(24),
        };
        let document = EntryDoc {
            entry: StoredEntry::of(&posting, 3, 40_000),
            booking_seq: 2,
        };
        let bson = bson::to_document(&document).unwrap();
        assert_eq!(bson.get_str("account").unwrap(), "influencer:u1");
        assert_eq!(bson.get_i64("seq").unwrap(), 3);
        assert_eq!(bson.get_i64("at_ms").unwrap(), 1_780_000_000_123);
        assert_eq!(bson.get_str("kind").unwrap(), EARNING);
        assert_eq!(bson.get_i64("booking_seq").unwrap(), 2);
        assert!(
            !bson.contains_key("entry"),
            "the entry's fields are the document's own"
        );

        let back: EntryDoc = bson::from_document(bson).unwrap();
        assert_eq!(
            back.into_entry().unwrap(),
            LedgerEntry {
                seq: 3,
                posting,
                balance_after_minor: 40_000,
            }
        );
    }

    #[test]
    fn unexpected_entry_documents_are_errors_not_panics() {
        let entry = |account: &str, kind: &str, seq: i64| EntryDoc {
            entry: StoredEntry {
                key: "k".into(),
                account: account.into(),
                seq,
                booking_id: "b".into(),
                kind: kind.into(),
                amount_minor: 1,
                currency: "EUR".into(),
                balance_after_minor: 1,
                at_ms: 0,
                available_at_ms: 0,
            },
            booking_seq: 1,
        };
        for bad in [
            entry("nobody", "charge", 1),
            entry("platform", "gift", 1),
            entry("platform", "charge", -1),
        ] {
            assert!(matches!(bad.into_entry(), Err(StoreError::Corrupt(_))));
        }
    }

    #[test]
    fn pending_sums_read_back_whatever_integer_the_server_answers() {
        assert_eq!(pending_of(&[]).unwrap(), 0);
        assert_eq!(pending_of(&[doc! { "pending": 7_i64 }]).unwrap(), 7);
        assert_eq!(pending_of(&[doc! { "pending": 7_i32 }]).unwrap(), 7);
        assert!(pending_of(&[doc! { "pending": Bson::Double(7.5) }]).is_err());
    }

    #[test]
    fn the_pending_sum_matches_what_the_partial_index_covers() {
        let pipeline = pending_pipeline("influencer:u1", "EUR", 5);
        let matched = pipeline[0].get_document("$match").unwrap();
        assert_eq!(matched.get_str("kind").unwrap(), EARNING);
        assert_eq!(
            matched
                .get_document("available_at_ms")
                .unwrap()
                .get_i64("$gt")
                .unwrap(),
            5
        );
    }
}
