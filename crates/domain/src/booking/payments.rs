//! A booking's money from the payment in: a payment confirms it while its hold is live, a late
//! one only through a reclaim of its slot, an unwanted one goes back; a paid booking cancelled
//! gives back what its policy says; refunds are recorded as the provider reports them.

use jiff::Timestamp;

use super::{Booking, BookingState, BookingTransitionError, MarketTerms};
use crate::{
    UserId,
    ledger::Posting,
    payment::{Canceller, ChargeFacts, IntentFacts, Paid, Refund, cancellation_refund},
};

/// A payment that does not belong to the booking it names. Nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentMismatch {
    #[error("the payment intent {0} is not this booking's")]
    WrongIntent(String),
    #[error("paid {paid_minor} {paid_currency}, the booking costs {price_minor} {price_currency}")]
    WrongAmount {
        paid_minor: i64,
        paid_currency: String,
        price_minor: i64,
        price_currency: String,
    },
}

/// What a payment that reached a booking means for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The hold was live: the booking is `confirmed` now.
    Confirmed,
    /// This payment is recorded already (a repeated event): nothing to do.
    AlreadyRecorded,
    /// The hold lapsed: the booking may be confirmed only if its slot can be taken again
    /// ([`Booking::confirm_reclaimed`]); otherwise the payment goes back
    /// ([`Booking::refuse_payment`]).
    HoldLapsed,
    /// The booking can no longer take a payment (the brand abandoned it): it goes back.
    Unwanted,
}

impl Booking {
    /// A verified payment for this booking arrived at `now`: confirms the booking while its
    /// hold is live, and otherwise says what must happen instead. A payment for another intent,
    /// amount or currency changes nothing.
    pub fn accept_payment(
        &mut self,
        intent: &IntentFacts,
        event_id: &str,
        now: Timestamp,
    ) -> Result<PaymentOutcome, PaymentMismatch> {
        self.check_payment(intent)?;
        if self.payment.as_ref().is_some_and(|p| p.paid.is_some()) {
            return Ok(PaymentOutcome::AlreadyRecorded);
        }
        Ok(match self.state {
            BookingState::PendingPayment if now < self.hold_expires_at => {
                self.record_paid(intent, event_id, now);
                self.enter(BookingState::Confirmed, "paid", None, now);
                PaymentOutcome::Confirmed
            }
            BookingState::PendingPayment | BookingState::Expired => PaymentOutcome::HoldLapsed,
            _ => PaymentOutcome::Unwanted,
        })
    }

    /// A payment that arrived after the hold lapsed, once the slot was taken again:
    /// `pending_payment | expired → confirmed`.
    pub fn confirm_reclaimed(
        &mut self,
        intent: &IntentFacts,
        event_id: &str,
        now: Timestamp,
    ) -> Result<(), BookingTransitionError> {
        match self.state {
            BookingState::PendingPayment | BookingState::Expired => {}
            state => return Err(BookingTransitionError::NotPending { state }),
        }
        self.record_paid(intent, event_id, now);
        self.enter(
            BookingState::Confirmed,
            "paid after the hold lapsed; the slot was still free",
            None,
            now,
        );
        Ok(())
    }

    /// A payment the booking cannot take (its slot went to someone else, or the brand
    /// abandoned it): recorded with a refund of all of it. An unpaid hold ends `expired`; an
    /// ended booking keeps its state until the refund settles ([`Booking::record_refund`]).
    /// `false` when this payment was recorded already.
    pub fn refuse_payment(
        &mut self,
        intent: &IntentFacts,
        event_id: &str,
        reason: &str,
        now: Timestamp,
    ) -> bool {
        if self.payment.as_ref().is_none_or(|p| p.paid.is_some()) {
            return false;
        }
        self.record_paid(intent, event_id, now);
        if let Some(payment) = self.payment.as_mut() {
            payment.refund = Some(Refund {
                due_minor: intent.amount.amount_minor,
                reason: reason.to_owned(),
                requested_at: now,
                refunded_minor: 0,
            });
        }
        let state = if self.state == BookingState::PendingPayment {
            BookingState::Expired
        } else {
            self.state
        };
        self.enter(state, reason, None, now);
        true
    }

    /// The payment intent was cancelled, so it can no longer be paid: an unpaid hold ends
    /// `expired` at once, whether or not its time is up.
    pub fn payment_canceled(&mut self, now: Timestamp) -> Result<(), BookingTransitionError> {
        self.require_pending()?;
        self.enter(
            BookingState::Expired,
            "the payment was cancelled",
            None,
            now,
        );
        Ok(())
    }

