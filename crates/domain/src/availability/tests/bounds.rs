//! Booking checks, availability intervals, and the limits of what a query may ask.

use jiff::Timestamp;

use super::*;
use crate::ValidationErrors;

#[test]
fn booking_checks_use_the_listing_rules() {
    let mut member = daily("UTC", &[window("09:00", "12:00")]);
    member.busy = busy(&[("2026-06-10T10:00:00Z", "2026-06-10T11:00:00Z")]);
    let members = [member];
    let settings = SlotSettings::new(mins(60));
    let query = query(&members, &settings, &[], at(LONG_AGO));
    let bookable = |start: &str| is_bookable(&query, at(start)).unwrap();
    assert!(bookable("2026-06-10T09:00:00Z"));
    assert!(bookable("2026-06-10T11:00:00Z"));
    assert!(!bookable("2026-06-10T09:30:00Z"), "off the grid");
    assert!(!bookable("2026-06-10T10:00:00Z"), "busy");
    assert!(!bookable("2026-06-10T12:00:00Z"), "outside the window");
    let late = SlotQuery {
        now: at("2026-06-10T09:00:01Z"),
        ..query
    };
    assert!(
        !is_bookable(&late, at("2026-06-10T09:00:00Z")).unwrap(),
        "in the past"
    );
}

#[test]
fn available_intervals_join_touching_windows_and_clip_to_the_range() {
    let member = daily("UTC", &[window("09:00", "12:00"), window("12:00", "13:00")]);
    assert_eq!(
        available_intervals(
            &member,
            at("2026-06-10T10:00:00Z"),
            at("2026-06-10T12:30:00Z")
        )
        .unwrap(),
        vec![Interval::new(
            at("2026-06-10T10:00:00Z"),
            at("2026-06-10T12:30:00Z")
        )]
    );
    assert_eq!(
        available_intervals(&member, at(DAY_START), at(TWO_DAYS_LATER)).unwrap(),
        vec![
            Interval::new(at("2026-06-10T09:00:00Z"), at("2026-06-10T13:00:00Z")),
            Interval::new(at("2026-06-11T09:00:00Z"), at("2026-06-11T13:00:00Z")),
        ]
    );
}

#[test]
fn ranges_must_be_non_empty_and_at_most_62_days() {
    let members = [daily("UTC", &[window("09:00", "17:00")])];
    let settings = SlotSettings::new(mins(60));
    let query = query(&members, &settings, &[], at(LONG_AGO));
    let from = at(DAY_START);
    assert_eq!(slots(&query, from, from), Err(SlotError::EmptyRange));
    assert_eq!(
        slots(&query, at(NEXT_DAY), from),
        Err(SlotError::EmptyRange)
    );
    let limit = from + jiff::SignedDuration::from_hours(62 * 24);
    assert_eq!(slots(&query, from, limit).unwrap().len(), 62 * 8);
    let beyond = limit + jiff::SignedDuration::from_nanos(1);
    assert_eq!(slots(&query, from, beyond), Err(SlotError::RangeTooLong));
    assert_eq!(
        available_intervals(&members[0], from, beyond),
        Err(SlotError::RangeTooLong)
    );
}

#[test]
fn invalid_input_is_refused_with_field_paths() {
    let good = daily("UTC", &[window("09:00", "17:00")]);
    let mut bad = good.clone();
    bad.rules.weekly.monday = vec![window("17:00", "09:00")];
    let members = [good, bad];
    let settings = SlotSettings {
        interval: Some(jiff::SignedDuration::ZERO),
        ..SlotSettings::new(mins(60))
    };
    let query = query(&members, &settings, &[], at(LONG_AGO));
    let Err(SlotError::Invalid(ValidationErrors(errors))) =
        slots(&query, at(DAY_START), at(NEXT_DAY))
    else {
        panic!("expected a validation error");
    };
    let fields: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
    assert_eq!(
        fields,
        [
            ("settings.interval", "too_short"),
            ("members[1].rules.weekly.monday[0].end", "end_before_start"),
        ]
    );
    let nobody = SlotQuery {
        members: &[],
        ..query
    };
    assert_eq!(
        slots(&nobody, at(DAY_START), at(NEXT_DAY)),
        Err(SlotError::NoMembers)
    );
}

#[test]
fn queries_at_the_edges_of_time_fail_cleanly() {
    let members = [daily("Pacific/Kiritimati", &[window("00:00", "24:00")])];
    let settings = SlotSettings::new(mins(60));
    let day = jiff::SignedDuration::from_hours(24);
    for now in [Timestamp::MIN, Timestamp::MAX] {
        let query = query(&members, &settings, &[Timestamp::MIN, Timestamp::MAX], now);
        for (from, to) in [
            (Timestamp::MIN, Timestamp::MIN + day),
            (Timestamp::MAX - day, Timestamp::MAX),
        ] {
            // Any answer will do, as long as it is an answer and not a panic.
            let _ = slots(&query, from, to);
            let _ = available_intervals(&members[0], from, to);
        }
        let _ = is_bookable(&query, Timestamp::MAX);
        let _ = is_bookable(&query, Timestamp::MIN);
    }
}
