//! Bookings: a brand's claim on a gig's slot, from the unpaid hold to its end.
//!
//! The rules decided here, relied on by the store, the hold in Redis and the services alike:
//!
//! - **Busy span.** A booking occupies each member's time over `[start − buffer_before,
//!   end + buffer_after)` with its gig's buffers ([`busy_span`]). Two live bookings of one
//!   influencer must not have overlapping busy spans: exactly the slot engine's "no overlap
//!   counting buffers", so listing, holding and the store's guard agree.
//! - **Live.** A booking takes time while it is `pending_payment` with a hold that has not
//!   lapsed, `confirmed` or `delivered` ([`Booking::is_live`]). A lapsed hold is dead at once,
//!   whether or not anything has moved it to `expired` yet: correctness never waits for a timer.
//! - **Transitions.** Each is a method that checks the state it starts from and bumps the
//!   version; the store writes it as a compare-and-swap on the version read, so of two racing
//!   transitions exactly one wins.
//! - **Hold cells.** Time is cut into [`HOLD_CELL`] cells; a hold in Redis touches one key per
//!   (member, cell) its busy span meets ([`hold_cells`]) and checks overlap exactly inside each
//!   cell, so gigs with different grids and durations still meet on common keys.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{
    UserId,
    availability::{Interval, SlotSettings, shifted},
    gig::{Gig, GigId, Money},
    id::string_id,
    ledger::Posting,
    payment::{
        BookingPayment, CancellationPolicy, Canceller, ChargeFacts, IntentFacts, Paid, Refund,
        cancellation_refund,
    },
};

mod delivery;
mod settlement;

pub use delivery::{
    Delivery, MAX_DELIVERY_LINKS, MAX_DELIVERY_NOTE_LEN, MAX_LINK_LEN, RevisionRequest,
    validate_delivery,
};
pub use settlement::{MarketTerms, MemberPayout, MemberShare, PayoutError, Settlement};

#[cfg(test)]
mod after_tests;
#[cfg(test)]
mod payment_tests;
#[cfg(test)]
mod tests;

string_id! {
    /// An opaque booking id (UUIDv7, so ids sort by creation time).
    BookingId
}

impl BookingId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
}

/// Where a booking is in its life (DESIGN.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingState {
    /// Held for the brand until its hold expires, waiting for payment.
    PendingPayment,
    /// Paid: the slot is the brand's.
    Confirmed,
    /// The influencer delivered; waiting for the brand's approval.
    Delivered,
    Completed,
    Cancelled,
    /// The hold lapsed unpaid.
    Expired,
    Refunded,
}

impl BookingState {
    pub const ALL: [BookingState; 7] = [
        BookingState::PendingPayment,
        BookingState::Confirmed,
        BookingState::Delivered,
        BookingState::Completed,
        BookingState::Cancelled,
        BookingState::Expired,
        BookingState::Refunded,
    ];

    /// The state's name, as the API and the stores write it.
    pub fn as_str(self) -> &'static str {
        match self {
            BookingState::PendingPayment => "pending_payment",
            BookingState::Confirmed => "confirmed",
            BookingState::Delivered => "delivered",
            BookingState::Completed => "completed",
            BookingState::Cancelled => "cancelled",
            BookingState::Expired => "expired",
            BookingState::Refunded => "refunded",
        }
    }

    pub fn parse(name: &str) -> Option<BookingState> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }
}

/// One influencer a booking books, with their share of the payout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingMember {
    pub user_id: UserId,
    /// Basis points of the payout; a booking's shares sum to 10,000.
    pub share_bps: u32,
}

/// One step of a booking's history: what it became, when, why, and who did it (`None` for the
/// platform itself, such as a lapsed hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub state: BookingState,
    pub at: Timestamp,
    pub reason: String,
    pub by: Option<UserId>,
}

