use jiff::civil::{Date, date};

use super::*;

fn full_rules() -> AvailabilityRules {
    let mut rules = AvailabilityRules::default();
    let mut day = date(2026, 1, 1);
    while rules.overrides.len() < MAX_OVERRIDES {
        rules.overrides.insert(day, Override::Blocked);
        day = day.tomorrow().unwrap();
    }
    rules
}

fn first_free_day(rules: &AvailabilityRules) -> Date {
    rules
        .overrides
        .keys()
        .next_back()
        .and_then(|last| last.tomorrow().ok())
        .unwrap()
}

#[test]
fn replacing_the_week_keeps_the_overrides() {
    let mut rules = AvailabilityRules::default();
    rules.overrides.insert(date(2026, 6, 10), Override::Blocked);
    let week = WeeklyRules::every_day(&[window("09:00", "17:00")]);

    rules.replace_weekly(week.clone()).unwrap();

    assert_eq!(rules.weekly, week);
    assert_eq!(rules.overrides.len(), 1);
}

#[test]
fn an_invalid_week_is_refused_and_the_old_week_stays() {
    let old = WeeklyRules::every_day(&[window("09:00", "12:00")]);
    let mut rules = AvailabilityRules {
        weekly: old.clone(),
        ..AvailabilityRules::default()
    };
    let broken = WeeklyRules {
        monday: vec![window("12:00", "10:00")],
        ..WeeklyRules::default()
    };

    let refused = rules.replace_weekly(broken).unwrap_err();

    assert_eq!(refused.0[0].field, "monday[0].end");
    assert_eq!(rules.weekly, old);
}

#[test]
fn an_override_sets_its_date_and_replaces_what_the_date_had() {
    let mut rules = AvailabilityRules::default();
    let day = date(2026, 6, 10);
    rules.set_override(day, Override::Blocked).unwrap();
    let windows = Override::Windows(vec![window("10:00", "11:00")]);

    rules.set_override(day, windows.clone()).unwrap();

    assert_eq!(rules.overrides.len(), 1);
    assert_eq!(rules.overrides[&day], windows);
}

#[test]
fn an_override_with_invalid_windows_is_refused_and_changes_nothing() {
    let mut rules = AvailabilityRules::default();

    let refused = rules
        .set_override(
            date(2026, 6, 10),
            Override::Windows(vec![window("11:00", "10:00")]),
        )
        .unwrap_err();

    let AvailabilityChangeError::Invalid(errors) = refused else {
        panic!("expected field errors, got {refused:?}");
    };
    assert_eq!(errors.0[0].field, "windows[0].end");
    assert!(rules.overrides.is_empty());
}

#[test]
fn a_new_date_past_the_override_limit_is_refused_but_a_set_date_can_change() {
    let mut rules = full_rules();
    let before = rules.clone();

    assert_eq!(
        rules.set_override(first_free_day(&rules), Override::Blocked),
        Err(AvailabilityChangeError::TooManyOverrides)
    );
    assert_eq!(rules, before);

    let windows = Override::Windows(vec![window("10:00", "11:00")]);
    rules
        .set_override(date(2026, 1, 1), windows.clone())
        .unwrap();
    assert_eq!(rules.overrides[&date(2026, 1, 1)], windows);
    assert_eq!(rules.overrides.len(), MAX_OVERRIDES);
}
