//! Payments as the domain sees them: what the payment provider told us (verified events, reduced
//! to the facts the rules need), what a booking records of its money, and how much a
//! cancellation gives back.
//!
//! Money rules, relied on by every caller:
//! - amounts are integer minor units of one currency ([`Money`]);
//! - a partial refund rounds in the brand's favour (up), and the refunds of one payment never
//!   sum to more than was paid ([`cancellation_refund`]).

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{ValidationErrors, gig::Money};

#[cfg(test)]
mod tests;

/// A verified provider event the platform acts on, reduced to its facts. The provider's event id
/// is stored once, so a replayed or duplicated delivery is seen as such.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    /// The provider's event id (`evt_…`).
    pub id: String,
    /// When the provider created the event.
    pub created: Timestamp,
    pub kind: PaymentEventKind,
}

/// What happened to a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentEventKind {
    /// The brand's payment went through.
    IntentSucceeded { intent: IntentFacts },
    /// An attempt to pay was refused (declined card); the brand may try again while the hold
    /// lasts.
    IntentFailed { intent: IntentFacts, reason: String },
    /// The payment was cancelled: it can no longer succeed.
    IntentCanceled { intent: IntentFacts },
    /// Money went back to the brand (all of it, or part).
    ChargeRefunded { charge: ChargeFacts },
}

impl PaymentEventKind {
    /// The event type as the provider names it, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            PaymentEventKind::IntentSucceeded { .. } => "payment_intent.succeeded",
            PaymentEventKind::IntentFailed { .. } => "payment_intent.payment_failed",
            PaymentEventKind::IntentCanceled { .. } => "payment_intent.canceled",
            PaymentEventKind::ChargeRefunded { .. } => "charge.refunded",
        }
    }
}

/// A payment intent as an event describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentFacts {
    pub intent_id: String,
    /// The booking the intent was made for (from its metadata); `None` for intents that are
    /// not the platform's.
    pub booking_id: Option<String>,
    pub amount: Money,
}

/// A charge as a refund event describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeFacts {
    pub charge_id: String,
    /// The intent the charge paid.
    pub intent_id: Option<String>,
    /// What was charged.
    pub amount: Money,
    /// What has been refunded of it so far, in the same currency.
    pub amount_refunded_minor: i64,
}

/// What a booking records of its payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingPayment {
    /// The provider's payment intent, made when the slot was held.
    pub intent_id: String,
    /// What the brand's browser needs to pay; shown to the brand alone, while unpaid.
    pub client_secret: String,
    /// The payment received, once one was.
    #[serde(default)]
    pub paid: Option<Paid>,
    /// Money owed back to the brand, once some is.
    #[serde(default)]
    pub refund: Option<Refund>,
}

/// A payment received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paid {
    pub amount: Money,
    pub at: Timestamp,
    /// The provider event that told us.
    pub event_id: String,
}

/// Money owed back to the brand and how much of it the provider has returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// What is owed back in total, in the payment's currency.
    pub due_minor: i64,
    /// Why, as the brand is told.
    pub reason: String,
    pub requested_at: Timestamp,
    /// What the provider reports returned so far.
    pub refunded_minor: i64,
}

impl Refund {
    /// Whether the provider returned everything owed.
    pub fn settled(&self) -> bool {
        self.refunded_minor >= self.due_minor
    }
}

/// A gig's cancellation terms for bookings the brand cancels after paying. A member or an
/// administrator who cancels always gives everything back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancellationPolicy {
    /// Cancelled at least this many hours before the start: everything back.
    pub full_refund_hours: u32,
    /// Cancelled later than that but at least this many hours before the start:
    /// `partial_refund_percent` back. Later still: nothing.
    pub partial_refund_hours: u32,
    pub partial_refund_percent: u8,
}

impl Default for CancellationPolicy {
    /// Three days' notice for everything back, one day for half.
    fn default() -> Self {
        Self {
            full_refund_hours: 72,
            partial_refund_hours: 24,
            partial_refund_percent: 50,
        }
    }
}

/// The longest notice a policy may ask for: a year.
pub const MAX_POLICY_HOURS: u32 = 24 * 366;

impl CancellationPolicy {
    /// Adds what is wrong with the policy to `errors`, under `field`.
    pub fn validate(&self, field: &str, errors: &mut ValidationErrors) {
        if self.full_refund_hours > MAX_POLICY_HOURS {
            errors.add(
                format!("{field}.full_refund_hours"),
                "out_of_range",
                "must be at most 8784 (a year)",
            );
        }
        if self.partial_refund_hours > self.full_refund_hours {
            errors.add(
                format!("{field}.partial_refund_hours"),
                "out_of_range",
                "must not exceed full_refund_hours",
            );
        }
        if self.partial_refund_percent > 100 {
            errors.add(
                format!("{field}.partial_refund_percent"),
                "out_of_range",
                "must be between 0 and 100",
            );
        }
    }
}

/// Who cancels a paid booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Canceller {
    Brand,
    /// One of the influencers booked.
    Member,
    Admin,
}

/// What goes back to the brand when a paid booking starting at `start` is cancelled at `now` by
/// `by`: by the policy for the brand, everything for a member or an administrator; rounded up,
/// and never more than what is left of `paid` after `already_refunded`.
pub fn cancellation_refund(
    policy: &CancellationPolicy,
    paid_minor: i64,
    already_refunded_minor: i64,
    start: Timestamp,
    now: Timestamp,
    by: Canceller,
) -> i64 {
    let left = paid_minor.saturating_sub(already_refunded_minor).max(0);
    let owed = match by {
        Canceller::Member | Canceller::Admin => left,
        Canceller::Brand => {
            let notice = start.duration_since(now);
            let hours = |h: u32| SignedDuration::from_hours(i64::from(h));
            if notice >= hours(policy.full_refund_hours) {
                left
            } else if notice >= hours(policy.partial_refund_hours) {
                percent_up(paid_minor, policy.partial_refund_percent)
            } else {
                0
            }
        }
    };
    owed.clamp(0, left)
}

/// `percent`% of `amount`, rounded up.
fn percent_up(amount: i64, percent: u8) -> i64 {
    let scaled = i128::from(amount.max(0)) * i128::from(percent.min(100));
    let share = (scaled + 99) / 100;
    i64::try_from(share).unwrap_or(i64::MAX)
}
