//! Accounts: registration, sign-in with rotating refresh tokens, sign-out, password reset and
//! suspension. Handlers and the command line call these use cases; the rules live here and in
//! the domain, the storage behind the store port.

mod admin;
mod error;
mod password_reset;
pub mod secrets;
mod sessions;
mod throttle;

use std::time::Duration;

use jiff::Timestamp;
use noillin_auth::Secret;
use noillin_domain::event::Event;
use noillin_domain::{
    BrandProfile, Email, InfluencerProfile, MAX_ID_LEN, Role, User, UserId, UserStatus,
    ValidationErrors, check_password,
};
use noillin_store::{Constraint, NewProfile, Store, StoreError};

use crate::AppState;

pub use admin::{audit_log, set_status};
pub use error::AccountsError;
pub use password_reset::{confirm_password_reset, request_password_reset};
pub use sessions::{login, logout, refresh};
pub use throttle::LoginThrottle;

/// Lifetimes and limits of the account flows.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Access tokens are short-lived: revocation of a stolen one is never far off.
    pub access_ttl: Duration,
    /// A refresh token lives this long after it was issued; each use rotates it.
    pub refresh_ttl: Duration,
    /// A password reset link works this long, once.
    pub reset_ttl: Duration,
    /// Failed sign-ins per account in one window before 429.
    pub max_failures_per_account: u64,
    /// Failed sign-ins per client address in one window before 429.
    pub max_failures_per_ip: u64,
    /// Length of the failure-counting window.
    pub failure_window: Duration,
    /// Reset mails per account per hour; requests beyond it are accepted and ignored.
    pub max_resets_per_hour: u64,
}

/// What a successful sign-in returns.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single use: present it to `/auth/refresh` for a new pair.
    pub refresh_token: String,
}

/// A registration request, validated.
pub struct Registration {
    pub email: String,
    pub password: String,
    pub role: Role,
    pub display_name: String,
}

/// Registers a brand or an influencer, with its profile, and signs it in.
pub async fn register(
    state: &AppState,
    input: Registration,
) -> Result<(User, TokenPair), AccountsError> {
    if input.role == Role::Admin {
        return Err(AccountsError::invalid(
            "role",
            "invalid_role",
            "must be brand or influencer",
        ));
    }
    let user = create_user(&state.store, input, state.clock.now()).await?;
    tracing::info!(user_id = %user.id, role = user.role.as_str(), "user registered");
    let tokens = sessions::start_session(state, &user).await?;
    Ok((user, tokens))
}

/// Creates an administrator at `now` (from the command line, which needs nothing but the
/// store; admins never self-register), with the audit entry of its creation.
pub async fn create_admin(
    store: &Store,
    email: &str,
    password: Secret,
    name: &str,
    now: Timestamp,
) -> Result<User, AccountsError> {
    let user = new_user(
        Registration {
            email: email.to_owned(),
            password: password.into_exposed(),
            role: Role::Admin,
            display_name: name.to_owned(),
        },
        now,
    )
    .await?;
    let audit = admin::audit_entry(
        None,
        admin::AuditAction::AdminCreated,
        &user.id,
        user.created_at,
        serde_json::json!({ "email": user.email.as_str() }),
    );
    insert_result(store.users.insert_admin(&user, &audit).await, user.clone())?;
    tracing::info!(user_id = %user.id, "administrator created");
    Ok(user)
}

/// Validates, hashes the password, and stores the user with the profile its role has — all or
/// nothing; every field error at once.
async fn create_user(
    store: &Store,
    input: Registration,
    now: Timestamp,
) -> Result<User, AccountsError> {
    let user = new_user(input, now).await?;
    let profile = match user.role {
        Role::Influencer => NewProfile::Influencer(InfluencerProfile::new(
            user.id.clone(),
            user.display_name.clone(),
        )),
        Role::Brand => NewProfile::Brand(BrandProfile::new(
            user.id.clone(),
            user.display_name.clone(),
        )),
        Role::Admin => NewProfile::None,
    };
    insert_result(store.users.insert(&user, &profile).await, user)
}

/// `user` once stored, or why it was not.
fn insert_result(stored: Result<(), StoreError>, user: User) -> Result<User, AccountsError> {
    match stored {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict(Constraint::UserEmail)) => Err(AccountsError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

/// A new active user from a registration, created at `now`: validated (every field error at
/// once), its password hashed.
async fn new_user(input: Registration, now: Timestamp) -> Result<User, AccountsError> {
    let mut errors = ValidationErrors::default();
    let email = match Email::parse(&input.email) {
        Ok(email) => {
            check_password(&input.password, &email, &mut errors);
            Some(email)
        }
        Err(message) => {
            errors.add("email", "invalid_email", message);
            None
        }
    };
    errors.text("display_name", &input.display_name, 1, 80);
    let (Some(email), true) = (email, errors.is_empty()) else {
        return Err(AccountsError::Invalid(errors));
    };
    let user = User {
        id: UserId::generate(),
        email,
        password_hash: secrets::hash_password(input.password).await?,
        role: input.role,
        status: UserStatus::Active,
        token_version: 0,
        display_name: input.display_name.trim().to_owned(),
        created_at: now,
        updated_at: now,
    };
    Ok(user)
}

/// The user `id` names when it is an active influencer: the only users others may look up or
/// invite.
pub async fn active_influencer(state: &AppState, id: &UserId) -> Result<Option<User>, StoreError> {
    if id.as_str().len() > MAX_ID_LEN {
        return Ok(None);
    }
    Ok(state
        .store
        .users
        .find_by_id(id)
        .await?
        .filter(User::is_public_influencer))
}

/// How often a change that ends a user's sessions is tried when the user's token version moved
/// between reading and writing (another change of the same user came first).
const SESSIONS_END_ATTEMPTS: u32 = 3;

/// The event that tells realtime `user`'s sessions ended, once the change that ends them (which
/// bumps the token version by one) is stored.
fn sessions_ended(user: &User) -> Event {
    Event::UserSessionsEnded {
        user_id: user.id.to_string(),
        token_version: user.token_version.saturating_add(1),
    }
}

/// `now + ttl`, at most the end of the calendar: no configured lifetime can overflow into a
/// panic.
fn expiry(now: Timestamp, ttl: Duration) -> Timestamp {
    now.saturating_add(ttl).unwrap_or(Timestamp::MAX)
}