/// A booking as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub id: BookingId,
    pub gig_id: GigId,
    /// The gig's title when booked, for lists and support.
    pub gig_title: String,
    pub brand_id: UserId,
    /// Every influencer booked, the gig's owner first.
    pub members: Vec<BookingMember>,
    /// The gig's price when booked: what the brand pays, whatever the gig costs later.
    pub price: Money,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `[start − buffer_before, end + buffer_after)`: the time each member is busy.
    pub busy_start: Timestamp,
    pub busy_end: Timestamp,
    /// The gig owner's IANA zone when booked, to show the start in their local time.
    pub time_zone: String,
    pub state: BookingState,
    /// Until when an unpaid hold keeps the slot.
    pub hold_expires_at: Timestamp,
    /// The random token the hold's Redis keys carry; only its holder may release them.
    pub hold_token: String,
    /// Every state the booking went through, the current one last.
    pub history: Vec<StateChange>,
    /// Its payment intent and what came of it (`None` only for bookings stored before
    /// payments existed).
    #[serde(default)]
    pub payment: Option<BookingPayment>,
    /// The gig's cancellation terms when booked.
    #[serde(default)]
    pub cancellation: CancellationPolicy,
    /// Every delivery handed in, the current one last, with the revisions asked for.
    #[serde(default)]
    pub deliveries: Vec<Delivery>,
    /// While delivered: when the booking completes by itself without the brand's answer.
    #[serde(default)]
    pub auto_complete_at: Option<Timestamp>,
    /// What the platform keeps of the payment and who it is for, once settled.
    #[serde(default)]
    pub settlement: Option<Settlement>,
    /// Bumped by every change; transitions are compare-and-swap on it.
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a new hold is made of; the rest follows from it.
#[derive(Debug, Clone)]
pub struct NewHold<'a> {
    /// Chosen before the hold is made, because the payment intent is made for it first.
    pub id: BookingId,
    pub gig: &'a Gig,
    pub brand_id: UserId,
    pub start: Timestamp,
    /// The owner's IANA zone name.
    pub time_zone: String,
    pub hold_token: String,
    pub now: Timestamp,
    /// How long the unpaid hold keeps the slot.
    pub hold_ttl: SignedDuration,
    /// The payment intent made for it.
    pub payment: BookingPayment,
}

