//! Wall-clock windows on DST change dates and at the ±14 hour edges of the map.

use jiff::SignedDuration;
use jiff::civil::{Date, date};
use jiff::tz::AmbiguousOffset;

use super::*;

/// The real-time spans of `windows` written as an override for `day` in `zone_name`.
fn spans_on(zone_name: &str, day: Date, windows: &[LocalWindow]) -> Vec<Interval> {
    let mut schedule = daily(zone_name, &[]);
    schedule
        .rules
        .overrides
        .insert(day, Override::Windows(windows.to_vec()));
    let from = at("2026-01-01T00:00:00Z");
    let noon = day
        .at(12, 0, 0, 0)
        .to_zoned(zone(zone_name))
        .unwrap()
        .timestamp();
    let (lo, hi) = (
        noon - SignedDuration::from_hours(48),
        noon + SignedDuration::from_hours(48),
    );
    assert!(from < lo);
    available_intervals(&schedule, lo, hi).unwrap()
}

fn span(start: &str, end: &str) -> Vec<Interval> {
    vec![Interval::new(at(start), at(end))]
}

#[test]
fn new_york_spring_forward_shortens_a_window_across_the_gap() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT.
    let day = date(2026, 3, 8);
    let one_to_three = [window("01:00", "03:00")];
    assert_eq!(
        spans_on("America/New_York", day, &one_to_three),
        span("2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z")
    );
    let mut member = daily("America/New_York", &[]);
    member
        .rules
        .overrides
        .insert(day, Override::Windows(one_to_three.to_vec()));
    assert_eq!(
        slots_of(
            &[member],
            &SlotSettings::new(mins(30)),
            LONG_AGO,
            "2026-03-07T00:00:00Z",
            "2026-03-10T00:00:00Z"
        ),
        instants(&["2026-03-08T06:00:00Z", "2026-03-08T06:30:00Z"])
    );
}

#[test]
fn new_york_gap_boundaries_move_forward_to_the_jump() {
    let day = date(2026, 3, 8);
    assert_eq!(
        spans_on("America/New_York", day, &[window("02:30", "04:00")]),
        span("2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z")
    );
    assert_eq!(
        spans_on("America/New_York", day, &[window("01:00", "02:30")]),
        span("2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z")
    );
    // Entirely inside the gap: no real time at all.
    assert_eq!(
        spans_on("America/New_York", day, &[window("02:15", "02:45")]),
        vec![]
    );
    assert_eq!(
        spans_on("America/New_York", day, &[window("02:00", "03:00")]),
        vec![]
    );
}

#[test]
fn new_york_fall_back_lengthens_a_window_across_the_fold() {
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:00-02:00 happens twice.
    let day = date(2026, 11, 1);
    assert_eq!(
        spans_on("America/New_York", day, &[window("01:00", "03:00")]),
        span("2026-11-01T05:00:00Z", "2026-11-01T08:00:00Z")
    );
    // A boundary inside the fold takes its first showing.
    assert_eq!(
        spans_on("America/New_York", day, &[window("00:00", "01:30")]),
        span("2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z")
    );
    assert_eq!(
        spans_on("America/New_York", day, &[window("01:30", "02:00")]),
        span("2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z")
    );
}

#[test]
fn slots_step_in_real_time_through_the_fold() {
    // 00:00 EDT to 04:00 EST is five real hours.
    let mut member = daily("America/New_York", &[]);
    member.rules.overrides.insert(
        date(2026, 11, 1),
        Override::Windows(vec![window("00:00", "04:00")]),
    );
    assert_eq!(
        slots_of(
            &[member],
            &SlotSettings::new(mins(60)),
            LONG_AGO,
            "2026-10-31T00:00:00Z",
            "2026-11-03T00:00:00Z"
        ),
        instants(&[
            "2026-11-01T04:00:00Z",
            "2026-11-01T05:00:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T07:00:00Z",
            "2026-11-01T08:00:00Z",
        ])
    );
}

