//! Weekly availability rules and date overrides.

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------------------------

pub(crate) fn window(start: (u8, u8), end: (u8, u8)) -> LocalWindow {
    LocalWindow::new(
        DayTime::new(start.0, start.1).unwrap(),
        DayTime::new(end.0, end.1).unwrap(),
    )
}

/// Office hours on weekdays, late evenings on Friday.
pub(crate) fn office_hours() -> WeeklyRules {
    let mut weekly = WeeklyRules::every_day(&[window((9, 0), (12, 0)), window((13, 0), (17, 0))]);
    weekly.saturday.clear();
    weekly.sunday.clear();
    weekly.friday.push(window((22, 0), (24, 0)));
    weekly
}

pub(crate) fn weekends_only() -> WeeklyRules {
    WeeklyRules {
        saturday: vec![window((0, 0), (24, 0))],
        sunday: vec![window((10, 0), (18, 30))],
        ..WeeklyRules::default()
    }
}

pub(crate) fn rules(weekly: WeeklyRules, overrides: &[(Date, Override)]) -> AvailabilityRules {
    AvailabilityRules {
        weekly,
        overrides: overrides.iter().cloned().collect(),
    }
}

pub(crate) async fn set_weekly(store: &Store, user: &UserId, weekly: &WeeklyRules) {
    store.availability.set_weekly(user, weekly).await.unwrap();
}

pub(crate) async fn set_override(store: &Store, user: &UserId, day: Date, value: &Override) {
    store
        .availability
        .set_override(user, day, value)
        .await
        .unwrap();
}

pub(crate) async fn availability_never_set_is_empty(store: &Store) {
    let user = UserId::generate();

    assert_eq!(
        store.availability.get(&user).await.unwrap(),
        AvailabilityRules::default()
    );
    assert_eq!(
        store
            .availability
            .get_many(std::slice::from_ref(&user))
            .await
            .unwrap(),
        vec![(user.clone(), AvailabilityRules::default())]
    );
    let result = store
        .availability
        .remove_override(&user, date(2026, 6, 10))
        .await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_eq!(
        store.availability.get(&user).await.unwrap(),
        AvailabilityRules::default()
    );
}

pub(crate) async fn setting_weekly_windows_keeps_the_overrides(store: &Store) {
    let user = UserId::generate();
    let other = UserId::generate();
    let june_10 = date(2026, 6, 10);
    set_weekly(store, &other, &weekends_only()).await;

    set_weekly(store, &user, &office_hours()).await;
    assert_eq!(
        store.availability.get(&user).await.unwrap(),
        rules(office_hours(), &[])
    );
    set_override(store, &user, june_10, &Override::Blocked).await;
    set_weekly(store, &user, &weekends_only()).await;
    assert_eq!(
        store.availability.get(&user).await.unwrap(),
        rules(weekends_only(), &[(june_10, Override::Blocked)])
    );

    // Setting a date again replaces its override; the weekly windows stay.
    let evening = Override::Windows(vec![window((18, 0), (21, 0))]);
    set_override(store, &user, june_10, &evening).await;
    assert_eq!(
        store.availability.get(&user).await.unwrap(),
        rules(weekends_only(), &[(june_10, evening)])
    );
    // An override alone, for a user with no weekly windows yet.
    set_override(store, &other, june_10, &Override::Blocked).await;
    let newcomer = UserId::generate();
    set_override(store, &newcomer, june_10, &Override::Windows(vec![])).await;
    assert_eq!(
        store.availability.get(&newcomer).await.unwrap(),
        rules(
            WeeklyRules::default(),
            &[(june_10, Override::Windows(vec![]))]
        )
    );
    assert_eq!(
        store.availability.get(&other).await.unwrap(),
        rules(weekends_only(), &[(june_10, Override::Blocked)])
    );
}

pub(crate) async fn removing_an_override_twice_is_not_found_the_second_time(store: &Store) {
    let user = UserId::generate();
    let (june_10, june_11) = (date(2026, 6, 10), date(2026, 6, 11));
    let morning = Override::Windows(vec![window((8, 0), (11, 0))]);
    set_weekly(store, &user, &office_hours()).await;
    set_override(store, &user, june_10, &Override::Blocked).await;
    set_override(store, &user, june_11, &morning).await;

    store
        .availability
        .remove_override(&user, june_10)
        .await
        .unwrap();
    let again = store.availability.remove_override(&user, june_10).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    let never = store
        .availability
        .remove_override(&user, date(2026, 6, 12))
        .await;
    assert!(matches!(never, Err(StoreError::NotFound)), "{never:?}");
    assert_eq!(
        store.availability.get(&user).await.unwrap(),
        rules(office_hours(), &[(june_11, morning)])
    );

    store
        .availability
        .remove_override(&user, june_11)
        .await
        .unwrap();
    assert_eq!(
        store.availability.get(&user).await.unwrap(),
        rules(office_hours(), &[])
    );
}

