//! Access tokens shared by core-api (which issues them) and realtime (which checks socket
//! handshakes with them): HS256 JWTs carrying the user id, role, token version and sign-in.
//!
//! Only HS256 is accepted, `exp`, `iss` and `aud` are required and checked, and the leeway is
//! small: a token is either valid now or refused.

pub mod secret;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "noillin";
const AUDIENCE: &str = "noillin-api";
/// Tolerated clock skew between the processes that issue and check tokens.
pub const LEEWAY_SECS: u64 = 5;

pub use noillin_domain::Role;
pub use secret::Secret;

/// What an access token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub role: Role,
    /// The user's token version when the token was issued; bumping it revokes every token.
    pub ver: u32,
    /// The sign-in (refresh-token family) the token was issued to: ending that sign-in
    /// (logout, refresh-token reuse) refuses its tokens before they expire. Required: a token
    /// that cannot be tied to a sign-in cannot be revoked with it.
    pub sid: String,
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
}

/// Why a token was refused. Deliberately coarse: clients learn only that it was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("token invalid")]
    Invalid,
}

/// Signs and verifies access tokens with one shared secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(***)")
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Issues a token of the sign-in `session_id`, valid for `ttl` from now.
    pub fn issue(
        &self,
        user_id: &str,
        role: Role,
        version: u32,
        session_id: &str,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        let now = unix_now();
        let claims = Claims {
            sub: user_id.to_owned(),
            role,
            ver: version,
            sid: session_id.to_owned(),
            iat: now,
            // A TTL from configuration must not overflow into a panic.
            exp: now.saturating_add(ttl.as_secs()),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims (tests forge expired or odd tokens with it).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|_| TokenError::Invalid)
    }

    /// Checks signature, algorithm, expiry, issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> TokenKeys {
        TokenKeys::new(SECRET)
    }

    #[test]
    fn an_issued_token_verifies_to_its_claims() {
        let token = keys()
            .issue(
                "user-1",
                Role::Influencer,
                3,
                "family-1",
                Duration::from_secs(60),
            )
            .unwrap();
        let claims = keys().verify(&token).unwrap();
        assert_eq!(claims.sub, "user-1");
        assert_eq!(claims.role, Role::Influencer);
        assert_eq!(claims.ver, 3);
        assert_eq!(claims.sid, "family-1");
        assert_eq!(claims.exp - claims.iat, 60);
    }

    #[test]
    fn an_absurd_ttl_saturates_instead_of_overflowing() {
        let token = keys()
            .issue(
                "user-1",
                Role::Brand,
                0,
                "family-1",
                Duration::from_secs(u64::MAX),
            )
            .unwrap();
        assert_eq!(keys().verify(&token).unwrap().exp, u64::MAX);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_invalid() {
        let token = TokenKeys::new(b"another-secret-another-secret-xx")
            .issue(
                "user-1",
                Role::Brand,
                0,
                "family-1",
                Duration::from_secs(60),
            )
            .unwrap();
        assert_eq!(keys().verify(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let now = unix_now();
        let token = keys()
            .sign(&Claims {
                sub: "user-1".into(),
                role: Role::Brand,
                ver: 0,
                sid: "family-1".into(),
                iat: now - 600,
                exp: now - 60,
                iss: ISSUER.into(),
                aud: AUDIENCE.into(),
            })
            .unwrap();
        assert_eq!(keys().verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn a_tampered_payload_is_invalid() {
        let token = keys()
            .issue(
                "user-1",
                Role::Brand,
                0,
                "family-1",
                Duration::from_secs(60),
            )
            .unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        // Swap the payload for one claiming the admin role, keeping the old signature.
        let admin = keys()
            .issue(
                "user-1",
                Role::Admin,
                0,
                "family-1",
                Duration::from_secs(60),
            )
            .unwrap();
        parts[1] = admin.split('.').nth(1).unwrap().to_owned();
        assert_eq!(keys().verify(&parts.join(".")), Err(TokenError::Invalid));
    }

    #[test]
    fn an_unsigned_alg_none_token_is_invalid() {
        let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
        let token = keys()
            .issue(
                "user-1",
                Role::Admin,
                0,
                "family-1",
                Duration::from_secs(60),
            )
            .unwrap();
        let payload = token.split('.').nth(1).unwrap();
        assert_eq!(
            keys().verify(&format!("{header}.{payload}.")),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn a_token_for_another_audience_is_invalid() {
        let now = unix_now();
        let token = keys()
            .sign(&Claims {
                sub: "user-1".into(),
                role: Role::Brand,
                ver: 0,
                sid: "family-1".into(),
                iat: now,
                exp: now + 60,
                iss: ISSUER.into(),
                aud: "someone-else".into(),
            })
            .unwrap();
        assert_eq!(keys().verify(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn a_token_without_a_sign_in_is_invalid() {
        let now = unix_now();
        let claims = serde_json::json!({
            "sub": "user-1", "role": "brand", "ver": 0, "iat": now, "exp": now + 60,
            "iss": ISSUER, "aud": AUDIENCE,
        });
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(keys().verify(&token), Err(TokenError::Invalid));
    }
}
