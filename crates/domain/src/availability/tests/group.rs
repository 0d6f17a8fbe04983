//! Group gigs: everyone must be free, and the grid starts where everyone becomes free.

use jiff::Timestamp;
use jiff::civil::date;

use super::*;

#[test]
fn a_group_is_bookable_only_when_every_member_is_free() {
    let first = daily("UTC", &[window("09:00", "13:00")]);
    let mut second = daily("UTC", &[window("11:00", "17:00")]);
    let settings = SlotSettings::new(mins(60));
    let both = [first.clone(), second.clone()];
    assert_eq!(
        slots_of(&both, &settings, LONG_AGO, DAY_START, NEXT_DAY),
        instants(&["2026-06-10T11:00:00Z", "2026-06-10T12:00:00Z"])
    );
    second.busy = busy(&[("2026-06-10T12:30:00Z", "2026-06-10T13:30:00Z")]);
    assert_eq!(
        slots_of(&[first, second], &settings, LONG_AGO, DAY_START, NEXT_DAY),
        instants(&["2026-06-10T11:00:00Z"])
    );
}

#[test]
fn a_group_grid_starts_where_everyone_becomes_free() {
    // Kolkata 09:00-17:00 is 03:30Z-11:30Z; New York 00:00-08:00 (EDT) is 04:00Z-12:00Z.
    let members = [
        daily("Asia/Kolkata", &[window("09:00", "17:00")]),
        daily("America/New_York", &[window("00:00", "08:00")]),
    ];
    let found = slots_of(
        &members,
        &SlotSettings::new(mins(60)),
        LONG_AGO,
        DAY_START,
        NEXT_DAY,
    );
    let expected: Vec<Timestamp> = (4..=10)
        .map(|hour| at(&format!("2026-06-10T{hour:02}:00:00Z")))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn a_member_without_windows_leaves_a_group_nothing() {
    let members = [daily("UTC", &[window("09:00", "17:00")]), daily("UTC", &[])];
    assert_eq!(
        slots_of(
            &members,
            &SlotSettings::new(mins(60)),
            LONG_AGO,
            DAY_START,
            NEXT_DAY
        ),
        vec![]
    );
}

#[test]
fn a_group_loses_a_date_when_one_member_blocks_it() {
    let first = daily("Europe/Lisbon", &[window("09:00", "17:00")]);
    let mut second = daily("Europe/Lisbon", &[window("09:00", "17:00")]);
    let settings = SlotSettings::new(mins(60));
    let before = slots_of(
        &[first.clone(), second.clone()],
        &settings,
        LONG_AGO,
        DAY_START,
        TWO_DAYS_LATER,
    );
    assert_eq!(before.len(), 16);
    second
        .rules
        .overrides
        .insert(date(2026, 6, 11), Override::Blocked);
    let after = slots_of(
        &[first, second],
        &settings,
        LONG_AGO,
        DAY_START,
        TWO_DAYS_LATER,
    );
    assert_eq!(after, before[..8]);
}