/// A transition the booking's state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BookingTransitionError {
    /// Only an unpaid hold can be abandoned or lapse; the booking is in `state`.
    #[error("the booking is {}, not pending payment", state.as_str())]
    NotPending { state: BookingState },
    /// The hold has not lapsed yet (a timer that fired early, or clocks that disagree).
    #[error("the hold has not lapsed yet")]
    HoldStillLive,
    /// Only a paid booking that has not been delivered can be cancelled with a refund or
    /// delivered.
    #[error("the booking is {}, not confirmed", state.as_str())]
    NotConfirmed { state: BookingState },
    /// Content can be delivered only once the booking has started.
    #[error("the booking has not started yet")]
    NotStarted,
    /// Only a delivered booking can be approved, revised or complete by itself.
    #[error("the booking is {}, not delivered", state.as_str())]
    NotDelivered { state: BookingState },
    /// The brand asked for every revision it may.
    #[error("at most {max} revisions may be asked for")]
    RevisionLimit { max: u32 },
    /// The brand may still answer the delivery.
    #[error("the approval window is still open")]
    ApprovalWindowOpen,
}

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
    /// A new unpaid hold of `hold.gig` at `hold.start`: every member booked with their share,
    /// the price and the buffers as the gig has them now.
    pub fn hold(hold: NewHold<'_>) -> Booking {
        let settings = hold.gig.terms.slot_settings();
        let end = shifted(hold.start, settings.duration);
        let busy = busy_span(hold.start, &settings);
        Booking {
            id: hold.id,
            gig_id: hold.gig.id.clone(),
            gig_title: hold.gig.title.clone(),
            brand_id: hold.brand_id.clone(),
            members: hold
                .gig
                .members
                .iter()
                .map(|m| BookingMember {
                    user_id: m.user_id.clone(),
                    share_bps: m.share_bps,
                })
                .collect(),
            price: hold.gig.price.clone(),
            start: hold.start,
            end,
            busy_start: busy.start,
            busy_end: busy.end,
            time_zone: hold.time_zone,
            state: BookingState::PendingPayment,
            hold_expires_at: shifted(hold.now, hold.hold_ttl),
            hold_token: hold.hold_token,
            history: vec![StateChange {
                state: BookingState::PendingPayment,
                at: hold.now,
                reason: "slot held until payment".to_owned(),
                by: Some(hold.brand_id),
            }],
            payment: Some(hold.payment),
            cancellation: hold.gig.cancellation,
            deliveries: Vec::new(),
            auto_complete_at: None,
            settlement: None,
            version: 0,
            created_at: hold.now,
            updated_at: hold.now,
        }
    }

    /// Whether the booking takes its members' time at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.live_until()
    }

    /// Until when the booking takes its members' time: the hold's expiry while unpaid, for
    /// ever once paid and until done, and never once it ended. The stores keep this beside each
    /// member's busy span, so "live at `now`" is one comparison in their queries.
    pub fn live_until(&self) -> Timestamp {
        match self.state {
            BookingState::PendingPayment => self.hold_expires_at,
            BookingState::Confirmed | BookingState::Delivered => Timestamp::MAX,
            BookingState::Completed
            | BookingState::Cancelled
            | BookingState::Expired
            | BookingState::Refunded => Timestamp::MIN,
        }
    }

    /// Whether `user` is the brand or one of the influencers booked.
    pub fn is_party(&self, user: &UserId) -> bool {
        self.brand_id == *user || self.is_member(user)
    }

    pub fn is_member(&self, user: &UserId) -> bool {
        self.members.iter().any(|m| m.user_id == *user)
    }

    pub fn member_ids(&self) -> Vec<UserId> {
        self.members.iter().map(|m| m.user_id.clone()).collect()
    }

    /// The busy span as an interval.
    pub fn busy(&self) -> Interval {
        Interval::new(self.busy_start, self.busy_end)
    }

    /// The brand abandons its unpaid hold: `pending_payment → cancelled`, whether or not the
    /// hold has lapsed (a lapsed hold is dead either way; this records why).
    pub fn cancel_hold(
        &mut self,
        by: &UserId,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), BookingTransitionError> {
        self.require_pending()?;
        self.enter(BookingState::Cancelled, reason, Some(by.clone()), now);
        Ok(())
    }

    /// The unpaid hold lapsed: `pending_payment → expired`, only once its expiry has passed.
    pub fn expire(&mut self, now: Timestamp) -> Result<(), BookingTransitionError> {
        self.require_pending()?;
        if now < self.hold_expires_at {
            return Err(BookingTransitionError::HoldStillLive);
        }
        self.enter(BookingState::Expired, "the hold lapsed unpaid", None, now);
        Ok(())
    }

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

    fn require_pending(&self) -> Result<(), BookingTransitionError> {
        match self.state {
            BookingState::PendingPayment => Ok(()),
            state => Err(BookingTransitionError::NotPending { state }),
        }
    }

    fn enter(&mut self, state: BookingState, reason: &str, by: Option<UserId>, now: Timestamp) {
        self.state = state;
        self.history.push(StateChange {
            state,
            at: now,
            reason: reason.to_owned(),
            by,
        });
        self.touch(now);
    }

    /// Marks a change that is not a new state (a payout step).
    fn touch(&mut self, now: Timestamp) {
        self.version += 1;
        self.updated_at = now;
    }
}

/// The time a booking starting at `start` keeps each member busy: its duration widened by the
/// gig's buffers.
pub fn busy_span(start: Timestamp, settings: &SlotSettings) -> Interval {
    let end = shifted(start, settings.duration);
    Interval::new(
        shifted(start, -settings.buffer_before),
        shifted(end, settings.buffer_after),
    )
}

/// The length of a hold cell. Every gig's holds use the same cells, whatever its grid.
pub const HOLD_CELL: SignedDuration = SignedDuration::from_mins(15);

/// The cells (their index: whole [`HOLD_CELL`]s since the Unix epoch) that `span` meets.
/// Two spans that overlap always share a cell; two that share one need not overlap, so a hold
/// records its exact span in each cell and checks overlap there.
pub fn hold_cells(span: Interval) -> std::ops::RangeInclusive<i64> {
    let cell = HOLD_CELL.as_secs();
    let first = span.start.as_second().div_euclid(cell);
    // The last instant inside the half-open span, rounded down to the second.
    let last_instant = shifted(span.end, SignedDuration::from_nanos(-1));
    let last = last_instant.as_second().div_euclid(cell).max(first);
    first..=last
}
