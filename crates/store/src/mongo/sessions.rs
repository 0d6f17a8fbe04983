//! Refresh-token families and password reset requests in MongoDB.
//!
//! - `refresh_tokens`: `_id` = token hash; indexed by `family_id` and `user_id`.
//! - `password_resets`: `_id` = request id; indexed by `user_id`, and uniquely by `token_hash`
//!   where one is set (null until the worker mints the token). Documents from before requests
//!   had `_id` = token hash and no `token_hash`; opening the store copies their id into it, so
//!   links mailed before keep working.
//!
//! Both carry a TTL index on `expires_at` (a BSON date), so the server purges them some time
//! after they expire (see [`REFRESH_TOKEN_RETENTION`] and [`PASSWORD_RESET_RETENTION`]).

use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use jiff::Timestamp;
use mongodb::{
    Collection,
    bson::{Bson, DateTime, Document, doc},
    options::ReadConcern,
};
use noillin_domain::{User, UserId};
use serde::{Deserialize, Serialize};

use super::{MongoStore, date, index, timestamp, unavailable};
use crate::{
    OutboxMessage, PasswordResetRepository, PasswordResetRequest, RefreshToken, Rotation,
    SessionRepository, SessionsEnd, StoreError,
};

/// How long after expiry the server keeps a refresh token. Expired tokens are refused whatever
/// their state, so this is not needed for correctness; a week keeps recent families readable for
/// investigating a reuse alarm, and bounds the collection.
const REFRESH_TOKEN_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// How long after expiry the server keeps a password reset token (for investigating abuse).
const PASSWORD_RESET_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Creates the indexes of `refresh_tokens` and `password_resets`.
pub(super) async fn create_indexes(
    refresh_tokens: &Collection<RefreshTokenDoc>,
    password_resets: &Collection<PasswordResetDoc>,
) -> Result<(), StoreError> {
    refresh_tokens
        .create_indexes([
            index(doc! { "family_id": 1 }, "refresh_tokens_family_id", |_| {}),
            index(doc! { "user_id": 1 }, "refresh_tokens_user_id", |_| {}),
            index(doc! { "expires_at": 1 }, "refresh_tokens_ttl", |o| {
                o.expire_after = Some(REFRESH_TOKEN_RETENTION);
            }),
        ])
        .await
        .map_err(unavailable)?;
    // Idempotent, and cheap once done: only documents from before requests match.
    password_resets
        .update_many(
            doc! { "token_hash": { "$exists": false } },
            vec![doc! { "$set": { "token_hash": "$_id" } }],
        )
        .await
        .map_err(unavailable)?;
    password_resets
        .create_indexes([
            index(doc! { "user_id": 1 }, "password_resets_user_id", |_| {}),
            index(
                doc! { "token_hash": 1 },
                "password_resets_token_hash_unique",
                |o| {
                    o.unique = Some(true);
                    o.partial_filter_expression =
                        Some(doc! { "token_hash": { "$type": "string" } });
                },
            ),
            index(doc! { "expires_at": 1 }, "password_resets_ttl", |o| {
                o.expire_after = Some(PASSWORD_RESET_RETENTION);
            }),
        ])
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// A document of `refresh_tokens`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct RefreshTokenDoc {
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

impl RefreshTokenDoc {
    /// A live token: neither consumed nor revoked.
    fn encode(token: &RefreshToken) -> Self {
        Self {
            id: token.token_hash.clone(),
            family_id: token.family_id.clone(),
            user_id: token.user_id.as_str().to_owned(),
            issued_at: date(token.issued_at),
            expires_at: date(token.expires_at),
            consumed_at: None,
            revoked_at: None,
        }
    }
}

/// A document of `password_resets`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PasswordResetDoc {
    /// The request id.
    #[serde(rename = "_id")]
    id: String,
    user_id: String,
    expires_at: DateTime,
    /// Null until the token is minted.
    #[serde(default)]
    token_hash: Option<String>,
    #[serde(default)]
    used_at: Option<DateTime>,
}

