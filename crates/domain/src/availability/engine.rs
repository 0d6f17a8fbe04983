//! The slot engine: which instants a gig can start at, for one influencer or a group.

use std::collections::{BTreeMap, BTreeSet};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::resolve::{dates_around, window_spans};
use super::rules::{Interval, Schedule, SlotSettings};
use super::span::{Span, intersect, length, nanos, union};
use super::validate::nest;
use crate::ValidationErrors;

/// The longest query range, in days; longer ranges are refused rather than computed.
pub const MAX_QUERY_DAYS: i64 = 62;

/// Everything about a gig's bookability except the range asked about.
#[derive(Debug, Clone, Copy)]
pub struct SlotQuery<'a> {
    /// Everyone who must be free: the owner alone for a single gig, every member (owner
    /// included) for a group gig. Must not be empty.
    pub members: &'a [Schedule],
    pub settings: &'a SlotSettings,
    /// The zone whose local days the daily cap counts: the gig owner's, for group gigs too
    /// (the gig is the owner's product; its members' zones may disagree about the date).
    pub cap_zone: &'a TimeZone,
    /// Start instants of the gig's live bookings, counted per local day for the daily cap.
    /// Leave out the booking being validated.
    pub booked_starts: &'a [Timestamp],
    /// The instant notice and horizon are measured from. To re-check a booking later (a late
    /// payment), pass the instant it was requested at.
    pub now: Timestamp,
}

/// Why slots could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("a slot query needs at least one member")]
    NoMembers,
    #[error("the range must end after it starts")]
    EmptyRange,
    #[error("the range must not span more than {MAX_QUERY_DAYS} days")]
    RangeTooLong,
    #[error("the range is outside the supported calendar")]
    OutOfRange,
    /// Stored rules or gig settings break a bound (paths `members[i].rules...`, `settings...`).
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
}

impl From<jiff::Error> for SlotError {
    fn from(_: jiff::Error) -> Self {
        SlotError::OutOfRange
    }
}

/// The instants in `[from, to)` at which the gig can start, ascending and without duplicates.
///
/// A start `s` is offered when, with `d` the duration:
/// - `s` lies on the grid of a *common window*: a maximal stretch inside one window of every
///   member (for one influencer, simply each of their windows), stepping `settings.step()` in
///   real time from the common window's start;
/// - `[s, s + d)` lies within every member's availability (it may run on into a window that
///   touches, e.g. across midnight from a window ending 24:00 into one starting 00:00);
/// - `[s - buffer_before, s + d + buffer_after)` meets no member's busy interval;
/// - `now + min_notice <= s <= now + horizon`;
/// - fewer than `max_per_day` of `booked_starts` fall on the local day of `s` in `cap_zone`.
///
/// A member without any window in range leaves no common window, so no slots.
pub fn slots(
    query: &SlotQuery<'_>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Timestamp>, SlotError> {
    check_range(from, to)?;
    query.validate()?;
    let settings = query.settings;
    let now = nanos(query.now);
    let lo = nanos(from).max(now + length(settings.min_notice));
    let hi = nanos(to).min(now + length(settings.horizon) + 1);
    if lo >= hi {
        return Ok(Vec::new());
    }

    let mut common: Option<Vec<Span>> = None;
    for member in query.members {
        let (first, last) = dates_around(&member.time_zone, lo, hi)?;
        let own = window_spans(member, first, last)?;
        let joined = match common {
            None => own,
            Some(common) => intersect(&common, &own),
        };
        if joined.is_empty() {
            return Ok(Vec::new());
        }
        common = Some(joined);
    }
    let common = common.ok_or(SlotError::NoMembers)?;

    let mut starts = grid_starts(&common, settings, lo, hi);
    drop_busy(&mut starts, query.members, settings);
    if let Some(max) = settings.max_per_day {
        drop_full_days(&mut starts, query, max, lo, hi)?;
    }
    starts
        .into_iter()
        .map(|start| Timestamp::from_nanosecond(start).map_err(SlotError::from))
        .collect()
}

/// Whether a booking of the gig may start at `start`: exactly whether [`slots`] lists it, by
/// the same code, so listing and booking can never disagree.
pub fn is_bookable(query: &SlotQuery<'_>, start: Timestamp) -> Result<bool, SlotError> {
    let next = Timestamp::from_nanosecond(nanos(start) + 1)?;
    Ok(slots(query, start, next)?.first() == Some(&start))
}

