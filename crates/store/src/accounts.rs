//! The accounts ports: users and their credentials, public profiles, sign-in sessions
//! (refresh-token families) and password resets.

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::{BrandProfile, Email, InfluencerProfile, User, UserId, UserStatus};

use crate::{AuditEntry, OutboxMessage, PageRequest, StoreError};

/// The profile created together with a user. An account's name is stored once, as the user's
/// `display_name`: the profile's own name field (an influencer's `display_name`, a brand's
/// `company_name`) is not stored on insert, and reads back as the user's name.
#[derive(Debug, Clone, PartialEq)]
pub enum NewProfile {
    Influencer(InfluencerProfile),
    Brand(BrandProfile),
    /// Admins have no public profile.
    None,
}

/// Users and their credentials.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Creates a user and its profile in one atomic step. `Conflict(UserEmail)` when the email
    /// is taken; then nothing is written.
    async fn insert(&self, user: &User, profile: &NewProfile) -> Result<(), StoreError>;
    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
    /// Creates an administrator (admins have no profile) and the audit entry of its creation
    /// in one atomic step. `Conflict(UserEmail)` when the email is taken; then nothing is
    /// written.
    async fn insert_admin(&self, user: &User, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Sets the status, bumps the token version, revokes every refresh token of the user, and
    /// stores the audit entry and the messages, in one atomic step; returns the updated user.
    /// `NotFound` for an unknown user, `Conflict(StaleVersion)` when the token version is no
    /// longer `change.expected_token_version`; nothing is written then.
    async fn set_status(
        &self,
        change: &SessionsEnd,
        status: UserStatus,
        audit: &AuditEntry,
        outbox: &[OutboxMessage],
    ) -> Result<User, StoreError>;
    /// Whether any of `ids` is a suspended user (ids of no user count as not suspended): one
    /// read however many ids, for the members of a gig.
    async fn any_suspended(&self, ids: &[UserId]) -> Result<bool, StoreError>;
}

/// A change that ends every session of a user (a password reset, a status change): the token
/// version goes up by one, so every access token issued before stops working, and every
/// refresh token is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionsEnd {
    pub user_id: UserId,
    /// The token version the caller read. The change is a compare-and-swap on it, so the
    /// version the caller's messages announce (`expected_token_version + 1`) is the one stored.
    pub expected_token_version: u32,
    pub at: Timestamp,
}

/// Public profiles. A profile's name is its user's `display_name`, stored once: it is read from
/// the user, and a profile update renames the user in the same atomic step, so every reader of
/// the name (the account, notifications, mails) sees the new one.
#[async_trait]
pub trait ProfileRepository: Send + Sync {
    /// The influencer profile, its `display_name` the user's.
    async fn influencer(&self, user_id: &UserId) -> Result<Option<InfluencerProfile>, StoreError>;
    /// Replaces the profile of an existing influencer, sets the user's `display_name` to the
    /// profile's and stores the messages the change emits, in one atomic step; `NotFound`
    /// (nothing written, messages included) when there is no profile.
    /// The rating and review count are not written: reviews own them
    /// ([`ReviewRepository::insert`]).
    async fn update_influencer(
        &self,
        profile: &InfluencerProfile,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError>;
    /// The influencer's payout account (a connected account at the payment provider), once
    /// they have one.
    async fn payout_account(&self, user_id: &UserId) -> Result<Option<String>, StoreError>;
    /// Records the influencer's payout account unless they have one already; answers the one
    /// stored (theirs from before, or `account_id`). `NotFound` when there is no such
    /// influencer.
    async fn set_payout_account(
        &self,
        user_id: &UserId,
        account_id: &str,
    ) -> Result<String, StoreError>;
    /// The brand profile, its `company_name` the user's `display_name`.
    async fn brand(&self, user_id: &UserId) -> Result<Option<BrandProfile>, StoreError>;
    /// Replaces the profile of an existing brand and sets the user's `display_name` to its
    /// `company_name`, in one atomic step; `NotFound` (nothing written) when there is no
    /// profile.
    async fn update_brand(&self, profile: &BrandProfile) -> Result<(), StoreError>;
    /// The ids of influencer accounts (any status), in id order: for rebuilding whatever is
    /// derived from every influencer (a search reindex).
    async fn influencer_ids(&self, page: &PageRequest) -> Result<Vec<UserId>, StoreError>;
}

/// One refresh token as stored: only its hash, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// SHA-256 of the token, hex; unique.
    pub token_hash: String,
    /// Every token rotated from the same login shares the family id.
    pub family_id: String,
    pub user_id: UserId,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token was live and is now consumed; the new one is stored.
    Rotated { user_id: UserId },
    /// The presented token had been consumed before: it was stolen or replayed. The whole
    /// family is revoked, the new token included.
    Reused { user_id: UserId, family_id: String },
    /// Unknown, expired or revoked: nothing changed.
    Invalid,
}

