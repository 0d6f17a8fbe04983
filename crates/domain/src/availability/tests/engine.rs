//! The slot engine's rules one by one, in UTC unless the zone is the point.

use jiff::civil::date;

use super::*;

fn overrides_only(zone_name: &str, days: &[(jiff::civil::Date, Override)]) -> Schedule {
    let mut schedule = daily(zone_name, &[]);
    schedule.rules.overrides = days.iter().cloned().collect();
    schedule
}

#[test]
fn slots_step_the_interval_from_the_window_start_and_must_fit_the_window() {
    let members = [daily("UTC", &[window("09:00", "11:00")])];
    let hour = SlotSettings::new(mins(60));
    assert_eq!(
        slots_of(&members, &hour, LONG_AGO, DAY_START, NEXT_DAY),
        instants(&["2026-06-10T09:00:00Z", "2026-06-10T10:00:00Z"])
    );
    let three_quarters = SlotSettings::new(mins(45));
    assert_eq!(
        slots_of(&members, &three_quarters, LONG_AGO, DAY_START, NEXT_DAY),
        instants(&["2026-06-10T09:00:00Z", "2026-06-10T09:45:00Z"])
    );
}

#[test]
fn an_interval_shorter_than_the_duration_offers_overlapping_starts() {
    let members = [daily("UTC", &[window("09:00", "11:00")])];
    let settings = SlotSettings {
        interval: Some(mins(30)),
        ..SlotSettings::new(mins(60))
    };
    assert_eq!(
        slots_of(&members, &settings, LONG_AGO, DAY_START, NEXT_DAY),
        instants(&[
            "2026-06-10T09:00:00Z",
            "2026-06-10T09:30:00Z",
            "2026-06-10T10:00:00Z",
        ])
    );
}

#[test]
fn a_slot_may_run_from_a_window_ending_at_24_00_into_one_starting_at_00_00() {
    let late = Override::Windows(vec![window("22:00", "24:00")]);
    let early = Override::Windows(vec![window("00:00", "02:00")]);
    let settings = SlotSettings {
        interval: Some(mins(90)),
        ..SlotSettings::new(mins(60))
    };
    let both = [overrides_only(
        "UTC",
        &[
            (date(2026, 6, 10), late.clone()),
            (date(2026, 6, 11), early),
        ],
    )];
    assert_eq!(
        slots_of(&both, &settings, LONG_AGO, DAY_START, TWO_DAYS_LATER),
        instants(&[
            "2026-06-10T22:00:00Z",
            "2026-06-10T23:30:00Z",
            "2026-06-11T00:00:00Z",
        ])
    );
    let evening_only = [overrides_only("UTC", &[(date(2026, 6, 10), late)])];
    assert_eq!(
        slots_of(
            &evening_only,
            &settings,
            LONG_AGO,
            DAY_START,
            TWO_DAYS_LATER
        ),
        instants(&["2026-06-10T22:00:00Z"])
    );
}

#[test]
fn busy_time_removes_every_slot_whose_buffered_span_touches_it() {
    let mut member = daily("UTC", &[window("09:00", "17:00")]);
    member.busy = busy(&[
        // Ends exactly where the 09:00 slot's 15-minute buffer begins: half-open, no conflict.
        ("2026-06-10T08:00:00Z", "2026-06-10T08:45:00Z"),
        ("2026-06-10T12:00:00Z", "2026-06-10T13:00:00Z"),
        // Inside the 16:00 slot's after-buffer only.
        ("2026-06-10T17:14:00Z", "2026-06-10T18:00:00Z"),
    ]);
    let settings = SlotSettings {
        buffer_before: mins(15),
        buffer_after: mins(15),
        ..SlotSettings::new(mins(60))
    };
    assert_eq!(
        slots_of(&[member], &settings, LONG_AGO, DAY_START, NEXT_DAY),
        instants(&[
            "2026-06-10T09:00:00Z",
            "2026-06-10T10:00:00Z",
            "2026-06-10T14:00:00Z",
            "2026-06-10T15:00:00Z",
        ])
    );
}

#[test]
fn busy_time_does_not_shift_the_grid() {
    let mut member = daily("UTC", &[window("09:00", "12:00")]);
    member.busy = busy(&[("2026-06-10T09:10:00Z", "2026-06-10T09:20:00Z")]);
    assert_eq!(
        slots_of(
            &[member],
            &SlotSettings::new(mins(45)),
            LONG_AGO,
            DAY_START,
            NEXT_DAY
        ),
        instants(&[
            "2026-06-10T09:45:00Z",
            "2026-06-10T10:30:00Z",
            "2026-06-10T11:15:00Z",
        ])
    );
}

