//! Users: identity, role, status, and the rules for emails and passwords.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{ValidationErrors, id::string_id};

string_id! {
    /// An opaque user id (a UUIDv7, so ids sort by creation time).
    UserId
}

impl UserId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Brand,
    Influencer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Brand => "brand",
            Role::Influencer => "influencer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "brand" => Some(Role::Brand),
            "influencer" => Some(Role::Influencer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Whether a user may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Suspended,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(UserStatus::Active),
            "suspended" => Some(UserStatus::Suspended),
            _ => None,
        }
    }
}

/// An email address, normalized: trimmed and lower-cased, so uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

/// Longest address SMTP can carry (RFC 5321 path limit).
const EMAIL_MAX: usize = 254;

impl Email {
    /// Parses and normalizes. Deliberately permissive beyond the basic shape: the only real
    /// check of an address is a mail that arrives.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("must not be empty");
        }
        if email.len() > EMAIL_MAX {
            return Err("must be at most 254 characters");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("must be an email address");
        };
        let valid = !local.is_empty()
            && local.len() <= 64
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err("must be an email address");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    /// PHC string of the argon2id hash; never leaves core-api.
    pub password_hash: String,
    pub role: Role,
    pub status: UserStatus,
    /// Bumped to revoke every access token issued before.
    pub token_version: u32,
    /// The name the account is shown by; its profile (an influencer's display name, a brand's
    /// company name) shows and edits this same name.
    pub display_name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    /// Only active accounts sign in, refresh their tokens or get reset mails.
    pub fn can_sign_in(&self) -> bool {
        self.status == UserStatus::Active
    }

    /// Whether others may look this user up or invite it: active influencers only. A
    /// suspended influencer is not found, as if it did not exist.
    pub fn is_public_influencer(&self) -> bool {
        self.role == Role::Influencer && self.status == UserStatus::Active
    }

    /// Whether administrator `actor` may set this user's status. Never its own: it could lock
    /// the last administrator out, or lift its own suspension.
    pub fn check_status_change_by(&self, actor: &UserId) -> Result<(), StatusChangeRefused> {
        if &self.id == actor {
            return Err(StatusChangeRefused::OwnStatus);
        }
        Ok(())
    }
}

/// Why an administrator may not change a user's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatusChangeRefused {
    #[error("administrators cannot change their own status")]
    OwnStatus,
}

/// Password length bounds, in characters. Long passphrases are welcome; the upper bound only
/// keeps hashing cost bounded.
pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 128;

/// Passwords so common that they are guessed first.
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "qwertyuiop",
    "password123",
    "password1234",
    "passwordpassword",
    "iloveyou123",
    "1q2w3e4r5t",
    "qwerty12345",
    "0123456789",
    "abcdefghij",
    "letmein1234",
    "welcome123",
    "noillin123",
];

/// Checks a new password against the policy: length bounds, not the email (or its local
/// part), not a notoriously common password. No composition rules (NIST SP 800-63B).
pub fn check_password(password: &str, email: &Email, errors: &mut ValidationErrors) {
    let length = password.chars().count();
    if length < PASSWORD_MIN {
        errors.add(
            "password",
            "too_short",
            format!("must be at least {PASSWORD_MIN} characters"),
        );
        return;
    }
    if length > PASSWORD_MAX {
        errors.add(
            "password",
            "too_long",
            format!("must be at most {PASSWORD_MAX} characters"),
        );
        return;
    }
    let lowered = password.to_lowercase();
    let local = email.as_str().split('@').next().unwrap_or_default();
    if lowered == email.as_str() || lowered == local {
        errors.add(
            "password",
            "matches_email",
            "must not be your email address",
        );
    } else if COMMON_PASSWORDS.contains(&lowered.as_str()) {
        errors.add("password", "too_common", "is too common; choose another");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn user(role: Role, status: UserStatus) -> User {
        let now = Timestamp::from_second(1_780_000_000).unwrap();
        User {
            id: UserId::generate(),
            email: Email::parse("ana@example.com").unwrap(),
            password_hash: String::new(),
            role,
            status,
            token_version: 0,
            display_name: "Ana".into(),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn only_active_accounts_sign_in() {
        assert!(user(Role::Brand, UserStatus::Active).can_sign_in());
        assert!(!user(Role::Brand, UserStatus::Suspended).can_sign_in());
    }

    #[test]
    fn only_active_influencers_are_public() {
        assert!(user(Role::Influencer, UserStatus::Active).is_public_influencer());
        assert!(!user(Role::Influencer, UserStatus::Suspended).is_public_influencer());
        assert!(!user(Role::Brand, UserStatus::Active).is_public_influencer());
        assert!(!user(Role::Admin, UserStatus::Active).is_public_influencer());
    }

    #[test]
    fn an_administrator_changes_others_status_but_never_its_own() {
        let admin = user(Role::Admin, UserStatus::Active);
        let brand = user(Role::Brand, UserStatus::Active);

        assert_eq!(brand.check_status_change_by(&admin.id), Ok(()));
        assert_eq!(
            admin.check_status_change_by(&admin.id),
            Err(StatusChangeRefused::OwnStatus)
        );
    }

    #[test]
    fn emails_are_normalized_to_lower_case_and_trimmed() {
        let email = Email::parse("  Ana.Silva@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ana.silva@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for raw in [
            "",
            "plain",
            "@example.com",
            "a@b",
            "a@.com",
            "a@com.",
            "a b@c.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    fn password_errors(password: &str, email: &str) -> Vec<&'static str> {
        let mut errors = ValidationErrors::default();
        check_password(password, &Email::parse(email).unwrap(), &mut errors);
        errors.0.iter().map(|e| e.code).collect()
    }

    #[test]
    fn the_password_policy_names_each_problem() {
        assert_eq!(password_errors("short", "a@b.co"), ["too_short"]);
        assert_eq!(password_errors(&"x".repeat(129), "a@b.co"), ["too_long"]);
        assert_eq!(
            password_errors("Ana@Example.com", "ana@example.com"),
            ["matches_email"]
        );
        assert_eq!(
            password_errors("anasilva-x", "anasilva-x@example.com"),
            ["matches_email"]
        );
        assert_eq!(password_errors("Password123", "a@b.co"), ["too_common"]);
        assert!(password_errors("correct horse battery", "a@b.co").is_empty());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Ten characters, thirty bytes.
        assert!(password_errors("日本語日本語日本語日", "a@b.co").is_empty());
    }

    proptest! {
        #[test]
        fn a_parsed_email_parses_again_to_itself(local in "[a-zA-Z0-9._%+-]{1,20}", domain in "[a-z0-9-]{1,20}\\.[a-z]{2,6}") {
            let email = Email::parse(&format!("{local}@{domain}")).unwrap();
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email.clone());
            prop_assert_eq!(email.as_str().to_lowercase(), email.as_str());
        }

        #[test]
        fn generated_user_ids_are_unique(n in 2usize..50) {
            let ids: Vec<UserId> = (0..n).map(|_| UserId::generate()).collect();
            let mut sorted = ids.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), n);
        }
    }
}
