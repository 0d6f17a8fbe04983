//! Health, and races across aggregates: concurrent writers have exactly one winner.

use crate::outbox::message;
use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------------

pub(crate) async fn the_store_answers_ping_and_names_its_adapter(store: &Store) {
    store.ping().await.unwrap();
    assert!(
        matches!(store.adapter(), "sqlite" | "mongodb"),
        "{}",
        store.adapter()
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

pub(crate) async fn concurrent_inserts_with_one_email_have_exactly_one_winner(store: &Store) {
    let users: Vec<User> = (0..20)
        .map(|i| {
            let address = if i % 2 == 0 {
                "same.person@example.com"
            } else {
                " Same.Person@EXAMPLE.com"
            };
            new_user(address, Role::Influencer)
        })
        .collect();
    let results = concurrently(users.len(), |i| {
        let store = store.clone();
        let user = users[i].clone();
        async move {
            let profile = NewProfile::Influencer(influencer_profile(&user.id));
            store.users.insert(&user, &profile).await
        }
    })
    .await;

    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(Constraint::UserEmail))))
        .count();
    assert_eq!(conflicts, 19, "{results:?}");

    let winner = &users[winners[0]];
    assert_eq!(
        store.users.find_by_email(&winner.email).await.unwrap(),
        Some(winner.clone())
    );
    for (i, user) in users.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(store.users.find_by_id(&user.id).await.unwrap(), None);
            assert_eq!(store.profiles.influencer(&user.id).await.unwrap(), None);
        }
    }
}

pub(crate) async fn concurrent_rotations_of_one_token_have_exactly_one_winner(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let family_id = family();
    let presented = insert_token(store, &user.id, &family_id).await;
    let nexts: Vec<RefreshToken> = (0..10)
        .map(|_| refresh_token(&user.id, &family_id, now()))
        .collect();

    let rotations = concurrently(nexts.len(), |i| {
        let store = store.clone();
        let presented = presented.token_hash.clone();
        let next = nexts[i].clone();
        async move { rotate(&store, &presented, &next, now()).await }
    })
    .await;

    let rotated = rotations
        .iter()
        .filter(|r| {
            **r == Rotation::Rotated {
                user_id: user.id.clone(),
            }
        })
        .count();
    let reused = rotations
        .iter()
        .filter(|r| {
            **r == Rotation::Reused {
                user_id: user.id.clone(),
                family_id: family_id.clone(),
            }
        })
        .count();
    assert_eq!((rotated, reused), (1, 9), "{rotations:?}");
    // Reuse was detected, so the whole family is dead, the winner's new token included.
    assert!(!is_live(store, &presented).await);
    for next in &nexts {
        assert!(!is_live(store, next).await);
    }
}

pub(crate) async fn concurrent_completions_of_one_reset_token_have_exactly_one_winner(
    store: &Store,
) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let (hash, _) = insert_reset(store, &user.id).await;
    let change = sessions_end(store, &user.id, now()).await;

    let results = concurrently(10, |_| {
        let store = store.clone();
        let hash = hash.clone();
        let change = change.clone();
        let job = message("user.sessions_ended", now());
        async move {
            store
                .password_resets
                .complete(&hash, &change, NEW_HASH, &[job])
                .await
                .unwrap()
        }
    })
    .await;

    let winners: Vec<_> = results.iter().flatten().map(|u| &u.id).collect();
    assert_eq!(winners, vec![&user.id], "{results:?}");
    assert_eq!(store.outbox.pending().await.unwrap(), 1);
    let stored = store.users.find_by_id(&user.id).await.unwrap().unwrap();
    assert_eq!(stored.token_version, user.token_version + 1);
}

pub(crate) async fn concurrent_status_changes_from_one_read_have_exactly_one_winner(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let change = sessions_end(store, &user.id, now()).await;

    let results = concurrently(10, |i| {
        let store = store.clone();
        let change = change.clone();
        let status = if i % 2 == 0 {
            UserStatus::Suspended
        } else {
            UserStatus::Active
        };
        let audit = audit_entry("user.status", &user.id, now());
        let job = message("user.sessions_ended", now());
        async move {
            store
                .users
                .set_status(&change, status, &audit, &[job])
                .await
        }
    })
    .await;

    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let stale = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(Constraint::StaleVersion))))
        .count();
    assert_eq!(stale, 9, "{results:?}");
    let stored = store.users.find_by_id(&user.id).await.unwrap().unwrap();
    assert_eq!(stored.token_version, 1);
    assert_eq!(audit_ids(store).await.len(), 1);
    assert_eq!(store.outbox.pending().await.unwrap(), 1);
}