pub(crate) async fn availability_of_several_users_is_each_users_own(store: &Store) {
    let (ana, rui, eva) = (UserId::generate(), UserId::generate(), UserId::generate());
    let june_10 = date(2026, 6, 10);
    set_weekly(store, &ana, &office_hours()).await;
    set_override(store, &ana, june_10, &Override::Blocked).await;
    set_weekly(store, &rui, &weekends_only()).await;

    let many = store
        .availability
        .get_many(&[eva.clone(), ana.clone(), rui.clone()])
        .await
        .unwrap();
    assert_eq!(many.len(), 3, "{many:?}");
    let many: HashMap<UserId, AvailabilityRules> = many.into_iter().collect();
    assert_eq!(
        many,
        HashMap::from([
            (ana, rules(office_hours(), &[(june_10, Override::Blocked)])),
            (rui.clone(), rules(weekends_only(), &[])),
            (eva.clone(), AvailabilityRules::default()),
        ])
    );
    assert_eq!(store.availability.get_many(&[]).await.unwrap(), vec![]);
    assert_eq!(
        store
            .availability
            .get_many(std::slice::from_ref(&rui))
            .await
            .unwrap(),
        vec![(rui, rules(weekends_only(), &[]))]
    );
}

pub(crate) async fn overrides_come_back_in_date_order_with_midnight_ends(store: &Store) {
    let user = UserId::generate();
    let overrides = [
        (
            date(2027, 1, 1),
            Override::Windows(vec![window((0, 0), (2, 0))]),
        ),
        (
            date(2026, 12, 31),
            Override::Windows(vec![window((22, 0), (24, 0))]),
        ),
        (date(2026, 6, 10), Override::Blocked),
        (
            date(2026, 6, 9),
            Override::Windows(vec![
                window((0, 0), (9, 30)),
                window((9, 30), (12, 0)),
                window((23, 59), (24, 0)),
            ]),
        ),
        (
            date(2028, 2, 29),
            Override::Windows(vec![window((0, 0), (24, 0))]),
        ),
        (date(2026, 2, 1), Override::Windows(vec![])),
    ];
    let weekly = WeeklyRules {
        friday: vec![window((20, 0), (24, 0))],
        saturday: vec![window((0, 0), (24, 0))],
        ..WeeklyRules::default()
    };
    set_weekly(store, &user, &weekly).await;
    for (day, value) in &overrides {
        set_override(store, &user, *day, value).await;
    }

    let stored = store.availability.get(&user).await.unwrap();
    assert_eq!(stored, rules(weekly, &overrides));
    let days: Vec<Date> = stored.overrides.keys().copied().collect();
    let mut expected_days: Vec<Date> = overrides.iter().map(|(day, _)| *day).collect();
    expected_days.sort();
    assert_eq!(days, expected_days);
    assert_eq!(
        stored.windows_on(date(2026, 12, 31)),
        &[window((22, 0), (24, 0))]
    );
}

pub(crate) async fn concurrent_overrides_of_one_user_are_all_kept(store: &Store) {
    // Never set before: the first writes race to create the user's rules.
    let user = UserId::generate();
    let value = |day: i8| Override::Windows(vec![window((u8::try_from(day).unwrap(), 0), (24, 0))]);

    let results = concurrently(21, |i| {
        let (store, user) = (store.clone(), user.clone());
        let day = i8::try_from(i).unwrap() + 1;
        async move {
            if day == 21 {
                store.availability.set_weekly(&user, &office_hours()).await
            } else {
                store
                    .availability
                    .set_override(&user, date(2026, 6, day), &value(day))
                    .await
            }
        }
    })
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let expected: Vec<(Date, Override)> = (1..=20)
        .map(|day| (date(2026, 6, day), value(day)))
        .collect();
    assert_eq!(
        store.availability.get(&user).await.unwrap(),
        rules(office_hours(), &expected)
    );
}
