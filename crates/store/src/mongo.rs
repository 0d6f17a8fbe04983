//! The production adapter: MongoDB through the official driver.
//!
//! Collections:
//! - `users`: one document per user (`_id` = user id) with its profile embedded as
//!   `influencer_profile` or `brand_profile`, so creating a user with its profile and replacing
//!   a profile are single-document (atomic) writes. `email` has a unique index.
//! - `refresh_tokens`: `_id` = token hash; indexed by `family_id` and `user_id`.
//! - `password_resets`: `_id` = token hash; indexed by `user_id`.
//! - `gigs`: one document per gig (`_id` = gig id), members embedded; see [`gigs`].
//! - `availability`: one document per user (`_id` = user id) with the weekly windows and the
//!   date overrides; see [`availability`].
//! - `outbox`: one document per message waiting to be published; see [`outbox`].
//! - `notifications`: one document per notification; see [`notifications`].
//! - `mails`: one document per outgoing mail; see [`mails`].
//!
//! A state change that emits outbox messages is a multi-document transaction, so the adapter
//! needs a replica set (or a sharded cluster), as production and CI run; on a standalone server
//! only those writes fail. Everything else is single-document writes.
//!
//! Both token collections carry a TTL index on `expires_at` (a BSON date), so the server purges
//! them some time after they expire (see [`REFRESH_TOKEN_RETENTION`] and
//! [`PASSWORD_RESET_RETENTION`]).
//!
//! The database handle uses write concern `majority` and read concern `majority` (weaker
//! concerns can lose acknowledged writes on failover) and reads from the primary, whatever the
//! URI says, so a caller always reads its own writes (a secondary may lag behind a write that a
//! majority has acknowledged). Timestamps are BSON dates (milliseconds),
//! so sub-millisecond precision is dropped (except a gig's `created_at`/`updated_at`, kept as
//! RFC 3339 strings: see [`gigs`]). Documents that do not decode make the operation fail
//! with `Unavailable`; nothing here panics on unexpected data.

mod availability;
mod gigs;
mod mails;
mod notifications;
mod outbox;

use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use jiff::Timestamp;
use mongodb::{
    Client, Collection, Database, IndexModel,
    bson::{self, DateTime, Document, doc},
    error::{Error as MongoError, ErrorKind, WriteFailure},
    options::{
        DatabaseOptions, IndexOptions, ReadConcern, ReadPreference, ReturnDocument,
        SelectionCriteria, WriteConcern,
    },
};
use noillin_domain::{
    BrandProfile, Email, InfluencerProfile, Role, SocialAccount, SocialPlatform, User, UserId,
    UserStatus,
};
use serde::{Deserialize, Serialize};

use crate::{
    Constraint, NewProfile, OutboxMessage, PasswordResetRepository, ProfileRepository,
    RefreshToken, Rotation, SessionRepository, StoreError, StoreHealth, UserRepository,
};

/// MongoDB's duplicate key error code.
const DUPLICATE_KEY: i32 = 11000;

/// How long after expiry the server keeps a refresh token. Expired tokens are refused whatever
/// their state, so this is not needed for correctness; a week keeps recent families readable for
/// investigating a reuse alarm, and bounds the collection.
const REFRESH_TOKEN_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// How long after expiry the server keeps a password reset token (for investigating abuse).
const PASSWORD_RESET_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

pub struct MongoStore {
    database: Database,
    users: Collection<UserDoc>,
    refresh_tokens: Collection<RefreshTokenDoc>,
    password_resets: Collection<PasswordResetDoc>,
    gigs: Collection<gigs::GigDoc>,
    availability: Collection<availability::AvailabilityDoc>,
    outbox: Collection<outbox::OutboxDoc>,
    notifications: Collection<notifications::NotificationDoc>,
    mails: Collection<mails::MailDoc>,
}

