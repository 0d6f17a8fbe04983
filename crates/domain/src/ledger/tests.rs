use super::*;

#[test]
fn accounts_round_trip_through_their_keys() {
    let id = UserId::generate();
    for account in [
        Account::Platform,
        Account::Influencer(id.clone()),
        Account::Brand(id),
    ] {
        assert_eq!(Account::parse(&account.key()), Some(account.clone()));
        let json = serde_json::to_value(&account).unwrap();
        assert_eq!(serde_json::from_value::<Account>(json).unwrap(), account);
    }
    assert_eq!(Account::parse("treasury:1"), None);
    assert_eq!(Account::parse("brand"), None);
}

#[test]
fn kinds_round_trip() {
    for kind in EntryKind::ALL {
        assert_eq!(EntryKind::parse(kind.as_str()), Some(kind));
    }
}

#[test]
fn leftover_units_go_to_the_largest_remainders_then_the_earlier_parts() {
    // 100 in thirds: 33.33 each, the one unit left to the first.
    assert_eq!(apportion(100, &[1, 1, 1]), vec![34, 33, 33]);
    // 10 by 1:2:3 is 1.67, 3.33, 5: the largest remainder (0.67) gets the unit.
    assert_eq!(apportion(10, &[1, 2, 3]), vec![2, 3, 5]);
    assert_eq!(apportion(0, &[5, 5]), vec![0, 0]);
    assert_eq!(apportion(7, &[0, 0]), vec![0, 0]);
    assert_eq!(apportion(7, &[0, 3]), vec![0, 7]);
}

#[test]
fn the_fee_rounds_down_and_the_rest_is_shared_exactly() {
    let owner = UserId::generate();
    let member = UserId::generate();
    // 15 % of 999 is 149.85: 149. 850 is shared 60/40: 510 and 340.
    let split = split(
        999,
        1_500,
        &[(owner.clone(), 6_000), (member.clone(), 4_000)],
    );
    assert_eq!(split.fee_minor, 149);
    assert_eq!(split.shares, vec![(owner, 510), (member, 340)]);
}

#[test]
fn a_balance_is_available_less_what_is_pending() {
    let balance = Balance {
        currency: "EUR".into(),
        balance_minor: 1_000,
        pending_minor: 300,
    };
    assert_eq!(balance.available_minor(), 700);
}
