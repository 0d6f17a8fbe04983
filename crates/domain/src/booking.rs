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
    payment::{BookingPayment, CancellationPolicy},
};

mod delivery;
mod payments;
mod settlement;

pub use delivery::{
    Delivery, MAX_DELIVERY_LINKS, MAX_DELIVERY_NOTE_LEN, MAX_LINK_LEN, RevisionRequest,
    validate_delivery,
};
pub use payments::{PaymentMismatch, PaymentOutcome};
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
