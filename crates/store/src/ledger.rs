//! The ledger port: entries are written only together with the booking change that causes them
//! ([`BookingRepository::update_with_ledger`](crate::BookingRepository::update_with_ledger)),
//! never changed or deleted; this port reads them and the balances they add up to.
//!
//! What every adapter guarantees when it writes postings, in the same atomic step as the
//! booking change:
//! - a posting whose key was written before is skipped (the movement is counted once);
//! - each new entry takes the next `seq` of its account (1, 2, 3, …, across currencies) and
//!   `balance_after_minor` = the account's balance in that currency before it + its amount;
//! - the account's running balance is kept beside the entries, so reading a balance never sums
//!   the entries, and what is still pending (earnings whose `available_at` is ahead) is summed
//!   over an index of the pending ones alone;
//! - a payout that would leave the account's available balance (balance less pending, at the
//!   payout's `at`) below zero refuses the whole write with `Conflict(InsufficientBalance)`.

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::{
    booking::BookingId,
    ledger::{Account, Balance, EntryKind, LedgerEntry, Posting},
};

use crate::{
    StoreError,
    bookings::{millis_down, millis_up},
};

/// Ledger reads.
#[async_trait]
pub trait LedgerRepository: Send + Sync {
    /// The account's balance in each currency it has entries in, with what is pending at
    /// `now`; by currency code. Empty for an account with no entries.
    async fn balances(&self, account: &Account, now: Timestamp)
    -> Result<Vec<Balance>, StoreError>;
    /// The account's entries newest first (descending `seq`): at most `limit`, with a `seq`
    /// below `before` when given.
    async fn entries(
        &self,
        account: &Account,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Every entry caused by one booking, in the order written.
    async fn booking_entries(&self, booking: &BookingId) -> Result<Vec<LedgerEntry>, StoreError>;
}

/// An entry as both adapters store it: text for the account and kind, instants in unix
/// milliseconds (`at` rounded down, `available_at` up, so an earning is never payable before its
/// instant), `seq` signed as the stores' integers are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredEntry {
    pub(crate) key: String,
    pub(crate) account: String,
    pub(crate) seq: i64,
    pub(crate) booking_id: String,
    pub(crate) kind: String,
    pub(crate) amount_minor: i64,
    pub(crate) currency: String,
    pub(crate) balance_after_minor: i64,
    pub(crate) at_ms: i64,
    pub(crate) available_at_ms: i64,
}

impl StoredEntry {
    /// `posting` written at place `seq` of its account, leaving `balance_after_minor`.
    pub(crate) fn of(posting: &Posting, seq: i64, balance_after_minor: i64) -> Self {
        Self {
            key: posting.key.clone(),
            account: posting.account.key(),
            seq,
            booking_id: posting.booking_id.as_str().to_owned(),
            kind: posting.kind.as_str().to_owned(),
            amount_minor: posting.amount_minor,
            currency: posting.currency.clone(),
            balance_after_minor,
            at_ms: millis_down(posting.at),
            available_at_ms: millis_up(posting.available_at),
        }
    }

    /// The entry back; data no code of ours writes is `Corrupt`, naming `adapter`.
    pub(crate) fn decode(self, adapter: &str) -> Result<LedgerEntry, StoreError> {
        let corrupt = |what: &str, detail: String| {
            StoreError::Corrupt(format!("unreadable {what} in {adapter}: {detail}"))
        };
        let timestamp = |millis: i64| {
            Timestamp::from_millisecond(millis)
                .map_err(|e| corrupt("ledger instant", e.to_string()))
        };
        Ok(LedgerEntry {
            seq: u64::try_from(self.seq).map_err(|e| corrupt("ledger seq", e.to_string()))?,
            posting: Posting {
                account: Account::parse(&self.account)
                    .ok_or_else(|| corrupt("ledger account", self.account.clone()))?,
                kind: EntryKind::parse(&self.kind)
                    .ok_or_else(|| corrupt("ledger kind", self.kind.clone()))?,
                key: self.key,
                booking_id: BookingId::from_string(self.booking_id),
                amount_minor: self.amount_minor,
                currency: self.currency,
                at: timestamp(self.at_ms)?,
                available_at: timestamp(self.available_at_ms)?,
            },
            balance_after_minor: self.balance_after_minor,
        })
    }
}