impl MongoStore {
    /// Connects, picks the database (the URI's default database if it names one, else
    /// `database`) and creates the indexes. Index creation needs the server, so an unreachable
    /// server fails the open after the driver's server selection timeout (30 s by default).
    pub async fn open(uri: &str, database: &str) -> Result<Self, StoreError> {
        let client = Client::with_uri_str(uri)
            .await
            .map_err(|e| StoreError::Unavailable(format!("MONGO_URI: {e}")))?;
        let name = client
            .default_database()
            .map(|db| db.name().to_owned())
            .unwrap_or_else(|| database.to_owned());
        let options = DatabaseOptions::builder()
            .selection_criteria(SelectionCriteria::ReadPreference(ReadPreference::Primary))
            .read_concern(ReadConcern::majority())
            .write_concern(WriteConcern::majority())
            .build();
        let database = client.database_with_options(&name, options);
        let store = Self {
            users: database.collection("users"),
            refresh_tokens: database.collection("refresh_tokens"),
            password_resets: database.collection("password_resets"),
            gigs: database.collection("gigs"),
            availability: database.collection("availability"),
            outbox: database.collection("outbox"),
            notifications: database.collection("notifications"),
            mails: database.collection("mails"),
            database,
        };
        store.create_indexes().await?;
        tracing::info!(database = %name, "MongoDB store opened");
        Ok(store)
    }

    /// Creates the indexes. Idempotent: creating an index that exists with the same keys and
    /// options is a no-op. Changing the options of an existing index (e.g. a TTL) fails with
    /// `IndexOptionsConflict` and needs a `collMod` (or drop and recreate) first.
    async fn create_indexes(&self) -> Result<(), StoreError> {
        self.users
            .create_index(index(doc! { "email": 1 }, "users_email_unique", |o| {
                o.unique = Some(true);
            }))
            .await
            .map_err(unavailable)?;
        self.refresh_tokens
            .create_indexes([
                index(doc! { "family_id": 1 }, "refresh_tokens_family_id", |_| {}),
                index(doc! { "user_id": 1 }, "refresh_tokens_user_id", |_| {}),
                index(doc! { "expires_at": 1 }, "refresh_tokens_ttl", |o| {
                    o.expire_after = Some(REFRESH_TOKEN_RETENTION);
                }),
            ])
            .await
            .map_err(unavailable)?;
        self.password_resets
            .create_indexes([
                index(doc! { "user_id": 1 }, "password_resets_user_id", |_| {}),
                index(doc! { "expires_at": 1 }, "password_resets_ttl", |o| {
                    o.expire_after = Some(PASSWORD_RESET_RETENTION);
                }),
            ])
            .await
            .map_err(unavailable)?;
        gigs::create_indexes(&self.gigs).await?;
        outbox::create_indexes(&self.outbox).await?;
        notifications::create_indexes(&self.notifications).await?;
        Ok(())
    }

    /// Reads a refresh token from the primary's latest state (read concern `local`): after a
    /// failed conditional update, the write that made it fail may not be majority-committed yet.
    async fn latest_token(&self, token_hash: &str) -> Result<Option<RefreshTokenDoc>, StoreError> {
        self.refresh_tokens
            .find_one(doc! { "_id": token_hash })
            .read_concern(ReadConcern::local())
            .await
            .map_err(unavailable)
    }

