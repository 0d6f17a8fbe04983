//! Refresh-token families and password reset requests in SQLite.

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::{User, UserId};
use rusqlite::{OptionalExtension, Transaction};

use super::{SqliteStore, accounts, db_error, millis, outbox, timestamp};
use crate::{
    OutboxMessage, PasswordResetRepository, PasswordResetRequest, RefreshToken, Rotation,
    SessionRepository, SessionsEnd, StoreError,
};

/// The state of a presented refresh token.
struct StoredToken {
    family_id: String,
    user_id: String,
    expires_at: i64,
    consumed_at: Option<i64>,
    revoked_at: Option<i64>,
}

fn insert_token(tx: &Transaction<'_>, token: &RefreshToken) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            token.token_hash,
            token.family_id,
            token.user_id.as_str(),
            millis(token.issued_at),
            millis(token.expires_at),
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

/// Revokes every unrevoked token whose `column` holds `value`.
pub(super) fn revoke_where(
    tx: &Transaction<'_>,
    column: &'static str,
    value: &str,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "UPDATE refresh_tokens SET revoked_at = ?1 WHERE {column} = ?2 AND revoked_at IS NULL"
        ),
        rusqlite::params![now, value],
    )
    .map_err(db_error)?;
    Ok(())
}

#[async_trait]
impl SessionRepository for SqliteStore {
    async fn insert(&self, token: &RefreshToken) -> Result<(), StoreError> {
        let token = token.clone();
        self.write(move |tx| insert_token(tx, &token)).await
    }

    async fn rotate(
        &self,
        presented_hash: &str,
        next: &RefreshToken,
        now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let presented_hash = presented_hash.to_owned();
        let next = next.clone();
        let now = millis(now);
        // One IMMEDIATE transaction: concurrent rotations of the same token are serialized by
        // the write lock, so the second one sees the first one's `consumed_at`.
        self.write(move |tx| {
            let stored = tx
                .query_row(
                    "SELECT family_id, user_id, expires_at, consumed_at, revoked_at \
                     FROM refresh_tokens WHERE token_hash = ?1",
                    [&presented_hash],
                    |row| {
                        Ok(StoredToken {
                            family_id: row.get(0)?,
                            user_id: row.get(1)?,
                            expires_at: row.get(2)?,
                            consumed_at: row.get(3)?,
                            revoked_at: row.get(4)?,
                        })
                    },
                )
                .optional()
                .map_err(db_error)?;
            let Some(stored) = stored else {
                return Ok(Rotation::Invalid);
            };
            if stored.expires_at <= now {
                return Ok(Rotation::Invalid);
            }
            if stored.consumed_at.is_some() {
                // Presented again after it was rotated: replay or theft. Even when the family
                // is already revoked (an earlier replay, a racing rotation), this is reuse.
                revoke_where(tx, "family_id", &stored.family_id, now)?;
                return Ok(Rotation::Reused {
                    user_id: UserId::from_string(stored.user_id),
                    family_id: stored.family_id,
                });
            }
            if stored.revoked_at.is_some() {
                return Ok(Rotation::Invalid);
            }
            tx.execute(
                "UPDATE refresh_tokens SET consumed_at = ?1 WHERE token_hash = ?2",
                rusqlite::params![now, presented_hash],
            )
            .map_err(db_error)?;
            // The next token joins the presented token's family and user, whatever the caller
            // put in `next`.
            let user_id = UserId::from_string(stored.user_id);
            insert_token(
                tx,
                &RefreshToken {
                    family_id: stored.family_id,
                    user_id: user_id.clone(),
                    ..next
                },
            )?;
            Ok(Rotation::Rotated { user_id })
        })
        .await
    }

