//! The written rules: times of day, windows, overrides, gig settings, and their JSON shape.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use jiff::civil::date;

use super::*;
use crate::ValidationErrors;

fn codes(result: Result<(), ValidationErrors>) -> Vec<(String, &'static str)> {
    result
        .err()
        .map(|e| e.0.into_iter().map(|f| (f.field, f.code)).collect())
        .unwrap_or_default()
}

fn problems(list: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    list.iter().map(|&(f, c)| (f.to_owned(), c)).collect()
}

#[test]
fn day_times_are_hh_mm_from_00_00_to_24_00() {
    assert_eq!(time("00:00"), DayTime::START_OF_DAY);
    assert_eq!(time("24:00"), DayTime::END_OF_DAY);
    assert_eq!(time("09:30").minutes_since_midnight(), 570);
    assert_eq!(time("23:59").to_string(), "23:59");
    for bad in [
        "24:01", "25:00", "12:60", "9:00", "09:5", "0900", "", "-1:00", "+1:00", "ab:cd",
    ] {
        assert_eq!(bad.parse::<DayTime>(), Err(InvalidDayTime), "{bad}");
    }
    assert_eq!(DayTime::new(24, 1), None);
    assert_eq!(DayTime::new(3, 60), None);
}

#[test]
fn a_well_formed_week_is_valid_and_touching_windows_are_fine() {
    let mut week = WeeklyRules::every_day(&[window("09:00", "12:00"), window("12:00", "24:00")]);
    week.sunday.clear();
    assert_eq!(codes(week.validate()), vec![]);
}

#[test]
fn a_window_must_end_after_it_starts() {
    let week = WeeklyRules {
        monday: vec![window("09:00", "17:00"), window("18:00", "18:00")],
        friday: vec![window("12:00", "08:00")],
        ..WeeklyRules::default()
    };
    assert_eq!(
        codes(week.validate()),
        problems(&[
            ("monday[1].end", "end_before_start"),
            ("friday[0].end", "end_before_start"),
        ])
    );
}

#[test]
fn windows_of_one_day_must_not_overlap_and_the_later_one_is_reported() {
    let week = WeeklyRules {
        tuesday: vec![
            window("13:00", "15:00"),
            window("09:00", "13:30"),
            window("20:00", "22:00"),
            window("21:59", "24:00"),
        ],
        ..WeeklyRules::default()
    };
    assert_eq!(
        codes(week.validate()),
        problems(&[
            ("tuesday[0]", "overlapping_windows"),
            ("tuesday[3]", "overlapping_windows"),
        ])
    );
}

#[test]
fn a_day_has_at_most_twelve_windows() {
    let twelve: Vec<_> = (0..12u8)
        .map(|h| LocalWindow::new(DayTime::new(h, 0).unwrap(), DayTime::new(h, 30).unwrap()))
        .collect();
    let mut week = WeeklyRules {
        monday: twelve,
        ..WeeklyRules::default()
    };
    assert_eq!(codes(week.validate()), vec![]);
    week.monday.push(window("20:00", "21:00"));
    assert_eq!(codes(week.validate()), problems(&[("monday", "too_many")]));
}

#[test]
fn overrides_are_checked_under_their_date() {
    let mut rules = AvailabilityRules::default();
    rules.weekly.monday = vec![window("10:00", "09:00")];
    rules.overrides.insert(date(2026, 6, 10), Override::Blocked);
    rules.overrides.insert(
        date(2026, 6, 11),
        Override::Windows(vec![window("08:00", "10:00"), window("09:00", "11:00")]),
    );
    assert_eq!(
        codes(rules.validate()),
        problems(&[
            ("weekly.monday[0].end", "end_before_start"),
            ("overrides.2026-06-11.windows[1]", "overlapping_windows"),
        ])
    );
}

#[test]
fn there_are_at_most_four_hundred_overrides() {
    let mut rules = AvailabilityRules::default();
    let mut day = date(2026, 1, 1);
    for _ in 0..MAX_OVERRIDES {
        rules.overrides.insert(day, Override::Blocked);
        day = day.tomorrow().unwrap();
    }
    assert_eq!(codes(rules.validate()), vec![]);
    rules.overrides.insert(day, Override::Blocked);
    assert_eq!(
        codes(rules.validate()),
        problems(&[("overrides", "too_many")])
    );
}

#[test]
fn gig_settings_have_sane_bounds() {
    let good = SlotSettings {
        interval: Some(mins(15)),
        buffer_before: SignedDuration::ZERO,
        buffer_after: SignedDuration::from_hours(24),
        min_notice: SignedDuration::from_hours(90 * 24),
        horizon: SignedDuration::from_hours(24),
        max_per_day: Some(100),
        ..SlotSettings::new(mins(5))
    };
    assert_eq!(codes(good.validate()), vec![]);
    assert_eq!(codes(SlotSettings::new(mins(24 * 60)).validate()), vec![]);

    let bad = SlotSettings {
        duration: mins(4),
        interval: Some(SignedDuration::ZERO),
        buffer_before: mins(-1),
        buffer_after: mins(24 * 60 + 1),
        min_notice: SignedDuration::from_hours(90 * 24 + 1),
        horizon: SignedDuration::from_hours(23),
        max_per_day: Some(0),
    };
    assert_eq!(
        codes(bad.validate()),
        problems(&[
            ("duration", "too_short"),
            ("interval", "too_short"),
            ("buffer_before", "too_short"),
            ("buffer_after", "too_long"),
            ("min_notice", "too_long"),
            ("horizon", "too_short"),
            ("max_per_day", "out_of_range"),
        ])
    );
    let too_far = SlotSettings {
        duration: mins(24 * 60 + 1),
        horizon: SignedDuration::from_hours(366 * 24),
        max_per_day: Some(101),
        ..SlotSettings::new(mins(30))
    };
    assert_eq!(
        codes(too_far.validate()),
        problems(&[
            ("duration", "too_long"),
            ("horizon", "too_long"),
            ("max_per_day", "out_of_range"),
        ])
    );
}

