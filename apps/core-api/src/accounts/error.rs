//! What the account use cases answer when they do not succeed.

use noillin_domain::{ValidationErrors, user::StatusChangeRefused};
use noillin_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// The input breaks the rules; every field error is listed.
    #[error("invalid input: {}", field_messages(.0))]
    Invalid(#[from] ValidationErrors),
    #[error("an account with this email exists")]
    EmailTaken,
    /// Wrong email or wrong password: deliberately one answer for both.
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("the account is suspended")]
    Suspended,
    /// Too many failed sign-ins for the account or the client address.
    #[error("too many failed sign-ins; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// Unknown, expired, revoked or reused; or the account can no longer sign in.
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    /// Unknown, used or expired.
    #[error("the reset token is invalid, used or expired")]
    InvalidResetToken,
    /// No such user (or one the caller may not see).
    #[error("no such user")]
    NotFound,
    #[error("administrators cannot change their own status")]
    CannotChangeOwnStatus,
    /// Password hashing is at capacity in this process; retrying later helps.
    #[error("password hashing is at capacity")]
    HashingBusy,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Redis (sign-in throttling, sign-in state, realtime commands) did not answer.
    #[error("redis: {0}")]
    Redis(#[from] noillin_redis::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StatusChangeRefused> for AccountsError {
    fn from(refused: StatusChangeRefused) -> Self {
        match refused {
            StatusChangeRefused::OwnStatus => AccountsError::CannotChangeOwnStatus,
        }
    }
}

/// `email: not an email address; password: too short`, for the command line.
fn field_messages(errors: &ValidationErrors) -> String {
    errors
        .0
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AccountsError {
    /// An invalid input naming one field.
    pub(crate) fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::default();
        errors.add(field, code, message);
        AccountsError::Invalid(errors)
    }
}