    /// Revokes every unrevoked token of a family.
    async fn revoke_where(&self, filter: Document, now: DateTime) -> Result<(), StoreError> {
        let mut filter = filter;
        filter.insert("revoked_at", bson::Bson::Null);
        self.refresh_tokens
            .update_many(filter, doc! { "$set": { "revoked_at": now } })
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// The outcome for a presented token that is not (or no longer) live.
    async fn not_live(
        &self,
        stored: Option<RefreshTokenDoc>,
        now: DateTime,
    ) -> Result<Rotation, StoreError> {
        match stored {
            None => Ok(Rotation::Invalid),
            Some(token) if token.expires_at <= now => Ok(Rotation::Invalid),
            Some(token) if token.consumed_at.is_some() => {
                // Presented again after it was rotated: replay or theft. Even when the family is
                // already revoked (an earlier replay, a racing rotation), this is reuse.
                self.revoke_where(doc! { "family_id": &token.family_id }, now)
                    .await?;
                Ok(Rotation::Reused {
                    user_id: UserId::from_string(token.user_id),
                    family_id: token.family_id,
                })
            }
            Some(token) if token.revoked_at.is_some() => Ok(Rotation::Invalid),
            Some(_) => Err(StoreError::Unavailable(
                "refresh token changed during rotation; retry".into(),
            )),
        }
    }
}

fn index(keys: Document, name: &str, configure: impl FnOnce(&mut IndexOptions)) -> IndexModel {
    let mut options = IndexOptions::builder().name(name.to_owned()).build();
    configure(&mut options);
    IndexModel::builder().keys(keys).options(options).build()
}

fn unavailable(error: MongoError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

/// Whether the server refused a write because of a unique index (code 11000), whichever shape
/// the driver reports it in.
fn is_duplicate_key(error: &MongoError) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .iter()
            .flatten()
            .any(|e| e.code == DUPLICATE_KEY),
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}

fn date(timestamp: Timestamp) -> DateTime {
    DateTime::from_millis(timestamp.as_millisecond())
}

fn timestamp(date: DateTime) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(date.timestamp_millis()).map_err(|e| corrupt("date", e))
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("unreadable {what} in MongoDB: {detail}"))
}

fn to_bson<T: Serialize>(value: &T) -> Result<bson::Bson, StoreError> {
    bson::to_bson(value).map_err(|e| StoreError::Unavailable(format!("cannot encode: {e}")))
}

/// A document of `users`.
#[derive(Debug, Serialize, Deserialize)]
struct UserDoc {
    #[serde(rename = "_id")]
    id: String,
    email: String,
    password_hash: String,
    role: String,
    status: String,
    token_version: i64,
    display_name: String,
    created_at: DateTime,
    updated_at: DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    influencer_profile: Option<InfluencerDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    brand_profile: Option<BrandDoc>,
}

impl UserDoc {
    fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            id: UserId::from_string(self.id),
            email: Email::parse(&self.email).map_err(|e| corrupt("email", e))?,
            password_hash: self.password_hash,
            role: Role::parse(&self.role).ok_or_else(|| corrupt("role", &self.role))?,
            status: UserStatus::parse(&self.status)
                .ok_or_else(|| corrupt("status", &self.status))?,
            token_version: u32::try_from(self.token_version)
                .map_err(|e| corrupt("token version", e))?,
            display_name: self.display_name,
            created_at: timestamp(self.created_at)?,
            updated_at: timestamp(self.updated_at)?,
        })
    }
}