/// When one influencer is available in `[from, to)` according to their windows alone (busy time
/// not subtracted), as sorted, disjoint intervals; windows that touch are joined.
pub fn available_intervals(
    schedule: &Schedule,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Interval>, SlotError> {
    check_range(from, to)?;
    schedule.rules.validate()?;
    let (lo, hi) = (nanos(from), nanos(to));
    let (first, last) = dates_around(&schedule.time_zone, lo, hi)?;
    union(window_spans(schedule, first, last)?)
        .into_iter()
        .map(|span| Span::new(span.start.max(lo), span.end.min(hi)))
        .filter(|span| !span.is_empty())
        .map(|span| {
            Ok(Interval::new(
                Timestamp::from_nanosecond(span.start)?,
                Timestamp::from_nanosecond(span.end)?,
            ))
        })
        .collect()
}

impl SlotQuery<'_> {
    /// Checks the settings and every member's rules, so that no stored value can make the
    /// engine loop forever or do unbounded work.
    fn validate(&self) -> Result<(), SlotError> {
        if self.members.is_empty() {
            return Err(SlotError::NoMembers);
        }
        let mut errors = ValidationErrors::default();
        if let Err(problems) = self.settings.validate() {
            nest(&mut errors, "settings", problems);
        }
        for (i, member) in self.members.iter().enumerate() {
            if let Err(problems) = member.rules.validate() {
                nest(&mut errors, &format!("members[{i}].rules"), problems);
            }
        }
        Ok(errors.into_result(())?)
    }
}

fn check_range(from: Timestamp, to: Timestamp) -> Result<(), SlotError> {
    if to <= from {
        return Err(SlotError::EmptyRange);
    }
    if to.duration_since(from) > SignedDuration::from_hours(24 * MAX_QUERY_DAYS) {
        return Err(SlotError::RangeTooLong);
    }
    Ok(())
}

/// Starts on each common window's grid that lie in `[lo, hi)` and leave room for the whole
/// duration inside the joint availability the window belongs to. Ascending, because the common
/// windows are sorted and disjoint and each start lies inside its own window.
fn grid_starts(common: &[Span], settings: &SlotSettings, lo: i128, hi: i128) -> Vec<i128> {
    let duration = length(settings.duration);
    // Validated: at least five minutes, so the loops below always advance.
    let step = length(settings.step()).max(1);
    let available = union(common.to_vec());
    let mut reach = available.iter().peekable();
    let mut starts = Vec::new();
    for window in common {
        // The end of the joint availability this window is part of.
        while reach.next_if(|span| span.end < window.end).is_some() {}
        let Some(limit) = reach.peek().map(|span| span.end) else {
            break;
        };
        if window.end <= lo {
            continue;
        }
        if window.start >= hi {
            break;
        }
        let skipped = if window.start < lo {
            (lo - window.start + step - 1) / step
        } else {
            0
        };
        let mut start = window.start + skipped * step;
        while start < window.end && start < hi && start + duration <= limit {
            starts.push(start);
            start += step;
        }
    }
    starts
}

/// Drops every start whose buffered span `[s - before, s + duration + after)` meets any
/// member's busy interval. One sort of the busy intervals, then a single sweep.
fn drop_busy(starts: &mut Vec<i128>, members: &[Schedule], settings: &SlotSettings) {
    let busy = union(
        members
            .iter()
            .flat_map(|member| member.busy.iter().map(Span::from_interval))
            .collect(),
    );
    let before = length(settings.buffer_before);
    let after = length(settings.duration) + length(settings.buffer_after);
    let mut next = 0;
    starts.retain(|&start| {
        let needed = Span::new(start - before, start + after);
        while busy.get(next).is_some_and(|span| span.end <= needed.start) {
            next += 1;
        }
        busy.get(next).is_none_or(|span| span.start >= needed.end)
    });
}

/// Drops every start on a local day (of the cap zone) that already has `max` bookings.
fn drop_full_days(
    starts: &mut Vec<i128>,
    query: &SlotQuery<'_>,
    max: u32,
    lo: i128,
    hi: i128,
) -> Result<(), SlotError> {
    // Bookings further than two days from the range cannot share a local day with a start in it.
    let slack = 2 * length(SignedDuration::from_hours(24));
    let mut per_day: BTreeMap<jiff::civil::Date, u32> = BTreeMap::new();
    for &booked in query.booked_starts {
        if (lo - slack..hi + slack).contains(&nanos(booked)) {
            *per_day
                .entry(super::local_day(booked, query.cap_zone))
                .or_default() += 1;
        }
    }
    let full: BTreeSet<_> = per_day
        .into_iter()
        .filter_map(|(day, count)| (count >= max).then_some(day))
        .collect();
    if full.is_empty() {
        return Ok(());
    }
    let mut kept = Vec::with_capacity(starts.len());
    for &start in starts.iter() {
        let day = super::local_day(Timestamp::from_nanosecond(start)?, query.cap_zone);
        if !full.contains(&day) {
            kept.push(start);
        }
    }
    *starts = kept;
    Ok(())
}
