//! From wall-clock windows to real time: the one rule for DST, and the windows of a schedule as
//! spans of instants.

use jiff::civil::Date;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};

use super::rules::{DayTime, Schedule};
use super::span::{self, Span};

/// The instant a window boundary stands for: the first instant at which the clock of `zone`
/// reads `time` on local `date`, or a later time.
///
/// That one sentence settles every DST case:
/// - an ordinary time is the one instant the clock shows it;
/// - a time the clock skips (spring-forward gap) becomes the moment the clock jumps, i.e. the
///   boundary moves forward to the first real instant after the gap (`02:30` on a New York
///   spring-forward night is 03:00 EDT);
/// - a time the clock shows twice (fall-back fold) is its first, earlier showing;
/// - `24:00` is the first instant of the next local date.
///
/// Unlike jiff's `Disambiguation::Compatible`, which would turn a gap time `02:30` into 03:30
/// (it keeps the pre-gap offset), this mapping never decreases as the wall-clock time grows, so
/// windows that do not overlap on the clock never overlap in real time, and no window reaches
/// past the wall-clock end its owner wrote. Folds resolve exactly as with `Compatible`.
///
/// Errs only for dates at the very edge of jiff's supported range.
pub fn boundary_instant(
    zone: &TimeZone,
    date: Date,
    time: DayTime,
) -> Result<Timestamp, jiff::Error> {
    let clock = if time == DayTime::END_OF_DAY {
        date.tomorrow()?.at(0, 0, 0, 0)
    } else {
        // `hour() < 24` and `minute() < 60` here, so both fit an i8.
        date.at(time.hour() as i8, time.minute() as i8, 0, 0)
    };
    let ambiguous = zone.to_ambiguous_timestamp(clock);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => ambiguous.earlier(),
        AmbiguousOffset::Gap { .. } => {
            // `earlier()` reads the clock with the post-gap offset, which lands strictly before
            // the transition; the transition that follows it is the jump over the gap.
            let before_jump = ambiguous.earlier()?;
            match zone.following(before_jump).next() {
                Some(transition) => Ok(transition.timestamp()),
                None => ambiguous.later(),
            }
        }
    }
}

/// The local dates of `zone` whose windows can matter for instants in `[lo, hi)`, with slack on
/// both sides: one day before (a window that started the day before) and three after (a slot
/// of up to 24 hours starting just before `hi`, even across a skipped day).
pub(super) fn dates_around(
    zone: &TimeZone,
    lo: i128,
    hi: i128,
) -> Result<(Date, Date), jiff::Error> {
    let first = super::local_day(Timestamp::from_nanosecond(lo)?, zone).yesterday()?;
    let last = super::local_day(Timestamp::from_nanosecond(hi)?, zone).checked_add(3.days())?;
    Ok((first, last))
}

/// The windows of `schedule` on local dates `first..=last` as real-time spans, sorted and
/// disjoint. Each keeps its own start, even where it touches its neighbour, because a window's
/// start anchors its slot grid. Windows that vanish in a gap are dropped.
pub(super) fn window_spans(
    schedule: &Schedule,
    first: Date,
    last: Date,
) -> Result<Vec<Span>, jiff::Error> {
    let zone = &schedule.time_zone;
    let mut spans = Vec::new();
    let mut date = first;
    while date <= last {
        for window in schedule.rules.windows_on(date) {
            let start = boundary_instant(zone, date, window.start)?;
            let end = boundary_instant(zone, date, window.end)?;
            spans.push(Span::new(span::nanos(start), span::nanos(end)));
        }
        date = date.tomorrow()?;
    }
    // Validated rules resolve to sorted, disjoint spans already (the mapping is monotone); this
    // only guarantees it for the intersection whatever the input.
    span::disjoint(&mut spans);
    Ok(spans)
}
