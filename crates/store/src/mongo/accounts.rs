//! Users and profiles in MongoDB: one document per user in `users` (`_id` = user id) with its
//! profile embedded as `influencer_profile` or `brand_profile`, so creating a user with its
//! profile and replacing a profile are single-document (atomic) writes. `email` has a unique
//! index. Ending a user's sessions (a status change, a password reset) also revokes refresh
//! tokens and writes an audit entry or messages: a multi-document transaction.
//!
//! An influencer's embedded profile also holds what other writes own: its rating
//! (`rating_sum`, `review_count` and the average `rating`, counted by reviews: see
//! [`reviews`](super::reviews)) and `payout_account_id` (set once), so a profile update sets the
//! profile's own fields one by one and leaves those alone.
//!
//! An account's name is kept once, in the top-level `display_name`; the embedded profiles have
//! no name of their own. Documents written before kept a copy in the profile
//! (`influencer_profile.display_name`, `brand_profile.company_name`), which profile edits changed
//! alone: that copy is the name the account holder chose last, so reading a document that still
//! has one takes it as the account's name, a profile update removes it, and opening the store
//! moves every remaining copy to `display_name` ([`move_legacy_names`]).

use async_trait::async_trait;
use futures::{FutureExt, TryStreamExt};
use mongodb::{
    ClientSession, Collection,
    bson::{Bson, DateTime, Document, doc},
    error::Error as MongoError,
    options::{ReadConcern, ReturnDocument},
};
use noillin_domain::{
    BrandProfile, Email, InfluencerProfile, Role, SocialAccount, SocialPlatform, User, UserId,
    UserStatus,
};
use serde::{Deserialize, Serialize};

use super::{
    MongoStore, audit::AuditDoc, corrupt, date, index, is_duplicate_key, timestamp, to_bson,
    unavailable,
};
use crate::{
    AuditEntry, Constraint, NewProfile, OutboxMessage, PageRequest, ProfileRepository, SessionsEnd,
    StoreError, UserRepository,
};

/// The fields of [`UserDoc`] that embed a profile.
const INFLUENCER_PROFILE: &str = "influencer_profile";
const BRAND_PROFILE: &str = "brand_profile";

/// The fields of an embedded influencer profile that a profile update leaves alone: reviews
/// count the rating ([`ReviewRepository::insert`](crate::ReviewRepository::insert)).
const REVIEW_OWNED: [&str; 3] = ["rating", "review_count", "rating_sum"];

/// Where an influencer's payout account is kept.
const PAYOUT_ACCOUNT: &str = "influencer_profile.payout_account_id";

/// Creates the indexes of `users`.
pub(super) async fn create_indexes(users: &Collection<UserDoc>) -> Result<(), StoreError> {
    users
        .create_index(index(doc! { "email": 1 }, "users_email_unique", |o| {
            o.unique = Some(true);
        }))
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Moves the names older documents kept in their embedded profile to `display_name`, each
/// document in one atomic update (a pipeline update reads the copy and removes it together).
/// Idempotent, so every process may run it at open; a document an older release writes later
/// is still read right (see the module documentation).
pub(super) async fn move_legacy_names(users: &Collection<UserDoc>) -> Result<(), StoreError> {
    for (profile, name) in [
        (INFLUENCER_PROFILE, "display_name"),
        (BRAND_PROFILE, "company_name"),
    ] {
        let legacy = format!("{profile}.{name}");
        let moved = users
            .update_many(
                doc! { legacy.as_str(): { "$type": "string" } },
                vec![
                    doc! { "$set": { "display_name": format!("${legacy}") } },
                    doc! { "$unset": legacy.as_str() },
                ],
            )
            .await
            .map_err(unavailable)?;
        if moved.modified_count > 0 {
            tracing::info!(
                count = moved.modified_count,
                field = legacy,
                "account names moved to display_name"
            );
        }
    }
    Ok(())
}

/// A document of `users`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct UserDoc {
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
    /// The account's name: a name left in the embedded profile by an older release, else
    /// `display_name`.
    fn name(&self) -> String {
        legacy_name(
            self.influencer_profile.as_ref(),
            self.brand_profile.as_ref(),
        )
        .unwrap_or_else(|| self.display_name.clone())
    }

    fn encode(user: &User, profile: &NewProfile) -> Result<Self, StoreError> {
        let (influencer_profile, brand_profile) = match profile {
            NewProfile::Influencer(p) => (Some(InfluencerDoc::encode(p)?), None),
            NewProfile::Brand(p) => (None, Some(BrandDoc::encode(p))),
            NewProfile::None => (None, None),
        };
        Ok(Self {
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
        })
    }

    fn into_user(self) -> Result<User, StoreError> {
        let display_name = self.name();
        Ok(User {
            id: UserId::from_string(self.id),
            email: Email::parse(&self.email).map_err(|e| corrupt("email", e))?,
            password_hash: self.password_hash,
            role: Role::parse(&self.role).ok_or_else(|| corrupt("role", &self.role))?,
            status: UserStatus::parse(&self.status)
                .ok_or_else(|| corrupt("status", &self.status))?,
            token_version: u32::try_from(self.token_version)
                .map_err(|e| corrupt("token version", e))?,
            display_name,
            created_at: timestamp(self.created_at)?,
            updated_at: timestamp(self.updated_at)?,
        })
    }
}