/// Refresh-token families (one per login).
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores the first token of a new family (at login).
    async fn insert(&self, token: &RefreshToken) -> Result<(), StoreError>;
    /// Consumes the live token whose hash is `presented_hash` and stores `next` (same family,
    /// same user) — atomically with respect to concurrent rotations of the same token: of two
    /// racing rotations exactly one gets `Rotated`, the other `Reused`.
    async fn rotate(
        &self,
        presented_hash: &str,
        next: &RefreshToken,
        now: Timestamp,
    ) -> Result<Rotation, StoreError>;
    /// Finds the family of a live (unconsumed, unrevoked, unexpired) token.
    async fn live_family(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(UserId, String)>, StoreError>;
    /// Revokes every token of a family (logout).
    async fn revoke_family(&self, family_id: &str, now: Timestamp) -> Result<(), StoreError>;
    /// Revokes every token of every family of a user (password change, suspension).
    async fn revoke_user(&self, user_id: &UserId, now: Timestamp) -> Result<(), StoreError>;
}

/// A password reset someone asked for. Its token is minted by whoever mails it (the worker), so
/// the request is stored without one; only the token's hash is ever stored, once minted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordResetRequest {
    /// A UUIDv7; unique.
    pub id: String,
    pub user_id: UserId,
    pub expires_at: Timestamp,
}

/// Password reset requests and their single-use tokens, stored hashed.
#[async_trait]
pub trait PasswordResetRepository: Send + Sync {
    /// Stores a request (without a token) and the messages it emits (the reset mail job) in one
    /// atomic step.
    async fn insert(
        &self,
        request: &PasswordResetRequest,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError>;
    /// Gives the live (unused, unexpired) request `id` of `user_id` the hash of its token,
    /// replacing any hash it had: a request has at most one working token, the last one minted.
    /// Returns the request; `None` when it is unknown, another user's, used or expired (then
    /// nothing changes).
    async fn set_token(
        &self,
        id: &str,
        user_id: &UserId,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<PasswordResetRequest>, StoreError>;
    /// The user of a live (unused, unexpired) token, without using it: lets a request be
    /// validated before anything changes.
    async fn live_user(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError>;
    /// Completes a reset in one atomic step: uses up the live token `token_hash` of
    /// `change.user_id`, replaces the user's password hash, bumps the token version, revokes
    /// every refresh token of the user and stores the messages; returns the updated user.
    /// `None` when the token is unknown, used, expired or another user's; `NotFound` for an
    /// unknown user; `Conflict(StaleVersion)` when the token version is no longer
    /// `change.expected_token_version`. Nothing is written unless the user is returned; of two
    /// racing completions with one token at most one succeeds.
    async fn complete(
        &self,
        token_hash: &str,
        change: &SessionsEnd,
        password_hash: &str,
        outbox: &[OutboxMessage],
    ) -> Result<Option<User>, StoreError>;
}
