//! Where a booking's money goes: the charge, what the platform keeps of it once the booking is
//! settled (completed, or cancelled with less than everything back), each member's share, their
//! payouts, and what a later refund takes back. Every movement is a ledger [`Posting`] whose key
//! names it, so asking for a booking's postings again never counts anything twice.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::Booking;
use crate::{
    UserId,
    availability::shifted,
    ledger::{Account, EntryKind, Posting, apportion, split},
};

/// The marketplace's terms, the same for every booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketTerms {
    /// The platform's fee in basis points of what it keeps of a payment.
    pub fee_bps: u32,
    /// How long after settlement the members are paid out.
    pub payout_delay: SignedDuration,
    /// How long the brand has to answer a delivery before the booking completes by itself.
    pub approval_window: SignedDuration,
    /// How many revisions a brand may ask for per booking.
    pub max_revisions: u32,
}

impl Default for MarketTerms {
    /// 15 % fee, paid out a day after settlement, three days to approve, two revisions.
    fn default() -> Self {
        Self {
            fee_bps: 1_500,
            payout_delay: SignedDuration::from_hours(24),
            approval_window: SignedDuration::from_hours(72),
            max_revisions: 2,
        }
    }
}

/// What the platform keeps of a booking's payment and who it is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub at: Timestamp,
    pub currency: String,
    /// What the platform kept of the payment when it settled.
    pub gross_minor: i64,
    pub fee_minor: i64,
    /// The part of the fee taken back by refunds after settlement.
    #[serde(default)]
    pub fee_reversed_minor: i64,
    pub shares: Vec<MemberShare>,
    /// From when the members may be paid.
    pub payout_due_at: Timestamp,
}

/// One member's part of a settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberShare {
    pub user_id: UserId,
    pub earned_minor: i64,
    /// Taken back by refunds after settlement.
    #[serde(default)]
    pub reversed_minor: i64,
    #[serde(default)]
    pub payout: Option<MemberPayout>,
}

/// A member's payout: recorded in the ledger first, then transferred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPayout {
    pub amount_minor: i64,
    pub at: Timestamp,
    /// The provider's transfer, once made (none is made for nothing to pay).
    #[serde(default)]
    pub transfer_id: Option<String>,
}

impl MemberPayout {
    /// Whether nothing is left to do: transferred, or nothing to transfer.
    pub fn done(&self) -> bool {
        self.transfer_id.is_some() || self.amount_minor <= 0
    }
}

impl MemberShare {
    /// What the member is still owed of this booking.
    pub fn owed_minor(&self) -> i64 {
        (self.earned_minor - self.reversed_minor).max(0)
    }
}

/// Why a payout step was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayoutError {
    #[error("the booking is not settled")]
    NotSettled,
    #[error("the payout is not due before {0}")]
    NotDue(Timestamp),
    #[error("{0} has no share in this booking")]
    NotAMember(UserId),
    #[error("the payout was recorded already")]
    AlreadyStarted,
    #[error("no payout was recorded to transfer")]
    NotStarted,
}

impl Booking {
    /// The ledger's charge for the payment received (none before payment).
    pub fn charge_postings(&self) -> Vec<Posting> {
        let Some(paid) = self.payment.as_ref().and_then(|p| p.paid.as_ref()) else {
            return Vec::new();
        };
        vec![self.posting(
            format!("charge:{}", self.id),
            Account::Brand(self.brand_id.clone()),
            EntryKind::Charge,
            paid.amount.amount_minor,
            paid.at,
            paid.at,
        )]
    }

    /// Settles what the platform keeps of the payment (what was paid less what is owed back),
    /// dividing it into the fee and the members' shares. Once only; nothing when nothing is
    /// kept.
    pub(super) fn settle(&mut self, terms: &MarketTerms, now: Timestamp) {
        if self.settlement.is_some() {
            return;
        }
        let paid = self.paid_minor();
        let owed = self
            .payment
            .as_ref()
            .and_then(|p| p.refund.as_ref())
            .map_or(0, |refund| refund.due_minor);
        let gross = paid - owed;
        if gross <= 0 {
            return;
        }
        let members: Vec<(UserId, u32)> = self
            .members
            .iter()
            .map(|m| (m.user_id.clone(), m.share_bps))
            .collect();
        let parts = split(gross, terms.fee_bps, &members);
        self.settlement = Some(Settlement {
            at: now,
            currency: self.price.currency.clone(),
            gross_minor: gross,
            fee_minor: parts.fee_minor,
            fee_reversed_minor: 0,
            shares: parts
                .shares
                .into_iter()
                .map(|(user_id, earned_minor)| MemberShare {
                    user_id,
                    earned_minor,
                    reversed_minor: 0,
                    payout: None,
                })
                .collect(),
            payout_due_at: shifted(now, terms.payout_delay),
        });
    }

    /// The ledger's fee and earnings of the settlement (none before it).
    pub fn settlement_postings(&self) -> Vec<Posting> {
        let Some(settlement) = &self.settlement else {
            return Vec::new();
        };
        let mut postings = Vec::with_capacity(settlement.shares.len() + 1);
        if settlement.fee_minor > 0 {
            postings.push(self.posting(
                format!("fee:{}", self.id),
                Account::Platform,
                EntryKind::PlatformFee,
                settlement.fee_minor,
                settlement.at,
                settlement.at,
            ));
        }
        for share in settlement.shares.iter().filter(|s| s.earned_minor > 0) {
            postings.push(self.posting(
                format!("earning:{}:{}", self.id, share.user_id),
                Account::Influencer(share.user_id.clone()),
                EntryKind::Earning,
                share.earned_minor,
                settlement.at,
                settlement.payout_due_at,
            ));
        }
        postings
    }

