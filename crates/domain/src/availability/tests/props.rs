//! Properties of the slot engine over random rules, overrides, busy time and settings, around
//! DST change dates in zones from UTC-12 to UTC+14 (including half- and quarter-hour offsets).

use std::collections::BTreeSet;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;

/// Zones for the general properties: DST in both hemispheres, a 30-minute DST shift
/// (Lord Howe), 30- and 45-minute offsets, and both ends of the map.
const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/Lisbon",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
];

/// Zones whose windows written on the half hour all start on the UTC half hour, so every
/// member's slot grid lines up when the step divides 30 minutes.
const ALIGNED: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/Lisbon",
    "Australia/Sydney",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
];

/// A few days before each 2026 change date used in the fixed cases, and a plain June week.
const BASES: &[&str] = &[
    "2026-03-05T00:00:00Z",
    "2026-03-26T00:00:00Z",
    "2026-04-02T00:00:00Z",
    "2026-06-08T00:00:00Z",
    "2026-10-01T00:00:00Z",
    "2026-10-22T00:00:00Z",
    "2026-10-29T00:00:00Z",
];

const MINUTE: SignedDuration = SignedDuration::from_mins(1);

#[derive(Debug, Clone)]
struct MemberSpec {
    zone: usize,
    week: [Vec<LocalWindow>; 7],
    /// (days after the base date, `None` = blocked or the windows)
    overrides: Vec<(i8, Option<Vec<LocalWindow>>)>,
    /// (minutes after the base instant, length in minutes)
    busy: Vec<(i64, i64)>,
}

#[derive(Debug, Clone)]
struct Scenario {
    base: usize,
    members: Vec<MemberSpec>,
    settings: SlotSettings,
    /// Minutes after the base instant.
    now: i64,
    from: i64,
    length: i64,
    booked: Vec<i64>,
}

fn half_hour(mark: u16) -> DayTime {
    DayTime::new((mark / 2) as u8, (mark % 2 * 30) as u8).unwrap()
}

/// Up to three non-overlapping windows on half-hour marks, possibly ending at 24:00.
fn day_windows() -> impl Strategy<Value = Vec<LocalWindow>> {
    prop::collection::btree_set(0u16..=48, 0..=6).prop_map(|marks| {
        let marks: Vec<u16> = marks.into_iter().collect();
        marks
            .chunks_exact(2)
            .map(|pair| LocalWindow::new(half_hour(pair[0]), half_hour(pair[1])))
            .collect()
    })
}

fn member(zones: usize) -> impl Strategy<Value = MemberSpec> {
    (
        0..zones,
        [
            day_windows(),
            day_windows(),
            day_windows(),
            day_windows(),
            day_windows(),
            day_windows(),
            day_windows(),
        ],
        prop::collection::vec((-1i8..10, prop::option::of(day_windows())), 0..3),
        prop::collection::vec((0i64..10 * 1440, 1i64..300), 0..20),
    )
        .prop_map(|(zone, week, overrides, busy)| MemberSpec {
            zone,
            week,
            overrides,
            busy,
        })
}

fn settings(steps: &'static [i64]) -> impl Strategy<Value = SlotSettings> {
    (
        prop::sample::select(vec![15i64, 30, 45, 60, 90, 120]),
        prop::option::of(prop::sample::select(steps.to_vec())),
        prop::sample::select(vec![0i64, 5, 15, 30]),
        prop::sample::select(vec![0i64, 10, 60]),
        prop::sample::select(vec![0i64, 120, 1440]),
        prop::sample::select(vec![24i64, 72, 240]),
        prop::option::of(1u32..3),
    )
        .prop_map(
            |(duration, step, before, after, notice, horizon, cap)| SlotSettings {
                duration: mins(duration),
                interval: step.map(mins),
                buffer_before: mins(before),
                buffer_after: mins(after),
                min_notice: mins(notice),
                horizon: SignedDuration::from_hours(horizon),
                max_per_day: cap,
            },
        )
}

