//! Refresh-token families, password resets and the session ends they cause.

use crate::outbox::{claim_all, message};
use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Refresh-token families
// ---------------------------------------------------------------------------------------------

pub(crate) async fn an_inserted_refresh_token_is_live_until_it_expires(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let family_id = family();
    let token = insert_token(store, &user.id, &family_id).await;
    let expected = Some((user.id.clone(), family_id.clone()));

    assert_eq!(live_family(store, &token.token_hash, now()).await, expected);
    let just_before = token.expires_at - SignedDuration::from_millis(1);
    assert_eq!(
        live_family(store, &token.token_hash, just_before).await,
        expected
    );
    assert_eq!(
        live_family(store, &token.token_hash, token.expires_at).await,
        None
    );
    assert_eq!(live_family(store, &token_hash(), now()).await, None);
}

pub(crate) async fn a_rotated_token_replayed_is_reuse_and_revokes_the_family(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let family_id = family();
    let first = insert_token(store, &user.id, &family_id).await;

    let second = refresh_token(&user.id, &family_id, now());
    let rotation = rotate(store, &first.token_hash, &second, now()).await;
    assert_eq!(
        rotation,
        Rotation::Rotated {
            user_id: user.id.clone()
        }
    );
    assert!(
        !is_live(store, &first).await,
        "the presented token is consumed"
    );
    assert_eq!(
        live_family(store, &second.token_hash, now()).await,
        Some((user.id.clone(), family_id.clone()))
    );

    // The consumed token comes back: replay or theft.
    let third = refresh_token(&user.id, &family_id, now());
    let replay = rotate(store, &first.token_hash, &third, now()).await;
    assert_eq!(
        replay,
        Rotation::Reused {
            user_id: user.id.clone(),
            family_id: family_id.clone()
        }
    );
    assert!(!is_live(store, &second).await, "the family is revoked");
    assert!(
        !is_live(store, &third).await,
        "the replay's token is not stored"
    );

    // The revoked (never consumed) token is merely invalid; the consumed one stays reuse.
    let fourth = refresh_token(&user.id, &family_id, now());
    assert_eq!(
        rotate(store, &second.token_hash, &fourth, now()).await,
        Rotation::Invalid
    );
    assert_eq!(
        rotate(store, &first.token_hash, &fourth, now()).await,
        Rotation::Reused {
            user_id: user.id.clone(),
            family_id
        }
    );
    assert!(!is_live(store, &fourth).await);
}

pub(crate) async fn a_rotated_token_keeps_the_presented_family_and_user(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let (other, _) = insert_brand(store, "acme@example.com").await;
    let family_id = family();
    let presented = insert_token(store, &user.id, &family_id).await;

    // A caller that puts another family and user in `next` is not trusted.
    let next = refresh_token(&other.id, "someone-elses-family", now());
    assert_eq!(
        rotate(store, &presented.token_hash, &next, now()).await,
        Rotation::Rotated {
            user_id: user.id.clone()
        }
    );
    assert_eq!(
        live_family(store, &next.token_hash, now()).await,
        Some((user.id.clone(), family_id.clone()))
    );

    // And it rotates on within that family.
    let after = refresh_token(&user.id, &family_id, now());
    assert_eq!(
        rotate(store, &next.token_hash, &after, now()).await,
        Rotation::Rotated {
            user_id: user.id.clone()
        }
    );
    assert!(is_live(store, &after).await);
    // Revoking the family reaches the rotated tokens.
    store
        .sessions
        .revoke_family(&family_id, now())
        .await
        .unwrap();
    assert!(!is_live(store, &after).await);
}

pub(crate) async fn an_expired_refresh_token_is_invalid(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let family_id = family();
    let issued = now() - SignedDuration::from_hours(2);
    let expired = RefreshToken {
        expires_at: issued + SignedDuration::from_hours(1),
        ..refresh_token(&user.id, &family_id, issued)
    };
    store.sessions.insert(&expired).await.unwrap();

    let next = refresh_token(&user.id, &family_id, now());
    assert_eq!(
        rotate(store, &expired.token_hash, &next, now()).await,
        Rotation::Invalid
    );
    // Exactly at the expiry instant it is expired too.
    assert_eq!(
        rotate(store, &expired.token_hash, &next, expired.expires_at).await,
        Rotation::Invalid
    );
    assert!(!is_live(store, &next).await, "nothing is stored");
    // Nothing changed: before its expiry the token was, and still is, live.
    let before_expiry = expired.expires_at - SignedDuration::from_secs(1);
    assert_eq!(
        live_family(store, &expired.token_hash, before_expiry).await,
        Some((user.id, family_id))
    );
}

