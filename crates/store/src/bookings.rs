//! The bookings port: bookings and the store's final guard against double booking
//! (DESIGN.md invariant 1).
//!
//! Redis holds are the fast guard; this one is final. Creating a booking checks, in the same
//! atomic step as the write, that none of its members has a live booking whose busy span meets
//! its own, so two overlapping live bookings of one influencer can never both commit, even when
//! Redis lost its keys. Each adapter says in its module why its mechanism is correct.

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::{
    UserId,
    availability::Interval,
    booking::{Booking, BookingId, BookingState},
    gig::GigId,
    ledger::Posting,
};

use crate::{OutboxMessage, StoreError};

/// What a new booking must not break, judged at `now` inside the step that writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingGuard {
    /// The instant liveness is judged at (an unpaid hold is live while `now` is before its
    /// expiry).
    pub now: Timestamp,
    /// The most live unpaid holds a brand may have, the new one included.
    pub max_live_holds: u32,
    /// The gig's daily cap, when it has one.
    pub daily_cap: Option<DailyCap>,
}

/// At most `max` live bookings of the gig may start in `[day_start, day_end)`: the local day
/// (in the gig owner's zone) of the new booking's start, the new one included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCap {
    pub day_start: Timestamp,
    pub day_end: Timestamp,
    pub max: u32,
}

/// Why a booking was not created. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum BookingRefusal {
    /// A member has a live booking whose busy span meets the new one's.
    #[error("a member is busy then")]
    SlotTaken,
    /// The gig already has its daily cap of live bookings on that local day.
    #[error("the day is fully booked")]
    DayFull,
    /// The brand already has `max_live_holds` live unpaid holds.
    #[error("too many unpaid holds")]
    TooManyHolds,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which bookings a list returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BookingFilter {
    /// Bookings this user is a party to, as the brand or a member; every booking when `None`
    /// (administrators).
    pub party: Option<UserId>,
    /// Only bookings in this state.
    pub state: Option<BookingState>,
}

