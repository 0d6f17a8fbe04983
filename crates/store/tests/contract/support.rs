//! What the cases share: test data, builders and helpers.

pub(crate) use std::{
    collections::{HashMap, HashSet},
    future::Future,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    sync::Arc,
};

pub(crate) use futures::{FutureExt, future::join_all};
pub(crate) use jiff::{
    SignedDuration, Timestamp,
    civil::{Date, date},
};
pub(crate) use noillin_domain::{
    BrandProfile, Email, InfluencerProfile, Role, SocialAccount, SocialPlatform, User, UserId,
    UserStatus,
    availability::{AvailabilityRules, DayTime, LocalWindow, Override, WeeklyRules},
    gig::{FULL_SHARE_BPS, Gig, GigId, GigMember, GigStatus, GigTerms, MemberState, Money},
    mail::{Mail, MailId, MailStatus},
    notification::{GigNotice, Notification, NotificationId, NotificationKind},
};
pub(crate) use noillin_store::{
    AuditEntry, Constraint, NewProfile, OutboxMessage, OutboxRefusal, PageRequest,
    ParkedOutboxMessage, PasswordResetRequest, RefreshToken, RefusalPolicy, Rotation, SessionsEnd,
    Store, StoreConfig, StoreError,
};
pub(crate) use tokio::sync::Barrier;

// ---------------------------------------------------------------------------------------------
// Test data
// ---------------------------------------------------------------------------------------------

/// Now, at the millisecond precision the store keeps.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_millisecond(Timestamp::now().as_millisecond()).unwrap()
}

pub(crate) fn email(raw: &str) -> Email {
    Email::parse(raw).unwrap()
}

pub(crate) fn new_user(address: &str, role: Role) -> User {
    let at = now();
    User {
        id: UserId::generate(),
        email: email(address),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        role,
        status: UserStatus::Active,
        token_version: 0,
        display_name: "Ana Silva".into(),
        created_at: at,
        updated_at: at,
    }
}

/// A profile with every field set (and no rating yet).
pub(crate) fn influencer_profile(user_id: &UserId) -> InfluencerProfile {
    InfluencerProfile {
        user_id: user_id.clone(),
        display_name: "Ana Silva".into(),
        bio: "Travel and food from Lisbon — \"slow\" trips, honest reviews.".into(),
        niches: vec!["travel".into(), "food".into()],
        languages: vec!["pt-BR".into(), "en".into()],
        location: Some("Lisbon, Portugal".into()),
        time_zone: "Europe/Lisbon".into(),
        social_accounts: vec![
            SocialAccount {
                platform: SocialPlatform::Instagram,
                handle: "@ana.silva".into(),
                followers: 120_000,
            },
            SocialAccount {
                platform: SocialPlatform::Youtube,
                handle: "AnaSilvaTravels".into(),
                // More than fits in 32 bits.
                followers: 5_000_000_000,
            },
        ],
        rating: None,
        review_count: 0,
    }
}

pub(crate) fn brand_profile(user_id: &UserId) -> BrandProfile {
    BrandProfile {
        user_id: user_id.clone(),
        company_name: "Acme Travel".into(),
        industry: "tourism".into(),
        website: Some("https://acme.example/about".into()),
        contact_name: Some("Rui Costa".into()),
    }
}

pub(crate) async fn insert_influencer(store: &Store, address: &str) -> (User, InfluencerProfile) {
    let user = new_user(address, Role::Influencer);
    let profile = influencer_profile(&user.id);
    store
        .users
        .insert(&user, &NewProfile::Influencer(profile.clone()))
        .await
        .unwrap();
    (user, profile)
}

pub(crate) async fn insert_brand(store: &Store, address: &str) -> (User, BrandProfile) {
    let mut user = new_user(address, Role::Brand);
    user.display_name = "Acme Travel".into();
    let profile = brand_profile(&user.id);
    store
        .users
        .insert(&user, &NewProfile::Brand(profile.clone()))
        .await
        .unwrap();
    (user, profile)
}

/// A fresh token hash (the store only ever sees hashes).
pub(crate) fn token_hash() -> String {
    format!("hash-{}", uuid::Uuid::new_v4().simple())
}

pub(crate) fn family() -> String {
    format!("family-{}", uuid::Uuid::new_v4().simple())
}

