//! Sign-in throttling: failed attempts are counted per account and per client address in
//! Redis (shared by every core-api process). Past either limit, sign-in answers 429 with
//! `Retry-After` until the window ends — also for the right password, or an attacker could
//! keep guessing and simply ignore the 429s.

use noillin_domain::Email;
use sha2::{Digest, Sha256};

use crate::{AppState, error::ApiError};

pub struct LoginThrottle<'a> {
    state: &'a AppState,
    account_key: Option<String>,
    ip_key: String,
}

impl<'a> LoginThrottle<'a> {
    pub fn new(state: &'a AppState, email: Option<&Email>, client_ip: &str) -> Self {
        // Emails are personal data: the key holds a digest, not the address.
        let account_key = email.map(|e| {
            format!(
                "login-failures:account:{}",
                hex::encode(&Sha256::digest(e.as_str())[..12])
            )
        });
        Self {
            state,
            account_key,
            ip_key: format!("login-failures:ip:{client_ip}"),
        }
    }

    /// 429 when either counter is at its limit.
    pub async fn check(&self) -> Result<(), ApiError> {
        let settings = &self.state.auth;
        if let Some(key) = &self.account_key {
            let window = self.state.redis.window(key).await?;
            if window.count >= settings.max_failures_per_account {
                return Err(ApiError::TooManyRequests {
                    retry_after_secs: window.resets_in_secs,
                });
            }
        }
        let window = self.state.redis.window(&self.ip_key).await?;
        if window.count >= settings.max_failures_per_ip {
            return Err(ApiError::TooManyRequests {
                retry_after_secs: window.resets_in_secs,
            });
        }
        Ok(())
    }

    pub async fn record_failure(&self) -> Result<(), ApiError> {
        let window = self.state.auth.failure_window.as_secs().max(1);
        if let Some(key) = &self.account_key {
            self.state.redis.increment_window(key, window).await?;
        }
        self.state
            .redis
            .increment_window(&self.ip_key, window)
            .await?;
        Ok(())
    }

    /// A successful sign-in clears the account's failures (not the address's: one good
    /// account must not whitewash guessing at others from the same address).
    pub async fn record_success(&self) -> Result<(), ApiError> {
        if let Some(key) = &self.account_key {
            self.state.redis.reset_window(key).await?;
        }
        Ok(())
    }
}