/// The embedded influencer profile (its user id is the enclosing document's `_id`).
#[derive(Debug, Serialize, Deserialize)]
struct InfluencerDoc {
    display_name: String,
    bio: String,
    niches: Vec<String>,
    languages: Vec<String>,
    location: Option<String>,
    time_zone: String,
    social_accounts: Vec<SocialAccountDoc>,
    rating: Option<f64>,
    review_count: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SocialAccountDoc {
    platform: SocialPlatform,
    handle: String,
    /// BSON has no unsigned 64-bit integer.
    followers: i64,
}

impl InfluencerDoc {
    fn encode(profile: &InfluencerProfile) -> Result<Self, StoreError> {
        let social_accounts = profile
            .social_accounts
            .iter()
            .map(|account| {
                Ok(SocialAccountDoc {
                    platform: account.platform,
                    handle: account.handle.clone(),
                    followers: i64::try_from(account.followers).map_err(|_| {
                        StoreError::Unavailable(format!(
                            "follower count {} does not fit MongoDB's int64",
                            account.followers
                        ))
                    })?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Self {
            display_name: profile.display_name.clone(),
            bio: profile.bio.clone(),
            niches: profile.niches.clone(),
            languages: profile.languages.clone(),
            location: profile.location.clone(),
            time_zone: profile.time_zone.clone(),
            social_accounts,
            rating: profile.rating,
            review_count: i64::from(profile.review_count),
        })
    }

    fn into_profile(self, user_id: UserId) -> Result<InfluencerProfile, StoreError> {
        let social_accounts = self
            .social_accounts
            .into_iter()
            .map(|account| {
                Ok(SocialAccount {
                    platform: account.platform,
                    handle: account.handle,
                    followers: u64::try_from(account.followers)
                        .map_err(|e| corrupt("follower count", e))?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(InfluencerProfile {
            user_id,
            display_name: self.display_name,
            bio: self.bio,
            niches: self.niches,
            languages: self.languages,
            location: self.location,
            time_zone: self.time_zone,
            social_accounts,
            rating: self.rating,
            review_count: u32::try_from(self.review_count)
                .map_err(|e| corrupt("review count", e))?,
        })
    }
}

/// The embedded brand profile.
#[derive(Debug, Serialize, Deserialize)]
struct BrandDoc {
    company_name: String,
    industry: String,
    website: Option<String>,
    contact_name: Option<String>,
}

impl BrandDoc {
    fn encode(profile: &BrandProfile) -> Self {
        Self {
            company_name: profile.company_name.clone(),
            industry: profile.industry.clone(),
            website: profile.website.clone(),
            contact_name: profile.contact_name.clone(),
        }
    }

    fn into_profile(self, user_id: UserId) -> BrandProfile {
        BrandProfile {
            user_id,
            company_name: self.company_name,
            industry: self.industry,
            website: self.website,
            contact_name: self.contact_name,
        }
    }
}

/// `users` projected on the influencer profile.
#[derive(Debug, Deserialize)]
struct InfluencerOnly {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    influencer_profile: Option<InfluencerDoc>,
}

/// `users` projected on the brand profile.
#[derive(Debug, Deserialize)]
struct BrandOnly {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    brand_profile: Option<BrandDoc>,
}

/// A document of `refresh_tokens`.
#[derive(Debug, Serialize, Deserialize)]
struct RefreshTokenDoc {
    /// The token hash.
    #[serde(rename = "_id")]
    id: String,
    family_id: String,
    user_id: String,
    issued_at: DateTime,
    expires_at: DateTime,
    #[serde(default)]
    consumed_at: Option<DateTime>,
    #[serde(default)]
    revoked_at: Option<DateTime>,
}

/// A document of `password_resets`.
#[derive(Debug, Serialize, Deserialize)]
struct PasswordResetDoc {
    /// The token hash.
    #[serde(rename = "_id")]
    id: String,
    user_id: String,
    expires_at: DateTime,
    #[serde(default)]
    used_at: Option<DateTime>,
}

#[async_trait]
impl UserRepository for MongoStore {
    async fn insert(&self, user: &User, profile: &NewProfile) -> Result<(), StoreError> {
        let (influencer_profile, brand_profile) = match profile {
            NewProfile::Influencer(p) => (Some(InfluencerDoc::encode(p)?), None),
            NewProfile::Brand(p) => (None, Some(BrandDoc::encode(p))),
            NewProfile::None => (None, None),
        };
        let document = UserDoc {
            id: user.id.as_str().to_owned(),
            email: user.email.as_str().to_owned(),
            password_hash: user.password_hash.clone(),
            role: user.role.as_str().to_owned(),
            status: user.status.as_str().to_owned(),
            token_version: i64::from(user.token_version),
            display_name: user.display_name.clone(),
            created_at: date(user.created_at),
            updated_at: date(user.updated_at),
            influencer_profile,
            brand_profile,
        };
        match self.users.insert_one(&document).await {
            Ok(_) => Ok(()),
            // `users` has two unique indexes, `_id` and `email`; ids are fresh UUIDv7s, so a
            // duplicate key here is the email.
            Err(e) if is_duplicate_key(&e) => Err(StoreError::Conflict(Constraint::UserEmail)),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.users
            .find_one(doc! { "_id": id.as_str() })
            .await
            .map_err(unavailable)?
            .map(UserDoc::into_user)
            .transpose()
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.users
            .find_one(doc! { "email": email.as_str() })
            .await
            .map_err(unavailable)?
            .map(UserDoc::into_user)
            .transpose()
    }

    async fn set_status(
        &self,
        id: &UserId,
        status: UserStatus,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        self.users
            .find_one_and_update(
                doc! { "_id": id.as_str() },
                doc! {
                    "$set": { "status": status.as_str(), "updated_at": date(now) },
                    "$inc": { "token_version": 1_i64 },
                },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(unavailable)?
            .ok_or(StoreError::NotFound)?
            .into_user()
    }

    async fn set_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        self.users
            .find_one_and_update(
                doc! { "_id": id.as_str() },
                doc! {
                    "$set": { "password_hash": password_hash, "updated_at": date(now) },
                    "$inc": { "token_version": 1_i64 },
                },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(unavailable)?
            .ok_or(StoreError::NotFound)?
            .into_user()
    }
}

#[async_trait]
impl ProfileRepository for MongoStore {
    async fn influencer(&self, user_id: &UserId) -> Result<Option<InfluencerProfile>, StoreError> {
        let found = self
            .users
            .clone_with_type::<InfluencerOnly>()
            .find_one(doc! { "_id": user_id.as_str() })
            .projection(doc! { "influencer_profile": 1 })
            .await
            .map_err(unavailable)?;
        match found {
            Some(InfluencerOnly {
                id,
                influencer_profile: Some(profile),
            }) => profile.into_profile(UserId::from_string(id)).map(Some),
            _ => Ok(None),
        }
    }

    async fn update_influencer(&self, profile: &InfluencerProfile) -> Result<(), StoreError> {
        let encoded = to_bson(&InfluencerDoc::encode(profile)?)?;
        let result = self
            .users
            .update_one(
                doc! {
                    "_id": profile.user_id.as_str(),
                    "influencer_profile": { "$exists": true },
                },
                doc! { "$set": { "influencer_profile": encoded } },
            )
            .await
            .map_err(unavailable)?;
        if result.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn brand(&self, user_id: &UserId) -> Result<Option<BrandProfile>, StoreError> {
        let found = self
            .users
            .clone_with_type::<BrandOnly>()
            .find_one(doc! { "_id": user_id.as_str() })
            .projection(doc! { "brand_profile": 1 })
            .await
            .map_err(unavailable)?;
        Ok(match found {
            Some(BrandOnly {
                id,
                brand_profile: Some(profile),
            }) => Some(profile.into_profile(UserId::from_string(id))),
            _ => None,
        })
    }

    async fn update_brand(&self, profile: &BrandProfile) -> Result<(), StoreError> {
        let encoded = to_bson(&BrandDoc::encode(profile))?;
        let result = self
            .users
            .update_one(
                doc! {
                    "_id": profile.user_id.as_str(),
                    "brand_profile": { "$exists": true },
                },
                doc! { "$set": { "brand_profile": encoded } },
            )
            .await
            .map_err(unavailable)?;
        if result.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[async_trait]
impl SessionRepository for MongoStore {
    async fn insert(&self, token: &RefreshToken) -> Result<(), StoreError> {
        self.refresh_tokens
            .insert_one(RefreshTokenDoc {
                id: token.token_hash.clone(),
                family_id: token.family_id.clone(),
                user_id: token.user_id.as_str().to_owned(),
                issued_at: date(token.issued_at),
                expires_at: date(token.expires_at),
                consumed_at: None,
                revoked_at: None,
            })
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Without a multi-document transaction (which needs a replica set). The consume of the
    /// presented token is one conditional `findAndModify`, which decides races: exactly one
    /// rotation matches the live token. The next token is inserted *before* that consume, so
    /// by the time any other caller can see the presented token consumed (and revoke its family
    /// on reuse), the next token already exists and is revoked with the family. A caller that
    /// loses the consume deletes the next token it inserted (never handed out).
    async fn rotate(
        &self,
        presented_hash: &str,
        next: &RefreshToken,
        now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let now = date(now);
        let stored = self.latest_token(presented_hash).await?;
        let stored = match stored {
            Some(token)
                if token.expires_at > now
                    && token.consumed_at.is_none()
                    && token.revoked_at.is_none() =>
            {
                token
            }
            other => return self.not_live(other, now).await,
        };

        // The next token joins the presented token's family and user, whatever the caller put
        // in `next`.
        self.refresh_tokens
            .insert_one(RefreshTokenDoc {
                id: next.token_hash.clone(),
                family_id: stored.family_id.clone(),
                user_id: stored.user_id.clone(),
                issued_at: date(next.issued_at),
                expires_at: date(next.expires_at),
                consumed_at: None,
                revoked_at: None,
            })
            .await
            .map_err(unavailable)?;

        let consumed = self
            .refresh_tokens
            .find_one_and_update(
                doc! {
                    "_id": presented_hash,
                    "consumed_at": null,
                    "revoked_at": null,
                    "expires_at": { "$gt": now },
                },
                doc! { "$set": { "consumed_at": now } },
            )
            .await
            .map_err(unavailable)?;
        if let Some(consumed) = consumed {
            return Ok(Rotation::Rotated {
                user_id: UserId::from_string(consumed.user_id),
            });
        }

        // Lost the race (or the token was revoked meanwhile): withdraw the next token.
        self.refresh_tokens
            .delete_one(doc! { "_id": &next.token_hash })
            .await
            .map_err(unavailable)?;
        let stored = self.latest_token(presented_hash).await?;
        self.not_live(stored, now).await
    }

    async fn live_family(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(UserId, String)>, StoreError> {
        let found = self
            .refresh_tokens
            .find_one(doc! {
                "_id": token_hash,
                "consumed_at": null,
                "revoked_at": null,
                "expires_at": { "$gt": date(now) },
            })
            .await
            .map_err(unavailable)?;
        Ok(found.map(|token| (UserId::from_string(token.user_id), token.family_id)))
    }

    async fn revoke_family(&self, family_id: &str, now: Timestamp) -> Result<(), StoreError> {
        self.revoke_where(doc! { "family_id": family_id }, date(now))
            .await
    }

    async fn revoke_user(&self, user_id: &UserId, now: Timestamp) -> Result<(), StoreError> {
        self.revoke_where(doc! { "user_id": user_id.as_str() }, date(now))
            .await
    }
}

#[async_trait]
impl PasswordResetRepository for MongoStore {
    async fn insert(
        &self,
        token_hash: &str,
        user_id: &UserId,
        expires_at: Timestamp,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let document = PasswordResetDoc {
            id: token_hash.to_owned(),
            user_id: user_id.as_str().to_owned(),
            expires_at: date(expires_at),
            used_at: None,
        };
        self.write_with_outbox(outbox, &document, |store, session, document| {
            async move {
                let mut insert = store.password_resets.insert_one(document);
                if let Some(session) = session {
                    insert = insert.session(session);
                }
                insert.await.map(|_| true)
            }
            .boxed()
        })
        .await?;
        Ok(())
    }

    async fn live_user(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError> {
        let live = self
            .password_resets
            .find_one(doc! {
                "_id": token_hash,
                "used_at": null,
                "expires_at": { "$gt": date(now) },
            })
            .await
            .map_err(unavailable)?;
        Ok(live.map(|reset| UserId::from_string(reset.user_id)))
    }

    async fn consume(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError> {
        let now = date(now);
        let consumed = self
            .password_resets
            .find_one_and_update(
                doc! {
                    "_id": token_hash,
                    "used_at": null,
                    "expires_at": { "$gt": now },
                },
                doc! { "$set": { "used_at": now } },
            )
            .await
            .map_err(unavailable)?;
        Ok(consumed.map(|reset| UserId::from_string(reset.user_id)))
    }
}

#[async_trait]
impl StoreHealth for MongoStore {
    fn adapter(&self) -> &'static str {
        "mongodb"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.database
            .run_command(doc! { "ping": 1 })
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_documents_embed_the_profile_and_use_native_types() {
        let profile = InfluencerProfile {
            social_accounts: vec![SocialAccount {
                platform: SocialPlatform::Tiktok,
                handle: "@ana".into(),
                followers: 12_000,
            }],
            ..InfluencerProfile::new(UserId::generate(), "Ana".into())
        };
        let document = bson::to_document(&UserDoc {
            id: "u1".into(),
            email: "ana@example.com".into(),
            password_hash: "$argon2id$...".into(),
            role: "influencer".into(),
            status: "active".into(),
            token_version: 3,
            display_name: "Ana".into(),
            created_at: DateTime::from_millis(1_700_000_000_000),
            updated_at: DateTime::from_millis(1_700_000_000_001),
            influencer_profile: Some(InfluencerDoc::encode(&profile).unwrap()),
            brand_profile: None,
        })
        .unwrap();
        assert_eq!(document.get_str("_id").unwrap(), "u1");
        assert!(document.get_datetime("created_at").is_ok());
        assert_eq!(document.get_i64("token_version").unwrap(), 3);
        assert!(!document.contains_key("brand_profile"));
        let embedded = document.get_document("influencer_profile").unwrap();
        assert_eq!(embedded.get("rating"), Some(&bson::Bson::Null));
        let account = embedded.get_array("social_accounts").unwrap()[0]
            .as_document()
            .unwrap();
        assert_eq!(account.get_str("platform").unwrap(), "tiktok");
        assert_eq!(account.get_i64("followers").unwrap(), 12_000);

        let back: UserDoc = bson::from_document(document).unwrap();
        let user_id = UserId::from_string("u1");
        let decoded = back
            .influencer_profile
            .unwrap()
            .into_profile(user_id.clone())
            .unwrap();
        assert_eq!(decoded, InfluencerProfile { user_id, ..profile });
    }

    #[test]
    fn unexpected_documents_are_errors_not_panics() {
        let document = doc! {
            "_id": "u1", "email": "not an email", "password_hash": "x", "role": "influencer",
            "status": "active", "token_version": 1_i32, "display_name": "Ana",
            "created_at": DateTime::from_millis(0), "updated_at": DateTime::from_millis(0),
        };
        let user: UserDoc = bson::from_document(document.clone()).unwrap();
        assert!(matches!(user.into_user(), Err(StoreError::Unavailable(_))));

        let mut negative = document;
        negative.insert("email", "ana@example.com");
        negative.insert("token_version", -1_i64);
        let user: UserDoc = bson::from_document(negative).unwrap();
        assert!(matches!(user.into_user(), Err(StoreError::Unavailable(_))));

        let missing = doc! { "_id": "u1" };
        assert!(bson::from_document::<UserDoc>(missing).is_err());
    }

    #[test]
    fn only_code_11000_is_a_duplicate_key() {
        let write_error = |code: i32| -> MongoError {
            let failure: mongodb::error::WriteError =
                bson::from_document(doc! { "code": code, "errmsg": "E11000 duplicate key" })
                    .unwrap();
            ErrorKind::Write(WriteFailure::WriteError(failure)).into()
        };
        assert!(is_duplicate_key(&write_error(11000)));
        assert!(!is_duplicate_key(&write_error(121)));
    }
}
