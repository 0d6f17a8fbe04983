//! After the booking, in the worker: a delivered booking completes by itself once its approval
//! window passed, and a settled booking's members are paid once their payout is due.
//!
//! A payout is two steps, each safe to repeat:
//! 1. the payout is recorded on the booking and written to the ledger in one compare-and-swap,
//!    for no more than the member is owed and no more than their available balance (the store
//!    refuses a payout past it, so two racing payouts of one account cannot both pass);
//! 2. the transfer is asked of Stripe with an idempotency key per booking and member, and its
//!    id recorded on the booking, which tells the member (a statement mail).
//!
//! A worker killed between the two finds the recorded payout on the next attempt and asks for
//! the transfer again under the same key: Stripe answers the first transfer, so each member is
//! paid once. A member without a payout account that can be paid yet is skipped: the booking
//! stays due, and the sweep ([`sweep`]) tries again later. A transfer Stripe refuses fails the
//! job: it is retried with backoff and then parked for an operator, the payout recorded.

use std::collections::HashMap;

use jiff::Timestamp;
use noillin_domain::{UserId, booking::BookingId, event::Event, ledger::Account};
use noillin_payments::TransferRequest;
use noillin_store::{Constraint, StoreError};

use crate::{
    handlers::{Failure, Handlers},
    payments::messages,
};

/// Compare-and-swap attempts before the message is retried later.
const ATTEMPTS: u32 = 5;

/// Bookings handled per sweep page.
const SWEEP_PAGE: u32 = 100;