pub(crate) async fn an_unknown_refresh_token_is_invalid(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let next = refresh_token(&user.id, &family(), now());

    assert_eq!(
        rotate(store, &token_hash(), &next, now()).await,
        Rotation::Invalid
    );
    assert!(!is_live(store, &next).await, "nothing is stored");
}

pub(crate) async fn a_revoked_refresh_token_is_invalid(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let family_id = family();
    let token = insert_token(store, &user.id, &family_id).await;
    store
        .sessions
        .revoke_family(&family_id, now())
        .await
        .unwrap();

    let next = refresh_token(&user.id, &family_id, now());
    assert_eq!(
        rotate(store, &token.token_hash, &next, now()).await,
        Rotation::Invalid
    );
    assert!(!is_live(store, &next).await, "nothing is stored");
}

pub(crate) async fn revoking_a_family_ends_only_that_family(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let (laptop, phone) = (family(), family());
    let laptop_tokens = [
        insert_token(store, &user.id, &laptop).await,
        insert_token(store, &user.id, &laptop).await,
    ];
    let phone_token = insert_token(store, &user.id, &phone).await;

    store.sessions.revoke_family(&laptop, now()).await.unwrap();
    for token in &laptop_tokens {
        assert!(!is_live(store, token).await);
    }
    assert!(is_live(store, &phone_token).await);

    // Revoking again, or an unknown family, is harmless.
    store.sessions.revoke_family(&laptop, now()).await.unwrap();
    store
        .sessions
        .revoke_family(&family(), now())
        .await
        .unwrap();
    assert!(is_live(store, &phone_token).await);
}

pub(crate) async fn revoking_a_user_ends_every_family_of_that_user_only(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let (other, _) = insert_brand(store, "acme@example.com").await;
    let tokens = [
        insert_token(store, &user.id, &family()).await,
        insert_token(store, &user.id, &family()).await,
    ];
    let others_token = insert_token(store, &other.id, &family()).await;

    store.sessions.revoke_user(&user.id, now()).await.unwrap();
    for token in &tokens {
        assert!(!is_live(store, token).await);
        let next = refresh_token(&user.id, &token.family_id, now());
        assert_eq!(
            rotate(store, &token.token_hash, &next, now()).await,
            Rotation::Invalid
        );
    }
    assert!(is_live(store, &others_token).await);
    store
        .sessions
        .revoke_user(&UserId::generate(), now())
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Password resets
// ---------------------------------------------------------------------------------------------

pub(crate) async fn a_password_reset_token_is_single_use(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let (hash, _) = insert_reset(store, &user.id).await;
    let (other, _) = insert_reset(store, &user.id).await;

    let reset = complete_reset(store, &hash, &user.id, now()).await.unwrap();
    assert_eq!(reset.id, user.id);
    assert_eq!(complete_reset(store, &hash, &user.id, now()).await, None);
    // Other tokens are independent.
    assert!(
        complete_reset(store, &other, &user.id, now())
            .await
            .is_some()
    );
}

pub(crate) async fn completing_a_reset_sets_the_password_ends_sessions_and_stores_its_messages(
    store: &Store,
) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let token = insert_token(store, &user.id, &family()).await;
    let (hash, _) = insert_reset(store, &user.id).await;
    let at = now();
    let change = sessions_end(store, &user.id, at).await;
    let job = message("user.sessions_ended", at);

    let reset = store
        .password_resets
        .complete(&hash, &change, NEW_HASH, std::slice::from_ref(&job))
        .await
        .unwrap();

    let expected = User {
        password_hash: NEW_HASH.to_owned(),
        token_version: user.token_version + 1,
        updated_at: at,
        ..user.clone()
    };
    assert_eq!(reset, Some(expected.clone()));
    assert_eq!(
        store.users.find_by_id(&user.id).await.unwrap(),
        Some(expected)
    );
    assert!(!is_live(store, &token).await, "refresh tokens are revoked");
    assert_eq!(
        store.password_resets.live_user(&hash, now()).await.unwrap(),
        None
    );
    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, vec![job]);
}

