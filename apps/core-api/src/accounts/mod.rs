//! Accounts: registration, sign-in with rotating refresh tokens, sign-out, password reset and
//! suspension. Handlers call these; the rules live here, the storage behind the store port.

pub mod secrets;
mod throttle;

use std::time::Duration;

use jiff::Timestamp;
use noillin_auth::Secret;
use noillin_domain::{
    BrandProfile, Email, InfluencerProfile, Role, User, UserId, UserStatus, ValidationErrors,
    check_password,
};
use noillin_messaging::Event;
use noillin_redis::{RealtimeCommand, sign_in_room};
use noillin_store::{
    AuditEntry, Constraint, NewProfile, PasswordResetRequest, RefreshToken, Rotation, SessionsEnd,
    Store, StoreError,
};

use crate::{AppState, error::ApiError, extract::MAX_ID_LEN, outbox};

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

pub async fn register(
    state: &AppState,
    input: Registration,
) -> Result<(User, TokenPair), ApiError> {
    if input.role == Role::Admin {
        return Err(ApiError::invalid(
            "role",
            "invalid_role",
            "must be brand or influencer",
        ));
    }
    let user = create_user(&state.store, input, state.clock.now()).await?;
    tracing::info!(user_id = %user.id, role = user.role.as_str(), "user registered");
    let tokens = start_session(state, &user).await?;
    Ok((user, tokens))
}

