//! Users and their profiles.

use crate::outbox::{claim_all, message};
use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

pub(crate) async fn a_user_is_found_by_id_and_by_email(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;

    assert_eq!(
        store.users.find_by_id(&user.id).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        store.users.find_by_email(&user.email).await.unwrap(),
        Some(user)
    );
}

pub(crate) async fn email_lookup_is_exact_on_the_normalized_address(store: &Store) {
    let (user, _) = insert_influencer(store, "ana.silva@example.com").await;

    let same = store
        .users
        .find_by_email(&email("  Ana.Silva@EXAMPLE.com "))
        .await
        .unwrap();
    assert_eq!(same.map(|u| u.id), Some(user.id));
    for other in [
        "ana@example.com",
        "ana.silva@example.co",
        "xana.silva@example.com",
    ] {
        assert_eq!(
            store.users.find_by_email(&email(other)).await.unwrap(),
            None,
            "{other}"
        );
    }
}

pub(crate) async fn unknown_users_and_profiles_are_not_found(store: &Store) {
    insert_influencer(store, "ana@example.com").await;
    let unknown = UserId::generate();

    assert_eq!(store.users.find_by_id(&unknown).await.unwrap(), None);
    assert_eq!(
        store
            .users
            .find_by_email(&email("nobody@example.com"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.profiles.influencer(&unknown).await.unwrap(), None);
    assert_eq!(store.profiles.brand(&unknown).await.unwrap(), None);
}

pub(crate) async fn a_duplicate_email_is_a_typed_conflict(store: &Store) {
    let (first, first_profile) = insert_influencer(store, "ana@example.com").await;

    // Another role, another profile, the same address in another case.
    let mut second = new_user(" ANA@Example.COM ", Role::Brand);
    second.display_name = "Impostor".into();
    let result = store
        .users
        .insert(&second, &NewProfile::Brand(brand_profile(&second.id)))
        .await;
    assert!(
        matches!(result, Err(StoreError::Conflict(Constraint::UserEmail))),
        "{result:?}"
    );

    // Nothing of the second user was written; the first is unchanged.
    assert_eq!(store.users.find_by_id(&second.id).await.unwrap(), None);
    assert_eq!(store.profiles.brand(&second.id).await.unwrap(), None);
    assert_eq!(
        store.users.find_by_email(&first.email).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.profiles.influencer(&first.id).await.unwrap(),
        Some(first_profile)
    );
    assert_eq!(store.profiles.brand(&first.id).await.unwrap(), None);
}

pub(crate) async fn a_user_without_a_profile_has_neither_profile(store: &Store) {
    let admin = new_user("admin@example.com", Role::Admin);
    store.users.insert(&admin, &NewProfile::None).await.unwrap();

    assert_eq!(
        store.users.find_by_id(&admin.id).await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(store.profiles.influencer(&admin.id).await.unwrap(), None);
    assert_eq!(store.profiles.brand(&admin.id).await.unwrap(), None);
}

pub(crate) async fn timestamps_are_kept_to_the_millisecond(store: &Store) {
    let mut user = new_user("ana@example.com", Role::Admin);
    user.created_at = Timestamp::new(1_700_000_000, 123_456_789).unwrap();
    user.updated_at = Timestamp::new(1_700_000_001, 999_999_999).unwrap();
    store.users.insert(&user, &NewProfile::None).await.unwrap();

    let found = store.users.find_by_id(&user.id).await.unwrap().unwrap();
    assert_eq!(
        found.created_at,
        Timestamp::new(1_700_000_000, 123_000_000).unwrap()
    );
    assert_eq!(
        found.updated_at,
        Timestamp::new(1_700_000_001, 999_000_000).unwrap()
    );
}

pub(crate) async fn set_status_bumps_the_token_version_by_exactly_one(store: &Store) {
    let (user, profile) = insert_influencer(store, "ana@example.com").await;
    let later = user.updated_at + SignedDuration::from_secs(60);

    let suspended = set_status(store, &user.id, UserStatus::Suspended, later)
        .await
        .unwrap();
    assert_eq!(
        suspended,
        User {
            status: UserStatus::Suspended,
            token_version: user.token_version + 1,
            updated_at: later,
            ..user.clone()
        }
    );
    assert_eq!(
        store.users.find_by_id(&user.id).await.unwrap(),
        Some(suspended)
    );

    let even_later = later + SignedDuration::from_secs(60);
    let active = set_status(store, &user.id, UserStatus::Active, even_later)
        .await
        .unwrap();
    assert_eq!(active.status, UserStatus::Active);
    assert_eq!(active.token_version, user.token_version + 2);
    assert_eq!(active.updated_at, even_later);
    // The profile is untouched.
    assert_eq!(
        store.profiles.influencer(&user.id).await.unwrap(),
        Some(profile)
    );
}

pub(crate) async fn a_status_change_ends_sessions_and_stores_its_audit_entry_and_messages_together(
    store: &Store,
) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let (other, _) = insert_brand(store, "acme@example.com").await;
    let token = insert_token(store, &user.id, &family()).await;
    let others_token = insert_token(store, &other.id, &family()).await;
    let at = now();
    let change = sessions_end(store, &user.id, at).await;
    let audit = audit_entry("user.suspended", &user.id, at);
    let job = message("user.sessions_ended", at);

    let suspended = store
        .users
        .set_status(
            &change,
            UserStatus::Suspended,
            &audit,
            std::slice::from_ref(&job),
        )
        .await
        .unwrap();

    assert_eq!(suspended.token_version, user.token_version + 1);
    assert!(!is_live(store, &token).await, "refresh tokens are revoked");
    assert!(is_live(store, &others_token).await, "only the user's");
    assert_eq!(
        store.audit_log.list(None, 10).await.unwrap(),
        vec![audit.clone()]
    );
    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, vec![job]);
}

pub(crate) async fn a_status_change_from_a_stale_read_writes_nothing(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let token = insert_token(store, &user.id, &family()).await;
    let stale = sessions_end(store, &user.id, now()).await;
    set_status(store, &user.id, UserStatus::Active, now())
        .await
        .unwrap();
    let before = store.users.find_by_id(&user.id).await.unwrap();
    let entries = audit_ids(store).await;
    // Signed in again after the first change: the refused change must leave this one alone.
    let fresh = insert_token(store, &user.id, &family()).await;

    let result = store
        .users
        .set_status(
            &stale,
            UserStatus::Suspended,
            &audit_entry("user.suspended", &user.id, now()),
            &[message("user.sessions_ended", now())],
        )
        .await;

    assert!(
        matches!(result, Err(StoreError::Conflict(Constraint::StaleVersion))),
        "{result:?}"
    );
    assert_eq!(store.users.find_by_id(&user.id).await.unwrap(), before);
    assert!(!is_live(store, &token).await);
    assert!(is_live(store, &fresh).await);
    assert_eq!(audit_ids(store).await, entries);
    assert_eq!(store.outbox.pending().await.unwrap(), 0);
}

pub(crate) async fn changing_an_unknown_user_is_not_found(store: &Store) {
    insert_influencer(store, "ana@example.com").await;
    let unknown = UserId::generate();
    let change = SessionsEnd {
        user_id: unknown.clone(),
        expected_token_version: 0,
        at: now(),
    };

    let status = store
        .users
        .set_status(
            &change,
            UserStatus::Suspended,
            &audit_entry("user.suspended", &unknown, now()),
            &[message("user.sessions_ended", now())],
        )
        .await;
    assert!(matches!(status, Err(StoreError::NotFound)), "{status:?}");
    assert_eq!(store.users.find_by_id(&unknown).await.unwrap(), None);
    assert!(audit_ids(store).await.is_empty());
    assert_eq!(store.outbox.pending().await.unwrap(), 0);
}

pub(crate) async fn an_administrator_is_created_with_its_audit_entry_or_not_at_all(store: &Store) {
    let admin = new_user("root@example.com", Role::Admin);
    let audit = audit_entry("admin.created", &admin.id, now());
    store.users.insert_admin(&admin, &audit).await.unwrap();
    assert_eq!(
        store.users.find_by_id(&admin.id).await.unwrap(),
        Some(admin)
    );
    assert_eq!(audit_ids(store).await, vec![audit.id.clone()]);

    let duplicate = new_user("root@example.com", Role::Admin);
    let result = store
        .users
        .insert_admin(
            &duplicate,
            &audit_entry("admin.created", &duplicate.id, now()),
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::Conflict(Constraint::UserEmail))),
        "{result:?}"
    );
    assert_eq!(audit_ids(store).await, vec![audit.id]);
}