pub(crate) async fn a_refused_reset_completion_writes_nothing(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let (other, _) = insert_brand(store, "acme@example.com").await;
    let token = insert_token(store, &user.id, &family()).await;
    let (hash, _) = insert_reset(store, &user.id).await;
    let stale = sessions_end(store, &user.id, now()).await;
    set_status(store, &user.id, UserStatus::Active, now())
        .await
        .unwrap();
    let fresh = insert_token(store, &user.id, &family()).await;
    let before = store.users.find_by_id(&user.id).await.unwrap();
    let job = || vec![message("user.sessions_ended", now())];

    // The user changed since it was read: the token stays usable.
    let result = store
        .password_resets
        .complete(&hash, &stale, NEW_HASH, &job())
        .await;
    assert!(
        matches!(result, Err(StoreError::Conflict(Constraint::StaleVersion))),
        "{result:?}"
    );
    // Another user's token: nothing.
    let others = sessions_end(store, &other.id, now()).await;
    assert_eq!(
        store
            .password_resets
            .complete(&hash, &others, NEW_HASH, &job())
            .await
            .unwrap(),
        None
    );
    // An unknown token: nothing.
    let change = sessions_end(store, &user.id, now()).await;
    assert_eq!(
        store
            .password_resets
            .complete(&token_hash(), &change, NEW_HASH, &job())
            .await
            .unwrap(),
        None
    );

    assert_eq!(store.users.find_by_id(&user.id).await.unwrap(), before);
    assert!(!is_live(store, &token).await);
    assert!(is_live(store, &fresh).await);
    assert_eq!(
        store.password_resets.live_user(&hash, now()).await.unwrap(),
        Some(user.id.clone())
    );
    assert_eq!(store.outbox.pending().await.unwrap(), 0);
    assert!(
        complete_reset(store, &hash, &user.id, now())
            .await
            .is_some()
    );
}

pub(crate) async fn an_expired_password_reset_token_is_refused(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let (hash, expires_at) = insert_reset(store, &user.id).await;

    assert_eq!(
        complete_reset(store, &hash, &user.id, expires_at).await,
        None,
        "at the expiry instant"
    );
    let later = expires_at + SignedDuration::from_secs(1);
    assert_eq!(complete_reset(store, &hash, &user.id, later).await, None);
    // Refusing it used nothing up: just before expiry it still works, once.
    let just_before = expires_at - SignedDuration::from_millis(1);
    assert!(
        complete_reset(store, &hash, &user.id, just_before)
            .await
            .is_some()
    );
}

pub(crate) async fn looking_up_a_reset_token_uses_nothing_up(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let (hash, expires_at) = insert_reset(store, &user.id).await;

    for _ in 0..2 {
        assert_eq!(
            store.password_resets.live_user(&hash, now()).await.unwrap(),
            Some(user.id.clone())
        );
    }
    assert_eq!(
        store
            .password_resets
            .live_user(&hash, expires_at)
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store
            .password_resets
            .live_user(&token_hash(), now())
            .await
            .unwrap(),
        None,
        "unknown"
    );
    assert!(
        complete_reset(store, &hash, &user.id, now())
            .await
            .is_some()
    );
    assert_eq!(
        store.password_resets.live_user(&hash, now()).await.unwrap(),
        None,
        "used"
    );
}

pub(crate) async fn a_reset_request_works_only_with_its_last_minted_token(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let request = reset_request(&user.id);
    store.password_resets.insert(&request, &[]).await.unwrap();
    let (first, second) = (token_hash(), token_hash());

    assert_eq!(
        store
            .password_resets
            .set_token(&request.id, &user.id, &first, now())
            .await
            .unwrap(),
        Some(request.clone())
    );
    assert_eq!(
        store
            .password_resets
            .set_token(&request.id, &user.id, &second, now())
            .await
            .unwrap(),
        Some(request.clone())
    );
    assert_eq!(
        store
            .password_resets
            .live_user(&first, now())
            .await
            .unwrap(),
        None,
        "replaced"
    );
    assert_eq!(
        store
            .password_resets
            .live_user(&second, now())
            .await
            .unwrap(),
        Some(user.id.clone())
    );
    assert_eq!(complete_reset(store, &first, &user.id, now()).await, None);
    assert!(
        complete_reset(store, &second, &user.id, now())
            .await
            .is_some()
    );

    // Used: no token can be minted for it any more.
    assert_eq!(
        store
            .password_resets
            .set_token(&request.id, &user.id, &token_hash(), now())
            .await
            .unwrap(),
        None
    );
    // Another user's, expired or unknown: neither.
    let fresh = reset_request(&user.id);
    store.password_resets.insert(&fresh, &[]).await.unwrap();
    assert_eq!(
        store
            .password_resets
            .set_token(&fresh.id, &UserId::generate(), &token_hash(), now())
            .await
            .unwrap(),
        None
    );
    let expiring = reset_request(&user.id);
    store.password_resets.insert(&expiring, &[]).await.unwrap();
    assert_eq!(
        store
            .password_resets
            .set_token(&expiring.id, &user.id, &token_hash(), expiring.expires_at)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .password_resets
            .set_token("no-such-request", &user.id, &token_hash(), now())
            .await
            .unwrap(),
        None
    );
}

pub(crate) async fn a_reset_request_has_no_working_token_until_one_is_minted(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    store
        .password_resets
        .insert(&reset_request(&user.id), &[])
        .await
        .unwrap();
    assert_eq!(
        store.password_resets.live_user("", now()).await.unwrap(),
        None
    );
    assert_eq!(complete_reset(store, "", &user.id, now()).await, None);
}