fn scenario(
    zones: usize,
    members: std::ops::RangeInclusive<usize>,
    steps: &'static [i64],
) -> impl Strategy<Value = Scenario> {
    (
        0..BASES.len(),
        prop::collection::vec(member(zones), members),
        settings(steps),
        0i64..3 * 1440,
        (0i64..4 * 96).prop_map(|q| q * 15),
        (1i64..6 * 96).prop_map(|q| q * 15),
        prop::collection::vec((0i64..10 * 48).prop_map(|h| h * 30), 0..8),
    )
        .prop_map(
            |(base, members, settings, now, from, length, booked)| Scenario {
                base,
                members,
                settings,
                now,
                from,
                length,
                booked,
            },
        )
}

impl Scenario {
    fn instant(&self, minutes: i64) -> Timestamp {
        at(BASES[self.base]) + mins(minutes)
    }

    fn schedules(&self, zones: &[&str]) -> Vec<Schedule> {
        let base_day: Date = at(BASES[self.base]).to_zoned(zone("UTC")).date();
        self.members
            .iter()
            .map(|spec| {
                let mut rules = AvailabilityRules::default();
                for (day, windows) in jiff::civil::Weekday::Monday
                    .cycle_forward()
                    .zip(spec.week.iter())
                {
                    *rules.weekly.day_mut(day) = windows.clone();
                }
                for (offset, windows) in &spec.overrides {
                    let date = base_day
                        .checked_add(jiff::Span::new().days(*offset))
                        .unwrap();
                    let day = match windows {
                        None => Override::Blocked,
                        Some(windows) => Override::Windows(windows.clone()),
                    };
                    rules.overrides.insert(date, day);
                }
                let busy = spec
                    .busy
                    .iter()
                    .map(|&(start, length)| {
                        Interval::new(self.instant(start), self.instant(start + length))
                    })
                    .collect();
                Schedule {
                    time_zone: zone(zones[spec.zone]),
                    rules,
                    busy,
                }
            })
            .collect()
    }

    fn booked(&self) -> Vec<Timestamp> {
        self.booked.iter().map(|&m| self.instant(m)).collect()
    }

    fn range(&self) -> (Timestamp, Timestamp) {
        (
            self.instant(self.from),
            self.instant(self.from + self.length),
        )
    }
}

/// Whether `[start, start + duration)` lies inside one of `intervals`.
fn inside(intervals: &[Interval], start: Timestamp, end: Timestamp) -> bool {
    intervals.iter().any(|i| i.start <= start && end <= i.end)
}

fn meets_busy(member: &Schedule, start: Timestamp, end: Timestamp) -> bool {
    member.busy.iter().any(|b| b.start < end && start < b.end)
}

fn day_is_full(query: &SlotQuery<'_>, start: Timestamp) -> bool {
    query.settings.max_per_day.is_some_and(|max| {
        let day = local_day(start, query.cap_zone);
        let count = query
            .booked_starts
            .iter()
            .filter(|&&b| local_day(b, query.cap_zone) == day)
            .count();
        count >= max as usize
    })
}