#[test]
fn the_step_defaults_to_the_duration() {
    let settings = SlotSettings::new(mins(45));
    assert_eq!(settings.step(), mins(45));
    let settings = SlotSettings {
        interval: Some(mins(15)),
        ..settings
    };
    assert_eq!(settings.step(), mins(15));
}

#[test]
fn rules_read_and_write_as_plain_json() {
    let json = serde_json::json!({
        "weekly": { "monday": [{ "start": "09:00", "end": "24:00" }] },
        "overrides": {
            "2026-06-10": { "kind": "blocked" },
            "2026-06-11": { "kind": "windows", "windows": [{ "start": "10:00", "end": "11:30" }] }
        }
    });
    let rules: AvailabilityRules = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(rules.weekly.monday, vec![window("09:00", "24:00")]);
    assert!(rules.weekly.sunday.is_empty());
    let expected: BTreeMap<_, _> = [
        (date(2026, 6, 10), Override::Blocked),
        (
            date(2026, 6, 11),
            Override::Windows(vec![window("10:00", "11:30")]),
        ),
    ]
    .into();
    assert_eq!(rules.overrides, expected);

    let written = serde_json::to_value(&rules).unwrap();
    assert_eq!(written["weekly"]["monday"], json["weekly"]["monday"]);
    assert_eq!(written["overrides"], json["overrides"]);
    let bad = serde_json::json!({ "weekly": { "monday": [{ "start": "09:00", "end": "24:30" }] } });
    assert!(serde_json::from_value::<AvailabilityRules>(bad).is_err());
}

#[test]
fn unknown_weekday_keys_and_window_or_override_fields_are_refused_not_ignored() {
    for bad in [
        serde_json::json!({ "mon": [{ "start": "09:00", "end": "17:00" }] }),
        serde_json::json!({ "monday": [], "Funday": [] }),
        serde_json::json!({ "Monday": [] }),
    ] {
        let error = serde_json::from_value::<WeeklyRules>(bad.clone()).unwrap_err();
        assert!(
            error.to_string().starts_with("unknown field"),
            "{bad}: {error}"
        );
    }
    let extra =
        serde_json::json!({ "monday": [{ "start": "09:00", "end": "17:00", "tz": "UTC" }] });
    assert!(serde_json::from_value::<WeeklyRules>(extra).is_err());
    let extra = serde_json::json!({ "kind": "blocked", "until": "2026-06-12" });
    assert!(serde_json::from_value::<Override>(extra).is_err());

    let partial: WeeklyRules = serde_json::from_value(
        serde_json::json!({ "friday": [{ "start": "09:00", "end": "17:00" }] }),
    )
    .unwrap();
    assert_eq!(partial.friday, vec![window("09:00", "17:00")]);
    assert!(
        partial.monday.is_empty(),
        "an absent weekday has no windows"
    );
    let blocked: Override =
        serde_json::from_value(serde_json::json!({ "kind": "blocked" })).unwrap();
    assert_eq!(blocked, Override::Blocked);
}

#[test]
fn local_dates_are_exactly_yyyy_mm_dd_calendar_dates() {
    for (text, expected) in [
        ("2026-01-01", date(2026, 1, 1)),
        ("2028-02-29", date(2028, 2, 29)),
        ("0001-12-31", date(1, 12, 31)),
        ("9999-12-31", date(9999, 12, 31)),
    ] {
        assert_eq!(parse_local_date(text), Some(expected), "{text}");
    }
    for text in [
        "20260101",
        "+002026-01-03",
        "-009999-01-01",
        "2026-1-01",
        "2026-01-1",
        "26-01-01",
        "02026-01-01",
        "2026-02-30",
        "2027-02-29",
        "2026-13-01",
        "2026-00-10",
        "2026-01-00",
        "2026-01-01T00:00",
        " 2026-01-01",
        "2026-01-01 ",
        "2026/01/01",
        "2026-+1-01",
        "２０２６-01-01",
        "",
    ] {
        assert_eq!(parse_local_date(text), None, "{text:?}");
    }
}

#[test]
fn overrides_take_the_place_of_the_weekday() {
    let mut rules = AvailabilityRules {
        weekly: WeeklyRules::every_day(&[window("09:00", "17:00")]),
        ..AvailabilityRules::default()
    };
    rules.overrides.insert(date(2026, 6, 10), Override::Blocked);
    rules.overrides.insert(
        date(2026, 6, 11),
        Override::Windows(vec![window("06:00", "07:00")]),
    );
    assert_eq!(
        rules.windows_on(date(2026, 6, 9)),
        [window("09:00", "17:00")]
    );
    assert_eq!(rules.windows_on(date(2026, 6, 10)), []);
    assert_eq!(
        rules.windows_on(date(2026, 6, 11)),
        [window("06:00", "07:00")]
    );
}