/// `booking.auto_complete_due`: completes the booking if it is still delivered and its
/// approval window passed; otherwise nothing (the brand answered, or a newer delivery has its
/// own timer).
pub async fn auto_complete(
    handlers: &Handlers,
    booking_id: &str,
    correlation_id: Option<&str>,
) -> Result<(), Failure> {
    let id = BookingId::from_string(booking_id);
    for _ in 0..ATTEMPTS {
        let Some(mut booking) = handlers.store.bookings.find(&id).await? else {
            return Ok(());
        };
        if booking
            .auto_complete(&handlers.terms, Timestamp::now())
            .is_err()
        {
            return Ok(());
        }
        let mut messages = messages(
            vec![Event::BookingCompleted {
                booking_id: booking_id.to_owned(),
            }],
            correlation_id,
        )?;
        messages.extend(
            noillin_messaging::outbox::payout_timer(&booking, correlation_id)
                .map_err(|e| Failure::Corrupt(e.to_string()))?,
        );
        match handlers
            .store
            .bookings
            .update_with_ledger(&booking, &booking.settlement_postings(), &messages)
            .await
        {
            Ok(()) => {
                metrics::counter!("bookings_auto_completed_total").increment(1);
                tracing::info!(booking_id, "booking completed by itself");
                return Ok(());
            }
            Err(StoreError::Conflict(Constraint::StaleVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Unavailable(format!(
        "booking {booking_id} kept changing"
    )))
}

/// `booking.payout_due`: pays every member of the booking who is owed and can be paid.
pub async fn pay_out(
    handlers: &Handlers,
    booking_id: &str,
    correlation_id: Option<&str>,
) -> Result<(), Failure> {
    let id = BookingId::from_string(booking_id);
    let Some(booking) = handlers.store.bookings.find(&id).await? else {
        return Ok(());
    };
    let now = Timestamp::now();
    // Each member's payout account, asked of Stripe once: only members it can pay are paid.
    let mut payable = HashMap::new();
    for member in booking.member_ids() {
        match payable_account(handlers, &member).await? {
            Some(account) => {
                payable.insert(member, account);
            }
            None => {
                tracing::info!(booking_id, member_id = %member, "payout waits for the member's payout account");
            }
        }
    }
    for (member, owed) in booking.payouts_owed(now) {
        if payable.contains_key(&member) {
            record_payout(handlers, &id, &member, owed).await?;
        }
    }
    let Some(booking) = handlers.store.bookings.find(&id).await? else {
        return Ok(());
    };
    let Some(settlement) = &booking.settlement else {
        return Ok(());
    };
    for share in &settlement.shares {
        let Some(payout) = share.payout.as_ref().filter(|payout| !payout.done()) else {
            continue;
        };
        let Some(destination) = payable.get(&share.user_id) else {
            continue;
        };
        let amount = noillin_domain::gig::Money {
            amount_minor: payout.amount_minor,
            currency: settlement.currency.clone(),
        };
        let description = format!("{} — your share", booking.gig_title);
        let receipt = handlers
            .payments
            .transfer(&TransferRequest {
                booking_id,
                member_id: share.user_id.as_str(),
                destination,
                amount: &amount,
                description: &description,
            })
            .await?;
        record_transfer(handlers, &id, &share.user_id, &receipt.id, correlation_id).await?;
        metrics::counter!("payouts_transferred_total").increment(1);
        tracing::info!(
            booking_id,
            member_id = %share.user_id,
            transfer_id = receipt.id,
            amount_minor = payout.amount_minor,
            "payout transferred"
        );
    }
    Ok(())
}

/// Pays what timers missed: completes delivered bookings past their window and pays settled
/// ones whose payout is due, walking every booking due by `now`.
pub async fn sweep(handlers: &Handlers, now: Timestamp) -> Result<u32, Failure> {
    let mut after: Option<BookingId> = None;
    let mut handled = 0;
    loop {
        let due = handlers
            .store
            .bookings
            .due(now, after.as_ref(), SWEEP_PAGE)
            .await?;
        let Some(last) = due.last() else {
            return Ok(handled);
        };
        after = Some(last.id.clone());
        for booking in &due {
            let booking_id = booking.id.to_string();
            let done = if booking.auto_complete_at.is_some() {
                auto_complete(handlers, &booking_id, None).await
            } else {
                pay_out(handlers, &booking_id, None).await
            };
            match done {
                Ok(()) => handled += 1,
                Err(e) => {
                    tracing::warn!(booking_id, error = %e, "sweep could not settle a due booking")
                }
            }
        }
        if due.len() < SWEEP_PAGE as usize {
            return Ok(handled);
        }
    }
}

/// The member's payout account, when Stripe lets the platform transfer to it.
async fn payable_account(handlers: &Handlers, member: &UserId) -> Result<Option<String>, Failure> {
    let Some(account_id) = handlers.store.profiles.payout_account(member).await? else {
        return Ok(None);
    };
    let account = handlers.payments.payout_account(&account_id).await?;
    Ok(account.payouts_enabled.then_some(account_id))
}

/// Step 1: records `member`'s payout of at most `owed` and at most their available balance,
/// with its ledger entry. Nothing to do when it is recorded already.
async fn record_payout(
    handlers: &Handlers,
    id: &BookingId,
    member: &UserId,
    owed: i64,
) -> Result<(), Failure> {
    let account = Account::Influencer(member.clone());
    for _ in 0..ATTEMPTS {
        let Some(mut booking) = handlers.store.bookings.find(id).await? else {
            return Ok(());
        };
        let now = Timestamp::now();
        let currency = booking.price.currency.clone();
        let available = handlers
            .store
            .ledger
            .balances(&account, now)
            .await?
            .into_iter()
            .find(|balance| balance.currency == currency)
            .map_or(0, |balance| balance.available_minor());
        let posting = match booking.start_payout(member, owed.min(available.max(0)), now) {
            Ok(posting) => posting,
            // Recorded by an earlier attempt or another worker: the transfer step follows.
            Err(_) => return Ok(()),
        };
        let postings: Vec<_> = (posting.amount_minor != 0)
            .then_some(posting)
            .into_iter()
            .collect();
        match handlers
            .store
            .bookings
            .update_with_ledger(&booking, &postings, &[])
            .await
        {
            Ok(()) => return Ok(()),
            // Another change to the booking, or another payout of the account, came first: read
            // again and recompute.
            Err(StoreError::Conflict(
                Constraint::StaleVersion | Constraint::InsufficientBalance,
            )) => {
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Unavailable(format!(
        "booking {id} kept changing while recording a payout"
    )))
}

/// Step 2's record: the transfer's id on the booking, and the member told.
async fn record_transfer(
    handlers: &Handlers,
    id: &BookingId,
    member: &UserId,
    transfer_id: &str,
    correlation_id: Option<&str>,
) -> Result<(), Failure> {
    for _ in 0..ATTEMPTS {
        let Some(mut booking) = handlers.store.bookings.find(id).await? else {
            return Ok(());
        };
        match booking.record_transfer(member, transfer_id, Timestamp::now()) {
            Ok(true) => {}
            Ok(false) | Err(_) => return Ok(()),
        }
        let messages = messages(
            vec![Event::BookingPayoutSent {
                booking_id: id.to_string(),
                member_id: member.to_string(),
            }],
            correlation_id,
        )?;
        match handlers.store.bookings.update(&booking, &messages).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict(Constraint::StaleVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Unavailable(format!(
        "booking {id} kept changing while recording a transfer"
    )))
}