/// A brute-force enumeration for one member: every grid point of every window, checked
/// against every rule directly.
fn brute_force(query: &SlotQuery<'_>, from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
    let member = &query.members[0];
    let s = query.settings;
    let wide = (from - 48 * 60 * MINUTE, to + 48 * 60 * MINUTE);
    let available = available_intervals(member, wide.0, wide.1).unwrap();
    let mut found = BTreeSet::new();
    let mut date = local_day(wide.0, &member.time_zone);
    while date <= local_day(wide.1, &member.time_zone) {
        for w in member.rules.windows_on(date) {
            let start = boundary_instant(&member.time_zone, date, w.start).unwrap();
            let end = boundary_instant(&member.time_zone, date, w.end).unwrap();
            let mut slot = start;
            while slot < end {
                let ok = from <= slot
                    && slot < to
                    && query.now + s.min_notice <= slot
                    && slot <= query.now + s.horizon
                    && inside(&available, slot, slot + s.duration)
                    && !meets_busy(
                        member,
                        slot - s.buffer_before,
                        slot + s.duration + s.buffer_after,
                    )
                    && !day_is_full(query, slot);
                if ok {
                    found.insert(slot);
                }
                slot += s.step();
            }
        }
        date = date.tomorrow().unwrap();
    }
    found.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_slot_keeps_every_rule(case in scenario(ZONES.len(), 1..=3, &[10, 15, 30, 60])) {
        let members = case.schedules(ZONES);
        let booked = case.booked();
        let now = case.instant(case.now);
        let q = query(&members, &case.settings, &booked, now);
        let (from, to) = case.range();
        let found = slots(&q, from, to).unwrap();
        let s = case.settings;

        prop_assert!(found.windows(2).all(|pair| pair[0] < pair[1]), "ascending, no duplicates");
        for &slot in &found {
            let end = slot + s.duration;
            prop_assert!(from <= slot && slot < to);
            prop_assert!(now + s.min_notice <= slot, "notice");
            prop_assert!(slot <= now + s.horizon, "horizon");
            prop_assert!(!day_is_full(&q, slot), "daily cap");
            for member in &members {
                let available = available_intervals(
                    member,
                    from - 48 * 60 * MINUTE,
                    to + 48 * 60 * MINUTE,
                ).unwrap();
                prop_assert!(inside(&available, slot, end), "inside every member's windows");
                prop_assert!(
                    !meets_busy(member, slot - s.buffer_before, end + s.buffer_after),
                    "clear of every member's busy time, buffers included"
                );
            }
            prop_assert!(is_bookable(&q, slot).unwrap(), "a listed slot is bookable");
        }
        // Bookability of arbitrary instants agrees with the listing.
        let mut probe = from;
        while probe < to {
            prop_assert_eq!(is_bookable(&q, probe).unwrap(), found.binary_search(&probe).is_ok());
            probe += 97 * MINUTE;
        }
        // Splitting the range changes nothing.
        let middle = from + (to.duration_since(from) / 2);
        let mut halves = slots(&q, from, middle).unwrap();
        halves.extend(slots(&q, middle, to).unwrap());
        prop_assert_eq!(halves, found);
    }

    #[test]
    fn one_members_slots_are_exactly_the_brute_force_ones(
        case in scenario(ZONES.len(), 1..=1, &[10, 15, 25, 30, 60])
    ) {
        let members = case.schedules(ZONES);
        let booked = case.booked();
        let q = query(&members, &case.settings, &booked, case.instant(case.now));
        let (from, to) = case.range();
        prop_assert_eq!(slots(&q, from, to).unwrap(), brute_force(&q, from, to));
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn a_groups_slots_are_those_every_member_offers_alone(
        case in scenario(ALIGNED.len(), 2..=3, &[15, 30])
    ) {
        let mut case = case;
        // Durations on the quarter hour and a step dividing 30 minutes keep every grid aligned.
        if case.settings.interval.is_none() {
            case.settings.interval = Some(30 * MINUTE);
        }
        let members = case.schedules(ALIGNED);
        let booked = case.booked();
        let now = case.instant(case.now);
        let (from, to) = case.range();
        let group = slots(&query(&members, &case.settings, &booked, now), from, to).unwrap();
        let mut common: Option<BTreeSet<Timestamp>> = None;
        for member in &members {
            let alone = std::slice::from_ref(member);
            let mut q = query(alone, &case.settings, &booked, now);
            q.cap_zone = &members[0].time_zone;
            let own: BTreeSet<_> = slots(&q, from, to).unwrap().into_iter().collect();
            common = Some(match common {
                None => own,
                Some(common) => common.intersection(&own).copied().collect(),
            });
        }
        prop_assert_eq!(group, common.unwrap_or_default().into_iter().collect::<Vec<_>>());
    }
}
