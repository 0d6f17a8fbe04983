//! The ledger: every money movement as an entry, never changed once written; balances are the
//! sums of entries.
//!
//! Accounts and signs (an entry's amount is what it adds to its account's balance):
//! - a **brand**'s account is what it spent: `charge` adds the payment, `refund` takes back what
//!   the provider returned;
//! - an **influencer**'s account is what the platform owes them: `earning` adds their share of a
//!   settled booking, `payout` takes away what was transferred, `reversal` takes back the share
//!   of money refunded after settlement;
//! - the **platform**'s account is its income: `platform_fee` adds the fee, `reversal` takes back
//!   the fee's share of money refunded after settlement.
//!
//! So for every booking, once it settled: charges + refunds (negative) = fees + earnings +
//! reversals (negative), to the minor unit ([`split`] keeps the parts exact).
//!
//! Each entry carries an idempotency key naming the movement that caused it (a booking's charge,
//! one member's earning, …): the store writes a key once, so however often or in whatever order
//! the events that cause a movement arrive, it is counted once.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{UserId, booking::BookingId};

#[cfg(test)]
mod tests;

/// Whose balance an entry moves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Account {
    /// The platform's fee income.
    Platform,
    /// What the platform owes an influencer.
    Influencer(UserId),
    /// What a brand spent.
    Brand(UserId),
}

impl Account {
    /// The account as the stores key it: `platform`, `influencer:<id>`, `brand:<id>`.
    pub fn key(&self) -> String {
        match self {
            Account::Platform => "platform".to_owned(),
            Account::Influencer(id) => format!("influencer:{id}"),
            Account::Brand(id) => format!("brand:{id}"),
        }
    }

    pub fn parse(key: &str) -> Option<Account> {
        if key == "platform" {
            return Some(Account::Platform);
        }
        let (kind, id) = key.split_once(':')?;
        let id = UserId::from_string(id);
        match kind {
            "influencer" => Some(Account::Influencer(id)),
            "brand" => Some(Account::Brand(id)),
            _ => None,
        }
    }
}

impl Serialize for Account {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.key())
    }
}

impl<'de> Deserialize<'de> for Account {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let key = String::deserialize(deserializer)?;
        Account::parse(&key)
            .ok_or_else(|| serde::de::Error::custom(format!("not a ledger account: {key}")))
    }
}

/// What moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Charge,
    PlatformFee,
    Earning,
    Refund,
    Payout,
    Reversal,
}

impl EntryKind {
    pub const ALL: [EntryKind; 6] = [
        EntryKind::Charge,
        EntryKind::PlatformFee,
        EntryKind::Earning,
        EntryKind::Refund,
        EntryKind::Payout,
        EntryKind::Reversal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Charge => "charge",
            EntryKind::PlatformFee => "platform_fee",
            EntryKind::Earning => "earning",
            EntryKind::Refund => "refund",
            EntryKind::Payout => "payout",
            EntryKind::Reversal => "reversal",
        }
    }

    pub fn parse(name: &str) -> Option<EntryKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// A movement to record: an entry before the store gives it its place and balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// Names the movement; the store writes each key once.
    pub key: String,
    pub account: Account,
    pub booking_id: BookingId,
    pub kind: EntryKind,
    /// What it adds to the account's balance (negative: takes away), in minor units.
    pub amount_minor: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    pub at: Timestamp,
    /// From when the money may be paid out: an earning's payout date; `at` for the rest.
    pub available_at: Timestamp,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The entry's place in its account: 1, 2, 3, … in the order written.
    pub seq: u64,
    #[serde(flatten)]
    pub posting: Posting,
    /// The account's balance in this currency once this entry is counted.
    pub balance_after_minor: i64,
}

/// An account's balance in one currency at some instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub currency: String,
    /// The sum of every entry.
    pub balance_minor: i64,
    /// The part of it earned but not yet payable (earnings whose payout date is still ahead).
    pub pending_minor: i64,
}

impl Balance {
    /// What may be paid out now.
    pub fn available_minor(&self) -> i64 {
        self.balance_minor - self.pending_minor
    }
}

/// How a sum the platform keeps is divided: its fee and each member's share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub fee_minor: i64,
    /// Each member's share, in the members' order.
    pub shares: Vec<(UserId, i64)>,
}

/// The platform's fee in basis points: 1,500 is 15 %.
pub const MAX_FEE_BPS: u32 = 10_000;

/// Divides `gross_minor` (≥ 0) into the platform's fee and the members' shares, exactly: the fee
/// and the shares add up to `gross_minor` to the minor unit.
///
/// Rounding rule: the fee is `fee_bps` of the gross rounded **down** (the influencers' favour).
/// What is left is shared by each member's `share_bps` with [`apportion`]: each share rounded
/// down first, the few minor units left over going one each to the members with the largest
/// remainders, the earlier member first on equal remainders (the gig's owner comes first).
pub fn split(gross_minor: i64, fee_bps: u32, members: &[(UserId, u32)]) -> Split {
    let gross = gross_minor.max(0);
    let fee = to_minor(i128::from(gross) * i128::from(fee_bps.min(MAX_FEE_BPS)) / 10_000);
    let weights: Vec<i64> = members.iter().map(|(_, bps)| i64::from(*bps)).collect();
    if weights.iter().sum::<i64>() == 0 {
        // No one to share with: the platform keeps it all (never so for a real booking).
        return Split {
            fee_minor: gross,
            shares: members.iter().map(|(id, _)| (id.clone(), 0)).collect(),
        };
    }
    let shares = apportion(gross - fee, &weights);
    Split {
        fee_minor: fee,
        shares: members
            .iter()
            .zip(shares)
            .map(|((id, _), share)| (id.clone(), share))
            .collect(),
    }
}

/// Divides `total` (≥ 0) in proportion to `weights` (each ≥ 0, not all 0), exactly: the parts
/// add up to `total`. Largest remainder: each part rounded down, then one more unit to each of
/// the parts with the largest remainders until none is left, earlier parts first on equal
/// remainders. No part exceeds its weight when `total` does not exceed the weights' sum.
pub fn apportion(total: i64, weights: &[i64]) -> Vec<i64> {
    let total = i128::from(total.max(0));
    let weights: Vec<i128> = weights.iter().map(|w| i128::from((*w).max(0))).collect();
    let sum: i128 = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(i128, i128)> = weights
        .iter()
        .map(|weight| (total * weight / sum, total * weight % sum))
        .collect();
    let mut parts: Vec<i128> = exact.iter().map(|(whole, _)| *whole).collect();
    let mut left = total - parts.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // `sort_by` is stable: equal remainders keep their order.
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1));
    // Fewer units are left than there are parts, so one pass hands them all out.
    for index in order {
        if left == 0 {
            break;
        }
        parts[index] += 1;
        left -= 1;
    }
    parts.into_iter().map(to_minor).collect()
}

fn to_minor(amount: i128) -> i64 {
    i64::try_from(amount).unwrap_or(i64::MAX)
}
