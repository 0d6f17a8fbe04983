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
    ledger::{Account, Balance, LedgerEntry},
};

use crate::StoreError;

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
