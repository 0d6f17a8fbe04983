//! Availability and slots: when an influencer (or every member of a group gig) can be booked.
//!
//! The rules, decided once here and relied on by listing and booking alike:
//!
//! - **Local day.** [`local_day`] is the only definition of "the influencer's local day": the
//!   date the clock of their IANA zone shows at an instant. Overrides are keyed by it and the
//!   daily cap counts by it.
//! - **Windows.** Each weekday has up to 12 windows `[start, end)` of wall-clock time within that
//!   one local day; `end` may be `24:00`, the midnight that ends the day. `start < end`, and the
//!   windows of a day must not overlap (touching is fine); breaking either is a validation error
//!   (`end_before_start`, `overlapping_windows`), never silently repaired. An override replaces
//!   one local date's windows (`Windows`) or removes them (`Blocked`).
//! - **DST.** A boundary stands for the first instant the zone's clock reads that time or later
//!   ([`boundary_instant`]): gap times move forward to the moment the clock jumps, fold times
//!   take their first (earlier) showing. So a 01:00–03:00 window lasts 1 real hour on a
//!   spring-forward night and 3 on a fall-back night.
//! - **Grid.** Slots step the interval in real time from the start of each common window (for
//!   one influencer, each of their windows; for a group, each maximal stretch inside a window of
//!   every member). A slot needs its whole duration inside the availability of every member; it
//!   may run on into a touching window (across midnight, say), but buffers need only be free of
//!   busy time, not inside windows.
//! - **Busy time and buffers.** Busy intervals are the member's live bookings, each already
//!   widened by its own buffers (the caller's job); the engine widens the candidate by the gig's
//!   `buffer_before`/`buffer_after`. The two widened spans must not overlap, which is exactly
//!   "no overlap counting buffers" of the design's first invariant.
//! - **Notice, horizon, cap.** `now + min_notice <= start <= now + horizon`; a local day (in the
//!   gig owner's zone, for group gigs too) that already has `max_per_day` bookings offers no
//!   slots.
//! - **Groups.** Everyone must be free: the common windows are the intersection of the members'
//!   windows, and everyone's busy time counts. A member without windows empties the result.
//! - **Bounds.** A query spans at most [`MAX_QUERY_DAYS`] days; rules and settings are validated
//!   on every query, so stored data can never make the engine do unbounded work or panic.

mod change;
mod engine;
mod resolve;
mod rules;
mod span;
mod validate;

#[cfg(test)]
mod tests;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

pub use change::AvailabilityChangeError;
pub use engine::{MAX_QUERY_DAYS, SlotError, SlotQuery, available_intervals, is_bookable, slots};
pub use resolve::boundary_instant;
pub use rules::{
    AvailabilityRules, DayTime, Interval, InvalidDayTime, LocalWindow, Override, Schedule,
    SlotSettings, WeeklyRules, parse_local_date,
};
pub use validate::{MAX_OVERRIDES, MAX_WINDOWS_PER_DAY};

/// The influencer's local day at `instant`: the date their zone's clock shows then. This is the
/// one definition; overrides, the daily cap and every other "which day" question use it.
pub fn local_day(instant: Timestamp, zone: &TimeZone) -> Date {
    zone.to_datetime(instant).date()
}

/// `instant + by`, held at the ends of time rather than overflowing: ranges computed around a
/// client's instant stay within the calendar whatever instant it sent.
pub fn shifted(instant: Timestamp, by: jiff::SignedDuration) -> Timestamp {
    let bound = if by.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    };
    instant.saturating_add(by).unwrap_or(bound)
}