#[test]
fn whole_days_last_23_and_25_hours_on_change_dates() {
    let whole = [window("00:00", "24:00")];
    assert_eq!(
        spans_on("America/New_York", date(2026, 3, 8), &whole),
        span("2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z")
    );
    assert_eq!(
        spans_on("America/New_York", date(2026, 11, 1), &whole),
        span("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z")
    );
}

#[test]
fn lisbon_change_dates() {
    // 2026-03-29: 01:00 WET jumps to 02:00 WEST. 2026-10-25: 02:00 WEST falls back to 01:00 WET.
    assert_eq!(
        spans_on(
            "Europe/Lisbon",
            date(2026, 3, 29),
            &[window("00:00", "03:00")]
        ),
        span("2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z")
    );
    assert_eq!(
        spans_on(
            "Europe/Lisbon",
            date(2026, 3, 29),
            &[window("01:30", "02:30")]
        ),
        span("2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z")
    );
    assert_eq!(
        spans_on(
            "Europe/Lisbon",
            date(2026, 10, 25),
            &[window("00:00", "03:00")]
        ),
        span("2026-10-24T23:00:00Z", "2026-10-25T03:00:00Z")
    );
    assert_eq!(
        spans_on(
            "Europe/Lisbon",
            date(2026, 10, 25),
            &[window("01:00", "01:30")]
        ),
        span("2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z")
    );
}

#[test]
fn sydney_change_dates() {
    // 2026-04-05: 03:00 AEDT falls back to 02:00 AEST. 2026-10-04: 02:00 AEST jumps to 03:00 AEDT.
    assert_eq!(
        spans_on(
            "Australia/Sydney",
            date(2026, 4, 5),
            &[window("01:00", "04:00")]
        ),
        span("2026-04-04T14:00:00Z", "2026-04-04T18:00:00Z")
    );
    assert_eq!(
        spans_on(
            "Australia/Sydney",
            date(2026, 10, 4),
            &[window("01:00", "04:00")]
        ),
        span("2026-10-03T15:00:00Z", "2026-10-03T17:00:00Z")
    );
    assert_eq!(
        spans_on(
            "Australia/Sydney",
            date(2026, 10, 4),
            &[window("02:30", "03:30")]
        ),
        span("2026-10-03T16:00:00Z", "2026-10-03T16:30:00Z")
    );
}

#[test]
fn boundaries_never_go_back_in_time_as_the_clock_advances() {
    let cases = [
        ("America/New_York", date(2026, 3, 8)),
        ("America/New_York", date(2026, 11, 1)),
        ("Europe/Lisbon", date(2026, 3, 29)),
        ("Europe/Lisbon", date(2026, 10, 25)),
        ("Australia/Sydney", date(2026, 4, 5)),
        ("Australia/Sydney", date(2026, 10, 4)),
        ("Australia/Lord_Howe", date(2026, 4, 5)),
        ("Australia/Lord_Howe", date(2026, 10, 4)),
    ];
    for (name, day) in cases {
        let tz = zone(name);
        let mut previous = None;
        for minute in 0..=24 * 60u16 {
            let clock = DayTime::new((minute / 60) as u8, (minute % 60) as u8).unwrap();
            let instant = boundary_instant(&tz, day, clock).unwrap();
            assert!(previous <= Some(instant), "{name} {day} {clock}");
            // The clock reads the boundary's time or, in a gap, the first time after it.
            let reads = tz.to_datetime(instant);
            let wanted = if minute == 24 * 60 {
                day.tomorrow().unwrap().at(0, 0, 0, 0)
            } else {
                day.at(clock.hour() as i8, clock.minute() as i8, 0, 0)
            };
            assert!(reads >= wanted, "{name} {day} {clock}");
            if reads != wanted {
                let skipped = tz.to_ambiguous_timestamp(wanted).offset();
                assert!(
                    matches!(skipped, AmbiguousOffset::Gap { .. }),
                    "{name} {day} {clock}"
                );
            }
            // ... and is the first instant that does.
            let just_before = tz.to_datetime(instant - SignedDuration::from_nanos(1));
            assert!(just_before < wanted, "{name} {day} {clock}");
            previous = Some(instant);
        }
    }
}

