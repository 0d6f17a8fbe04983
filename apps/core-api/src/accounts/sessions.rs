//! Sign-in, refresh-token rotation and sign-out.

use noillin_domain::{Email, User, UserId};
use noillin_redis::{RealtimeCommand, sign_in_room};
use noillin_store::{RefreshToken, Rotation};

use super::{AccountsError, LoginThrottle, TokenPair, expiry, secrets};
use crate::AppState;

/// Signs in with an email and a password, throttled per account and per client address.
pub async fn login(
    state: &AppState,
    email: &str,
    password: String,
    client_ip: &str,
) -> Result<TokenPair, AccountsError> {
    // An unparseable email gets the same answer as a wrong password.
    let email = Email::parse(email).ok();
    let throttle = LoginThrottle::new(state, email.as_ref(), client_ip);
    throttle.admit().await?;
    // The attempt counts as a failure from here on unless it turns out not to be one.
    match signed_in_user(state, email.as_ref(), password).await {
        Ok(Some(user)) if user.can_sign_in() => {
            throttle.record_success().await?;
            start_session(state, &user).await
        }
        Ok(Some(_)) => {
            throttle.give_back().await?;
            Err(AccountsError::Suspended)
        }
        Ok(None) => Err(AccountsError::InvalidCredentials),
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
) -> Result<Option<User>, AccountsError> {
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
pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<TokenPair, AccountsError> {
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
                .filter(User::can_sign_in)
                .ok_or(AccountsError::InvalidRefreshToken)?;
            // A token live for the rotation was live a moment before.
            let (_, family_id) = sign_in.ok_or(AccountsError::InvalidRefreshToken)?;
            token_pair(state, &user, next_token, &family_id)
        }
        Rotation::Reused { user_id, family_id } => {
            tracing::warn!(user_id = %user_id, family_id, "refresh token reused; family revoked");
            end_sign_in(state, &user_id, &family_id).await?;
            Err(AccountsError::InvalidRefreshToken)
        }
        Rotation::Invalid => Err(AccountsError::InvalidRefreshToken),
    }
}

/// Ends the session the refresh token belongs to: its refresh tokens and access tokens. Unknown
/// tokens are ignored: signing out twice is not an error.
pub async fn logout(
    state: &AppState,
    user: &User,
    refresh_token: &str,
) -> Result<(), AccountsError> {
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
async fn end_sign_in(
    state: &AppState,
    user_id: &UserId,
    family_id: &str,
) -> Result<(), AccountsError> {
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

/// Starts a sign-in of `user`: a new refresh-token family and the pair of tokens for it.
pub(super) async fn start_session(
    state: &AppState,
    user: &User,
) -> Result<TokenPair, AccountsError> {
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
) -> Result<TokenPair, AccountsError> {
    let access_token = state
        .tokens
        .issue(
            user.id.as_str(),
            user.role,
            user.token_version,
            family_id,
            state.auth.access_ttl,
        )
        .map_err(|e| anyhow::anyhow!("signing an access token: {e}"))?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in: state.auth.access_ttl.as_secs(),
        refresh_token,
    })
}

/// A sign-in's family id: 128 random bits, hex.
fn new_family_id() -> anyhow::Result<String> {
    Ok(secrets::random_token()?[..32].to_owned())
}