impl PasswordResetDoc {
    fn into_request(self) -> Result<PasswordResetRequest, StoreError> {
        Ok(PasswordResetRequest {
            id: self.id,
            user_id: UserId::from_string(self.user_id),
            expires_at: timestamp(self.expires_at)?,
        })
    }
}

impl MongoStore {
    /// Reads a refresh token from the primary's latest state (read concern `local`): after a
    /// failed conditional update, the write that made it fail may not be majority-committed yet.
    async fn latest_token(&self, token_hash: &str) -> Result<Option<RefreshTokenDoc>, StoreError> {
        self.refresh_tokens
            .find_one(doc! { "_id": token_hash })
            .read_concern(ReadConcern::local())
            .await
            .map_err(unavailable)
    }

    /// Revokes every unrevoked token that matches `filter`.
    async fn revoke_where(&self, mut filter: Document, now: DateTime) -> Result<(), StoreError> {
        filter.insert("revoked_at", Bson::Null);
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

#[async_trait]
impl SessionRepository for MongoStore {
    async fn insert(&self, token: &RefreshToken) -> Result<(), StoreError> {
        self.refresh_tokens
            .insert_one(RefreshTokenDoc::encode(token))
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
                family_id: stored.family_id,
                user_id: stored.user_id,
                ..RefreshTokenDoc::encode(next)
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
        request: &PasswordResetRequest,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let document = PasswordResetDoc {
            id: request.id.clone(),
            user_id: request.user_id.as_str().to_owned(),
            expires_at: date(request.expires_at),
            token_hash: None,
            used_at: None,
        };
        self.insert_with_outbox(&self.password_resets, &document, outbox)
            .await
    }

    async fn set_token(
        &self,
        id: &str,
        user_id: &UserId,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<PasswordResetRequest>, StoreError> {
        self.password_resets
            .find_one_and_update(
                doc! {
                    "_id": id,
                    "user_id": user_id.as_str(),
                    "used_at": null,
                    "expires_at": { "$gt": date(now) },
                },
                doc! { "$set": { "token_hash": token_hash } },
            )
            .await
            .map_err(unavailable)?
            .map(PasswordResetDoc::into_request)
            .transpose()
    }

    async fn live_user(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError> {
        let live = self
            .password_resets
            .find_one(doc! {
                "token_hash": token_hash,
                "used_at": null,
                "expires_at": { "$gt": date(now) },
            })
            .await
            .map_err(unavailable)?;
        Ok(live.map(|reset| UserId::from_string(reset.user_id)))
    }

    async fn complete(
        &self,
        token_hash: &str,
        change: &SessionsEnd,
        password_hash: &str,
        outbox: &[OutboxMessage],
    ) -> Result<Option<User>, StoreError> {
        let context = (token_hash, change, password_hash);
        let completed = self
            .transact(
                outbox,
                &context,
                |store, session, (token_hash, change, password_hash)| {
                    async move {
                        let at = date(change.at);
                        // Of two racing completions, the second conflicts with the first's write and is
                        // retried, then finds the token used.
                        let used = store
                            .password_resets
                            .update_one(
                                doc! {
                                    "token_hash": *token_hash,
                                    "user_id": change.user_id.as_str(),
                                    "used_at": null,
                                    "expires_at": { "$gt": at },
                                },
                                doc! { "$set": { "used_at": at } },
                            )
                            .session(&mut *session)
                            .await?;
                        // The refusal `None` means the token is not live.
                        if used.modified_count == 0 {
                            return Ok(Err(None));
                        }
                        let set = doc! { "password_hash": *password_hash };
                        Ok(store
                            .end_sessions(session, change, set)
                            .await?
                            .map_err(Some))
                    }
                    .boxed()
                },
            )
            .await?;
        match completed {
            Ok(user) => Ok(Some(user)),
            Err(None) => Ok(None),
            Err(Some(refused)) => Err(refused),
        }
    }
}