    /// The ledger's entries for the provider now reporting `refunded_total` returned to the
    /// brand, up from `previously_refunded`: the brand's refund, and, once the booking is
    /// settled, the reversal of whatever the settlement counted that the platform no longer
    /// holds, taken from the fee and the shares in proportion to what is left of each.
    pub(super) fn refund_postings(
        &mut self,
        previously_refunded: i64,
        refunded_total: i64,
        now: Timestamp,
    ) -> Vec<Posting> {
        let mut postings = vec![self.posting(
            format!("refund:{}:{refunded_total}", self.id),
            Account::Brand(self.brand_id.clone()),
            EntryKind::Refund,
            -(refunded_total - previously_refunded),
            now,
            now,
        )];
        let retained = self.paid_minor() - refunded_total;
        let Some(settlement) = self.settlement.as_mut() else {
            return postings;
        };
        let mut weights = vec![settlement.fee_minor - settlement.fee_reversed_minor];
        weights.extend(
            settlement
                .shares
                .iter()
                .map(|s| s.earned_minor - s.reversed_minor),
        );
        let still_counted: i64 = weights.iter().sum();
        let excess = still_counted - retained.max(0);
        if excess <= 0 {
            return postings;
        }
        let parts = apportion(excess, &weights);
        settlement.fee_reversed_minor += parts[0];
        for (share, part) in settlement.shares.iter_mut().zip(&parts[1..]) {
            share.reversed_minor += part;
        }
        let accounts = std::iter::once(Account::Platform).chain(
            settlement
                .shares
                .iter()
                .map(|s| Account::Influencer(s.user_id.clone())),
        );
        let reversals: Vec<(Account, i64)> =
            accounts.zip(parts).filter(|(_, part)| *part > 0).collect();
        for (account, part) in reversals {
            postings.push(self.posting(
                format!("reversal:{}:{refunded_total}:{}", self.id, account.key()),
                account,
                EntryKind::Reversal,
                -part,
                now,
                now,
            ));
        }
        postings
    }

    /// Members still to be paid (no payout recorded yet) and what each is owed, once due.
    pub fn payouts_owed(&self, now: Timestamp) -> Vec<(UserId, i64)> {
        match &self.settlement {
            Some(settlement) if now >= settlement.payout_due_at => settlement
                .shares
                .iter()
                .filter(|share| share.payout.is_none())
                .map(|share| (share.user_id.clone(), share.owed_minor()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Records that `member` is paid `amount_minor` (at most what they are owed of this
    /// booking; the caller lowers it to what their balance allows) and answers the ledger's
    /// payout entry. The transfer follows ([`Booking::record_transfer`]).
    pub fn start_payout(
        &mut self,
        member: &UserId,
        amount_minor: i64,
        now: Timestamp,
    ) -> Result<Posting, PayoutError> {
        let share = self.share_mut(member, now)?;
        if share.payout.is_some() {
            return Err(PayoutError::AlreadyStarted);
        }
        let amount = amount_minor.clamp(0, share.owed_minor());
        share.payout = Some(MemberPayout {
            amount_minor: amount,
            at: now,
            transfer_id: None,
        });
        self.touch(now);
        Ok(self.posting(
            format!("payout:{}:{member}", self.id),
            Account::Influencer(member.clone()),
            EntryKind::Payout,
            -amount,
            now,
            now,
        ))
    }

    /// Records the provider's transfer of `member`'s payout. `Ok(false)` when it was recorded
    /// already.
    pub fn record_transfer(
        &mut self,
        member: &UserId,
        transfer_id: &str,
        now: Timestamp,
    ) -> Result<bool, PayoutError> {
        let share = self.share_mut(member, now)?;
        let Some(payout) = share.payout.as_mut() else {
            return Err(PayoutError::NotStarted);
        };
        if payout.transfer_id.is_some() {
            return Ok(false);
        }
        payout.transfer_id = Some(transfer_id.to_owned());
        self.touch(now);
        Ok(true)
    }

    /// When the platform has something to do with this booking by itself: complete it once
    /// the approval window passed, or pay its members once due. The stores index it, so
    /// sweeps find what timers missed.
    pub fn due_at(&self) -> Option<Timestamp> {
        if let Some(due) = self.auto_complete_at {
            return Some(due);
        }
        let settlement = self.settlement.as_ref()?;
        let unpaid = settlement
            .shares
            .iter()
            .any(|share| share.payout.as_ref().is_none_or(|payout| !payout.done()));
        unpaid.then_some(settlement.payout_due_at)
    }

    fn share_mut(
        &mut self,
        member: &UserId,
        now: Timestamp,
    ) -> Result<&mut MemberShare, PayoutError> {
        let settlement = self.settlement.as_mut().ok_or(PayoutError::NotSettled)?;
        if now < settlement.payout_due_at {
            return Err(PayoutError::NotDue(settlement.payout_due_at));
        }
        settlement
            .shares
            .iter_mut()
            .find(|share| share.user_id == *member)
            .ok_or_else(|| PayoutError::NotAMember(member.clone()))
    }

    fn posting(
        &self,
        key: String,
        account: Account,
        kind: EntryKind,
        amount_minor: i64,
        at: Timestamp,
        available_at: Timestamp,
    ) -> Posting {
        Posting {
            key,
            account,
            booking_id: self.id.clone(),
            kind,
            amount_minor,
            currency: self.price.currency.clone(),
            at,
            available_at,
        }
    }
}
