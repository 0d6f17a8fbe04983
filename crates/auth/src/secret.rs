//! Secrets in memory (passwords, refresh and reset tokens) and the opaque tokens the platform
//! mints. A [`Secret`] cannot end up in a log by accident: it has no `Display`, its `Debug`
//! prints a placeholder, and reading it takes an explicit [`Secret::expose`].

use sha2::{Digest, Sha256};

/// A string that must never be logged: a password or a token.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (hashing it, putting it in a mail or
    /// a response).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret itself, by value.
    pub fn into_exposed(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// The system's randomness failed: nothing secret can be made.
#[derive(Debug, thiserror::Error)]
#[error("randomness: {0}")]
pub struct RandomnessError(String);

/// A fresh random token (256 bits, hex) for refresh and reset links.
pub fn random_token() -> Result<Secret, RandomnessError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RandomnessError(e.to_string()))?;
    Ok(Secret(hex::encode(bytes)))
}

/// How tokens are stored: SHA-256, hex. A token has 256 bits of entropy, so a fast hash is
/// enough; what matters is that a database dump holds nothing usable.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_a_secret_even_inside_other_values() {
        let secret = Secret::new("hunter2-correct-horse");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        let nested = format!("{:?}", Some(vec![secret.clone()]));
        assert!(!nested.contains("hunter2"), "{nested}");
        assert_eq!(secret.expose(), "hunter2-correct-horse");
    }

    #[test]
    fn a_secret_deserializes_from_a_plain_string() {
        let secret: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(secret.expose(), "abc");
    }

    #[test]
    fn tokens_are_random_hex_and_hashes_are_stable() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert_eq!(token_hash(a.expose()), token_hash(a.expose()));
        assert_ne!(token_hash(a.expose()), a.expose());
    }
}
