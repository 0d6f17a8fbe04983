//! Password hashing and opaque tokens. Secrets in memory are [`Secret`]s where they pass
//! through the accounts flows, so they cannot be logged by accident.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
pub use noillin_auth::Secret;

/// Argon2id with OWASP's recommended parameters: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None)?,
    ))
}

/// Hashes a password to a PHC string, off the async runtime (it takes tens of milliseconds of
/// CPU by design).
pub async fn hash_password(password: impl Into<Secret>) -> anyhow::Result<String> {
    let password = password.into();
    tokio::task::spawn_blocking(move || {
        let hash = argon2()
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?
            .hash_password(password.expose().as_bytes())
            .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
        Ok(hash.to_string())
    })
    .await?
}

/// Whether `password` matches the PHC string `hash`, off the async runtime. A malformed hash
/// matches nothing.
pub async fn verify_password(password: String, hash: String) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let argon2 = argon2().map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        Ok(argon2
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok())
    })
    .await?
}

/// A fresh random token (256 bits, hex) for refresh and reset links.
pub fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

/// How tokens are stored: SHA-256, hex (the same hash the worker stores for the reset tokens
/// it mints). The token has 256 bits of entropy, so a fast hash is enough; what matters is
/// that a database dump holds nothing usable.
pub fn token_hash(token: &str) -> String {
    noillin_auth::secret::token_hash(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let hash = hash_password(Secret::new("correct horse battery"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            verify_password("correct horse battery".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password("correct horse batterY".into(), hash)
                .await
                .unwrap()
        );
        assert!(
            !verify_password("x".into(), "not a hash".into())
                .await
                .unwrap()
        );
    }

    #[test]
    fn tokens_are_random_and_hashes_are_stable() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), a);
    }
}