/// Creates an administrator (from the command line, which needs nothing but the store; admins
/// never self-register), with the audit entry of its creation.
pub async fn create_admin(
    store: &Store,
    email: &str,
    password: Secret,
    name: &str,
) -> Result<User, ApiError> {
    let user = new_user(
        Registration {
            email: email.to_owned(),
            password: password.into_exposed(),
            role: Role::Admin,
            display_name: name.to_owned(),
        },
        Timestamp::now(),
    )
    .await?;
    let audit = audit_entry(
        None,
        AuditAction::AdminCreated,
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
async fn create_user(store: &Store, input: Registration, now: Timestamp) -> Result<User, ApiError> {
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
fn insert_result(stored: Result<(), StoreError>, user: User) -> Result<User, ApiError> {
    match stored {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict(Constraint::UserEmail)) => Err(ApiError::Conflict(
            "email-taken",
            "an account with this email exists".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// A new active user from a registration, created at `now`: validated (every field error at
/// once), its password hashed.
async fn new_user(input: Registration, now: Timestamp) -> Result<User, ApiError> {
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
        return Err(ApiError::Validation(errors));
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

pub async fn login(
    state: &AppState,
    email: &str,
    password: String,
    client_ip: &str,
) -> Result<TokenPair, ApiError> {
    // An unparseable email gets the same answer as a wrong password.
    let email = Email::parse(email).ok();
    let throttle = LoginThrottle::new(state, email.as_ref(), client_ip);
    throttle.admit().await?;
    // The attempt counts as a failure from here on unless it turns out not to be one.
    match signed_in_user(state, email.as_ref(), password).await {
        Ok(Some(user)) if user.status == UserStatus::Active => {
            throttle.record_success().await?;
            start_session(state, &user).await
        }
        Ok(Some(_)) => {
            throttle.give_back().await?;
            Err(ApiError::Forbidden("account-suspended"))
        }
        Ok(None) => Err(ApiError::Unauthorized("invalid-credentials")),
        Err(e) => {
            if let Err(give_back) = throttle.give_back().await {
                tracing::warn!(error = %give_back, "sign-in attempt not given back");
            }
            Err(e)
        }
    }
}

/// The user with this email when `password` is theirs.
async fn signed_in_user(
    state: &AppState,
    email: Option<&Email>,
    password: String,
) -> Result<Option<User>, ApiError> {
    let user = match email {
        Some(email) => state.store.users.find_by_email(email).await?,
        None => None,
    };
    // Unknown accounts still pay for one hash verification, so response time does not tell
    // whether an email is registered.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| state.dummy_password_hash.clone());
    let matches = secrets::verify_password(password, hash).await?;
    Ok(user.filter(|_| matches))
}

/// Rotates a refresh token. Presenting one that was already used revokes its whole family and
/// ends that sign-in.
pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<TokenPair, ApiError> {
    let now = state.clock.now();
    let next_token = secrets::random_token()?;
    let next = RefreshToken {
        token_hash: secrets::token_hash(&next_token),
        // The store keeps the presented token's family and user; these are placeholders.
        family_id: String::new(),
        user_id: UserId::from_string(""),
        issued_at: now,
        expires_at: expiry(now, state.auth.refresh_ttl),
    };
    let presented_hash = secrets::token_hash(refresh_token);
    // The new access token belongs to the presented token's sign-in. A token's family never
    // changes, so reading it before the rotation is as good as after; after, a racing reuse
    // could have revoked it already.
    let sign_in = state
        .store
        .sessions
        .live_family(&presented_hash, now)
        .await?;
    match state
        .store
        .sessions
        .rotate(&presented_hash, &next, now)
        .await?
    {
        Rotation::Rotated { user_id } => {
            let user = state
                .store
                .users
                .find_by_id(&user_id)
                .await?
                .filter(|u| u.status == UserStatus::Active)
                .ok_or(ApiError::Unauthorized("invalid-refresh-token"))?;
            // A token live for the rotation was live a moment before.
            let (_, family_id) = sign_in.ok_or(ApiError::Unauthorized("invalid-refresh-token"))?;
            token_pair(state, &user, next_token, &family_id)
        }
        Rotation::Reused { user_id, family_id } => {
            tracing::warn!(user_id = %user_id, family_id, "refresh token reused; family revoked");
            end_sign_in(state, &user_id, &family_id).await?;
            Err(ApiError::Unauthorized("invalid-refresh-token"))
        }
        Rotation::Invalid => Err(ApiError::Unauthorized("invalid-refresh-token")),
    }
}

/// Ends the session the refresh token belongs to: its refresh tokens and access tokens. Unknown
/// tokens are ignored: signing out twice is not an error.
pub async fn logout(state: &AppState, user: &User, refresh_token: &str) -> Result<(), ApiError> {
    let now = state.clock.now();
    if let Some((owner, family_id)) = state
        .store
        .sessions
        .live_family(&secrets::token_hash(refresh_token), now)
        .await?
        && owner == user.id
    {
        // Access tokens first: should the store fail next, the client's retry finds the family
        // still live and ends it; the other way round, a Redis failure would leave the access
        // tokens working with no family left to end them by.
        end_sign_in(state, &user.id, &family_id).await?;
        state.store.sessions.revoke_family(&family_id, now).await?;
    }
    Ok(())
}

/// Refuses the access tokens of a sign-in from now on, and closes the sockets opened with them.
/// The record lives as long as a token issued just before could still be accepted; after that
/// the tokens refuse themselves.
async fn end_sign_in(state: &AppState, user_id: &UserId, family_id: &str) -> Result<(), ApiError> {
    // Margin for the verifiers' leeway and for clocks of issuing processes running ahead.
    let ttl = state
        .auth
        .access_ttl
        .as_secs()
        .saturating_add(noillin_auth::LEEWAY_SECS + 60);
    state.redis.end_sign_in(family_id, ttl).await?;
    state
        .redis
        .publish_command(&RealtimeCommand::Disconnect {
            room: sign_in_room(user_id.as_str(), family_id),
        })
        .await?;
    Ok(())
}

/// Starts a reset for the account with this email, if there is one. Always succeeds, so the
/// answer never tells whether an email is registered.
pub async fn request_password_reset(
    state: &AppState,
    email: &str,
    correlation_id: Option<String>,
) -> Result<(), ApiError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let Some(user) = state.store.users.find_by_email(&email).await? else {
        return Ok(());
    };
    if user.status != UserStatus::Active {
        return Ok(());
    }
    let window = state
        .redis
        .increment_window(&format!("reset-requests:{}", user.id), 3600)
        .await?;
    if window.count > state.auth.max_resets_per_hour {
        tracing::info!(user_id = %user.id, "password reset request over the hourly limit ignored");
        return Ok(());
    }
    let request = PasswordResetRequest {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.id.clone(),
        expires_at: expiry(state.clock.now(), state.auth.reset_ttl),
    };
    // The request and its mail job are stored together: no request without its mail, and the
    // mail leaves even if RabbitMQ is down right now. The worker mints the token, so no secret
    // is stored or queued.
    let mail = Event::PasswordResetMail {
        request_id: request.id.clone(),
        user_id: user.id.to_string(),
    };
    let messages = outbox::messages(vec![mail], correlation_id.as_deref())?;
    state
        .store
        .password_resets
        .insert(&request, &messages)
        .await?;
    state.relay_waker.wake();
    tracing::info!(user_id = %user.id, request_id = request.id, "password reset requested");
    Ok(())
}

/// How often a change that ends a user's sessions is tried when the user's token version moved
/// between reading and writing (another change of the same user came first).
const SESSIONS_END_ATTEMPTS: u32 = 3;

/// Sets a new password with a reset token, and ends every session of the account — one store
/// transaction, so the token is used up only together with the new password.
pub async fn confirm_password_reset(
    state: &AppState,
    token: &Secret,
    password: Secret,
    correlation_id: Option<String>,
) -> Result<(), ApiError> {
    let token_hash = secrets::token_hash(token.expose());
    let invalid_token =
        || ApiError::invalid("token", "invalid_token", "is invalid, used or expired");
    // Validate everything before using the token up: a refused password leaves it usable.
    let user_id = state
        .store
        .password_resets
        .live_user(&token_hash, state.clock.now())
        .await?
        .ok_or_else(invalid_token)?;
    let mut user = state
        .store
        .users
        .find_by_id(&user_id)
        .await?
        .ok_or_else(invalid_token)?;
    let mut errors = ValidationErrors::default();
    check_password(password.expose(), &user.email, &mut errors);
    errors.into_result(())?;
    let hash = secrets::hash_password(password).await?;
    let mut attempt = 1;
    let user = loop {
        let change = SessionsEnd {
            user_id: user.id.clone(),
            expected_token_version: user.token_version,
            at: state.clock.now(),
        };
        let messages = outbox::messages(vec![sessions_ended(&user)], correlation_id.as_deref())?;
        // Of two racing confirmations, only the one that uses the token up sets its password.
        match state
            .store
            .password_resets
            .complete(&token_hash, &change, &hash, &messages)
            .await
        {
            Ok(Some(user)) => break user,
            Ok(None) => return Err(invalid_token()),
            Err(StoreError::Conflict(Constraint::StaleVersion))
                if attempt < SESSIONS_END_ATTEMPTS =>
            {
                attempt += 1;
                user = state
                    .store
                    .users
                    .find_by_id(&user_id)
                    .await?
                    .ok_or_else(invalid_token)?;
            }
            Err(e) => return Err(e.into()),
        }
    };
    state.relay_waker.wake();
    tracing::info!(user_id = %user.id, "password reset");
    Ok(())
}

/// The user `id` names when it is an active influencer: the only users others may look up or
/// invite.
pub async fn active_influencer(state: &AppState, id: &UserId) -> Result<Option<User>, ApiError> {
    if id.as_str().len() > MAX_ID_LEN {
        return Ok(None);
    }
    Ok(state
        .store
        .users
        .find_by_id(id)
        .await?
        .filter(|u| u.role == Role::Influencer && u.status == UserStatus::Active))
}

/// What administrators do, as the audit log names it.
#[derive(Debug, Clone, Copy)]
enum AuditAction {
    AdminCreated,
    UserSuspended,
    UserReinstated,
}

impl AuditAction {
    fn as_str(self) -> &'static str {
        match self {
            AuditAction::AdminCreated => "admin.created",
            AuditAction::UserSuspended => "user.suspended",
            AuditAction::UserReinstated => "user.reinstated",
        }
    }
}

/// An audit entry of `action` on user `target` by `actor` (`None`: the command line).
fn audit_entry(
    actor: Option<&UserId>,
    action: AuditAction,
    target: &UserId,
    at: Timestamp,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        actor: actor.cloned(),
        action: action.as_str().to_owned(),
        target: format!("user:{target}"),
        at,
        details,
    }
}

/// The event that tells realtime `user`'s sessions ended, once the change that ends them (which
/// bumps the token version by one) is stored.
fn sessions_ended(user: &User) -> Event {
    Event::UserSessionsEnded {
        user_id: user.id.to_string(),
        token_version: user.token_version.saturating_add(1),
    }
}

/// Suspends or reinstates a user, with its audit entry, in one store transaction. Either way
/// every session ends at once: the token version goes up (access tokens stop working here at
/// once), refresh tokens are revoked, and the worker tells realtime (which refuses the old
/// tokens and closes open sockets).
pub async fn set_status(
    state: &AppState,
    admin: &User,
    target: &UserId,
    status: UserStatus,
    correlation_id: Option<String>,
) -> Result<User, ApiError> {
    if &admin.id == target {
        return Err(ApiError::Conflict(
            "cannot-change-self",
            "administrators cannot change their own status".into(),
        ));
    }
    if target.as_str().len() > MAX_ID_LEN {
        return Err(ApiError::NotFound);
    }
    let action = match status {
        UserStatus::Suspended => AuditAction::UserSuspended,
        UserStatus::Active => AuditAction::UserReinstated,
    };
    let mut attempt = 1;
    let user = loop {
        let user = state
            .store
            .users
            .find_by_id(target)
            .await?
            .ok_or(ApiError::NotFound)?;
        let now = state.clock.now();
        let change = SessionsEnd {
            user_id: user.id.clone(),
            expected_token_version: user.token_version,
            at: now,
        };
        let audit = audit_entry(
            Some(&admin.id),
            action,
            &user.id,
            now,
            serde_json::json!({ "previous_status": user.status.as_str() }),
        );
        let messages = outbox::messages(vec![sessions_ended(&user)], correlation_id.as_deref())?;
        match state
            .store
            .users
            .set_status(&change, status, &audit, &messages)
            .await
        {
            Ok(user) => break user,
            Err(StoreError::Conflict(Constraint::StaleVersion))
                if attempt < SESSIONS_END_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(StoreError::NotFound) => return Err(ApiError::NotFound),
            Err(e) => return Err(e.into()),
        }
    };
    state.relay_waker.wake();
    tracing::info!(admin_id = %admin.id, user_id = %user.id, status = status.as_str(), "user status changed");
    Ok(user)
}

async fn start_session(state: &AppState, user: &User) -> Result<TokenPair, ApiError> {
    let now = state.clock.now();
    let refresh_token = secrets::random_token()?;
    let family_id = new_family_id()?;
    state
        .store
        .sessions
        .insert(&RefreshToken {
            token_hash: secrets::token_hash(&refresh_token),
            family_id: family_id.clone(),
            user_id: user.id.clone(),
            issued_at: now,
            expires_at: expiry(now, state.auth.refresh_ttl),
        })
        .await?;
    token_pair(state, user, refresh_token, &family_id)
}

/// A fresh access token for `user`'s sign-in `family_id`, handed out with the refresh token
/// stored for it.
fn token_pair(
    state: &AppState,
    user: &User,
    refresh_token: String,
    family_id: &str,
) -> Result<TokenPair, ApiError> {
    let access_token = state
        .tokens
        .issue(
            user.id.as_str(),
            user.role,
            user.token_version,
            family_id,
            state.auth.access_ttl,
        )
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("signing an access token: {e}")))?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in: state.auth.access_ttl.as_secs(),
        refresh_token,
    })
}

/// A sign-in's family id: 128 random bits, hex.
fn new_family_id() -> Result<String, ApiError> {
    Ok(secrets::random_token()?[..32].to_owned())
}

/// `now + ttl`, at most the end of the calendar: no configured lifetime can overflow into a
/// panic.
fn expiry(now: Timestamp, ttl: Duration) -> Timestamp {
    now.saturating_add(ttl).unwrap_or(Timestamp::MAX)
}
