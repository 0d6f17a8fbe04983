//! What an influencer writes (weekly windows, date overrides) and what a gig asks of a slot
//! (duration, interval, buffers, notice, horizon, daily cap). The types only; the checks are in
//! `validate.rs` and the meaning in time is in `resolve.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A wall-clock time of day at minute precision, from `00:00` to `24:00` inclusive.
///
/// `24:00` exists so that a window can end at the midnight that closes its day without writing
/// the next day's date: windows never cross midnight, and `22:00–24:00` plus the next day's
/// `00:00–02:00` is how an influencer says "from ten until two". Serialized as `"HH:MM"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayTime(u16);

impl DayTime {
    /// The midnight that starts the day.
    pub const START_OF_DAY: DayTime = DayTime(0);
    /// The midnight that ends the day (the next day's `00:00`).
    pub const END_OF_DAY: DayTime = DayTime(24 * 60);

    /// `None` unless `hour:minute` is a time of day or exactly `24:00`.
    pub fn new(hour: u8, minute: u8) -> Option<DayTime> {
        let minutes = u16::from(hour) * 60 + u16::from(minute);
        (minute < 60 && minutes <= 24 * 60).then_some(DayTime(minutes))
    }

    pub fn hour(self) -> u8 {
        // At most 24, so the narrowing is lossless.
        (self.0 / 60) as u8
    }

    pub fn minute(self) -> u8 {
        (self.0 % 60) as u8
    }

    /// Minutes since the midnight that starts the day (0..=1440).
    pub fn minutes_since_midnight(self) -> u16 {
        self.0
    }
}

/// A time of day that is not `HH:MM` between `00:00` and `24:00`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a time of day HH:MM between 00:00 and 24:00")]
pub struct InvalidDayTime;

impl FromStr for DayTime {
    type Err = InvalidDayTime;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (hour, minute) = s.split_once(':').ok_or(InvalidDayTime)?;
        let two_digits = |part: &str| {
            (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u8>().ok())
                .flatten()
        };
        match (two_digits(hour), two_digits(minute)) {
            (Some(hour), Some(minute)) => DayTime::new(hour, minute).ok_or(InvalidDayTime),
            _ => Err(InvalidDayTime),
        }
    }
}

impl fmt::Display for DayTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl Serialize for DayTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DayTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A local date written `YYYY-MM-DD`: a four-digit year, two-digit month and day, and a real
/// calendar date. `None` for anything else, including forms jiff's own parser also takes
/// (`20260101`, signed six-digit years such as `+002026-01-03`), which no client means.
pub fn parse_local_date(text: &str) -> Option<Date> {
    let (year, rest) = text.split_once('-')?;
    let (month, day) = rest.split_once('-')?;
    let digits = |part: &str, len: usize| {
        (part.len() == len && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<i16>().ok())
            .flatten()
    };
    let month = i8::try_from(digits(month, 2)?).ok()?;
    let day = i8::try_from(digits(day, 2)?).ok()?;
    Date::new(digits(year, 4)?, month, day).ok()
}

/// A stretch of one local day during which the influencer can be booked: `[start, end)` in
/// wall-clock time of their zone, `start < end`, `end` at most `24:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalWindow {
    pub start: DayTime,
    pub end: DayTime,
}

impl LocalWindow {
    /// A window from `start` to `end`; whether it is valid is [`WeeklyRules::validate`]'s or
    /// [`Override::validate`]'s question, not this constructor's.
    pub fn new(start: DayTime, end: DayTime) -> Self {
        Self { start, end }
    }
}

/// The windows of each weekday. A weekday without windows is not bookable. An absent weekday
/// has no windows; a key that is no weekday is refused (a misspelt day must not clear it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeeklyRules {
    pub monday: Vec<LocalWindow>,
    pub tuesday: Vec<LocalWindow>,
    pub wednesday: Vec<LocalWindow>,
    pub thursday: Vec<LocalWindow>,
    pub friday: Vec<LocalWindow>,
    pub saturday: Vec<LocalWindow>,
    pub sunday: Vec<LocalWindow>,
}

impl WeeklyRules {
    /// The same windows on all seven days.
    pub fn every_day(windows: &[LocalWindow]) -> Self {
        Self {
            monday: windows.to_vec(),
            tuesday: windows.to_vec(),
            wednesday: windows.to_vec(),
            thursday: windows.to_vec(),
            friday: windows.to_vec(),
            saturday: windows.to_vec(),
            sunday: windows.to_vec(),
        }
    }

