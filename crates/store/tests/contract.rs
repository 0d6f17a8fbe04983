//! The store contract: one set of cases, run against every adapter.
//!
//! Each case is an `async fn(&Store)`; the `contract!` macro turns every case into one
//! `#[tokio::test]` per adapter (`sqlite::<case>`, `mongo::<case>`). SQLite runs always, each
//! test on a fresh temporary directory. MongoDB runs on demand (`--run-ignored`/`--ignored`)
//! against `MONGO_URI`, each test in a fresh database `noillin_contract_<uuid>` that is dropped
//! afterwards. Timestamps are built at millisecond precision, the precision both adapters keep.

// Test code throughout (the cases are plain async fns, so clippy's allow-unwrap-in-tests does
// not see them as tests): an unwrap is an assertion here.
#![allow(clippy::unwrap_used)]

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    sync::Arc,
};

use futures::{FutureExt, future::join_all};
use jiff::{
    SignedDuration, Timestamp,
    civil::{Date, date},
};
use noillin_domain::{
    BrandProfile, Email, InfluencerProfile, Role, SocialAccount, SocialPlatform, User, UserId,
    UserStatus,
    availability::{AvailabilityRules, DayTime, LocalWindow, Override, WeeklyRules},
    gig::{FULL_SHARE_BPS, Gig, GigId, GigMember, GigStatus, GigTerms, MemberState, Money},
    mail::{Mail, MailId, MailStatus},
    notification::{GigNotice, Notification, NotificationId, NotificationKind},
};
use noillin_store::{
    AuditEntry, Constraint, NewProfile, OutboxMessage, OutboxRefusal, PageRequest,
    ParkedOutboxMessage, PasswordResetRequest, RefreshToken, RefusalPolicy, Rotation, SessionsEnd,
    Store, StoreConfig, StoreError,
};
use tokio::sync::Barrier;

// ---------------------------------------------------------------------------------------------
// Test data
// ---------------------------------------------------------------------------------------------

/// Now, at the millisecond precision the store keeps.
fn now() -> Timestamp {
    Timestamp::from_millisecond(Timestamp::now().as_millisecond()).unwrap()
}

fn email(raw: &str) -> Email {
    Email::parse(raw).unwrap()
}

