//! The checks on what influencers and gigs write. Besides catching mistakes, the bounds keep the
//! slot engine's work bounded whatever is stored.

use jiff::SignedDuration;

use super::rules::{AvailabilityRules, LocalWindow, Override, SlotSettings, WeeklyRules};
use crate::ValidationErrors;

/// At most this many windows on one day (weekday or override).
pub const MAX_WINDOWS_PER_DAY: usize = 12;
/// At most this many date overrides.
pub const MAX_OVERRIDES: usize = 400;

const MINUTE: SignedDuration = SignedDuration::from_mins(1);
const DAY: SignedDuration = SignedDuration::from_hours(24);

impl WeeklyRules {
    /// Checks every weekday's windows; paths look like `monday[1].end`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        for (_, name, windows) in self.days() {
            check_windows(&mut errors, name, windows);
        }
        errors.into_result(())
    }
}

impl Override {
    /// Checks the override's windows; paths look like `windows[1].end`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Override::Windows(windows) = self {
            check_windows(&mut errors, "windows", windows);
        }
        errors.into_result(())
    }
}

impl AvailabilityRules {
    /// Checks the weekly windows and every override; paths look like `weekly.monday[1].end`
    /// and `overrides.2026-06-10.windows[0].start`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Err(weekly) = self.weekly.validate() {
            nest(&mut errors, "weekly", weekly);
        }
        if self.overrides.len() > MAX_OVERRIDES {
            errors.add(
                "overrides",
                "too_many",
                format!("at most {MAX_OVERRIDES} date overrides"),
            );
        }
        for (date, day) in &self.overrides {
            if let Err(problems) = day.validate() {
                nest(&mut errors, &format!("overrides.{date}"), problems);
            }
        }
        errors.into_result(())
    }
}

impl SlotSettings {
    /// Checks every bound; paths are the field names (`duration`, `interval`, ...).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let five_minutes = 5 * MINUTE;
        span(&mut errors, "duration", self.duration, five_minutes, DAY);
        if let Some(interval) = self.interval {
            span(&mut errors, "interval", interval, five_minutes, DAY);
        }
        span(
            &mut errors,
            "buffer_before",
            self.buffer_before,
            SignedDuration::ZERO,
            DAY,
        );
        span(
            &mut errors,
            "buffer_after",
            self.buffer_after,
            SignedDuration::ZERO,
            DAY,
        );
        span(
            &mut errors,
            "min_notice",
            self.min_notice,
            SignedDuration::ZERO,
            90 * DAY,
        );
        span(&mut errors, "horizon", self.horizon, DAY, 365 * DAY);
        if let Some(max) = self.max_per_day
            && !(1..=100).contains(&max)
        {
            errors.add("max_per_day", "out_of_range", "must be between 1 and 100");
        }
        errors.into_result(())
    }
}

/// Moves every error of `inner` into `errors` under `prefix` (`prefix.field`).
pub(super) fn nest(errors: &mut ValidationErrors, prefix: &str, inner: ValidationErrors) {
    for mut error in inner.0 {
        error.field = format!("{prefix}.{}", error.field);
        errors.0.push(error);
    }
}

/// One day's windows: each must have `start < end` (the type already caps `end` at 24:00), no
/// two may share any minute (touching is fine), and there may be at most
/// [`MAX_WINDOWS_PER_DAY`]. Overlaps are reported on the later-starting window of the pair.
fn check_windows(errors: &mut ValidationErrors, field: &str, windows: &[LocalWindow]) {
    if windows.len() > MAX_WINDOWS_PER_DAY {
        errors.add(
            field,
            "too_many",
            format!("at most {MAX_WINDOWS_PER_DAY} windows per day"),
        );
        // Not worth checking a list this long window by window.
        return;
    }
    for (i, window) in windows.iter().enumerate() {
        if window.end <= window.start {
            errors.add(
                format!("{field}[{i}].end"),
                "end_before_start",
                "must be later than start",
            );
        }
    }
    let mut order: Vec<usize> = (0..windows.len())
        .filter(|&i| windows[i].start < windows[i].end)
        .collect();
    order.sort_by_key(|&i| (windows[i].start, i));
    for pair in order.windows(2) {
        let (earlier, later) = (windows[pair[0]], windows[pair[1]]);
        if later.start < earlier.end {
            errors.add(
                format!("{field}[{}]", pair[1]),
                "overlapping_windows",
                format!(
                    "overlaps the window {}-{} of the same day",
                    earlier.start, earlier.end
                ),
            );
        }
    }
}

fn span(
    errors: &mut ValidationErrors,
    field: &str,
    value: SignedDuration,
    min: SignedDuration,
    max: SignedDuration,
) {
    if value < min {
        let message = if min.is_zero() {
            "must not be negative".to_owned()
        } else {
            format!("must be at least {}", describe(min))
        };
        errors.add(field, "too_short", message);
    } else if value > max {
        errors.add(
            field,
            "too_long",
            format!("must be at most {}", describe(max)),
        );
    }
}

/// `5 minutes`, `24 hours`, `90 days`: the bounds above, in words.
fn describe(bound: SignedDuration) -> String {
    let minutes = bound.as_secs() / 60;
    if minutes > 24 * 60 && minutes % (24 * 60) == 0 {
        format!("{} days", minutes / (24 * 60))
    } else if minutes % 60 == 0 {
        format!("{} hours", minutes / 60)
    } else {
        format!("{minutes} minutes")
    }
}