/// The name an older release left in an embedded profile, if any.
fn legacy_name(influencer: Option<&InfluencerDoc>, brand: Option<&BrandDoc>) -> Option<String> {
    influencer
        .and_then(|p| p.legacy_display_name.clone())
        .or_else(|| brand.and_then(|p| p.legacy_company_name.clone()))
}

/// The embedded influencer profile (its user id is the enclosing document's `_id`, its name
/// the enclosing `display_name`).
#[derive(Debug, Serialize, Deserialize)]
struct InfluencerDoc {
    /// Only in documents written before names were kept once; never written.
    #[serde(rename = "display_name", default, skip_serializing)]
    legacy_display_name: Option<String>,
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
            legacy_display_name: None,
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

    fn into_profile(
        self,
        user_id: UserId,
        display_name: String,
    ) -> Result<InfluencerProfile, StoreError> {
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
            display_name,
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

/// The embedded brand profile (its company name is the enclosing `display_name`).
#[derive(Debug, Serialize, Deserialize)]
struct BrandDoc {
    /// Only in documents written before names were kept once; never written.
    #[serde(rename = "company_name", default, skip_serializing)]
    legacy_company_name: Option<String>,
    industry: String,
    website: Option<String>,
    contact_name: Option<String>,
}

impl BrandDoc {
    fn encode(profile: &BrandProfile) -> Self {
        Self {
            legacy_company_name: None,
            industry: profile.industry.clone(),
            website: profile.website.clone(),
            contact_name: profile.contact_name.clone(),
        }
    }

    fn into_profile(self, user_id: UserId, company_name: String) -> BrandProfile {
        BrandProfile {
            user_id,
            company_name,
            industry: self.industry,
            website: self.website,
            contact_name: self.contact_name,
        }
    }
}

/// The update of an influencer profile: each of the profile's own fields set, the fields
/// reviews own ([`REVIEW_OWNED`]) and the payout account left alone, and a name an older release
/// left in the profile removed.
fn influencer_update(profile: &InfluencerDoc) -> Result<Document, StoreError> {
    let encoded = match to_bson(profile)? {
        Bson::Document(encoded) => encoded,
        other => {
            return Err(StoreError::Unavailable(format!(
                "an influencer profile encoded as {other:?}"
            )));
        }
    };
    let mut set = Document::new();
    for (key, value) in encoded {
        if !REVIEW_OWNED.contains(&key.as_str()) {
            set.insert(format!("{INFLUENCER_PROFILE}.{key}"), value);
        }
    }
    Ok(doc! {
        "$set": set,
        "$unset": { format!("{INFLUENCER_PROFILE}.display_name"): "" },
    })
}

/// `users` projected on the influencer's payout account.
#[derive(Debug, Deserialize)]
struct PayoutOnly {
    #[serde(default)]
    influencer_profile: Option<PayoutFields>,
}

#[derive(Debug, Deserialize)]
struct PayoutFields {
    #[serde(default)]
    payout_account_id: Option<String>,
}

impl PayoutOnly {
    fn account(self) -> Option<String> {
        self.influencer_profile.and_then(|p| p.payout_account_id)
    }
}

/// `users` projected on its name and embedded profiles.
#[derive(Debug, Deserialize)]
struct ProfilesOnly {
    display_name: String,
    #[serde(default)]
    influencer_profile: Option<InfluencerDoc>,
    #[serde(default)]
    brand_profile: Option<BrandDoc>,
}

impl ProfilesOnly {
    /// The account's name, as [`UserDoc::name`] reads it.
    fn name(&self) -> String {
        legacy_name(
            self.influencer_profile.as_ref(),
            self.brand_profile.as_ref(),
        )
        .unwrap_or_else(|| self.display_name.clone())
    }
}

impl MongoStore {
    async fn find_user(&self, filter: Document) -> Result<Option<User>, StoreError> {
        self.users
            .find_one(filter)
            .await
            .map_err(unavailable)?
            .map(UserDoc::into_user)
            .transpose()
    }

    /// Ends every session of `change.user_id` in the session's transaction: applies `set`,
    /// stamps `updated_at`, bumps the token version if it is still the expected one, and revokes
    /// every refresh token of the user; returns the updated user.
    pub(super) async fn end_sessions(
        &self,
        session: &mut ClientSession,
        change: &SessionsEnd,
        mut set: Document,
    ) -> Result<Result<User, StoreError>, MongoError> {
        let at = date(change.at);
        set.insert("updated_at", at);
        let updated = self
            .users
            .find_one_and_update(
                doc! {
                    "_id": change.user_id.as_str(),
                    "token_version": i64::from(change.expected_token_version),
                },
                doc! { "$set": set, "$inc": { "token_version": 1_i64 } },
            )
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?;
        let Some(updated) = updated else {
            let exists = self
                .users
                .clone_with_type::<Document>()
                .find_one(doc! { "_id": change.user_id.as_str() })
                .projection(doc! { "_id": 1 })
                .session(&mut *session)
                .await?
                .is_some();
            return Ok(Err(if exists {
                StoreError::Conflict(Constraint::StaleVersion)
            } else {
                StoreError::NotFound
            }));
        };
        self.refresh_tokens
            .update_many(
                doc! { "user_id": change.user_id.as_str(), "revoked_at": Bson::Null },
                doc! { "$set": { "revoked_at": at } },
            )
            .session(&mut *session)
            .await?;
        Ok(updated.into_user())
    }

    /// The user's name and embedded profile `field`.
    async fn profiles(
        &self,
        user_id: &UserId,
        field: &str,
    ) -> Result<Option<ProfilesOnly>, StoreError> {
        self.users
            .clone_with_type::<ProfilesOnly>()
            .find_one(doc! { "_id": user_id.as_str() })
            .projection(doc! { "display_name": 1, field: 1 })
            .await
            .map_err(unavailable)
    }

    /// Applies `update` (with the user's name set) to a user that has the embedded profile
    /// `field`, in one single-document write; `NotFound` otherwise.
    async fn replace_profile(
        &self,
        user_id: &UserId,
        field: &str,
        mut update: Document,
        name: &str,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        match update.get_document_mut("$set") {
            Ok(set) => {
                set.insert("display_name", name);
            }
            Err(_) => {
                update.insert("$set", doc! { "display_name": name });
            }
        }
        let context = (
            doc! { "_id": user_id.as_str(), field: { "$exists": true } },
            update,
        );
        // With messages this is a transaction, and a profile that matches nothing writes none.
        let replaced = self
            .write_with_outbox(outbox, &context, |store, session, (filter, update)| {
                async move {
                    let mut replace = store.users.update_one(filter.clone(), update.clone());
                    if let Some(session) = session {
                        replace = replace.session(session);
                    }
                    Ok(replace.await?.matched_count == 1)
                }
                .boxed()
            })
            .await?;
        if !replaced {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[async_trait]
impl UserRepository for MongoStore {
    async fn insert(&self, user: &User, profile: &NewProfile) -> Result<(), StoreError> {
        match self.users.insert_one(UserDoc::encode(user, profile)?).await {
            Ok(_) => Ok(()),
            // `users` has two unique indexes, `_id` and `email`; ids are fresh UUIDv7s, so a
            // duplicate key here is the email.
            Err(e) if is_duplicate_key(&e) => Err(StoreError::Conflict(Constraint::UserEmail)),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.find_user(doc! { "_id": id.as_str() }).await
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.find_user(doc! { "email": email.as_str() }).await
    }

    async fn insert_admin(&self, user: &User, audit: &AuditEntry) -> Result<(), StoreError> {
        let context = (
            UserDoc::encode(user, &NewProfile::None)?,
            AuditDoc::encode(audit)?,
        );
        self.transact(&[], &context, |store, session, (document, audit)| {
            async move {
                match store
                    .users
                    .insert_one(document)
                    .session(&mut *session)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_duplicate_key(&e) => {
                        return Ok(Err(StoreError::Conflict(Constraint::UserEmail)));
                    }
                    Err(e) => return Err(e),
                }
                store.audit_log.insert_one(audit).session(session).await?;
                Ok(Ok(()))
            }
            .boxed()
        })
        .await?
    }

    async fn set_status(
        &self,
        change: &SessionsEnd,
        status: UserStatus,
        audit: &AuditEntry,
        outbox: &[OutboxMessage],
    ) -> Result<User, StoreError> {
        let context = (change, status, AuditDoc::encode(audit)?);
        self.transact(
            outbox,
            &context,
            |store, session, (change, status, audit)| {
                async move {
                    let user = match store
                        .end_sessions(session, change, doc! { "status": status.as_str() })
                        .await?
                    {
                        Ok(user) => user,
                        Err(refused) => return Ok(Err(refused)),
                    };
                    store.audit_log.insert_one(audit).session(session).await?;
                    Ok(Ok(user))
                }
                .boxed()
            },
        )
        .await?
    }

    async fn any_suspended(&self, ids: &[UserId]) -> Result<bool, StoreError> {
        if ids.is_empty() {
            return Ok(false);
        }
        let ids: Vec<&str> = ids.iter().map(UserId::as_str).collect();
        Ok(self
            .users
            .clone_with_type::<Document>()
            .find_one(doc! { "_id": { "$in": ids }, "status": UserStatus::Suspended.as_str() })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(unavailable)?
            .is_some())
    }
}

#[async_trait]
impl ProfileRepository for MongoStore {
    async fn influencer(&self, user_id: &UserId) -> Result<Option<InfluencerProfile>, StoreError> {
        let Some(found) = self.profiles(user_id, INFLUENCER_PROFILE).await? else {
            return Ok(None);
        };
        let name = found.name();
        found
            .influencer_profile
            .map(|profile| profile.into_profile(user_id.clone(), name))
            .transpose()
    }

    async fn update_influencer(
        &self,
        profile: &InfluencerProfile,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let update = influencer_update(&InfluencerDoc::encode(profile)?)?;
        self.replace_profile(
            &profile.user_id,
            INFLUENCER_PROFILE,
            update,
            &profile.display_name,
            outbox,
        )
        .await
    }

    async fn payout_account(&self, user_id: &UserId) -> Result<Option<String>, StoreError> {
        let found = self
            .users
            .clone_with_type::<PayoutOnly>()
            .find_one(doc! { "_id": user_id.as_str() })
            .projection(doc! { PAYOUT_ACCOUNT: 1 })
            .await
            .map_err(unavailable)?;
        Ok(found.and_then(PayoutOnly::account))
    }

    async fn set_payout_account(
        &self,
        user_id: &UserId,
        account_id: &str,
    ) -> Result<String, StoreError> {
        // Set only where none is (`null` matches a missing field too), in one
        // single-document write, so of racing calls one sets it and every one answers it.
        let set = self
            .users
            .clone_with_type::<Document>()
            .update_one(
                doc! {
                    "_id": user_id.as_str(),
                    INFLUENCER_PROFILE: { "$exists": true },
                    PAYOUT_ACCOUNT: null,
                },
                doc! { "$set": { PAYOUT_ACCOUNT: account_id } },
            )
            .await
            .map_err(unavailable)?;
        if set.matched_count == 1 {
            return Ok(account_id.to_owned());
        }
        // Someone set one first, or there is no influencer profile. Read the primary's latest
        // state: the write that set it may not be majority-committed yet.
        let found = self
            .users
            .clone_with_type::<PayoutOnly>()
            .find_one(doc! { "_id": user_id.as_str(), INFLUENCER_PROFILE: { "$exists": true } })
            .projection(doc! { PAYOUT_ACCOUNT: 1 })
            .read_concern(ReadConcern::local())
            .await
            .map_err(unavailable)?;
        match found {
            None => Err(StoreError::NotFound),
            Some(found) => found.account().ok_or_else(|| {
                // A payout account is never removed, so the filter can only have missed a
                // profile that has one.
                StoreError::Unavailable(format!(
                    "the payout account of {user_id} was neither set nor found"
                ))
            }),
        }
    }

    async fn brand(&self, user_id: &UserId) -> Result<Option<BrandProfile>, StoreError> {
        let Some(found) = self.profiles(user_id, BRAND_PROFILE).await? else {
            return Ok(None);
        };
        let name = found.name();
        Ok(found
            .brand_profile
            .map(|profile| profile.into_profile(user_id.clone(), name)))
    }

    async fn update_brand(&self, profile: &BrandProfile) -> Result<(), StoreError> {
        // The whole embedded profile is replaced, which drops a name an older release left in
        // it: a brand profile holds nothing another write owns.
        let encoded = to_bson(&BrandDoc::encode(profile))?;
        self.replace_profile(
            &profile.user_id,
            BRAND_PROFILE,
            doc! { "$set": { BRAND_PROFILE: encoded } },
            &profile.company_name,
            &[],
        )
        .await
    }

    async fn influencer_ids(&self, page: &PageRequest) -> Result<Vec<UserId>, StoreError> {
        let mut filter = doc! { "role": "influencer" };
        if let Some(after) = &page.after {
            filter.insert("_id", doc! { "$gt": after });
        }
        // A limit of 0 means "no limit" to the server; a page of 0 is empty.
        if page.limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .users
            .clone_with_type::<Document>()
            .find(filter)
            .projection(doc! { "_id": 1 })
            .sort(doc! { "_id": 1 })
            .limit(i64::from(page.limit))
            .await
            .map_err(unavailable)?;
        let documents: Vec<Document> = cursor.try_collect().await.map_err(unavailable)?;
        documents
            .iter()
            .map(|document| {
                document
                    .get_str("_id")
                    .map(UserId::from_string)
                    .map_err(|e| corrupt("user id", e))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson;

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
        assert_eq!(embedded.get("rating"), Some(&Bson::Null));
        let account = embedded.get_array("social_accounts").unwrap()[0]
            .as_document()
            .unwrap();
        assert_eq!(account.get_str("platform").unwrap(), "tiktok");
        assert_eq!(account.get_i64("followers").unwrap(), 12_000);

        assert!(
            !embedded.contains_key("display_name"),
            "the name is kept once, at the top"
        );

        let back: UserDoc = bson::from_document(document).unwrap();
        let user_id = UserId::from_string("u1");
        let name = back.name();
        let decoded = back
            .influencer_profile
            .unwrap()
            .into_profile(user_id.clone(), name)
            .unwrap();
        assert_eq!(decoded, InfluencerProfile { user_id, ..profile });
    }

    #[test]
    fn a_name_an_older_release_left_in_the_profile_is_read_as_the_accounts_name() {
        let influencer = doc! {
            "_id": "u1", "email": "ana@example.com", "password_hash": "x", "role": "influencer",
            "status": "active", "token_version": 1_i64, "display_name": "Ana",
            "created_at": DateTime::from_millis(0), "updated_at": DateTime::from_millis(0),
            "influencer_profile": {
                "display_name": "Ana Renamed", "bio": "", "niches": [], "languages": [],
                "location": null, "time_zone": "UTC", "social_accounts": [], "rating": null,
                "review_count": 0_i64,
            },
        };
        let user: UserDoc = bson::from_document(influencer.clone()).unwrap();
        assert_eq!(user.into_user().unwrap().display_name, "Ana Renamed");
        let found: ProfilesOnly = bson::from_document(influencer).unwrap();
        let name = found.name();
        let profile = found
            .influencer_profile
            .unwrap()
            .into_profile(UserId::from_string("u1"), name)
            .unwrap();
        assert_eq!(profile.display_name, "Ana Renamed");
        let rewritten = bson::to_document(&InfluencerDoc::encode(&profile).unwrap()).unwrap();
        assert!(!rewritten.contains_key("display_name"));

        let brand = doc! {
            "_id": "u2", "display_name": "Acme",
            "brand_profile": {
                "company_name": "Acme Journeys", "industry": "", "website": null,
                "contact_name": null,
            },
        };
        let found: ProfilesOnly = bson::from_document(brand).unwrap();
        assert_eq!(found.name(), "Acme Journeys");

        let current = doc! { "_id": "u3", "display_name": "Rui" };
        let found: ProfilesOnly = bson::from_document(current).unwrap();
        assert_eq!(found.name(), "Rui");
    }

    #[test]
    fn unexpected_documents_are_errors_not_panics() {
        let document = doc! {
            "_id": "u1", "email": "not an email", "password_hash": "x", "role": "influencer",
            "status": "active", "token_version": 1_i32, "display_name": "Ana",
            "created_at": DateTime::from_millis(0), "updated_at": DateTime::from_millis(0),
        };
        let user: UserDoc = bson::from_document(document.clone()).unwrap();
        assert!(matches!(user.into_user(), Err(StoreError::Corrupt(_))));

        let mut negative = document;
        negative.insert("email", "ana@example.com");
        negative.insert("token_version", -1_i64);
        let user: UserDoc = bson::from_document(negative).unwrap();
        assert!(matches!(user.into_user(), Err(StoreError::Corrupt(_))));

        let missing = doc! { "_id": "u1" };
        assert!(bson::from_document::<UserDoc>(missing).is_err());
    }

    #[test]
    fn a_profile_update_sets_its_own_fields_and_leaves_the_rating_alone() {
        let profile = InfluencerProfile {
            rating: Some(4.5),
            review_count: 2,
            ..InfluencerProfile::new(UserId::generate(), "Ana".into())
        };
        let update = influencer_update(&InfluencerDoc::encode(&profile).unwrap()).unwrap();
        let set = update.get_document("$set").unwrap();
        assert!(set.contains_key("influencer_profile.bio"));
        assert!(set.contains_key("influencer_profile.social_accounts"));
        for owned in REVIEW_OWNED {
            assert!(
                !set.contains_key(format!("influencer_profile.{owned}")),
                "{owned}"
            );
        }
        assert!(!set.keys().any(|key| key.contains("payout_account")));
        let unset = update.get_document("$unset").unwrap();
        assert!(unset.contains_key("influencer_profile.display_name"));
    }

    #[test]
    fn each_profile_field_name_is_the_one_documents_embed() {
        let user_id = UserId::from_string("u1");
        let influencer =
            InfluencerDoc::encode(&InfluencerProfile::new(user_id.clone(), "Ana".into()));
        let brand = BrandDoc::encode(&BrandProfile::new(user_id, "Acme".into()));
        let influencer_only = doc! {
            "_id": "u1", "display_name": "Ana",
            INFLUENCER_PROFILE: to_bson(&influencer.unwrap()).unwrap(),
        };
        let found: ProfilesOnly = bson::from_document(influencer_only).unwrap();
        assert!(found.influencer_profile.is_some() && found.brand_profile.is_none());
        let brand_only = doc! {
            "_id": "u1", "display_name": "Acme", BRAND_PROFILE: to_bson(&brand).unwrap(),
        };
        let found: ProfilesOnly = bson::from_document(brand_only).unwrap();
        assert!(found.influencer_profile.is_none() && found.brand_profile.is_some());
        let bare: ProfilesOnly =
            bson::from_document(doc! { "_id": "u2", "display_name": "Root" }).unwrap();
        assert!(bare.influencer_profile.is_none() && bare.brand_profile.is_none());
    }
}