    async fn live_family(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(UserId, String)>, StoreError> {
        let token_hash = token_hash.to_owned();
        let now = millis(now);
        self.read(move |connection| {
            connection
                .query_row(
                    "SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = ?1 \
                     AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > ?2",
                    rusqlite::params![token_hash, now],
                    |row| {
                        Ok((
                            UserId::from_string(row.get::<_, String>(0)?),
                            row.get::<_, String>(1)?,
                        ))
                    },
                )
                .optional()
                .map_err(db_error)
        })
        .await
    }

    async fn revoke_family(&self, family_id: &str, now: Timestamp) -> Result<(), StoreError> {
        let family_id = family_id.to_owned();
        let now = millis(now);
        self.write(move |tx| revoke_where(tx, "family_id", &family_id, now))
            .await
    }

    async fn revoke_user(&self, user_id: &UserId, now: Timestamp) -> Result<(), StoreError> {
        let user_id = user_id.as_str().to_owned();
        let now = millis(now);
        self.write(move |tx| revoke_where(tx, "user_id", &user_id, now))
            .await
    }
}

#[async_trait]
impl PasswordResetRepository for SqliteStore {
    async fn insert(
        &self,
        request: &PasswordResetRequest,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let request = request.clone();
        let messages = outbox.to_vec();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO password_reset_requests (id, user_id, expires_at) \
                 VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    request.id,
                    request.user_id.as_str(),
                    millis(request.expires_at)
                ],
            )
            .map_err(db_error)?;
            outbox::insert_messages(tx, &messages)
        })
        .await
    }

    async fn set_token(
        &self,
        id: &str,
        user_id: &UserId,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<PasswordResetRequest>, StoreError> {
        let id = id.to_owned();
        let user_id = user_id.as_str().to_owned();
        let token_hash = token_hash.to_owned();
        let now = millis(now);
        let row = self
            .write(move |tx| {
                tx.query_row(
                    "UPDATE password_reset_requests SET token_hash = ?1 \
                     WHERE id = ?2 AND user_id = ?3 AND used_at IS NULL AND expires_at > ?4 \
                     RETURNING id, user_id, expires_at",
                    rusqlite::params![token_hash, id, user_id, now],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, i64>(2)?,
                        ))
                    },
                )
                .optional()
                .map_err(db_error)
            })
            .await?;
        row.map(|(id, user_id, expires_at)| {
            Ok(PasswordResetRequest {
                id,
                user_id: UserId::from_string(user_id),
                expires_at: timestamp(expires_at)?,
            })
        })
        .transpose()
    }

    async fn live_user(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError> {
        let token_hash = token_hash.to_owned();
        let now = millis(now);
        self.read(move |connection| {
            connection
                .query_row(
                    "SELECT user_id FROM password_reset_requests \
                     WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                    rusqlite::params![token_hash, now],
                    |row| row.get::<_, String>(0),
                )
                .optional()
                .map(|user_id| user_id.map(UserId::from_string))
                .map_err(db_error)
        })
        .await
    }

    async fn complete(
        &self,
        token_hash: &str,
        change: &SessionsEnd,
        password_hash: &str,
        outbox: &[OutboxMessage],
    ) -> Result<Option<User>, StoreError> {
        let token_hash = token_hash.to_owned();
        let change = change.clone();
        let password_hash = password_hash.to_owned();
        let messages = outbox.to_vec();
        // One IMMEDIATE transaction: of two racing completions the second sees the token used;
        // a failure after the token is used rolls the use back with everything else.
        self.write(move |tx| {
            let used = tx
                .execute(
                    "UPDATE password_reset_requests SET used_at = ?1 \
                     WHERE token_hash = ?2 AND user_id = ?3 AND used_at IS NULL \
                     AND expires_at > ?1",
                    rusqlite::params![millis(change.at), token_hash, change.user_id.as_str()],
                )
                .map_err(db_error)?;
            if used == 0 {
                return Ok(None);
            }
            let user = accounts::end_sessions(tx, &change, "password_hash", &password_hash)?;
            outbox::insert_messages(tx, &messages)?;
            Ok(Some(user))
        })
        .await
    }
}
