//! Password reset: a request mails a one-time link (the worker mints the token); confirming
//! it sets a new password and ends every session of the account.

use noillin_auth::Secret;
use noillin_domain::event::Event;
use noillin_domain::{Email, ValidationErrors, check_password};
use noillin_store::{Constraint, PasswordResetRequest, SessionsEnd, StoreError};

use super::{AccountsError, SESSIONS_END_ATTEMPTS, expiry, secrets, sessions_ended};
use crate::{AppState, outbox};

/// Starts a reset for the account with this email, if there is one. Always succeeds, so the
/// answer never tells whether an email is registered.
pub async fn request_password_reset(
    state: &AppState,
    email: &str,
    correlation_id: Option<String>,
) -> Result<(), AccountsError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let Some(user) = state.store.users.find_by_email(&email).await? else {
        return Ok(());
    };
    if !user.can_sign_in() {
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

/// Sets a new password with a reset token, and ends every session of the account — one store
/// transaction, so the token is used up only together with the new password.
pub async fn confirm_password_reset(
    state: &AppState,
    token: &Secret,
    password: Secret,
    correlation_id: Option<String>,
) -> Result<(), AccountsError> {
    let token_hash = secrets::token_hash(token.expose());
    // Validate everything before using the token up: a refused password leaves it usable.
    let user_id = state
        .store
        .password_resets
        .live_user(&token_hash, state.clock.now())
        .await?
        .ok_or(AccountsError::InvalidResetToken)?;
    let mut user = state
        .store
        .users
        .find_by_id(&user_id)
        .await?
        .ok_or(AccountsError::InvalidResetToken)?;
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
            Ok(None) => return Err(AccountsError::InvalidResetToken),
            Err(StoreError::Conflict(Constraint::StaleVersion))
                if attempt < SESSIONS_END_ATTEMPTS =>
            {
                attempt += 1;
                user = state
                    .store
                    .users
                    .find_by_id(&user_id)
                    .await?
                    .ok_or(AccountsError::InvalidResetToken)?;
            }
            Err(e) => return Err(e.into()),
        }
    };
    state.relay_waker.wake();
    tracing::info!(user_id = %user.id, "password reset");
    Ok(())
}