    pub fn day(&self, weekday: Weekday) -> &[LocalWindow] {
        match weekday {
            Weekday::Monday => &self.monday,
            Weekday::Tuesday => &self.tuesday,
            Weekday::Wednesday => &self.wednesday,
            Weekday::Thursday => &self.thursday,
            Weekday::Friday => &self.friday,
            Weekday::Saturday => &self.saturday,
            Weekday::Sunday => &self.sunday,
        }
    }

    pub fn day_mut(&mut self, weekday: Weekday) -> &mut Vec<LocalWindow> {
        match weekday {
            Weekday::Monday => &mut self.monday,
            Weekday::Tuesday => &mut self.tuesday,
            Weekday::Wednesday => &mut self.wednesday,
            Weekday::Thursday => &mut self.thursday,
            Weekday::Friday => &mut self.friday,
            Weekday::Saturday => &mut self.saturday,
            Weekday::Sunday => &mut self.sunday,
        }
    }

    /// Every weekday with its lowercase name, Monday first (the names are the field paths).
    pub fn days(&self) -> [(Weekday, &'static str, &[LocalWindow]); 7] {
        [
            (Weekday::Monday, "monday", &self.monday),
            (Weekday::Tuesday, "tuesday", &self.tuesday),
            (Weekday::Wednesday, "wednesday", &self.wednesday),
            (Weekday::Thursday, "thursday", &self.thursday),
            (Weekday::Friday, "friday", &self.friday),
            (Weekday::Saturday, "saturday", &self.saturday),
            (Weekday::Sunday, "sunday", &self.sunday),
        ]
    }
}

/// What one local date looks like instead of its weekday's windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    content = "windows",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Override {
    /// Not bookable at all that day.
    Blocked,
    /// Bookable exactly in these windows that day (an empty list is the same as blocked).
    Windows(Vec<LocalWindow>),
}

/// Everything an influencer writes about when they can be booked. Override dates are dates of
/// the influencer's own zone, the same local dates [`super::local_day`] gives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AvailabilityRules {
    pub weekly: WeeklyRules,
    pub overrides: BTreeMap<Date, Override>,
}

impl AvailabilityRules {
    /// The windows that apply on local `date`: its override's, else its weekday's.
    pub fn windows_on(&self, date: Date) -> &[LocalWindow] {
        match self.overrides.get(&date) {
            Some(Override::Blocked) => &[],
            Some(Override::Windows(windows)) => windows,
            None => self.weekly.day(date.weekday()),
        }
    }
}

/// A half-open span of real time `[start, end)`. Empty when `end <= start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Interval {
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        Self { start, end }
    }
}

/// One influencer as the slot engine sees them: their zone, their rules, and the time they are
/// already busy.
///
/// `busy` holds the influencer's live bookings (of every gig, single or group), each already
/// widened by the buffers that applied to it: `[start - its buffer_before, end + its
/// buffer_after)`. Widening existing bookings is the caller's job because only the caller knows
/// each booking's own gig; the engine widens the candidate slot by the queried gig's buffers.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub time_zone: TimeZone,
    pub rules: AvailabilityRules,
    pub busy: Vec<Interval>,
}

/// What a gig asks of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotSettings {
    /// How long a booking lasts (5 minutes to 24 hours).
    pub duration: SignedDuration,
    /// Distance between consecutive slot starts in real time; `None` means `duration`.
    pub interval: Option<SignedDuration>,
    /// Free time needed before a booking (0 to 24 hours).
    pub buffer_before: SignedDuration,
    /// Free time needed after a booking (0 to 24 hours).
    pub buffer_after: SignedDuration,
    /// A slot must start at least this long after now (0 to 90 days).
    pub min_notice: SignedDuration,
    /// A slot must start at most this long after now (1 to 365 days).
    pub horizon: SignedDuration,
    /// At most this many bookings per local day of the gig owner (1 to 100); `None` = no cap.
    pub max_per_day: Option<u32>,
}

impl SlotSettings {
    /// Bookings of `duration` every `duration`, no buffers, no notice, a year of horizon, no cap.
    pub fn new(duration: SignedDuration) -> Self {
        Self {
            duration,
            interval: None,
            buffer_before: SignedDuration::ZERO,
            buffer_after: SignedDuration::ZERO,
            min_notice: SignedDuration::ZERO,
            horizon: SignedDuration::from_hours(365 * 24),
            max_per_day: None,
        }
    }

    /// The step between slot starts.
    pub fn step(&self) -> SignedDuration {
        self.interval.unwrap_or(self.duration)
    }
}