/// A token issued at `now` that lives for 30 days.
pub(crate) fn refresh_token(user_id: &UserId, family_id: &str, now: Timestamp) -> RefreshToken {
    RefreshToken {
        token_hash: token_hash(),
        family_id: family_id.to_owned(),
        user_id: user_id.clone(),
        issued_at: now,
        expires_at: now + SignedDuration::from_hours(24 * 30),
    }
}

pub(crate) async fn insert_token(store: &Store, user_id: &UserId, family_id: &str) -> RefreshToken {
    let token = refresh_token(user_id, family_id, now());
    store.sessions.insert(&token).await.unwrap();
    token
}

pub(crate) async fn live_family(
    store: &Store,
    token_hash: &str,
    at: Timestamp,
) -> Option<(UserId, String)> {
    store.sessions.live_family(token_hash, at).await.unwrap()
}

pub(crate) async fn rotate(
    store: &Store,
    presented_hash: &str,
    next: &RefreshToken,
    at: Timestamp,
) -> Rotation {
    store
        .sessions
        .rotate(presented_hash, next, at)
        .await
        .unwrap()
}

pub(crate) async fn is_live(store: &Store, token: &RefreshToken) -> bool {
    live_family(store, &token.token_hash, now()).await.is_some()
}

/// A reset request of `user_id` that expires in 30 minutes.
pub(crate) fn reset_request(user_id: &UserId) -> PasswordResetRequest {
    PasswordResetRequest {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.clone(),
        expires_at: now() + SignedDuration::from_mins(30),
    }
}

/// Stores a password reset request that expires in 30 minutes, with no message, and gives it a
/// token; returns the token's hash and the expiry.
pub(crate) async fn insert_reset(store: &Store, user_id: &UserId) -> (String, Timestamp) {
    let request = reset_request(user_id);
    store.password_resets.insert(&request, &[]).await.unwrap();
    let hash = token_hash();
    let stored = store
        .password_resets
        .set_token(&request.id, user_id, &hash, now())
        .await
        .unwrap();
    assert_eq!(stored, Some(request.clone()));
    (hash, request.expires_at)
}

/// The change that ends `user_id`'s sessions at `at`, made from the user as stored now (as a
/// caller reads it before writing).
pub(crate) async fn sessions_end(store: &Store, user_id: &UserId, at: Timestamp) -> SessionsEnd {
    let user = store.users.find_by_id(user_id).await.unwrap().unwrap();
    SessionsEnd {
        user_id: user.id,
        expected_token_version: user.token_version,
        at,
    }
}

/// An audit entry of `action` on `target` at `at`, by a fresh administrator.
pub(crate) fn audit_entry(action: &str, target: &UserId, at: Timestamp) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        actor: Some(UserId::generate()),
        action: action.to_owned(),
        target: format!("user:{target}"),
        at,
        details: serde_json::json!({ "note": "\"quoted\" — ünïcode", "n": 3 }),
    }
}

/// Sets the status of `user_id` from its stored state, with an audit entry and no message.
pub(crate) async fn set_status(
    store: &Store,
    user_id: &UserId,
    status: UserStatus,
    at: Timestamp,
) -> Result<User, StoreError> {
    let change = sessions_end(store, user_id, at).await;
    let audit = audit_entry("user.status", user_id, at);
    store.users.set_status(&change, status, &audit, &[]).await
}

/// The password hash a completed reset sets in these cases.
pub(crate) const NEW_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaG5ld2hhc2g";

/// Completes a reset with `token_hash` for `user_id` at `at`, from the user's stored state,
/// with no message.
pub(crate) async fn complete_reset(
    store: &Store,
    token_hash: &str,
    user_id: &UserId,
    at: Timestamp,
) -> Option<User> {
    let change = sessions_end(store, user_id, at).await;
    store
        .password_resets
        .complete(token_hash, &change, NEW_HASH, &[])
        .await
        .unwrap()
}

/// The ids of every audit entry, newest first.
pub(crate) async fn audit_ids(store: &Store) -> Vec<String> {
    let entries = store.audit_log.list(None, 100).await.unwrap();
    entries.into_iter().map(|e| e.id).collect()
}

/// Runs `n` copies of `task` on separate tasks, released together.
pub(crate) async fn concurrently<T, F, Fut>(n: usize, task: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let handles = (0..n).map(|i| {
        let barrier = barrier.clone();
        let work = task(i);
        tokio::spawn(async move {
            barrier.wait().await;
            work.await
        })
    });
    join_all(handles)
        .await
        .into_iter()
        .map(|joined| joined.unwrap())
        .collect()
}