    /// A paid booking is cancelled before delivery: `confirmed → cancelled`, the slot free at
    /// once, and what goes back to the brand decided by who cancels and how early
    /// ([`cancellation_refund`] with the policy booked). What the brand does not get back is
    /// settled to the members as for a completed booking. Returns that amount (0: nothing goes
    /// back, and no refund is recorded).
    pub fn cancel_paid(
        &mut self,
        by: &UserId,
        canceller: Canceller,
        reason: &str,
        terms: &MarketTerms,
        now: Timestamp,
    ) -> Result<i64, BookingTransitionError> {
        if self.state != BookingState::Confirmed {
            return Err(BookingTransitionError::NotConfirmed { state: self.state });
        }
        let paid = self.paid_minor();
        // A refund made before (in the provider's dashboard) counts against what goes back.
        let already = self
            .payment
            .as_ref()
            .and_then(|p| p.refund.as_ref())
            .map_or(0, |refund| refund.due_minor);
        let owed = cancellation_refund(
            &self.cancellation,
            paid,
            already,
            self.start,
            now,
            canceller,
        );
        if owed > 0
            && let Some(payment) = self.payment.as_mut()
        {
            let refund = payment.refund.get_or_insert_with(|| Refund {
                due_minor: 0,
                reason: String::new(),
                requested_at: now,
                refunded_minor: 0,
            });
            refund.due_minor += owed;
            reason.clone_into(&mut refund.reason);
            refund.requested_at = now;
        }
        self.settle(terms, now);
        self.enter(BookingState::Cancelled, reason, Some(by.clone()), now);
        Ok(owed)
    }

    /// The provider reports `charge.amount_refunded` returned of this booking's payment: records
    /// it and answers the ledger's entries for the money that moved. A refund nobody here asked
    /// for (made in the provider's dashboard) is recorded as owed too. Once everything paid is
    /// back, a cancelled or expired booking ends `refunded`. `None` when this changes nothing
    /// (a repeated or older report, or nothing paid).
    pub fn record_refund(&mut self, charge: &ChargeFacts, now: Timestamp) -> Option<Vec<Posting>> {
        let paid = self.paid_minor();
        let refunded = charge.amount_refunded_minor.clamp(0, paid);
        let payment = self.payment.as_mut()?;
        let refund = payment.refund.get_or_insert_with(|| Refund {
            due_minor: 0,
            reason: "refunded through the payment provider".to_owned(),
            requested_at: now,
            refunded_minor: 0,
        });
        let previously = refund.refunded_minor;
        if refunded <= previously {
            if refund.due_minor == 0 {
                payment.refund = None;
            }
            return None;
        }
        refund.refunded_minor = refunded;
        refund.due_minor = refund.due_minor.max(refunded);
        let postings = self.refund_postings(previously, refunded, now);
        let fully = paid > 0 && refunded >= paid;
        let state = match self.state {
            BookingState::Cancelled | BookingState::Expired if fully => BookingState::Refunded,
            state => state,
        };
        self.enter(state, "money returned to the brand", None, now);
        Some(postings)
    }

    /// What the brand paid, in minor units (0 before paying).
    pub fn paid_minor(&self) -> i64 {
        self.payment
            .as_ref()
            .and_then(|p| p.paid.as_ref())
            .map_or(0, |paid| paid.amount.amount_minor)
    }

    fn check_payment(&self, intent: &IntentFacts) -> Result<(), PaymentMismatch> {
        match &self.payment {
            Some(payment) if payment.intent_id == intent.intent_id => {}
            _ => return Err(PaymentMismatch::WrongIntent(intent.intent_id.clone())),
        }
        if intent.amount != self.price {
            return Err(PaymentMismatch::WrongAmount {
                paid_minor: intent.amount.amount_minor,
                paid_currency: intent.amount.currency.clone(),
                price_minor: self.price.amount_minor,
                price_currency: self.price.currency.clone(),
            });
        }
        Ok(())
    }

    fn record_paid(&mut self, intent: &IntentFacts, event_id: &str, now: Timestamp) {
        if let Some(payment) = self.payment.as_mut() {
            payment.paid = Some(Paid {
                amount: intent.amount.clone(),
                at: now,
                event_id: event_id.to_owned(),
            });
        }
    }
}