fn new_user(address: &str, role: Role) -> User {
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
fn influencer_profile(user_id: &UserId) -> InfluencerProfile {
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

fn brand_profile(user_id: &UserId) -> BrandProfile {
    BrandProfile {
        user_id: user_id.clone(),
        company_name: "Acme Travel".into(),
        industry: "tourism".into(),
        website: Some("https://acme.example/about".into()),
        contact_name: Some("Rui Costa".into()),
    }
}

async fn insert_influencer(store: &Store, address: &str) -> (User, InfluencerProfile) {
    let user = new_user(address, Role::Influencer);
    let profile = influencer_profile(&user.id);
    store
        .users
        .insert(&user, &NewProfile::Influencer(profile.clone()))
        .await
        .unwrap();
    (user, profile)
}

async fn insert_brand(store: &Store, address: &str) -> (User, BrandProfile) {
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
fn token_hash() -> String {
    format!("hash-{}", uuid::Uuid::new_v4().simple())
}

fn family() -> String {
    format!("family-{}", uuid::Uuid::new_v4().simple())
}

/// A token issued at `now` that lives for 30 days.
fn refresh_token(user_id: &UserId, family_id: &str, now: Timestamp) -> RefreshToken {
    RefreshToken {
        token_hash: token_hash(),
        family_id: family_id.to_owned(),
        user_id: user_id.clone(),
        issued_at: now,
        expires_at: now + SignedDuration::from_hours(24 * 30),
    }
}

async fn insert_token(store: &Store, user_id: &UserId, family_id: &str) -> RefreshToken {
    let token = refresh_token(user_id, family_id, now());
    store.sessions.insert(&token).await.unwrap();
    token
}

async fn live_family(store: &Store, token_hash: &str, at: Timestamp) -> Option<(UserId, String)> {
    store.sessions.live_family(token_hash, at).await.unwrap()
}

async fn rotate(
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

async fn is_live(store: &Store, token: &RefreshToken) -> bool {
    live_family(store, &token.token_hash, now()).await.is_some()
}

/// A reset request of `user_id` that expires in 30 minutes.
fn reset_request(user_id: &UserId) -> PasswordResetRequest {
    PasswordResetRequest {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.clone(),
        expires_at: now() + SignedDuration::from_mins(30),
    }
}

/// Stores a password reset request that expires in 30 minutes, with no message, and gives it a
/// token; returns the token's hash and the expiry.
async fn insert_reset(store: &Store, user_id: &UserId) -> (String, Timestamp) {
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
async fn sessions_end(store: &Store, user_id: &UserId, at: Timestamp) -> SessionsEnd {
    let user = store.users.find_by_id(user_id).await.unwrap().unwrap();
    SessionsEnd {
        user_id: user.id,
        expected_token_version: user.token_version,
        at,
    }
}

/// An audit entry of `action` on `target` at `at`, by a fresh administrator.
fn audit_entry(action: &str, target: &UserId, at: Timestamp) -> AuditEntry {
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
async fn set_status(
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
const NEW_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaG5ld2hhc2g";

/// Completes a reset with `token_hash` for `user_id` at `at`, from the user's stored state,
/// with no message.
async fn complete_reset(
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
async fn audit_ids(store: &Store) -> Vec<String> {
    let entries = store.audit_log.list(None, 100).await.unwrap();
    entries.into_iter().map(|e| e.id).collect()
}

/// Runs `n` copies of `task` on separate tasks, released together.
async fn concurrently<T, F, Fut>(n: usize, task: F) -> Vec<T>
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

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

async fn a_user_is_found_by_id_and_by_email(store: &Store) {
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

async fn email_lookup_is_exact_on_the_normalized_address(store: &Store) {
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

async fn unknown_users_and_profiles_are_not_found(store: &Store) {
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

async fn a_duplicate_email_is_a_typed_conflict(store: &Store) {
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

async fn a_user_without_a_profile_has_neither_profile(store: &Store) {
    let admin = new_user("admin@example.com", Role::Admin);
    store.users.insert(&admin, &NewProfile::None).await.unwrap();

    assert_eq!(
        store.users.find_by_id(&admin.id).await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(store.profiles.influencer(&admin.id).await.unwrap(), None);
    assert_eq!(store.profiles.brand(&admin.id).await.unwrap(), None);
}

async fn timestamps_are_kept_to_the_millisecond(store: &Store) {
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

async fn set_status_bumps_the_token_version_by_exactly_one(store: &Store) {
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

async fn a_status_change_ends_sessions_and_stores_its_audit_entry_and_messages_together(
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

async fn a_status_change_from_a_stale_read_writes_nothing(store: &Store) {
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

async fn changing_an_unknown_user_is_not_found(store: &Store) {
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

async fn an_administrator_is_created_with_its_audit_entry_or_not_at_all(store: &Store) {
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

async fn the_audit_log_pages_newest_first(store: &Store) {
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

async fn any_suspended_tells_whether_one_of_the_users_is_suspended(store: &Store) {
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

async fn an_influencer_profile_round_trips_with_every_field(store: &Store) {
    let (user, profile) = insert_influencer(store, "ana@example.com").await;

    assert_eq!(
        store.profiles.influencer(&user.id).await.unwrap(),
        Some(profile)
    );
    assert_eq!(store.profiles.brand(&user.id).await.unwrap(), None);
}

async fn a_brand_profile_round_trips_with_every_field(store: &Store) {
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

async fn updating_an_influencer_profile_replaces_it(store: &Store) {
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
    store.profiles.update_influencer(&updated).await.unwrap();

    assert_eq!(
        store.profiles.influencer(&user.id).await.unwrap(),
        Some(updated)
    );
    assert_eq!(
        store.profiles.influencer(&other.id).await.unwrap(),
        Some(other_profile)
    );
}

async fn updating_a_brand_profile_replaces_it(store: &Store) {
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

async fn updating_a_missing_profile_is_not_found(store: &Store) {
    let (influencer, _) = insert_influencer(store, "ana@example.com").await;
    let (brand, brand_before) = insert_brand(store, "acme@example.com").await;
    let admin = new_user("admin@example.com", Role::Admin);
    store.users.insert(&admin, &NewProfile::None).await.unwrap();

    for user_id in [&UserId::generate(), &brand.id, &admin.id] {
        let result = store
            .profiles
            .update_influencer(&influencer_profile(user_id))
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
    // Nobody was renamed either.
    for user in [&influencer, &brand, &admin] {
        assert_eq!(
            store.users.find_by_id(&user.id).await.unwrap().as_ref(),
            Some(user)
        );
    }
}

async fn a_profiles_name_is_its_accounts_name_stored_once(store: &Store) {
    let (ana, _) = insert_influencer(store, "ana@example.com").await;
    let (acme, _) = insert_brand(store, "acme@example.com").await;
    let (rui, rui_profile) = insert_influencer(store, "rui@example.com").await;

    let renamed = InfluencerProfile {
        display_name: "Ana S.".into(),
        ..influencer_profile(&ana.id)
    };
    store.profiles.update_influencer(&renamed).await.unwrap();
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

// ---------------------------------------------------------------------------------------------
// Refresh-token families
// ---------------------------------------------------------------------------------------------

async fn an_inserted_refresh_token_is_live_until_it_expires(store: &Store) {
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

async fn a_rotated_token_replayed_is_reuse_and_revokes_the_family(store: &Store) {
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

async fn a_rotated_token_keeps_the_presented_family_and_user(store: &Store) {
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

async fn an_expired_refresh_token_is_invalid(store: &Store) {
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

async fn an_unknown_refresh_token_is_invalid(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let next = refresh_token(&user.id, &family(), now());

    assert_eq!(
        rotate(store, &token_hash(), &next, now()).await,
        Rotation::Invalid
    );
    assert!(!is_live(store, &next).await, "nothing is stored");
}

async fn a_revoked_refresh_token_is_invalid(store: &Store) {
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

async fn revoking_a_family_ends_only_that_family(store: &Store) {
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

async fn revoking_a_user_ends_every_family_of_that_user_only(store: &Store) {
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

async fn a_password_reset_token_is_single_use(store: &Store) {
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

async fn completing_a_reset_sets_the_password_ends_sessions_and_stores_its_messages(store: &Store) {
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

async fn a_refused_reset_completion_writes_nothing(store: &Store) {
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

async fn an_expired_password_reset_token_is_refused(store: &Store) {
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

async fn looking_up_a_reset_token_uses_nothing_up(store: &Store) {
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

async fn a_reset_request_works_only_with_its_last_minted_token(store: &Store) {
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

async fn a_reset_request_has_no_working_token_until_one_is_minted(store: &Store) {
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

// ---------------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------------

async fn the_store_answers_ping_and_names_its_adapter(store: &Store) {
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

async fn concurrent_inserts_with_one_email_have_exactly_one_winner(store: &Store) {
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

async fn concurrent_rotations_of_one_token_have_exactly_one_winner(store: &Store) {
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

async fn concurrent_completions_of_one_reset_token_have_exactly_one_winner(store: &Store) {
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

async fn concurrent_status_changes_from_one_read_have_exactly_one_winner(store: &Store) {
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

// ---------------------------------------------------------------------------------------------
// Gigs
// ---------------------------------------------------------------------------------------------

fn member(user_id: &UserId, share_bps: u32, state: MemberState) -> GigMember {
    GigMember {
        user_id: user_id.clone(),
        share_bps,
        state,
    }
}

/// A draft single gig of `owner` at version 1, the owner its only member.
fn single_gig(owner: &UserId) -> Gig {
    let at = now();
    Gig {
        id: GigId::generate(),
        owner_id: owner.clone(),
        title: "Story feature".into(),
        description: String::new(),
        deliverables: vec!["3 stories".into()],
        platform: SocialPlatform::Instagram,
        category: "sportswear".into(),
        price: Money {
            amount_minor: 45_000,
            currency: "EUR".into(),
        },
        terms: GigTerms {
            duration_minutes: 60,
            interval_minutes: None,
            buffer_before_minutes: 0,
            buffer_after_minutes: 15,
            min_notice_minutes: 120,
            horizon_days: 60,
            max_per_day: None,
        },
        status: GigStatus::Draft,
        members: vec![member(owner, FULL_SHARE_BPS, MemberState::Accepted)],
        version: 1,
        created_at: at,
        updated_at: at,
    }
}

/// A draft group gig of `owner` with `others` as further members, 1,000 bps each.
fn group_gig(owner: &UserId, others: &[(&UserId, MemberState)]) -> Gig {
    let mut gig = single_gig(owner);
    let others_share: u32 = 1_000 * u32::try_from(others.len()).unwrap();
    gig.members[0].share_bps = FULL_SHARE_BPS - others_share;
    gig.members.extend(
        others
            .iter()
            .map(|(user_id, state)| member(user_id, 1_000, *state)),
    );
    gig
}

fn with_status(mut gig: Gig, status: GigStatus) -> Gig {
    gig.status = status;
    gig
}

fn page(after: Option<&GigId>, limit: u32) -> PageRequest {
    PageRequest {
        after: after.map(|id| id.as_str().to_owned()),
        limit,
    }
}

fn gig_ids(gigs: &[Gig]) -> Vec<GigId> {
    gigs.iter().map(|gig| gig.id.clone()).collect()
}

fn sorted(mut ids: Vec<GigId>) -> Vec<GigId> {
    ids.sort();
    ids
}

async fn members_gigs(store: &Store, user: &UserId, page: &PageRequest) -> Vec<Gig> {
    store.gigs.list_for_member(user, page).await.unwrap()
}

async fn insert_gigs(store: &Store, gigs: &[&Gig]) {
    for gig in gigs {
        store.gigs.insert(gig, &[]).await.unwrap();
    }
}

/// Every page of `list` from the start, with `limit` per page; panics past `max_pages`.
async fn all_pages<F, Fut>(limit: u32, max_pages: usize, list: F) -> (Vec<usize>, Vec<GigId>)
where
    F: Fn(PageRequest) -> Fut,
    Fut: Future<Output = Vec<Gig>>,
{
    let (mut sizes, mut ids) = (Vec::new(), Vec::<GigId>::new());
    loop {
        let gigs = list(page(ids.last(), limit)).await;
        if gigs.is_empty() {
            return (sizes, ids);
        }
        sizes.push(gigs.len());
        ids.extend(gig_ids(&gigs));
        assert!(sizes.len() <= max_pages, "paging does not end: {sizes:?}");
    }
}

async fn a_group_gig_round_trips_with_every_field(store: &Store) {
    let owner = UserId::generate();
    let (invited, declined) = (UserId::generate(), UserId::generate());
    let created_at = now();
    let gig = Gig {
        title: "Tripla: três vozes, um reel".into(),
        description: "Three \"honest\" takes — filmed in Lisbon.\nNo filters, no scripts.".into(),
        deliverables: vec![
            "1 reel".into(),
            "3 stories".into(),
            "1 carousel, 5 photos".into(),
        ],
        platform: SocialPlatform::Tiktok,
        category: "travel".into(),
        price: Money {
            amount_minor: 1_250_000,
            currency: "JPY".into(),
        },
        terms: GigTerms {
            duration_minutes: 90,
            interval_minutes: Some(30),
            buffer_before_minutes: 10,
            buffer_after_minutes: 20,
            min_notice_minutes: 1_440,
            horizon_days: 120,
            max_per_day: Some(2),
        },
        status: GigStatus::Published,
        members: vec![
            member(&owner, 5_000, MemberState::Accepted),
            member(&invited, 3_000, MemberState::Invited),
            member(&declined, 2_000, MemberState::Declined),
        ],
        // More than fits in 32 bits.
        version: 5_000_000_000,
        created_at,
        updated_at: created_at + SignedDuration::from_millis(1_500),
        ..single_gig(&owner)
    };
    let single = single_gig(&owner);
    insert_gigs(store, &[&gig, &single]).await;

    assert_eq!(store.gigs.find(&gig.id).await.unwrap(), Some(gig));
    // Optional terms absent, a draft, no description.
    assert_eq!(store.gigs.find(&single.id).await.unwrap(), Some(single));
    assert_eq!(store.gigs.find(&GigId::generate()).await.unwrap(), None);
}

async fn a_gig_update_is_a_compare_and_swap_on_the_version(store: &Store) {
    let owner = UserId::generate();
    let joiner = UserId::generate();
    let original = single_gig(&owner);
    store.gigs.insert(&original, &[]).await.unwrap();

    // Read version 1, changed, written as version 2.
    let changed = Gig {
        title: "Story feature, extended".into(),
        status: GigStatus::Published,
        members: vec![
            member(&owner, 7_000, MemberState::Accepted),
            member(&joiner, 3_000, MemberState::Invited),
        ],
        version: 2,
        updated_at: original.updated_at + SignedDuration::from_secs(60),
        ..original.clone()
    };
    store.gigs.update(&changed, &[]).await.unwrap();
    assert_eq!(
        store.gigs.find(&original.id).await.unwrap(),
        Some(changed.clone())
    );
    // The new member sees the gig: the membership follows the update.
    let joined = members_gigs(store, &joiner, &page(None, 10)).await;
    assert_eq!(joined, vec![changed.clone()]);

    // Another writer that read version 1 too, one that skipped a version, one at version 0.
    for version in [2, 4, 0] {
        let stale = Gig {
            title: "a lost update".into(),
            members: vec![member(&owner, FULL_SHARE_BPS, MemberState::Accepted)],
            version,
            ..original.clone()
        };
        let result = store.gigs.update(&stale, &[]).await;
        assert!(
            matches!(result, Err(StoreError::Conflict(Constraint::StaleVersion))),
            "version {version}: {result:?}"
        );
    }
    // Nothing changed, the membership included.
    assert_eq!(
        store.gigs.find(&original.id).await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(
        gig_ids(&members_gigs(store, &joiner, &page(None, 10)).await),
        vec![original.id.clone()]
    );

    // The next change, from version 2, succeeds; a member that left no longer sees the gig.
    let archived = Gig {
        status: GigStatus::Archived,
        members: vec![member(&owner, FULL_SHARE_BPS, MemberState::Accepted)],
        version: 3,
        ..changed.clone()
    };
    store.gigs.update(&archived, &[]).await.unwrap();
    assert_eq!(
        store.gigs.find(&original.id).await.unwrap(),
        Some(archived.clone())
    );
    assert_eq!(members_gigs(store, &joiner, &page(None, 10)).await, vec![]);

    let unknown = Gig {
        id: GigId::generate(),
        ..changed
    };
    let result = store.gigs.update(&unknown, &[]).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_eq!(store.gigs.find(&unknown.id).await.unwrap(), None);
}

async fn concurrent_gig_updates_from_one_read_have_exactly_one_winner(store: &Store) {
    let owner = UserId::generate();
    let gig = single_gig(&owner);
    store.gigs.insert(&gig, &[]).await.unwrap();

    let results = concurrently(10, |i| {
        let store = store.clone();
        let next = Gig {
            title: format!("edit {i}"),
            version: 2,
            ..gig.clone()
        };
        async move {
            let result = store.gigs.update(&next, &[]).await;
            (next.title, result)
        }
    })
    .await;

    let winners: Vec<&String> = results
        .iter()
        .filter(|(_, result)| result.is_ok())
        .map(|(title, _)| title)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let stale = results
        .iter()
        .filter(|(_, r)| matches!(r, Err(StoreError::Conflict(Constraint::StaleVersion))))
        .count();
    assert_eq!(stale, 9, "{results:?}");
    let stored = store.gigs.find(&gig.id).await.unwrap().unwrap();
    assert_eq!((&stored.title, stored.version), (winners[0], 2));
}

async fn a_members_gigs_are_the_owned_and_joined_ones_in_id_order(store: &Store) {
    let (ana, rui, eva) = (UserId::generate(), UserId::generate(), UserId::generate());
    let owned = single_gig(&ana);
    let invited_to = group_gig(&rui, &[(&ana, MemberState::Invited)]);
    let declined = with_status(
        group_gig(&eva, &[(&ana, MemberState::Declined)]),
        GigStatus::Archived,
    );
    let ruis_own = with_status(single_gig(&rui), GigStatus::Published);
    let eva_with_rui = with_status(
        group_gig(&eva, &[(&rui, MemberState::Accepted)]),
        GigStatus::Published,
    );
    // The store does not validate: an owner left out of `members` still owns the gig.
    let ownerless_owner = UserId::generate();
    let mut ownerless = single_gig(&ownerless_owner);
    ownerless.members = vec![member(&eva, FULL_SHARE_BPS, MemberState::Accepted)];
    // Inserted out of id order.
    insert_gigs(
        store,
        &[
            &ownerless,
            &eva_with_rui,
            &ruis_own,
            &declined,
            &invited_to,
            &owned,
        ],
    )
    .await;

    let anas = members_gigs(store, &ana, &page(None, 100)).await;
    assert_eq!(
        gig_ids(&anas),
        sorted(vec![
            owned.id.clone(),
            invited_to.id.clone(),
            declined.id.clone()
        ])
    );
    assert!(anas.contains(&declined), "whole gigs come back");
    let ruis = members_gigs(store, &rui, &page(None, 100)).await;
    assert_eq!(
        gig_ids(&ruis),
        sorted(vec![
            invited_to.id.clone(),
            ruis_own.id.clone(),
            eva_with_rui.id.clone()
        ])
    );
    let evas = members_gigs(store, &eva, &page(None, 100)).await;
    assert_eq!(
        gig_ids(&evas),
        sorted(vec![declined.id, eva_with_rui.id, ownerless.id.clone()])
    );
    let owners = members_gigs(store, &ownerless_owner, &page(None, 100)).await;
    assert_eq!(owners, vec![ownerless]);
    assert_eq!(
        members_gigs(store, &UserId::generate(), &page(None, 100)).await,
        vec![]
    );
}

async fn paging_through_a_members_gigs_returns_each_once(store: &Store) {
    let ana = UserId::generate();
    let others = [UserId::generate(), UserId::generate(), UserId::generate()];
    let states = [
        MemberState::Invited,
        MemberState::Accepted,
        MemberState::Declined,
    ];
    let mut expected = Vec::new();
    for i in 0..25 {
        let other = &others[i % 3];
        let gig = if i % 4 == 0 {
            single_gig(&ana)
        } else {
            group_gig(other, &[(&ana, states[i % 3])])
        };
        // Someone else's gig in between.
        let noise = single_gig(other);
        insert_gigs(store, &[&gig, &noise]).await;
        expected.push(gig.id);
    }
    let expected = sorted(expected);

    let (sizes, ids) = all_pages(10, 4, |page| {
        let (store, ana) = (store.clone(), ana.clone());
        async move { members_gigs(&store, &ana, &page).await }
    })
    .await;
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(ids, expected, "each once, in id order");

    // A page starts right after the given id; a limit of 0 is an empty page.
    let middle = members_gigs(store, &ana, &page(Some(&expected[11]), 3)).await;
    assert_eq!(gig_ids(&middle), expected[12..15].to_vec());
    assert_eq!(members_gigs(store, &ana, &page(None, 0)).await, vec![]);
    assert_eq!(
        members_gigs(store, &ana, &page(expected.last(), 10)).await,
        vec![]
    );
}

async fn only_published_gigs_are_listed_as_published(store: &Store) {
    let owners = [UserId::generate(), UserId::generate()];
    let statuses = [GigStatus::Draft, GigStatus::Published, GigStatus::Archived];
    let mut published = Vec::new();
    for i in 0..12 {
        let owner = &owners[i % 2];
        let gig = if i % 5 == 0 {
            group_gig(owner, &[(&owners[(i + 1) % 2], MemberState::Accepted)])
        } else {
            single_gig(owner)
        };
        let gig = with_status(gig, statuses[i % 3]);
        store.gigs.insert(&gig, &[]).await.unwrap();
        if gig.status == GigStatus::Published {
            published.push(gig);
        }
    }
    // A draft published later by an update is listed from then on.
    let later = single_gig(&owners[0]);
    store.gigs.insert(&later, &[]).await.unwrap();
    let later = Gig {
        status: GigStatus::Published,
        version: 2,
        ..later
    };
    store.gigs.update(&later, &[]).await.unwrap();
    published.push(later);
    published.sort_by(|a, b| a.id.cmp(&b.id));

    let listed = store.gigs.list_published(&page(None, 100)).await.unwrap();
    assert_eq!(listed, published);

    let (sizes, ids) = all_pages(2, 10, |page| {
        let store = store.clone();
        async move { store.gigs.list_published(&page).await.unwrap() }
    })
    .await;
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(ids, gig_ids(&published));
    assert_eq!(
        store.gigs.list_published(&page(None, 0)).await.unwrap(),
        vec![]
    );
}

async fn published_gigs_leave_the_listing_while_their_owner_or_a_member_is_suspended(
    store: &Store,
) {
    let (owner, _) = insert_influencer(store, "owner@example.com").await;
    let (member, _) = insert_influencer(store, "member@example.com").await;
    let (other, _) = insert_influencer(store, "other@example.com").await;
    let published = |gig: Gig| with_status(gig, GigStatus::Published);
    // The suspended owner's gigs come first in id order, so a page that skipped them without
    // filling up would show.
    let owners: Vec<Gig> = (0..4).map(|_| published(single_gig(&owner.id))).collect();
    let mut groups = Vec::new();
    let mut others = Vec::new();
    for _ in 0..3 {
        groups.push(published(group_gig(
            &other.id,
            &[(&member.id, MemberState::Accepted)],
        )));
        others.push(published(single_gig(&other.id)));
    }
    // A gig whose owner is no user of this store is listed: only a suspension hides a gig.
    let unknown_owner = published(single_gig(&UserId::generate()));
    for gig in owners.iter().chain(&groups).chain(&others) {
        store.gigs.insert(gig, &[]).await.unwrap();
    }
    store.gigs.insert(&unknown_owner, &[]).await.unwrap();
    let listing = |gigs: &[&[Gig]]| -> Vec<GigId> {
        sorted(gigs.iter().flat_map(|gigs| gig_ids(gigs)).collect())
    };
    let all_pages_of_two = || {
        all_pages(2, 20, |page| {
            let store = store.clone();
            async move { store.gigs.list_published(&page).await.unwrap() }
        })
    };

    let suspend = |user: &UserId, status: UserStatus| {
        let (store, user) = (store.clone(), user.clone());
        async move { set_status(&store, &user, status, now()).await.unwrap() }
    };
    suspend(&owner.id, UserStatus::Suspended).await;
    let expected = listing(&[&groups, &others, std::slice::from_ref(&unknown_owner)]);
    let (sizes, ids) = all_pages_of_two().await;
    assert_eq!(
        ids, expected,
        "the suspended owner's gigs are gone, each other gig once"
    );
    assert_eq!(sizes, vec![2, 2, 2, 1], "every page but the last is full");
    let first = store.gigs.list_published(&page(None, 2)).await.unwrap();
    assert_eq!(gig_ids(&first), expected[..2].to_vec());

    suspend(&member.id, UserStatus::Suspended).await;
    let (_, ids) = all_pages_of_two().await;
    assert_eq!(
        ids,
        listing(&[&others, std::slice::from_ref(&unknown_owner)]),
        "a group gig leaves with any suspended member"
    );
    // A member's own list is not a public listing: it keeps every gig.
    assert_eq!(
        members_gigs(store, &member.id, &page(None, 100)).await,
        groups
    );

    suspend(&owner.id, UserStatus::Active).await;
    suspend(&member.id, UserStatus::Active).await;
    let (_, ids) = all_pages_of_two().await;
    assert_eq!(
        ids,
        listing(&[
            &owners,
            &groups,
            &others,
            std::slice::from_ref(&unknown_owner)
        ]),
        "reinstated accounts bring their gigs back"
    );
}

// ---------------------------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------------------------

fn window(start: (u8, u8), end: (u8, u8)) -> LocalWindow {
    LocalWindow::new(
        DayTime::new(start.0, start.1).unwrap(),
        DayTime::new(end.0, end.1).unwrap(),
    )
}

/// Office hours on weekdays, late evenings on Friday.
fn office_hours() -> WeeklyRules {
    let mut weekly = WeeklyRules::every_day(&[window((9, 0), (12, 0)), window((13, 0), (17, 0))]);
    weekly.saturday.clear();
    weekly.sunday.clear();
    weekly.friday.push(window((22, 0), (24, 0)));
    weekly
}

fn weekends_only() -> WeeklyRules {
    WeeklyRules {
        saturday: vec![window((0, 0), (24, 0))],
        sunday: vec![window((10, 0), (18, 30))],
        ..WeeklyRules::default()
    }
}

fn rules(weekly: WeeklyRules, overrides: &[(Date, Override)]) -> AvailabilityRules {
    AvailabilityRules {
        weekly,
        overrides: overrides.iter().cloned().collect(),
    }
}

async fn set_weekly(store: &Store, user: &UserId, weekly: &WeeklyRules) {
    store.availability.set_weekly(user, weekly).await.unwrap();
}

async fn set_override(store: &Store, user: &UserId, day: Date, value: &Override) {
    store
        .availability
        .set_override(user, day, value)
        .await
        .unwrap();
}

async fn availability_never_set_is_empty(store: &Store) {
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

async fn setting_weekly_windows_keeps_the_overrides(store: &Store) {
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

async fn removing_an_override_twice_is_not_found_the_second_time(store: &Store) {
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

async fn availability_of_several_users_is_each_users_own(store: &Store) {
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

async fn overrides_come_back_in_date_order_with_midnight_ends(store: &Store) {
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

async fn concurrent_overrides_of_one_user_are_all_kept(store: &Store) {
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

// ---------------------------------------------------------------------------------------------
// Outbox
// ---------------------------------------------------------------------------------------------

/// A message created at `at`, with a fresh UUIDv7 id.
fn message(routing_key: &str, at: Timestamp) -> OutboxMessage {
    OutboxMessage {
        id: uuid::Uuid::now_v7().to_string(),
        routing_key: routing_key.to_owned(),
        correlation_id: Some(format!("req-{}", uuid::Uuid::new_v4().simple())),
        payload: format!(r#"{{"event":"{routing_key}","note":"\"quoted\" — ünïcode"}}"#),
        created_at: at,
    }
}

/// `n` messages in id order (the order claims return them in), created 1 ms apart.
fn messages(n: usize) -> Vec<OutboxMessage> {
    let start = now();
    let mut ids: Vec<String> = (0..n).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    ids.sort();
    ids.into_iter()
        .zip(0_i64..)
        .map(|(id, i)| OutboxMessage {
            id,
            ..message("gig.updated", start + SignedDuration::from_millis(i))
        })
        .collect()
}

fn claim_token() -> String {
    format!("claim-{}", uuid::Uuid::new_v4().simple())
}

fn ids_of(messages: &[OutboxMessage]) -> Vec<String> {
    messages.iter().map(|m| m.id.clone()).collect()
}

/// Claims every message nobody holds now, under a fresh token, for a minute.
async fn claim_all(store: &Store) -> (String, Vec<OutboxMessage>) {
    let token = claim_token();
    let at = now();
    let claimed = store
        .outbox
        .claim(&token, 10_000, at, at + SignedDuration::from_mins(1))
        .await
        .unwrap();
    (token, claimed)
}

async fn a_gig_change_and_its_messages_are_stored_together(store: &Store) {
    let gig = single_gig(&UserId::generate());
    let mut batch = messages(3);
    batch[2].correlation_id = None;
    store
        .gigs
        .insert(&gig, std::slice::from_ref(&batch[0]))
        .await
        .unwrap();
    let published = Gig {
        status: GigStatus::Published,
        version: 2,
        ..gig.clone()
    };
    store.gigs.update(&published, &batch[1..]).await.unwrap();

    assert_eq!(store.gigs.find(&gig.id).await.unwrap(), Some(published));
    assert_eq!(store.outbox.pending().await.unwrap(), 3);
    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, batch, "every field, in id order");
}

async fn a_refused_state_change_stores_no_message(store: &Store) {
    let gig = single_gig(&UserId::generate());
    store.gigs.insert(&gig, &[]).await.unwrap();
    let current = Gig {
        title: "current".into(),
        version: 2,
        ..gig.clone()
    };
    store.gigs.update(&current, &[]).await.unwrap();

    for version in [2, 5, 0] {
        let stale = Gig {
            title: "a lost update".into(),
            version,
            ..gig.clone()
        };
        let result = store.gigs.update(&stale, &messages(2)).await;
        assert!(
            matches!(result, Err(StoreError::Conflict(Constraint::StaleVersion))),
            "version {version}: {result:?}"
        );
    }
    let unknown = Gig {
        id: GigId::generate(),
        ..current.clone()
    };
    let result = store.gigs.update(&unknown, &messages(1)).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    // The same id again: the insert fails, and so does its message.
    let result = store.gigs.insert(&gig, &messages(1)).await;
    assert!(result.is_err(), "{result:?}");

    assert_eq!(store.outbox.pending().await.unwrap(), 0);
    assert_eq!(store.gigs.find(&gig.id).await.unwrap(), Some(current));
    assert_eq!(store.gigs.find(&unknown.id).await.unwrap(), None);
}

async fn a_message_that_cannot_be_stored_undoes_its_state_change(store: &Store) {
    let gig = single_gig(&UserId::generate());
    let first = message("gig.created", now());
    store
        .gigs
        .insert(&gig, std::slice::from_ref(&first))
        .await
        .unwrap();

    // A message id that is taken makes the outbox write fail after the state write succeeded.
    let next = Gig {
        title: "never visible".into(),
        version: 2,
        ..gig.clone()
    };
    let result = store.gigs.update(&next, std::slice::from_ref(&first)).await;
    assert!(result.is_err(), "{result:?}");
    let other = single_gig(&UserId::generate());
    let result = store
        .gigs
        .insert(&other, &[message("gig.created", now()), first.clone()])
        .await;
    assert!(result.is_err(), "{result:?}");

    assert_eq!(store.gigs.find(&gig.id).await.unwrap(), Some(gig));
    assert_eq!(store.gigs.find(&other.id).await.unwrap(), None);
    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, vec![first]);
}

async fn a_password_reset_and_its_mail_job_are_stored_together(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let request = reset_request(&user.id);
    let job = message("email.password_reset", now());
    store
        .password_resets
        .insert(&request, std::slice::from_ref(&job))
        .await
        .unwrap();
    let hash = token_hash();
    assert!(
        store
            .password_resets
            .set_token(&request.id, &user.id, &hash, now())
            .await
            .unwrap()
            .is_some()
    );

    // The same request id again: refused, and its mail job with it.
    let result = store
        .password_resets
        .insert(&request, &[message("email.password_reset", now())])
        .await;
    assert!(result.is_err(), "{result:?}");

    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, vec![job]);
}

async fn appended_messages_are_claimed_oldest_first_up_to_the_limit(store: &Store) {
    let batch = messages(5);
    // Appended newest first, in two calls.
    let mut reversed = batch.clone();
    reversed.reverse();
    store.outbox.append(&reversed[..2]).await.unwrap();
    store.outbox.append(&reversed[2..]).await.unwrap();
    store.outbox.append(&[]).await.unwrap();
    assert_eq!(store.outbox.pending().await.unwrap(), 5);

    let at = now();
    let lease = at + SignedDuration::from_mins(1);
    let claim = |limit| {
        let store = store.clone();
        async move {
            store
                .outbox
                .claim(&claim_token(), limit, at, lease)
                .await
                .unwrap()
        }
    };
    assert_eq!(claim(0).await, vec![]);
    assert_eq!(claim(2).await, batch[..2].to_vec());
    assert_eq!(claim(2).await, batch[2..4].to_vec());
    assert_eq!(claim(10).await, batch[4..].to_vec());
    assert_eq!(claim(10).await, vec![]);
    // Claimed is not done: they wait until completed.
    assert_eq!(store.outbox.pending().await.unwrap(), 5);
}

async fn a_claimed_message_is_held_until_its_lease_ends(store: &Store) {
    let m = message("gig.updated", now());
    store.outbox.append(std::slice::from_ref(&m)).await.unwrap();
    let t0 = now();
    let lease_end = t0 + SignedDuration::from_secs(30);
    let (first, second, third) = (claim_token(), claim_token(), claim_token());

    let claim = |token: &str, at: Timestamp| {
        let (store, token) = (store.clone(), token.to_owned());
        async move {
            store
                .outbox
                .claim(&token, 10, at, at + SignedDuration::from_secs(30))
                .await
                .unwrap()
        }
    };
    let claimed = store.outbox.claim(&first, 10, t0, lease_end).await.unwrap();
    assert_eq!(claimed, vec![m.clone()]);
    assert_eq!(claim(&second, t0).await, vec![]);
    assert_eq!(
        claim(&second, t0 + SignedDuration::from_secs(10)).await,
        vec![]
    );
    assert_eq!(
        claim(&second, lease_end).await,
        vec![],
        "ends after its last instant"
    );
    let after = lease_end + SignedDuration::from_millis(1);
    assert_eq!(claim(&third, after).await, vec![m.clone()]);
    // The new claim holds it now, not the expired one.
    assert_eq!(claim(&second, after).await, vec![]);
    assert_eq!(
        store
            .outbox
            .complete(&first, std::slice::from_ref(&m.id))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.outbox.pending().await.unwrap(), 1);
    assert_eq!(
        store
            .outbox
            .complete(&third, std::slice::from_ref(&m.id))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.outbox.pending().await.unwrap(), 0);
}

async fn only_the_holding_claim_completes_or_releases_a_message(store: &Store) {
    let batch = messages(3);
    store.outbox.append(&batch).await.unwrap();
    let at = now();
    let lease = at + SignedDuration::from_mins(5);
    let (holder, other) = (claim_token(), claim_token());
    let claimed = store.outbox.claim(&holder, 2, at, lease).await.unwrap();
    assert_eq!(claimed, batch[..2].to_vec());
    let (m1, m2) = (batch[0].id.clone(), batch[1].id.clone());

    // Another token neither deletes nor frees them.
    let both = [m1.clone(), m2.clone()];
    assert_eq!(store.outbox.complete(&other, &both).await.unwrap(), 0);
    store.outbox.release(&other, &both).await.unwrap();
    assert_eq!(store.outbox.pending().await.unwrap(), 3);
    let rest = store.outbox.claim(&other, 10, at, lease).await.unwrap();
    assert_eq!(rest, batch[2..].to_vec());

    // The holder completes one and releases the other, which is claimable at once.
    assert_eq!(
        store
            .outbox
            .complete(&holder, std::slice::from_ref(&m1))
            .await
            .unwrap(),
        1
    );
    store
        .outbox
        .release(&holder, std::slice::from_ref(&m2))
        .await
        .unwrap();
    assert_eq!(store.outbox.pending().await.unwrap(), 2);
    let third = claim_token();
    let reclaimed = store.outbox.claim(&third, 10, at, lease).await.unwrap();
    assert_eq!(reclaimed, vec![batch[1].clone()]);

    // Completing what is gone, unknown or empty deletes nothing more.
    let ids = [m1, m2, "no-such-message".to_owned()];
    assert_eq!(store.outbox.complete(&third, &ids).await.unwrap(), 1);
    assert_eq!(store.outbox.complete(&third, &ids).await.unwrap(), 0);
    assert_eq!(store.outbox.complete(&third, &[]).await.unwrap(), 0);
    assert_eq!(
        store
            .outbox
            .complete(&other, &ids_of(&batch[2..]))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.outbox.pending().await.unwrap(), 0);
}

/// Refusals hold a message back a minute, doubling up to ten; the third parks it.
fn refusal_policy() -> RefusalPolicy {
    RefusalPolicy {
        max_attempts: 3,
        first_delay: std::time::Duration::from_secs(60),
        max_delay: std::time::Duration::from_secs(600),
    }
}

fn refusal(id: &str, reason: &str) -> OutboxRefusal {
    OutboxRefusal {
        id: id.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Claims what is claimable at `at`, under a fresh token, for a minute.
async fn claim_at(store: &Store, at: Timestamp) -> (String, Vec<OutboxMessage>) {
    let token = claim_token();
    let claimed = store
        .outbox
        .claim(&token, 100, at, at + SignedDuration::from_mins(1))
        .await
        .unwrap();
    (token, claimed)
}

async fn a_refused_message_waits_its_own_delay_while_others_are_claimed(store: &Store) {
    let batch = messages(3);
    store.outbox.append(&batch).await.unwrap();
    let t0 = now();
    let (token, claimed) = claim_at(store, t0).await;
    assert_eq!(claimed, batch);
    let policy = refusal_policy();
    let refused = [refusal(&batch[0].id, "no queue is bound")];

    // A claim that does not hold the message changes nothing.
    let parked = store
        .outbox
        .refuse(&claim_token(), &refused, t0, &policy)
        .await
        .unwrap();
    assert!(parked.is_empty());
    let parked = store
        .outbox
        .refuse(&token, &refused, t0, &policy)
        .await
        .unwrap();
    assert!(parked.is_empty(), "one refusal of three parks nothing");
    store
        .outbox
        .release(&token, &ids_of(&batch[1..]))
        .await
        .unwrap();

    let (published, meanwhile) = claim_at(store, t0).await;
    assert_eq!(meanwhile, batch[1..], "the others flow at once");
    store
        .outbox
        .complete(&published, &ids_of(&meanwhile))
        .await
        .unwrap();
    let (_, early) = claim_at(store, t0 + SignedDuration::from_secs(60)).await;
    assert_eq!(early, vec![], "held back for its whole first delay");
    let (second, later) = claim_at(store, t0 + SignedDuration::from_millis(60_001)).await;
    assert_eq!(later, batch[..1]);
    assert_eq!(store.outbox.pending().await.unwrap(), 1);

    // The second refusal doubles the delay.
    let t1 = t0 + SignedDuration::from_millis(60_001);
    store
        .outbox
        .refuse(&second, &refused, t1, &policy)
        .await
        .unwrap();
    let (_, early) = claim_at(store, t1 + SignedDuration::from_secs(120)).await;
    assert_eq!(early, vec![]);
    let (_, later) = claim_at(store, t1 + SignedDuration::from_millis(120_001)).await;
    assert_eq!(later, batch[..1]);
}

async fn a_message_refused_max_attempts_times_is_parked_and_never_claimed(store: &Store) {
    let batch = messages(2);
    store.outbox.append(&batch).await.unwrap();
    let policy = refusal_policy();
    let mut at = now();
    for attempt in 1..=3 {
        let (token, claimed) = claim_at(store, at).await;
        if attempt == 1 {
            assert_eq!(claimed, batch);
            // The other message is published meanwhile.
            store
                .outbox
                .complete(&token, &ids_of(&batch[1..]))
                .await
                .unwrap();
        } else {
            assert_eq!(claimed, batch[..1], "attempt {attempt}");
        }
        let parked = store
            .outbox
            .refuse(
                &token,
                &[refusal(&batch[0].id, &format!("refusal {attempt}"))],
                at,
                &policy,
            )
            .await
            .unwrap();
        if attempt < 3 {
            assert!(parked.is_empty(), "attempt {attempt}");
            at += SignedDuration::from_hours(1);
        } else {
            assert_eq!(parked, ids_of(&batch[..1]));
        }
    }

    let (_, claimed) = claim_at(store, at + SignedDuration::from_hours(24 * 365)).await;
    assert_eq!(claimed, vec![], "a parked message is never claimed");
    assert_eq!(store.outbox.pending().await.unwrap(), 0, "nor waiting");
    assert_eq!(
        store.outbox.parked(10).await.unwrap(),
        vec![ParkedOutboxMessage {
            id: batch[0].id.clone(),
            routing_key: batch[0].routing_key.clone(),
            attempts: 3,
            reason: "refusal 3".into(),
            parked_at: at,
        }]
    );
}

async fn parked_messages_are_listed_and_a_retried_one_is_claimed_again(store: &Store) {
    let batch = messages(3);
    store.outbox.append(&batch).await.unwrap();
    let park_at_once = RefusalPolicy {
        max_attempts: 1,
        ..refusal_policy()
    };
    let t0 = now();
    for (message, at) in [
        (&batch[1], t0),
        (&batch[0], t0 + SignedDuration::from_secs(1)),
    ] {
        let token = claim_token();
        store
            .outbox
            .claim(&token, 100, at, at + SignedDuration::from_mins(1))
            .await
            .unwrap();
        let parked = store
            .outbox
            .refuse(&token, &[refusal(&message.id, "nacked")], at, &park_at_once)
            .await
            .unwrap();
        assert_eq!(parked, vec![message.id.clone()]);
        let unheld: Vec<String> = ids_of(&batch)
            .into_iter()
            .filter(|id| *id != message.id)
            .collect();
        store.outbox.release(&token, &unheld).await.unwrap();
    }

    let listed = store.outbox.parked(10).await.unwrap();
    assert_eq!(
        listed.iter().map(|p| &p.id).collect::<Vec<_>>(),
        vec![&batch[1].id, &batch[0].id],
        "longest parked first"
    );
    assert_eq!(store.outbox.parked(1).await.unwrap(), listed[..1]);
    assert!(
        listed
            .iter()
            .all(|p| p.attempts == 1 && p.reason == "nacked")
    );

    assert!(store.outbox.retry_parked(&batch[1].id).await.unwrap());
    assert!(
        !store.outbox.retry_parked(&batch[1].id).await.unwrap(),
        "no longer parked"
    );
    assert!(
        !store.outbox.retry_parked(&batch[2].id).await.unwrap(),
        "never parked"
    );
    assert!(!store.outbox.retry_parked("no-such-message").await.unwrap());
    assert_eq!(store.outbox.parked(10).await.unwrap(), listed[1..]);
    assert_eq!(store.outbox.pending().await.unwrap(), 2);

    let (token, claimed) = claim_at(store, now()).await;
    assert_eq!(
        ids_of(&claimed),
        vec![batch[1].id.clone(), batch[2].id.clone()]
    );
    // Its count starts again: one more refusal of three parks nothing.
    let parked = store
        .outbox
        .refuse(
            &token,
            &[refusal(&batch[1].id, "nacked")],
            now(),
            &refusal_policy(),
        )
        .await
        .unwrap();
    assert!(parked.is_empty());
}

/// Appends 200 messages through the first store, then drains the outbox with 4 concurrent
/// claimers (taking turns over `stores`), each claiming up to 25 at a time and completing what
/// it got; checks that every message went to exactly one claim.
async fn drain_with_concurrent_claimers(stores: &[Store]) {
    let batch = messages(200);
    for chunk in batch.chunks(50) {
        stores[0].outbox.append(chunk).await.unwrap();
    }

    // Each claimer goes on until it finds nothing to claim; one that loses a race for its
    // candidates may stop early, but then whoever won them goes on.
    let per_claimer = concurrently(4, |i| {
        let store = stores[i % stores.len()].clone();
        async move {
            let mut claims: Vec<Vec<String>> = Vec::new();
            loop {
                let token = claim_token();
                let at = now();
                let claimed = store
                    .outbox
                    .claim(&token, 25, at, at + SignedDuration::from_mins(10))
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    break;
                }
                let ids = ids_of(&claimed);
                let completed = store.outbox.complete(&token, &ids).await.unwrap();
                assert_eq!(completed, ids.len() as u64, "{ids:?}");
                claims.push(ids);
            }
            claims
        }
    })
    .await;

    let claims: Vec<&Vec<String>> = per_claimer.iter().flatten().collect();
    for ids in &claims {
        assert!(!ids.is_empty() && ids.len() <= 25, "{}", ids.len());
        assert!(ids.is_sorted(), "oldest first within a claim: {ids:?}");
    }
    let all: Vec<&String> = claims.iter().copied().flatten().collect();
    let distinct: HashSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "a message went to two claims");
    assert_eq!(
        distinct,
        batch.iter().map(|m| &m.id).collect::<HashSet<_>>()
    );
    for store in stores {
        assert_eq!(store.outbox.pending().await.unwrap(), 0);
    }
}

async fn concurrent_claimers_take_each_message_exactly_once(store: &Store) {
    drain_with_concurrent_claimers(std::slice::from_ref(store)).await;
}

async fn concurrent_gig_updates_with_messages_store_only_the_winners(store: &Store) {
    let gig = single_gig(&UserId::generate());
    store.gigs.insert(&gig, &[]).await.unwrap();
    let proposals: Vec<(Gig, OutboxMessage)> = (0..8)
        .map(|i| {
            let next = Gig {
                title: format!("edit {i}"),
                version: 2,
                ..gig.clone()
            };
            (next, message("gig.updated", now()))
        })
        .collect();

    let results = concurrently(proposals.len(), |i| {
        let store = store.clone();
        let (next, sent) = proposals[i].clone();
        async move { store.gigs.update(&next, &[sent]).await }
    })
    .await;

    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let stale = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(Constraint::StaleVersion))))
        .count();
    assert_eq!(stale, proposals.len() - 1, "{results:?}");
    let (winner, sent) = &proposals[winners[0]];
    assert_eq!(
        store.gigs.find(&gig.id).await.unwrap().as_ref(),
        Some(winner)
    );
    let (_, claimed) = claim_all(store).await;
    assert_eq!(&claimed, std::slice::from_ref(sent));
}

// ---------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------

/// A notification for `user` about a fresh event at `at`.
fn notification(user: &UserId, kind: NotificationKind, at: Timestamp) -> Notification {
    let gig = GigId::generate();
    Notification::about_gig(
        uuid::Uuid::now_v7(),
        at,
        user,
        kind,
        &GigNotice {
            gig_id: &gig,
            gig_title: "Lisbon \"food\" week — três dias",
            actor_name: "Rui",
        },
    )
}

/// `n` notifications for `user`, stored; returned newest first (the order lists use).
async fn insert_notifications(store: &Store, user: &UserId, n: usize) -> Vec<Notification> {
    let mut stored = Vec::new();
    for i in 0..n {
        let kind = NotificationKind::ALL[i % NotificationKind::ALL.len()];
        let n = notification(user, kind, now());
        assert!(store.notifications.insert(&n).await.unwrap());
        stored.push(n);
    }
    stored.sort_by(|a, b| b.id.cmp(&a.id));
    stored
}

async fn list_notifications(
    store: &Store,
    user: &UserId,
    unread_only: bool,
    before: Option<&NotificationId>,
    limit: u32,
) -> Vec<Notification> {
    store
        .notifications
        .list(user, unread_only, before, limit)
        .await
        .unwrap()
}

fn notification_ids(notifications: &[Notification]) -> Vec<NotificationId> {
    notifications.iter().map(|n| n.id.clone()).collect()
}

async fn a_notification_is_stored_once_per_id(store: &Store) {
    let user = UserId::generate();
    let mut first = notification(&user, NotificationKind::GigInvitation, now());
    first.pushed_at = Some(first.created_at + SignedDuration::from_millis(5));
    assert!(store.notifications.insert(&first).await.unwrap());

    // The same event handled again, even with other content, stores nothing.
    let again = Notification {
        title: "something else".into(),
        read_at: Some(now()),
        ..first.clone()
    };
    assert!(!store.notifications.insert(&again).await.unwrap());
    assert_eq!(
        store.notifications.find(&first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        list_notifications(store, &user, false, None, 10).await,
        vec![first]
    );

    // No gig is fine too.
    let mut bare = notification(&user, NotificationKind::GigArchived, now());
    bare.gig_id = None;
    assert!(store.notifications.insert(&bare).await.unwrap());
    assert_eq!(
        store.notifications.find(&bare.id).await.unwrap(),
        Some(bare)
    );
    let unknown = NotificationId::from_string(uuid::Uuid::now_v7().to_string());
    assert_eq!(store.notifications.find(&unknown).await.unwrap(), None);
}

async fn a_users_notifications_are_listed_newest_first_in_pages(store: &Store) {
    let (user, other) = (UserId::generate(), UserId::generate());
    insert_notifications(store, &other, 2).await;
    let expected = insert_notifications(store, &user, 7).await;
    insert_notifications(store, &other, 2).await;

    let list = |before: Option<NotificationId>, limit| {
        let (store, user) = (store.clone(), user.clone());
        async move { list_notifications(&store, &user, false, before.as_ref(), limit).await }
    };
    assert_eq!(
        list(None, 100).await,
        expected,
        "whole records, newest first"
    );
    let first = list(None, 3).await;
    assert_eq!(first, expected[..3]);
    let second = list(Some(first[2].id.clone()), 3).await;
    assert_eq!(second, expected[3..6]);
    let third = list(Some(second[2].id.clone()), 3).await;
    assert_eq!(third, expected[6..]);
    assert_eq!(list(Some(third[0].id.clone()), 3).await, vec![]);
    assert_eq!(list(None, 0).await, vec![]);
    assert_eq!(
        list_notifications(store, &UserId::generate(), false, None, 10).await,
        vec![]
    );
}

async fn the_unread_filter_and_count_follow_reads(store: &Store) {
    let (user, other) = (UserId::generate(), UserId::generate());
    let all = insert_notifications(store, &user, 6).await;
    insert_notifications(store, &other, 3).await;
    assert_eq!(store.notifications.unread_count(&user).await.unwrap(), 6);

    let read_at = now();
    for read in [&all[0], &all[3]] {
        store
            .notifications
            .mark_read(&user, &read.id, read_at)
            .await
            .unwrap();
    }
    let unread: Vec<NotificationId> = [1, 2, 4, 5].iter().map(|&i| all[i].id.clone()).collect();
    assert_eq!(store.notifications.unread_count(&user).await.unwrap(), 4);
    assert_eq!(store.notifications.unread_count(&other).await.unwrap(), 3);
    let listed = list_notifications(store, &user, true, None, 10).await;
    assert_eq!(notification_ids(&listed), unread);
    assert!(listed.iter().all(|n| n.read_at.is_none()));
    let page = list_notifications(store, &user, true, Some(&all[2].id), 1).await;
    assert_eq!(notification_ids(&page), vec![all[4].id.clone()]);
    // Without the filter the read ones are there, with their read time.
    let everything = list_notifications(store, &user, false, None, 10).await;
    assert_eq!(notification_ids(&everything), notification_ids(&all));
    assert_eq!(everything[3].read_at, Some(read_at));
}

async fn marking_another_users_notification_read_is_not_found(store: &Store) {
    let (owner, intruder) = (UserId::generate(), UserId::generate());
    let n = notification(&owner, NotificationKind::GigPublished, now());
    store.notifications.insert(&n).await.unwrap();

    let result = store.notifications.mark_read(&intruder, &n.id, now()).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    let unknown = NotificationId::from_string(uuid::Uuid::now_v7().to_string());
    let result = store.notifications.mark_read(&owner, &unknown, now()).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_eq!(
        store
            .notifications
            .mark_all_read(&intruder, now())
            .await
            .unwrap(),
        0
    );

    assert_eq!(store.notifications.find(&n.id).await.unwrap(), Some(n));
    assert_eq!(store.notifications.unread_count(&owner).await.unwrap(), 1);
}

async fn marking_read_twice_keeps_the_first_read_time(store: &Store) {
    let user = UserId::generate();
    let n = notification(&user, NotificationKind::GigInvitationAccepted, now());
    store.notifications.insert(&n).await.unwrap();
    let first = now() + SignedDuration::from_secs(1);
    let later = first + SignedDuration::from_mins(5);

    let read = store
        .notifications
        .mark_read(&user, &n.id, first)
        .await
        .unwrap();
    let expected = Notification {
        read_at: Some(first),
        ..n.clone()
    };
    assert_eq!(read, expected);
    let again = store
        .notifications
        .mark_read(&user, &n.id, later)
        .await
        .unwrap();
    assert_eq!(again, expected);
    assert_eq!(
        store
            .notifications
            .mark_all_read(&user, later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.notifications.find(&n.id).await.unwrap(),
        Some(expected)
    );
}

async fn marking_all_read_counts_and_touches_only_that_user(store: &Store) {
    let (user, other) = (UserId::generate(), UserId::generate());
    let mine = insert_notifications(store, &user, 4).await;
    let theirs = insert_notifications(store, &other, 2).await;
    let early = now();
    let late = early + SignedDuration::from_mins(1);
    store
        .notifications
        .mark_read(&user, &mine[1].id, early)
        .await
        .unwrap();

    assert_eq!(
        store
            .notifications
            .mark_all_read(&user, late)
            .await
            .unwrap(),
        3
    );
    assert_eq!(store.notifications.unread_count(&user).await.unwrap(), 0);
    let read_times: Vec<Option<Timestamp>> = list_notifications(store, &user, false, None, 10)
        .await
        .iter()
        .map(|n| n.read_at)
        .collect();
    assert_eq!(
        read_times,
        vec![Some(late), Some(early), Some(late), Some(late)]
    );
    assert_eq!(
        store
            .notifications
            .mark_all_read(&user, late)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.notifications.unread_count(&other).await.unwrap(), 2);
    assert_eq!(
        list_notifications(store, &other, true, None, 10).await,
        theirs
    );
}

async fn a_push_is_taken_once_until_it_is_given_back(store: &Store) {
    let user = UserId::generate();
    let n = notification(&user, NotificationKind::GigInvitation, now());
    store.notifications.insert(&n).await.unwrap();
    let first = now() + SignedDuration::from_millis(250);

    assert!(store.notifications.mark_pushed(&n.id, first).await.unwrap());
    let later = first + SignedDuration::from_secs(9);
    assert!(!store.notifications.mark_pushed(&n.id, later).await.unwrap());
    let expected = Notification {
        pushed_at: Some(first),
        ..n.clone()
    };
    assert_eq!(
        store.notifications.find(&expected.id).await.unwrap(),
        Some(expected)
    );
    // Pushed is not read.
    assert_eq!(store.notifications.unread_count(&user).await.unwrap(), 1);

    // A failed push is given back, and the next delivery takes it again.
    store.notifications.unmark_pushed(&n.id).await.unwrap();
    assert_eq!(
        store
            .notifications
            .find(&n.id)
            .await
            .unwrap()
            .unwrap()
            .pushed_at,
        None
    );
    assert!(store.notifications.mark_pushed(&n.id, later).await.unwrap());

    let unknown = NotificationId::from_string(uuid::Uuid::now_v7().to_string());
    let result = store.notifications.mark_pushed(&unknown, now()).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
}

async fn racing_deliveries_take_a_push_exactly_once(store: &Store) {
    let user = UserId::generate();
    let n = notification(&user, NotificationKind::GigPublished, now());
    store.notifications.insert(&n).await.unwrap();
    let taken = concurrently(10, |_| {
        let store = store.clone();
        let id = n.id.clone();
        async move { store.notifications.mark_pushed(&id, now()).await.unwrap() }
    })
    .await;
    assert_eq!(taken.iter().filter(|t| **t).count(), 1, "{taken:?}");
}

// ---------------------------------------------------------------------------------------------
// Mails
// ---------------------------------------------------------------------------------------------

fn queued_mail(subject: &str) -> Mail {
    Mail::queued(
        MailId::from_string(uuid::Uuid::now_v7().to_string()),
        email("ana@example.com"),
        "password_reset",
        subject,
        now(),
    )
}

async fn start_attempt(
    store: &Store,
    id: &MailId,
    at: Timestamp,
    until: Timestamp,
) -> Option<Mail> {
    store.mails.start_attempt(id, at, until).await.unwrap()
}

async fn a_mail_is_recorded_once_per_id(store: &Store) {
    let mail = queued_mail("Reset your password");
    assert_eq!(store.mails.insert(&mail).await.unwrap(), mail);
    let tried = store
        .mails
        .record_attempt(&mail.id, MailStatus::Queued, Some("421 busy"), now())
        .await
        .unwrap();

    // A redelivered job records its mail again: it gets the stored record, attempts and all.
    let again = Mail {
        subject: "another subject".into(),
        ..Mail::queued(
            mail.id.clone(),
            email("rui@example.com"),
            "gig_invitation",
            "",
            now() + SignedDuration::from_secs(1),
        )
    };
    let stored = store.mails.insert(&again).await.unwrap();
    assert_eq!(stored, tried);
    assert_eq!(
        (stored.attempts, stored.last_error.as_deref()),
        (1, Some("421 busy"))
    );
    assert_eq!(stored.subject, mail.subject);
    assert_eq!(store.mails.find(&mail.id).await.unwrap(), Some(tried));
    assert_eq!(
        store
            .mails
            .find(&MailId::from_string("no-such-mail"))
            .await
            .unwrap(),
        None
    );
}

async fn concurrent_inserts_of_one_mail_all_return_the_one_record(store: &Store) {
    for _ in 0..3 {
        let id = MailId::from_string(uuid::Uuid::now_v7().to_string());
        let candidates: Vec<Mail> = (0..10)
            .map(|i| Mail {
                id: id.clone(),
                ..queued_mail(&format!("attempt {i}"))
            })
            .collect();
        let results = concurrently(candidates.len(), |i| {
            let store = store.clone();
            let mail = candidates[i].clone();
            async move { store.mails.insert(&mail).await.unwrap() }
        })
        .await;

        let stored = store.mails.find(&id).await.unwrap().unwrap();
        assert!(candidates.contains(&stored), "{stored:?}");
        assert!(results.iter().all(|r| *r == stored), "{results:?}");
    }
}

async fn a_mail_is_held_by_one_attempt_at_a_time_until_recorded_or_expired(store: &Store) {
    let mail = queued_mail("You are invited");
    store.mails.insert(&mail).await.unwrap();
    let t0 = mail.created_at;
    let hold = SignedDuration::from_mins(2);

    assert_eq!(
        start_attempt(store, &mail.id, t0, t0 + hold).await,
        Some(mail.clone())
    );
    assert_eq!(
        start_attempt(store, &mail.id, t0, t0 + hold).await,
        None,
        "held by the first attempt"
    );
    // A sender that died frees the mail when its hold ends.
    let after_hold = t0 + hold + SignedDuration::from_millis(1);
    assert!(
        start_attempt(store, &mail.id, after_hold, after_hold + hold)
            .await
            .is_some()
    );
    // Recording the attempt releases the hold.
    store
        .mails
        .record_attempt(&mail.id, MailStatus::Queued, Some("421 busy"), after_hold)
        .await
        .unwrap();
    assert!(
        start_attempt(store, &mail.id, after_hold, after_hold + hold)
            .await
            .is_some()
    );
    store
        .mails
        .record_attempt(&mail.id, MailStatus::Sent, None, after_hold)
        .await
        .unwrap();
    assert_eq!(
        start_attempt(store, &mail.id, after_hold, after_hold + hold).await,
        None,
        "a sent mail is never taken again"
    );
    let unknown = MailId::from_string("no-such-mail");
    assert_eq!(start_attempt(store, &unknown, t0, t0 + hold).await, None);
}

async fn racing_attempts_take_a_mail_once(store: &Store) {
    let mail = queued_mail("Reset your password");
    store.mails.insert(&mail).await.unwrap();
    let taken = concurrently(10, |_| {
        let store = store.clone();
        let id = mail.id.clone();
        async move {
            let at = now();
            start_attempt(&store, &id, at, at + SignedDuration::from_mins(2))
                .await
                .is_some()
        }
    })
    .await;
    assert_eq!(taken.iter().filter(|t| **t).count(), 1, "{taken:?}");
}

async fn recording_attempts_counts_them_and_sets_status_and_error(store: &Store) {
    let mail = queued_mail("You are invited");
    store.mails.insert(&mail).await.unwrap();
    let (t1, t2) = (
        mail.created_at + SignedDuration::from_secs(30),
        mail.created_at + SignedDuration::from_mins(5),
    );

    let failed_once = store
        .mails
        .record_attempt(&mail.id, MailStatus::Queued, Some("connection reset"), t1)
        .await
        .unwrap();
    assert_eq!(
        failed_once,
        Mail {
            attempts: 1,
            last_error: Some("connection reset".into()),
            updated_at: t1,
            ..mail.clone()
        }
    );
    let sent = store
        .mails
        .record_attempt(&mail.id, MailStatus::Sent, None, t2)
        .await
        .unwrap();
    let expected = Mail {
        status: MailStatus::Sent,
        attempts: 2,
        last_error: None,
        updated_at: t2,
        ..mail.clone()
    };
    assert_eq!(sent, expected);
    assert_eq!(store.mails.find(&mail.id).await.unwrap(), Some(expected));

    let given_up = store
        .mails
        .record_attempt(&mail.id, MailStatus::Failed, Some("550 no such user"), t2)
        .await
        .unwrap();
    assert_eq!(
        (
            given_up.status,
            given_up.attempts,
            given_up.last_error.as_deref()
        ),
        (MailStatus::Failed, 3, Some("550 no such user"))
    );

    let unknown = MailId::from_string("no-such-mail");
    let result = store
        .mails
        .record_attempt(&unknown, MailStatus::Sent, None, t2)
        .await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_eq!(store.mails.find(&unknown).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Instantiation per adapter
// ---------------------------------------------------------------------------------------------

/// A store on a fresh temporary directory, deleted when dropped.
struct SqliteFixture {
    store: Store,
    _dir: tempfile::TempDir,
}

impl SqliteFixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = open_sqlite(dir.path()).await;
        Self { store, _dir: dir }
    }
}

async fn open_sqlite(data_dir: &Path) -> Store {
    let store = noillin_store::open(&StoreConfig::Embedded {
        data_dir: data_dir.to_owned(),
    })
    .await
    .unwrap();
    assert_eq!(store.adapter(), "sqlite");
    store
}

/// A store on a fresh database of the MongoDB at `MONGO_URI`.
struct MongoFixture {
    store: Store,
    uri: String,
    database: String,
}

impl MongoFixture {
    async fn new() -> Self {
        let uri = std::env::var("MONGO_URI")
            .expect("MONGO_URI must point at a MongoDB to run the MongoDB contract tests");
        // The adapter prefers the URI's own database; each test needs its own.
        let uri = without_default_database(&uri);
        let database = format!("noillin_contract_{}", uuid::Uuid::new_v4().simple());
        let store = noillin_store::open(&StoreConfig::Mongo {
            uri: uri.clone(),
            database: database.clone(),
        })
        .await
        .unwrap();
        assert_eq!(store.adapter(), "mongodb");
        Self {
            store,
            uri,
            database,
        }
    }

    /// Best effort: a failure here leaves a database behind, it fails no test.
    async fn drop_database(self) {
        match mongodb::Client::with_uri_str(&self.uri).await {
            Ok(client) => {
                if let Err(e) = client.database(&self.database).drop().await {
                    eprintln!("could not drop {}: {e}", self.database);
                }
            }
            Err(e) => eprintln!("could not drop {}: {e}", self.database),
        }
    }

    /// Runs a case, then drops the database whether the case passed or panicked.
    async fn run<F: Future<Output = ()>>(self, case: impl FnOnce(Store) -> F) {
        let outcome = AssertUnwindSafe(case(self.store.clone()))
            .catch_unwind()
            .await;
        self.drop_database().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

/// `mongodb://u:p@h1,h2/app?x=y` → `mongodb://u:p@h1,h2/?x=y&authSource=app`: the database is
/// dropped from the path, and kept as the authentication database if the URI relied on it.
fn without_default_database(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let (location, query) = match rest.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (rest, None),
    };
    let (hosts, database) = location.split_once('/').unwrap_or((location, ""));
    let mut options: Vec<String> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    let has_credentials = hosts.contains('@');
    let has_auth_source = options
        .iter()
        .any(|o| o.to_ascii_lowercase().starts_with("authsource="));
    if !database.is_empty() && has_credentials && !has_auth_source {
        options.push(format!("authSource={database}"));
    }
    if options.is_empty() {
        format!("{scheme}://{hosts}/")
    } else {
        format!("{scheme}://{hosts}/?{}", options.join("&"))
    }
}

#[test]
fn the_test_uri_loses_its_default_database_but_not_its_auth_source() {
    assert_eq!(
        without_default_database("mongodb://localhost:27017"),
        "mongodb://localhost:27017/"
    );
    assert_eq!(
        without_default_database("mongodb://localhost:27017/app?replicaSet=rs0"),
        "mongodb://localhost:27017/?replicaSet=rs0"
    );
    assert_eq!(
        without_default_database("mongodb+srv://u:p@cluster.example/app"),
        "mongodb+srv://u:p@cluster.example/?authSource=app"
    );
    assert_eq!(
        without_default_database("mongodb://u:p@h1,h2/app?authSource=admin&w=1"),
        "mongodb://u:p@h1,h2/?authSource=admin&w=1"
    );
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fixture = super::SqliteFixture::new().await;
                    super::$case(&fixture.store).await;
                }
            )*
        }

        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[ignore = "needs MONGO_URI; scripts/test runs ignored tests when it is set"]
                async fn $case() {
                    super::MongoFixture::new()
                        .await
                        .run(|store| async move { super::$case(&store).await })
                        .await;
                }
            )*
        }
    };
}

contract! {
    a_user_is_found_by_id_and_by_email,
    email_lookup_is_exact_on_the_normalized_address,
    unknown_users_and_profiles_are_not_found,
    a_duplicate_email_is_a_typed_conflict,
    a_user_without_a_profile_has_neither_profile,
    timestamps_are_kept_to_the_millisecond,
    set_status_bumps_the_token_version_by_exactly_one,
    a_status_change_ends_sessions_and_stores_its_audit_entry_and_messages_together,
    a_status_change_from_a_stale_read_writes_nothing,
    an_administrator_is_created_with_its_audit_entry_or_not_at_all,
    the_audit_log_pages_newest_first,
    completing_a_reset_sets_the_password_ends_sessions_and_stores_its_messages,
    a_refused_reset_completion_writes_nothing,
    a_reset_request_works_only_with_its_last_minted_token,
    a_reset_request_has_no_working_token_until_one_is_minted,
    changing_an_unknown_user_is_not_found,
    any_suspended_tells_whether_one_of_the_users_is_suspended,
    an_influencer_profile_round_trips_with_every_field,
    a_brand_profile_round_trips_with_every_field,
    updating_an_influencer_profile_replaces_it,
    updating_a_brand_profile_replaces_it,
    updating_a_missing_profile_is_not_found,
    a_profiles_name_is_its_accounts_name_stored_once,
    an_inserted_refresh_token_is_live_until_it_expires,
    a_rotated_token_replayed_is_reuse_and_revokes_the_family,
    a_rotated_token_keeps_the_presented_family_and_user,
    an_expired_refresh_token_is_invalid,
    an_unknown_refresh_token_is_invalid,
    a_revoked_refresh_token_is_invalid,
    revoking_a_family_ends_only_that_family,
    revoking_a_user_ends_every_family_of_that_user_only,
    a_password_reset_token_is_single_use,
    an_expired_password_reset_token_is_refused,
    looking_up_a_reset_token_uses_nothing_up,
    the_store_answers_ping_and_names_its_adapter,
    concurrent_inserts_with_one_email_have_exactly_one_winner,
    concurrent_rotations_of_one_token_have_exactly_one_winner,
    concurrent_completions_of_one_reset_token_have_exactly_one_winner,
    concurrent_status_changes_from_one_read_have_exactly_one_winner,
    a_group_gig_round_trips_with_every_field,
    a_gig_update_is_a_compare_and_swap_on_the_version,
    concurrent_gig_updates_from_one_read_have_exactly_one_winner,
    a_members_gigs_are_the_owned_and_joined_ones_in_id_order,
    paging_through_a_members_gigs_returns_each_once,
    only_published_gigs_are_listed_as_published,
    published_gigs_leave_the_listing_while_their_owner_or_a_member_is_suspended,
    availability_never_set_is_empty,
    setting_weekly_windows_keeps_the_overrides,
    removing_an_override_twice_is_not_found_the_second_time,
    availability_of_several_users_is_each_users_own,
    overrides_come_back_in_date_order_with_midnight_ends,
    concurrent_overrides_of_one_user_are_all_kept,
    a_gig_change_and_its_messages_are_stored_together,
    a_refused_state_change_stores_no_message,
    a_message_that_cannot_be_stored_undoes_its_state_change,
    a_password_reset_and_its_mail_job_are_stored_together,
    appended_messages_are_claimed_oldest_first_up_to_the_limit,
    a_claimed_message_is_held_until_its_lease_ends,
    only_the_holding_claim_completes_or_releases_a_message,
    a_refused_message_waits_its_own_delay_while_others_are_claimed,
    a_message_refused_max_attempts_times_is_parked_and_never_claimed,
    parked_messages_are_listed_and_a_retried_one_is_claimed_again,
    concurrent_claimers_take_each_message_exactly_once,
    concurrent_gig_updates_with_messages_store_only_the_winners,
    a_notification_is_stored_once_per_id,
    a_users_notifications_are_listed_newest_first_in_pages,
    the_unread_filter_and_count_follow_reads,
    marking_another_users_notification_read_is_not_found,
    marking_read_twice_keeps_the_first_read_time,
    marking_all_read_counts_and_touches_only_that_user,
    a_push_is_taken_once_until_it_is_given_back,
    racing_deliveries_take_a_push_exactly_once,
    a_mail_is_recorded_once_per_id,
    concurrent_inserts_of_one_mail_all_return_the_one_record,
    recording_attempts_counts_them_and_sets_status_and_error,
    a_mail_is_held_by_one_attempt_at_a_time_until_recorded_or_expired,
    racing_attempts_take_a_mail_once,
}

// ---------------------------------------------------------------------------------------------
// SQLite only: one file shared by several processes (each `open` is its own connection, as a
// separate core-api replica or worker process would have).
// ---------------------------------------------------------------------------------------------

mod sqlite_shared_file {
    use super::*;

    async fn two_stores(dir: &Path) -> (Store, Store) {
        (open_sqlite(dir).await, open_sqlite(dir).await)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_stores_on_one_directory_see_each_others_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_stores(dir.path()).await;

        let (user, profile) = insert_influencer(&a, "ana@example.com").await;
        assert_eq!(
            b.users.find_by_id(&user.id).await.unwrap(),
            Some(user.clone())
        );
        assert_eq!(
            b.profiles.influencer(&user.id).await.unwrap(),
            Some(profile)
        );

        let suspended = set_status(&b, &user.id, UserStatus::Suspended, now())
            .await
            .unwrap();
        assert_eq!(a.users.find_by_id(&user.id).await.unwrap(), Some(suspended));

        let family_id = family();
        let token = insert_token(&a, &user.id, &family_id).await;
        let next = refresh_token(&user.id, &family_id, now());
        assert_eq!(
            rotate(&b, &token.token_hash, &next, now()).await,
            Rotation::Rotated {
                user_id: user.id.clone()
            }
        );
        assert!(is_live(&a, &next).await);
        assert_eq!(
            rotate(&a, &token.token_hash, &next, now()).await,
            Rotation::Reused {
                user_id: user.id,
                family_id
            }
        );
        assert!(!is_live(&b, &next).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_inserts_through_two_stores_have_exactly_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_stores(dir.path()).await;

        for round in 0..5 {
            let address = format!("ana{round}@example.com");
            let results = concurrently(20, |i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let user = new_user(&address, Role::Influencer);
                async move {
                    let profile = NewProfile::Influencer(influencer_profile(&user.id));
                    store.users.insert(&user, &profile).await
                }
            })
            .await;

            assert_eq!(
                results.iter().filter(|r| r.is_ok()).count(),
                1,
                "{results:?}"
            );
            let conflicts = results
                .iter()
                .filter(|r| matches!(r, Err(StoreError::Conflict(Constraint::UserEmail))))
                .count();
            assert_eq!(conflicts, 19, "{results:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_rotations_through_two_stores_have_exactly_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_stores(dir.path()).await;
        let (user, _) = insert_influencer(&a, "ana@example.com").await;

        for _ in 0..5 {
            let family_id = family();
            let presented = insert_token(&a, &user.id, &family_id).await;
            let rotations = concurrently(10, |i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let presented = presented.token_hash.clone();
                let next = refresh_token(&user.id, &family_id, now());
                async move { rotate(&store, &presented, &next, now()).await }
            })
            .await;

            let rotated = rotations
                .iter()
                .filter(|r| matches!(r, Rotation::Rotated { .. }))
                .count();
            let reused = rotations
                .iter()
                .filter(|r| matches!(r, Rotation::Reused { .. }))
                .count();
            assert_eq!((rotated, reused), (1, 9), "{rotations:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_gig_updates_through_two_stores_have_exactly_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_stores(dir.path()).await;
        let gig = single_gig(&UserId::generate());
        a.gigs.insert(&gig, &[]).await.unwrap();

        for version in 2..=4 {
            let results = concurrently(10, |i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let next = Gig {
                    title: format!("edit {i}"),
                    version,
                    ..gig.clone()
                };
                async move { store.gigs.update(&next, &[]).await }
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
            let stored = b.gigs.find(&gig.id).await.unwrap().unwrap();
            assert_eq!(stored.version, version);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claims_through_two_stores_take_each_message_once() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_stores(dir.path()).await;
        drain_with_concurrent_claimers(&[a, b]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_opens_of_a_fresh_directory_apply_each_migration_once() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path: PathBuf = dir.path().join("data");
            let stores = concurrently(6, |_| {
                let path = path.clone();
                async move { noillin_store::open(&StoreConfig::Embedded { data_dir: path }).await }
            })
            .await;
            for store in &stores {
                let store = store.as_ref().unwrap();
                store.ping().await.unwrap();
            }
            insert_influencer(stores[0].as_ref().unwrap(), "ana@example.com").await;

            let connection = rusqlite::Connection::open(path.join("noillin.sqlite3")).unwrap();
            let (count, max): (i64, i64) = connection
                .query_row(
                    "SELECT COUNT(*), MAX(version) FROM schema_migrations",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert!(max >= 1);
            assert_eq!(count, max, "every migration recorded once");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn accounts_keep_the_names_their_profiles_had_when_names_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        // A database as the release before kept it: the first three migrations applied, and
        // each profile with its own copy of the name, edited apart from the account's.
        {
            let connection =
                rusqlite::Connection::open(dir.path().join("noillin.sqlite3")).unwrap();
            for (version, sql) in [
                include_str!("../src/sqlite/migrations/0001_users_sessions_resets.sql"),
                include_str!("../src/sqlite/migrations/0002_gigs_availability.sql"),
                include_str!("../src/sqlite/migrations/0003_outbox_notifications_mails.sql"),
            ]
            .into_iter()
            .enumerate()
            {
                connection.execute_batch(sql).unwrap();
                if version == 0 {
                    connection
                        .execute_batch(
                            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL, \
                             applied_at INTEGER NOT NULL) STRICT",
                        )
                        .unwrap();
                }
                connection
                    .execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
                        [i64::try_from(version + 1).unwrap()],
                    )
                    .unwrap();
            }
            connection
                .execute_batch(
                    "INSERT INTO users VALUES \
                       ('u1', 'ana@example.com', 'x', 'influencer', 'active', 0, 'Ana', 0, 0), \
                       ('u2', 'acme@example.com', 'x', 'brand', 'active', 0, 'Acme', 0, 0), \
                       ('u3', 'root@example.com', 'x', 'admin', 'active', 0, 'Root', 0, 0); \
                     INSERT INTO influencer_profiles VALUES \
                       ('u1', 'Ana Renamed', 'bio', '[]', '[]', NULL, 'UTC', '[]', NULL, 0); \
                     INSERT INTO brand_profiles VALUES \
                       ('u2', 'Acme Journeys', 'travel', NULL, NULL);",
                )
                .unwrap();
        }

        let store = open_sqlite(dir.path()).await;
        let name = |id: &str| {
            let store = store.clone();
            let id = UserId::from_string(id);
            async move {
                store
                    .users
                    .find_by_id(&id)
                    .await
                    .unwrap()
                    .unwrap()
                    .display_name
            }
        };
        assert_eq!(name("u1").await, "Ana Renamed");
        assert_eq!(name("u2").await, "Acme Journeys");
        assert_eq!(name("u3").await, "Root");
        let ana = store
            .profiles
            .influencer(&UserId::from_string("u1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (ana.display_name.as_str(), ana.bio.as_str()),
            ("Ana Renamed", "bio")
        );
        let acme = store
            .profiles
            .brand(&UserId::from_string("u2"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (acme.company_name.as_str(), acme.industry.as_str()),
            ("Acme Journeys", "travel")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_sqlite(dir.path()).await;
        let (user, profile) = insert_influencer(&store, "ana@example.com").await;
        drop(store);

        let store = open_sqlite(dir.path()).await;
        assert_eq!(
            store.users.find_by_id(&user.id).await.unwrap(),
            Some(user.clone())
        );
        assert_eq!(
            store.profiles.influencer(&user.id).await.unwrap(),
            Some(profile)
        );
    }
}

/// Rows no code of ours writes, planted with rusqlite in the file the adapter reads. SQLite only:
/// planting needs raw access to the adapter's storage, which this suite has for the file but not
/// for MongoDB; the MongoDB adapter's decoding of such documents is covered by its unit tests
/// (`crates/store/src/mongo/*.rs`), which decode the same kinds of bad documents.
mod sqlite_corrupt_data {
    use super::*;

    fn plant(dir: &Path, statement: &str, params: impl rusqlite::Params) {
        let connection = rusqlite::Connection::open(dir.join("noillin.sqlite3")).unwrap();
        assert_eq!(connection.execute(statement, params).unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_the_adapter_cannot_decode_are_corrupt_not_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_sqlite(dir.path()).await;
        let (wizard, _) = insert_influencer(&store, "wizard@example.com").await;
        let (timeless, _) = insert_influencer(&store, "timeless@example.com").await;
        let (scheduler, _) = insert_influencer(&store, "scheduler@example.com").await;
        set_weekly(&store, &scheduler.id, &office_hours()).await;

        plant(
            dir.path(),
            "UPDATE users SET role = 'wizard' WHERE id = ?1",
            [wizard.id.as_str()],
        );
        plant(
            dir.path(),
            "UPDATE users SET created_at = ?2 WHERE id = ?1",
            rusqlite::params![timeless.id.as_str(), i64::MAX],
        );
        plant(
            dir.path(),
            "UPDATE availability_weekly SET weekly = '{\"monday\": \"always\"}' WHERE user_id = ?1",
            [scheduler.id.as_str()],
        );

        let unknown_role = store.users.find_by_id(&wizard.id).await;
        assert!(
            matches!(&unknown_role, Err(StoreError::Corrupt(reason)) if reason.contains("wizard")),
            "{unknown_role:?}"
        );
        let bad_timestamp = store.users.find_by_id(&timeless.id).await;
        assert!(
            matches!(bad_timestamp, Err(StoreError::Corrupt(_))),
            "{bad_timestamp:?}"
        );
        let bad_json = store.availability.get(&scheduler.id).await;
        assert!(
            matches!(bad_json, Err(StoreError::Corrupt(_))),
            "{bad_json:?}"
        );
        let many = store
            .availability
            .get_many(&[wizard.id.clone(), scheduler.id.clone()])
            .await;
        assert!(matches!(many, Err(StoreError::Corrupt(_))), "{many:?}");

        // The rest of the store still answers: corruption is reported per record.
        let (healthy, _) = insert_influencer(&store, "healthy@example.com").await;
        assert_eq!(
            store.users.find_by_id(&healthy.id).await.unwrap(),
            Some(healthy)
        );
        store.ping().await.unwrap();
    }
}