#[test]
fn the_grid_does_not_depend_on_where_the_query_starts() {
    let members = [daily("UTC", &[window("09:00", "12:00")])];
    let settings = SlotSettings::new(mins(45));
    assert_eq!(
        slots_of(
            &members,
            &settings,
            LONG_AGO,
            "2026-06-10T09:10:00Z",
            NEXT_DAY
        ),
        instants(&[
            "2026-06-10T09:45:00Z",
            "2026-06-10T10:30:00Z",
            "2026-06-10T11:15:00Z"
        ])
    );
}

#[test]
fn minimum_notice_and_horizon_bound_the_starts_inclusively() {
    let members = [daily("UTC", &[window("09:00", "17:00")])];
    let settings = SlotSettings {
        min_notice: mins(60),
        horizon: jiff::SignedDuration::from_hours(24),
        ..SlotSettings::new(mins(60))
    };
    let found = slots_of(
        &members,
        &settings,
        "2026-06-10T08:20:00Z",
        DAY_START,
        TWO_DAYS_LATER,
    );
    assert_eq!(found.first(), Some(&at("2026-06-10T10:00:00Z")));
    assert_eq!(found.last(), Some(&at("2026-06-10T16:00:00Z")));
    assert_eq!(found.len(), 7);

    let exact = SlotSettings {
        min_notice: jiff::SignedDuration::ZERO,
        ..settings
    };
    let found = slots_of(
        &members,
        &exact,
        "2026-06-10T09:00:00Z",
        DAY_START,
        TWO_DAYS_LATER,
    );
    assert_eq!(found.first(), Some(&at("2026-06-10T09:00:00Z")));
    assert_eq!(found.last(), Some(&at("2026-06-11T09:00:00Z")));
    assert_eq!(found.len(), 9);
}

#[test]
fn a_local_day_at_the_cap_offers_no_slots() {
    let members = [daily("UTC", &[window("09:00", "12:00")])];
    let settings = SlotSettings {
        max_per_day: Some(2),
        ..SlotSettings::new(mins(60))
    };
    let booked = instants(&[
        "2026-06-10T09:00:00Z",
        "2026-06-10T15:00:00Z",
        "2026-06-11T10:00:00Z",
    ]);
    let query = query(&members, &settings, &booked, at(LONG_AGO));
    assert_eq!(
        slots(&query, at(DAY_START), at(TWO_DAYS_LATER)).unwrap(),
        instants(&[
            "2026-06-11T09:00:00Z",
            "2026-06-11T10:00:00Z",
            "2026-06-11T11:00:00Z",
        ])
    );
}

#[test]
fn the_cap_counts_local_days_of_the_cap_zone() {
    // The member is in UTC; the gig owner (cap zone) in Kiritimati, UTC+14, where local
    // 2026-06-10 is 2026-06-09T10:00Z..2026-06-10T10:00Z.
    let members = [daily("UTC", &[window("00:00", "24:00")])];
    let settings = SlotSettings {
        max_per_day: Some(1),
        ..SlotSettings::new(mins(60))
    };
    let kiritimati = zone("Pacific/Kiritimati");
    let booked = [at("2026-06-09T11:00:00Z")];
    let query = SlotQuery {
        cap_zone: &kiritimati,
        ..query(&members, &settings, &booked, at(LONG_AGO))
    };
    let found = slots(&query, at("2026-06-09T00:00:00Z"), at(NEXT_DAY)).unwrap();
    assert_eq!(found.len(), 10 + 14);
    assert_eq!(found[9], at("2026-06-09T09:00:00Z"));
    assert_eq!(found[10], at("2026-06-10T10:00:00Z"));
}

#[test]
fn overrides_replace_or_block_the_weekday_of_their_local_date() {
    let mut member = daily("UTC", &[window("09:00", "17:00")]);
    member
        .rules
        .overrides
        .insert(date(2026, 6, 10), Override::Blocked);
    member.rules.overrides.insert(
        date(2026, 6, 11),
        Override::Windows(vec![window("06:00", "07:00")]),
    );
    assert_eq!(
        slots_of(
            &[member],
            &SlotSettings::new(mins(60)),
            LONG_AGO,
            DAY_START,
            TWO_DAYS_LATER
        ),
        instants(&["2026-06-11T06:00:00Z"])
    );
}