/// Bookings.
#[async_trait]
pub trait BookingRepository: Send + Sync {
    /// Stores a new booking and its messages in one atomic step if, at `guard.now`, no live
    /// booking of any of its members has a busy span overlapping its own, the brand has fewer
    /// than `guard.max_live_holds` live unpaid holds, and the gig has fewer than the daily
    /// cap's `max` live bookings starting in the cap's day. Otherwise it refuses (checked in
    /// that order) and writes nothing. Racing creations, through any number of handles and
    /// processes, end as if they had run one at a time.
    async fn create(
        &self,
        booking: &Booking,
        guard: &BookingGuard,
        outbox: &[OutboxMessage],
    ) -> Result<(), BookingRefusal>;
    async fn find(&self, id: &BookingId) -> Result<Option<Booking>, StoreError>;
    /// Replaces the booking if its stored version is `booking.version - 1` (compare-and-swap,
    /// as for gigs), with its members' claims on their time, and stores the messages, in one
    /// atomic step. `Conflict(StaleVersion)` when another change came first, `NotFound` when
    /// there is no such booking; nothing is written then. It does not re-check overlaps: only
    /// transitions that keep or release time go through here.
    async fn update(&self, booking: &Booking, outbox: &[OutboxMessage]) -> Result<(), StoreError> {
        self.update_with_ledger(booking, &[], outbox).await
    }
    /// [`update`](Self::update), writing `ledger` in the same atomic step as described in the
    /// ledger port ([`LedgerRepository`](crate::LedgerRepository)): postings already written
    /// are skipped; a payout beyond the available balance refuses everything with
    /// `Conflict(InsufficientBalance)`.
    async fn update_with_ledger(
        &self,
        booking: &Booking,
        ledger: &[Posting],
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError>;
    /// Replaces the booking as [`update`](Self::update) does, for a booking that takes its
    /// members' time again (a payment that arrived after its hold lapsed): only if, at
    /// `guard.now`, no other live booking of its members meets its busy span and its gig's
    /// daily cap (when given) leaves room, checked in the same atomic step as the write, like a
    /// creation (the brand's hold limit does not apply: `guard.max_live_holds` is ignored).
    /// Refused as for a creation, or `Store(Conflict(StaleVersion))` / `Store(NotFound)` as for
    /// an update; nothing is written then.
    /// The booking's `ledger` postings are written with it, as for
    /// [`update_with_ledger`](Self::update_with_ledger).
    async fn reclaim(
        &self,
        booking: &Booking,
        guard: &BookingGuard,
        ledger: &[Posting],
        outbox: &[OutboxMessage],
    ) -> Result<(), BookingRefusal>;
    /// Up to `limit` bookings whose [`Booking::due_at`] is at or before `before`, by ascending
    /// id, with an id above `after` when given: what the sweep completes or pays out.
    async fn due(
        &self,
        before: Timestamp,
        after: Option<&BookingId>,
        limit: u32,
    ) -> Result<Vec<Booking>, StoreError>;
    /// Up to `limit` bookings still `pending_payment` whose hold lapsed before `before`, oldest
    /// first: what the payment reconciler settles.
    async fn lapsed_pending(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<Booking>, StoreError>;
    /// Bookings newest first (descending id) matching `filter`: at most `limit` with an id
    /// below `before` when given.
    async fn list(
        &self,
        filter: &BookingFilter,
        before: Option<&BookingId>,
        limit: u32,
    ) -> Result<Vec<Booking>, StoreError>;
    /// The busy spans of the bookings live at `now` of each of `members` (of any gig) that
    /// overlap `[from, to)`, each with the member it keeps busy; in no particular order.
    async fn busy(
        &self,
        members: &[UserId],
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(UserId, Interval)>, StoreError>;
    /// The starts of the gig's bookings live at `now` that start in `[from, to)`.
    async fn live_starts(
        &self,
        gig: &GigId,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Timestamp>, StoreError>;
}

/// A booking's instants as both adapters store them for their queries: unix milliseconds,
/// rounded outwards (starts down, ends up), so a stored claim on time is never shorter than the
/// booking's own and sub-millisecond instants never let two bookings slip past each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredClaim {
    pub(crate) start_ms: i64,
    pub(crate) busy_start_ms: i64,
    pub(crate) busy_end_ms: i64,
    /// [`Booking::live_until`]: `i64::MAX` for ever, `i64::MIN` never, so "live at `now`" is
    /// `live_until_ms > now_ms` for every `now`.
    pub(crate) live_until_ms: i64,
}

impl StoredClaim {
    pub(crate) fn of(booking: &Booking) -> Self {
        let live_until = booking.live_until();
        let live_until_ms = if live_until == Timestamp::MAX {
            i64::MAX
        } else if live_until == Timestamp::MIN {
            i64::MIN
        } else {
            millis_up(live_until)
        };
        Self {
            start_ms: millis_down(booking.start),
            busy_start_ms: millis_down(booking.busy_start),
            busy_end_ms: millis_up(booking.busy_end),
            live_until_ms,
        }
    }
}

/// `instant` in whole unix milliseconds, rounded towards the past.
pub(crate) fn millis_down(instant: Timestamp) -> i64 {
    let millis = instant.as_millisecond();
    match Timestamp::from_millisecond(millis) {
        Ok(truncated) if truncated > instant => millis.saturating_sub(1),
        _ => millis,
    }
}

/// `instant` in whole unix milliseconds, rounded towards the future.
pub(crate) fn millis_up(instant: Timestamp) -> i64 {
    let millis = instant.as_millisecond();
    match Timestamp::from_millisecond(millis) {
        Ok(truncated) if truncated < instant => millis.saturating_add(1),
        _ => millis,
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;

    #[test]
    fn stored_instants_round_outwards_to_the_millisecond() {
        let whole = Timestamp::from_millisecond(1_780_000_000_123).unwrap();
        let inside = whole + SignedDuration::from_micros(400);
        assert_eq!(millis_down(whole), 1_780_000_000_123);
        assert_eq!(millis_up(whole), 1_780_000_000_123);
        assert_eq!(millis_down(inside), 1_780_000_000_123);
        assert_eq!(millis_up(inside), 1_780_000_000_124);

        let before_epoch =
            Timestamp::from_millisecond(-5).unwrap() - SignedDuration::from_micros(1);
        assert_eq!(millis_down(before_epoch), -6);
        assert_eq!(millis_up(before_epoch), -5);
    }
}