pub(crate) async fn the_audit_log_pages_newest_first(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    for i in 0..5 {
        let status = if i % 2 == 0 {
            UserStatus::Suspended
        } else {
            UserStatus::Active
        };
        set_status(store, &user.id, status, now()).await.unwrap();
    }
    let all = audit_ids(store).await;
    assert_eq!(all.len(), 5);
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(all, sorted, "newest (highest id) first");

    let first = store.audit_log.list(None, 2).await.unwrap();
    let second = store.audit_log.list(Some(&first[1].id), 2).await.unwrap();
    let third = store.audit_log.list(Some(&second[1].id), 2).await.unwrap();
    let paged: Vec<String> = [first, second, third]
        .into_iter()
        .flatten()
        .map(|e| e.id)
        .collect();
    assert_eq!(paged, all);
}

pub(crate) async fn any_suspended_tells_whether_one_of_the_users_is_suspended(store: &Store) {
    let (ana, _) = insert_influencer(store, "ana@example.com").await;
    let (rui, _) = insert_influencer(store, "rui@example.com").await;
    let unknown = UserId::generate();
    let both = [ana.id.clone(), rui.id.clone(), unknown.clone()];
    assert!(!store.users.any_suspended(&both).await.unwrap());
    assert!(!store.users.any_suspended(&[]).await.unwrap());
    set_status(store, &rui.id, UserStatus::Suspended, now())
        .await
        .unwrap();
    assert!(store.users.any_suspended(&both).await.unwrap());
    assert!(
        store
            .users
            .any_suspended(std::slice::from_ref(&rui.id))
            .await
            .unwrap()
    );
    assert!(
        !store
            .users
            .any_suspended(&[ana.id.clone(), unknown])
            .await
            .unwrap()
    );
    set_status(store, &rui.id, UserStatus::Active, now())
        .await
        .unwrap();
    assert!(!store.users.any_suspended(&both).await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// Profiles
// ---------------------------------------------------------------------------------------------

pub(crate) async fn an_influencer_profile_round_trips_with_every_field(store: &Store) {
    let (user, profile) = insert_influencer(store, "ana@example.com").await;

    assert_eq!(
        store.profiles.influencer(&user.id).await.unwrap(),
        Some(profile)
    );
    assert_eq!(store.profiles.brand(&user.id).await.unwrap(), None);
}

pub(crate) async fn a_brand_profile_round_trips_with_every_field(store: &Store) {
    let (user, profile) = insert_brand(store, "acme@example.com").await;

    assert_eq!(store.profiles.brand(&user.id).await.unwrap(), Some(profile));
    assert_eq!(store.profiles.influencer(&user.id).await.unwrap(), None);

    // Optional fields may be absent.
    let (minimal_user, _) = insert_brand(store, "minimal@example.com").await;
    let minimal = BrandProfile::new(minimal_user.id.clone(), "Minimal".into());
    store.profiles.update_brand(&minimal).await.unwrap();
    assert_eq!(
        store.profiles.brand(&minimal_user.id).await.unwrap(),
        Some(minimal)
    );
}

pub(crate) async fn updating_an_influencer_profile_replaces_it(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let (other, other_profile) = insert_influencer(store, "rui@example.com").await;

    let updated = InfluencerProfile {
        display_name: "Ana S.".into(),
        bio: String::new(),
        niches: vec!["fitness".into()],
        languages: vec![],
        location: None,
        time_zone: "America/Sao_Paulo".into(),
        social_accounts: vec![SocialAccount {
            platform: SocialPlatform::Tiktok,
            handle: "anas".into(),
            followers: 0,
        }],
        rating: Some(4.75),
        review_count: 12,
        ..influencer_profile(&user.id)
    };
    let changed = message("search.influencer_changed", now());
    store
        .profiles
        .update_influencer(&updated, std::slice::from_ref(&changed))
        .await
        .unwrap();

    // Reviews own the rating: an update leaves the stored one (none yet) as it was.
    assert_eq!(
        store.profiles.influencer(&user.id).await.unwrap(),
        Some(InfluencerProfile {
            rating: None,
            review_count: 0,
            ..updated
        })
    );
    assert_eq!(
        store.outbox.pending().await.unwrap(),
        1,
        "the change's message is stored with it"
    );
    assert_eq!(
        store.profiles.influencer(&other.id).await.unwrap(),
        Some(other_profile)
    );
}

pub(crate) async fn updating_a_brand_profile_replaces_it(store: &Store) {
    let (user, _) = insert_brand(store, "acme@example.com").await;
    let (other, other_profile) = insert_brand(store, "globex@example.com").await;

    let updated = BrandProfile {
        company_name: "Acme Journeys".into(),
        industry: "travel".into(),
        website: None,
        contact_name: Some("Inês Sá".into()),
        ..brand_profile(&user.id)
    };
    store.profiles.update_brand(&updated).await.unwrap();

    assert_eq!(store.profiles.brand(&user.id).await.unwrap(), Some(updated));
    assert_eq!(
        store.profiles.brand(&other.id).await.unwrap(),
        Some(other_profile)
    );
}

pub(crate) async fn updating_a_missing_profile_is_not_found(store: &Store) {
    let (influencer, _) = insert_influencer(store, "ana@example.com").await;
    let (brand, brand_before) = insert_brand(store, "acme@example.com").await;
    let admin = new_user("admin@example.com", Role::Admin);
    store.users.insert(&admin, &NewProfile::None).await.unwrap();

    for user_id in [&UserId::generate(), &brand.id, &admin.id] {
        let result = store
            .profiles
            .update_influencer(
                &influencer_profile(user_id),
                &[message("search.influencer_changed", now())],
            )
            .await;
        assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
        // No profile was created on the way.
        assert_eq!(store.profiles.influencer(user_id).await.unwrap(), None);
    }
    for user_id in [&UserId::generate(), &influencer.id, &admin.id] {
        let result = store.profiles.update_brand(&brand_profile(user_id)).await;
        assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
        assert_eq!(store.profiles.brand(user_id).await.unwrap(), None);
    }
    assert_eq!(
        store.profiles.brand(&brand.id).await.unwrap(),
        Some(brand_before)
    );
    assert_eq!(
        store.outbox.pending().await.unwrap(),
        0,
        "a refused update stores no message"
    );
    // Nobody was renamed either.
    for user in [&influencer, &brand, &admin] {
        assert_eq!(
            store.users.find_by_id(&user.id).await.unwrap().as_ref(),
            Some(user)
        );
    }
}

pub(crate) async fn a_profiles_name_is_its_accounts_name_stored_once(store: &Store) {
    let (ana, _) = insert_influencer(store, "ana@example.com").await;
    let (acme, _) = insert_brand(store, "acme@example.com").await;
    let (rui, rui_profile) = insert_influencer(store, "rui@example.com").await;

    let renamed = InfluencerProfile {
        display_name: "Ana S.".into(),
        ..influencer_profile(&ana.id)
    };
    store
        .profiles
        .update_influencer(&renamed, &[])
        .await
        .unwrap();
    let user = store.users.find_by_id(&ana.id).await.unwrap().unwrap();
    assert_eq!(
        user.display_name, "Ana S.",
        "the account is renamed with its profile"
    );
    assert_eq!(
        store.profiles.influencer(&ana.id).await.unwrap(),
        Some(renamed)
    );

    let rebranded = BrandProfile {
        company_name: "Acme Journeys".into(),
        ..brand_profile(&acme.id)
    };
    store.profiles.update_brand(&rebranded).await.unwrap();
    let user = store.users.find_by_id(&acme.id).await.unwrap().unwrap();
    assert_eq!(user.display_name, "Acme Journeys");
    assert_eq!(
        store.profiles.brand(&acme.id).await.unwrap(),
        Some(rebranded)
    );

    // Others keep their names.
    assert_eq!(store.users.find_by_id(&rui.id).await.unwrap(), Some(rui));
    assert_eq!(
        store
            .profiles
            .influencer(&rui_profile.user_id)
            .await
            .unwrap(),
        Some(rui_profile)
    );

    // A profile created with a user carries the user's name, whatever its own field said.
    let eva = User {
        display_name: "Eva".into(),
        ..new_user("eva@example.com", Role::Influencer)
    };
    let stray = InfluencerProfile {
        display_name: "Not Eva".into(),
        ..influencer_profile(&eva.id)
    };
    store
        .users
        .insert(&eva, &NewProfile::Influencer(stray))
        .await
        .unwrap();
    let profile = store.profiles.influencer(&eva.id).await.unwrap().unwrap();
    assert_eq!(profile.display_name, "Eva");
}

pub(crate) async fn influencer_ids_page_through_influencers_only_in_id_order(store: &Store) {
    let mut influencers = Vec::new();
    for address in ["a@example.com", "b@example.com", "c@example.com"] {
        influencers.push(insert_influencer(store, address).await.0.id);
    }
    insert_brand(store, "brand@example.com").await;
    influencers.sort();

    let first = store
        .profiles
        .influencer_ids(&PageRequest {
            after: None,
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(first, influencers[..2]);
    let rest = store
        .profiles
        .influencer_ids(&PageRequest {
            after: Some(first[1].to_string()),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(rest, influencers[2..], "the brand is not listed");
}

pub(crate) async fn a_payout_account_is_set_once_and_only_for_an_influencer(store: &Store) {
    let (ana, profile) = insert_influencer(store, "ana@example.com").await;
    assert_eq!(store.profiles.payout_account(&ana.id).await.unwrap(), None);

    let first = store
        .profiles
        .set_payout_account(&ana.id, "acct_first")
        .await
        .unwrap();
    assert_eq!(first, "acct_first");
    let second = store
        .profiles
        .set_payout_account(&ana.id, "acct_second")
        .await
        .unwrap();
    assert_eq!(second, "acct_first", "the first one stays");
    assert_eq!(
        store.profiles.payout_account(&ana.id).await.unwrap(),
        Some("acct_first".into())
    );

    // A profile update keeps it.
    let edited = InfluencerProfile {
        bio: "New bio".into(),
        ..profile
    };
    store
        .profiles
        .update_influencer(&edited, &[])
        .await
        .unwrap();
    assert_eq!(
        store.profiles.payout_account(&ana.id).await.unwrap(),
        Some("acct_first".into())
    );
    assert_eq!(
        store.profiles.influencer(&ana.id).await.unwrap(),
        Some(edited)
    );

    // No influencer, no payout account.
    let (brand, _) = insert_brand(store, "brand@example.com").await;
    for user in [UserId::generate(), brand.id] {
        let result = store.profiles.set_payout_account(&user, "acct_x").await;
        assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
        assert_eq!(store.profiles.payout_account(&user).await.unwrap(), None);
    }
}
