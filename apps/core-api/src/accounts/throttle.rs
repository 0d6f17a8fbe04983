//! Sign-in throttling: failed attempts are counted per account and per client address in
//! Redis (shared by every core-api process). Past either limit, sign-in is refused (429 with
//! `Retry-After`) until the window ends — also for the right password, or an attacker could
//! keep guessing and simply ignore the 429s.
//!
//! Every attempt is counted as a failure when it is admitted, in the same Redis step as the
//! check, and given back once it turns out not to be one. Counting only after the password was
//! verified would let every guess sent at once pass the check before any of them is counted.
//! The price: while a right password is being verified it holds a place under the limit, so a
//! guess racing it may get 429 one attempt early.

use noillin_domain::Email;
use noillin_redis::Admission;
use sha2::{Digest, Sha256};

use super::AccountsError;
use crate::AppState;

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

    /// Refused when either counter is at its limit; otherwise the attempt is counted as a failure
    /// by both until [`Self::record_success`] or [`Self::give_back`] says otherwise.
    pub async fn admit(&self) -> Result<(), AccountsError> {
        let settings = &self.state.auth;
        let mut counters = Vec::with_capacity(2);
        if let Some(key) = &self.account_key {
            counters.push((key.as_str(), settings.max_failures_per_account));
        }
        counters.push((self.ip_key.as_str(), settings.max_failures_per_ip));
        let window = settings.failure_window.as_secs().max(1);
        match self.state.redis.admit(&counters, window).await? {
            Admission::Admitted => Ok(()),
            Admission::Refused { retry_after_secs } => {
                Err(AccountsError::Throttled { retry_after_secs })
            }
        }
    }

    /// A successful sign-in clears the account's failures, and takes its attempt back from the
    /// address (only its own: one good account must not whitewash guessing at others from the
    /// same address).
    pub async fn record_success(&self) -> Result<(), AccountsError> {
        if let Some(key) = &self.account_key {
            self.state.redis.reset_window(key).await?;
        }
        self.state.redis.give_back(&[&self.ip_key]).await?;
        Ok(())
    }

    /// Takes the attempt back from both counters: it ended without telling whether the
    /// password was right (a backing service failed) or was not a guess (a suspended
    /// account's right password).
    pub async fn give_back(&self) -> Result<(), AccountsError> {
        let mut keys = vec![self.ip_key.as_str()];
        if let Some(key) = &self.account_key {
            keys.push(key);
        }
        self.state.redis.give_back(&keys).await?;
        Ok(())
    }
}