#[test]
fn a_kiritimati_override_covers_its_local_date() {
    // UTC+14: local 2026-06-10 is 2026-06-09T10:00Z..2026-06-10T10:00Z.
    let day = date(2026, 6, 10);
    assert_eq!(
        spans_on("Pacific/Kiritimati", day, &[window("00:00", "24:00")]),
        span("2026-06-09T10:00:00Z", "2026-06-10T10:00:00Z")
    );
    let tz = zone("Pacific/Kiritimati");
    assert_eq!(local_day(at("2026-06-09T10:00:00Z"), &tz), day);
    assert_eq!(local_day(at("2026-06-09T09:59:59Z"), &tz), date(2026, 6, 9));
    assert_eq!(local_day(at("2026-06-10T09:59:59Z"), &tz), day);

    let mut member = daily("Pacific/Kiritimati", &[window("00:00", "24:00")]);
    member.rules.overrides.insert(day, Override::Blocked);
    let from = at("2026-06-08T00:00:00Z");
    let to = at("2026-06-12T00:00:00Z");
    assert_eq!(
        available_intervals(&member, from, to).unwrap(),
        vec![
            Interval::new(from, at("2026-06-09T10:00:00Z")),
            Interval::new(at("2026-06-10T10:00:00Z"), to),
        ]
    );
}

#[test]
fn the_far_west_zones_put_the_local_date_half_a_day_later() {
    // Etc/GMT+12 is UTC-12 (the POSIX sign is inverted); Pacific/Pago_Pago is UTC-11.
    let day = date(2026, 6, 10);
    assert_eq!(
        spans_on("Etc/GMT+12", day, &[window("00:00", "24:00")]),
        span("2026-06-10T12:00:00Z", "2026-06-11T12:00:00Z")
    );
    assert_eq!(
        local_day(at("2026-06-11T11:59:59Z"), &zone("Etc/GMT+12")),
        day
    );
    assert_eq!(
        spans_on("Pacific/Pago_Pago", day, &[window("09:00", "10:00")]),
        span("2026-06-10T20:00:00Z", "2026-06-10T21:00:00Z")
    );
    // Kiritimati and Etc/GMT+12 are 26 hours apart: the same local date barely overlaps.
    let east = daily("Pacific/Kiritimati", &[window("00:00", "24:00")]);
    let mut west = daily("Etc/GMT+12", &[]);
    west.rules
        .overrides
        .insert(day, Override::Windows(vec![window("00:00", "02:00")]));
    let mut east_only_on_the_day = east.clone();
    east_only_on_the_day.rules.weekly = WeeklyRules::default();
    east_only_on_the_day
        .rules
        .overrides
        .insert(day, Override::Windows(vec![window("00:00", "24:00")]));
    // East's 2026-06-10 ends at 06-10T10:00Z, before West's 2026-06-10 even begins.
    assert_eq!(
        slots_of(
            &[east_only_on_the_day, west.clone()],
            &SlotSettings::new(mins(60)),
            LONG_AGO,
            "2026-06-08T00:00:00Z",
            "2026-06-13T00:00:00Z"
        ),
        vec![]
    );
    assert_eq!(
        slots_of(
            &[east, west],
            &SlotSettings::new(mins(60)),
            LONG_AGO,
            "2026-06-10T12:00:00Z",
            "2026-06-10T14:00:00Z"
        ),
        instants(&["2026-06-10T12:00:00Z", "2026-06-10T13:00:00Z"])
    );
}
