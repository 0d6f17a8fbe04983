//! Tests of the availability rules and the slot engine, with small helpers shared by the files.

mod bounds;
mod change;
mod dst;
mod engine;
mod group;
mod props;
mod rules;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::*;

pub(super) fn at(instant: &str) -> Timestamp {
    instant.parse().unwrap()
}

pub(super) fn time(text: &str) -> DayTime {
    text.parse().unwrap()
}

pub(super) fn window(start: &str, end: &str) -> LocalWindow {
    LocalWindow::new(time(start), time(end))
}

pub(super) fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

pub(super) fn mins(minutes: i64) -> SignedDuration {
    SignedDuration::from_mins(minutes)
}

/// `zone` with the same windows every day and no busy time.
pub(super) fn daily(zone_name: &str, windows: &[LocalWindow]) -> Schedule {
    Schedule {
        time_zone: zone(zone_name),
        rules: AvailabilityRules {
            weekly: WeeklyRules::every_day(windows),
            ..AvailabilityRules::default()
        },
        busy: Vec::new(),
    }
}

/// A query with the first member's zone as the cap zone.
pub(super) fn query<'a>(
    members: &'a [Schedule],
    settings: &'a SlotSettings,
    booked: &'a [Timestamp],
    now: Timestamp,
) -> SlotQuery<'a> {
    SlotQuery {
        members,
        settings,
        cap_zone: &members[0].time_zone,
        booked_starts: booked,
        now,
    }
}

/// The slots of `members`, with the first member's zone as the cap zone and no bookings.
pub(super) fn slots_of(
    members: &[Schedule],
    settings: &SlotSettings,
    now: &str,
    from: &str,
    to: &str,
) -> Vec<Timestamp> {
    slots(&query(members, settings, &[], at(now)), at(from), at(to)).unwrap()
}

/// Instants written as RFC 3339 strings, for comparing with results.
pub(super) fn instants(list: &[&str]) -> Vec<Timestamp> {
    list.iter().map(|text| at(text)).collect()
}

/// A long-ago `now`, so that notice never gets in the way.
pub(super) const LONG_AGO: &str = "2026-01-01T00:00:00Z";

/// Wednesday 2026-06-10 and the days after it, in UTC.
pub(super) const DAY_START: &str = "2026-06-10T00:00:00Z";
pub(super) const NEXT_DAY: &str = "2026-06-11T00:00:00Z";
pub(super) const TWO_DAYS_LATER: &str = "2026-06-12T00:00:00Z";

pub(super) fn busy(list: &[(&str, &str)]) -> Vec<Interval> {
    list.iter()
        .map(|&(s, e)| Interval::new(at(s), at(e)))
        .collect()
}
