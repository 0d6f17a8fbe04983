//! The embedded adapter: one SQLite file in WAL mode, shared safely by several processes.
//!
//! rusqlite is synchronous, so every operation runs on the blocking pool
//! (`spawn_blocking`) against the process's one connection. Several processes (core-api
//! replicas, the worker) may open the same file: WAL lets readers run beside the writer, and every
//! write transaction is `BEGIN IMMEDIATE`, so it takes the write lock up front and waits for it
//! through the busy handler (a deferred transaction that upgrades to a writer would fail with
//! `SQLITE_BUSY` at once instead).
//!
//! Timestamps are stored as unix milliseconds: sub-millisecond precision is dropped. Gigs
//! (`gigs.rs`) and availability rules (`availability.rs`) are stored as JSON documents (the
//! domain types' serde form, timestamps as RFC 3339 strings at full precision), with the
//! fields they are looked up by copied into indexed columns.

mod availability;
mod gigs;
mod migrations;

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::{
    BrandProfile, Email, InfluencerProfile, Role, SocialAccount, User, UserId, UserStatus,
};
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior, ffi,
};

use crate::{
    Constraint, NewProfile, PasswordResetRepository, ProfileRepository, RefreshToken, Rotation,
    SessionRepository, StoreError, StoreHealth, UserRepository,
};

/// File name of the database inside `DATA_DIR`.
const FILE_NAME: &str = "noillin.sqlite3";

/// How long a statement waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The columns of `users`, in the order [`user_from_row`] reads them.
const USER_COLUMNS: &str = "id, email, password_hash, role, status, token_version, display_name, \
                            created_at, updated_at";

const INFLUENCER_COLUMNS: &str = "user_id, display_name, bio, niches, languages, location, \
                                  time_zone, social_accounts, rating, review_count";

const BRAND_COLUMNS: &str = "user_id, company_name, industry, website, contact_name";

pub struct SqliteStore {
    // One connection per process; the mutex makes its use one operation at a time.
    connection: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) `noillin.sqlite3` in `data_dir` and applies the migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let data_dir = data_dir.to_owned();
        let connection = tokio::task::spawn_blocking(move || -> Result<Connection, StoreError> {
            std::fs::create_dir_all(&data_dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", data_dir.display()))
            })?;
            let path = data_dir.join(FILE_NAME);
            let mut connection = Connection::open(&path).map_err(db_error)?;
            configure(&connection)?;
            let applied = migrations::migrate(&mut connection, Timestamp::now().as_millisecond())?;
            tracing::info!(
                path = %path.display(),
                migrations_applied = applied,
                schema_version = migrations::MIGRATIONS.len(),
                "SQLite store opened"
            );
            Ok(connection)
        })
        .await
        .map_err(join_error)??;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `f` on the connection, on the blocking pool, outside any explicit transaction (a
    /// single statement is its own snapshot).
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let connection = connection.lock().map_err(|_| poisoned())?;
            f(&connection)
        })
        .await
        .map_err(join_error)?
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction, committed when `f` succeeds and rolled back
    /// otherwise.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().map_err(|_| poisoned())?;
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let value = f(&tx)?;
            tx.commit().map_err(db_error)?;
            Ok(value)
        })
        .await
        .map_err(join_error)?
    }
}

/// Per-connection settings, and WAL mode for the file.
fn configure(connection: &Connection) -> Result<(), StoreError> {
    connection.busy_timeout(BUSY_TIMEOUT).map_err(db_error)?;
    // Switching a fresh file to WAL upgrades a read lock to an exclusive one, and SQLite does not
    // call the busy handler for such upgrades (it could deadlock): when several processes create
    // the file at once, the losers get SQLITE_BUSY at once. Retry them within the busy timeout.
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mode = loop {
        match connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        {
            Ok(mode) => break mode,
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(db_error(e)),
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "SQLite refused WAL mode (journal_mode is {mode})"
        )));
    }
    // NORMAL is durable in WAL mode except for the last transactions before a power loss.
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .map_err(db_error)?;
    connection
        .pragma_update(None, "foreign_keys", "ON")
        .map_err(db_error)?;
    Ok(())
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Maps a SQLite error: a unique violation on `users.email` is a conflict, everything else
/// (including "database is locked/busy") makes the store unavailable for this operation.
fn db_error(error: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(
        ffi::Error {
            code: ErrorCode::ConstraintViolation,
            extended_code,
        },
        Some(message),
    ) = &error
        && matches!(
            *extended_code,
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
        && violated_columns(message).any(|column| column == "users.email")
    {
        return StoreError::Conflict(Constraint::UserEmail);
    }
    StoreError::Unavailable(error.to_string())
}

/// The `table.column` names in "UNIQUE constraint failed: users.email" (several, comma-separated,
/// for a composite key). This message is the only place SQLite names the violated columns.
fn violated_columns(message: &str) -> impl Iterator<Item = &str> {
    message
        .split_once("constraint failed: ")
        .map(|(_, columns)| columns)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|column| !column.is_empty())
}

fn join_error(error: tokio::task::JoinError) -> StoreError {
    StoreError::Unavailable(format!("SQLite task failed: {error}"))
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("SQLite connection poisoned by an earlier panic".into())
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("unreadable {what} in SQLite: {detail}"))
}

fn millis(timestamp: Timestamp) -> i64 {
    timestamp.as_millisecond()
}

fn timestamp(millis: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(millis).map_err(|e| corrupt("timestamp", e))
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Unavailable(format!("cannot encode for SQLite: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| corrupt(what, e))
}

/// A `users` row as stored, before its values are checked.
struct UserRow {
    id: String,
    email: String,
    password_hash: String,
    role: String,
    status: String,
    token_version: i64,
    display_name: String,
    created_at: i64,
    updated_at: i64,
}

impl UserRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            email: row.get(1)?,
            password_hash: row.get(2)?,
            role: row.get(3)?,
            status: row.get(4)?,
            token_version: row.get(5)?,
            display_name: row.get(6)?,
            created_at: row.get(7)?,
            updated_at: row.get(8)?,
        })
    }

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

/// An `influencer_profiles` row as stored.
struct InfluencerRow {
    user_id: String,
    display_name: String,
    bio: String,
    niches: String,
    languages: String,
    location: Option<String>,
    time_zone: String,
    social_accounts: String,
    rating: Option<f64>,
    review_count: i64,
}

impl InfluencerRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            user_id: row.get(0)?,
            display_name: row.get(1)?,
            bio: row.get(2)?,
            niches: row.get(3)?,
            languages: row.get(4)?,
            location: row.get(5)?,
            time_zone: row.get(6)?,
            social_accounts: row.get(7)?,
            rating: row.get(8)?,
            review_count: row.get(9)?,
        })
    }

    fn into_profile(self) -> Result<InfluencerProfile, StoreError> {
        Ok(InfluencerProfile {
            user_id: UserId::from_string(self.user_id),
            display_name: self.display_name,
            bio: self.bio,
            niches: from_json("niches", &self.niches)?,
            languages: from_json("languages", &self.languages)?,
            location: self.location,
            time_zone: self.time_zone,
            social_accounts: from_json::<Vec<SocialAccount>>(
                "social accounts",
                &self.social_accounts,
            )?,
            rating: self.rating,
            review_count: u32::try_from(self.review_count)
                .map_err(|e| corrupt("review count", e))?,
        })
    }
}

fn brand_from_row(row: &Row<'_>) -> rusqlite::Result<BrandProfile> {
    Ok(BrandProfile {
        user_id: UserId::from_string(row.get::<_, String>(0)?),
        company_name: row.get(1)?,
        industry: row.get(2)?,
        website: row.get(3)?,
        contact_name: row.get(4)?,
    })
}

/// The values of an influencer profile in `INFLUENCER_COLUMNS` order after `user_id`, encoded.
struct InfluencerValues {
    display_name: String,
    bio: String,
    niches: String,
    languages: String,
    location: Option<String>,
    time_zone: String,
    social_accounts: String,
    rating: Option<f64>,
    review_count: i64,
}

impl InfluencerValues {
    fn encode(profile: &InfluencerProfile) -> Result<Self, StoreError> {
        Ok(Self {
            display_name: profile.display_name.clone(),
            bio: profile.bio.clone(),
            niches: to_json(&profile.niches)?,
            languages: to_json(&profile.languages)?,
            location: profile.location.clone(),
            time_zone: profile.time_zone.clone(),
            social_accounts: to_json(&profile.social_accounts)?,
            rating: profile.rating,
            review_count: i64::from(profile.review_count),
        })
    }
}

/// Inserts the influencer profile of `user_id` (the user being created, whatever
/// `profile.user_id` says).
fn insert_influencer(
    tx: &Transaction<'_>,
    user_id: &str,
    values: &InfluencerValues,
) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "INSERT INTO influencer_profiles ({INFLUENCER_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        rusqlite::params![
            user_id,
            values.display_name,
            values.bio,
            values.niches,
            values.languages,
            values.location,
            values.time_zone,
            values.social_accounts,
            values.rating,
            values.review_count,
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

fn insert_brand(
    tx: &Transaction<'_>,
    user_id: &str,
    profile: &BrandProfile,
) -> Result<(), StoreError> {
    tx.execute(
        &format!("INSERT INTO brand_profiles ({BRAND_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
        rusqlite::params![
            user_id,
            profile.company_name,
            profile.industry,
            profile.website,
            profile.contact_name,
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

/// The profile to insert with a user, encoded before the blocking task starts.
enum ProfileValues {
    Influencer(InfluencerValues),
    Brand(BrandProfile),
    None,
}

#[async_trait]
impl UserRepository for SqliteStore {
    async fn insert(&self, user: &User, profile: &NewProfile) -> Result<(), StoreError> {
        let user = user.clone();
        let profile = match profile {
            NewProfile::Influencer(p) => ProfileValues::Influencer(InfluencerValues::encode(p)?),
            NewProfile::Brand(p) => ProfileValues::Brand(p.clone()),
            NewProfile::None => ProfileValues::None,
        };
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                rusqlite::params![
                    user.id.as_str(),
                    user.email.as_str(),
                    user.password_hash,
                    user.role.as_str(),
                    user.status.as_str(),
                    i64::from(user.token_version),
                    user.display_name,
                    millis(user.created_at),
                    millis(user.updated_at),
                ],
            )
            .map_err(db_error)?;
            match &profile {
                ProfileValues::Influencer(values) => {
                    insert_influencer(tx, user.id.as_str(), values)
                }
                ProfileValues::Brand(brand) => insert_brand(tx, user.id.as_str(), brand),
                ProfileValues::None => Ok(()),
            }
        })
        .await
    }

    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let id = id.as_str().to_owned();
        self.read(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                    [id],
                    UserRow::from_row,
                )
                .optional()
                .map_err(db_error)?
                .map(UserRow::into_user)
                .transpose()
        })
        .await
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let email = email.as_str().to_owned();
        self.read(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1"),
                    [email],
                    UserRow::from_row,
                )
                .optional()
                .map_err(db_error)?
                .map(UserRow::into_user)
                .transpose()
        })
        .await
    }

    async fn set_status(
        &self,
        id: &UserId,
        status: UserStatus,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        let id = id.as_str().to_owned();
        self.write(move |tx| {
            tx.query_row(
                &format!(
                    "UPDATE users SET status = ?1, token_version = token_version + 1, \
                     updated_at = ?2 WHERE id = ?3 RETURNING {USER_COLUMNS}"
                ),
                rusqlite::params![status.as_str(), millis(now), id],
                UserRow::from_row,
            )
            .optional()
            .map_err(db_error)?
            .ok_or(StoreError::NotFound)?
            .into_user()
        })
        .await
    }

    async fn set_password_hash(
        &self,
        id: &UserId,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        let id = id.as_str().to_owned();
        let password_hash = password_hash.to_owned();
        self.write(move |tx| {
            tx.query_row(
                &format!(
                    "UPDATE users SET password_hash = ?1, token_version = token_version + 1, \
                     updated_at = ?2 WHERE id = ?3 RETURNING {USER_COLUMNS}"
                ),
                rusqlite::params![password_hash, millis(now), id],
                UserRow::from_row,
            )
            .optional()
            .map_err(db_error)?
            .ok_or(StoreError::NotFound)?
            .into_user()
        })
        .await
    }
}

#[async_trait]
impl ProfileRepository for SqliteStore {
    async fn influencer(&self, user_id: &UserId) -> Result<Option<InfluencerProfile>, StoreError> {
        let user_id = user_id.as_str().to_owned();
        self.read(move |connection| {
            connection
                .query_row(
                    &format!(
                        "SELECT {INFLUENCER_COLUMNS} FROM influencer_profiles WHERE user_id = ?1"
                    ),
                    [user_id],
                    InfluencerRow::from_row,
                )
                .optional()
                .map_err(db_error)?
                .map(InfluencerRow::into_profile)
                .transpose()
        })
        .await
    }

    async fn update_influencer(&self, profile: &InfluencerProfile) -> Result<(), StoreError> {
        let user_id = profile.user_id.as_str().to_owned();
        let values = InfluencerValues::encode(profile)?;
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE influencer_profiles SET display_name = ?2, bio = ?3, niches = ?4, \
                     languages = ?5, location = ?6, time_zone = ?7, social_accounts = ?8, \
                     rating = ?9, review_count = ?10 WHERE user_id = ?1",
                    rusqlite::params![
                        user_id,
                        values.display_name,
                        values.bio,
                        values.niches,
                        values.languages,
                        values.location,
                        values.time_zone,
                        values.social_accounts,
                        values.rating,
                        values.review_count,
                    ],
                )
                .map_err(db_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn brand(&self, user_id: &UserId) -> Result<Option<BrandProfile>, StoreError> {
        let user_id = user_id.as_str().to_owned();
        self.read(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {BRAND_COLUMNS} FROM brand_profiles WHERE user_id = ?1"),
                    [user_id],
                    brand_from_row,
                )
                .optional()
                .map_err(db_error)
        })
        .await
    }

    async fn update_brand(&self, profile: &BrandProfile) -> Result<(), StoreError> {
        let profile = profile.clone();
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE brand_profiles SET company_name = ?2, industry = ?3, website = ?4, \
                     contact_name = ?5 WHERE user_id = ?1",
                    rusqlite::params![
                        profile.user_id.as_str(),
                        profile.company_name,
                        profile.industry,
                        profile.website,
                        profile.contact_name,
                    ],
                )
                .map_err(db_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }
}

/// The state of a presented refresh token.
struct StoredToken {
    family_id: String,
    user_id: String,
    expires_at: i64,
    consumed_at: Option<i64>,
    revoked_at: Option<i64>,
}

#[async_trait]
impl SessionRepository for SqliteStore {
    async fn insert(&self, token: &RefreshToken) -> Result<(), StoreError> {
        let token = token.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, \
                 expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
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
        })
        .await
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
                tx.execute(
                    "UPDATE refresh_tokens SET revoked_at = ?1 \
                     WHERE family_id = ?2 AND revoked_at IS NULL",
                    rusqlite::params![now, stored.family_id],
                )
                .map_err(db_error)?;
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
            tx.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, \
                 expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    next.token_hash,
                    stored.family_id,
                    stored.user_id,
                    millis(next.issued_at),
                    millis(next.expires_at),
                ],
            )
            .map_err(db_error)?;
            Ok(Rotation::Rotated {
                user_id: UserId::from_string(stored.user_id),
            })
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
        self.write(move |tx| {
            tx.execute(
                "UPDATE refresh_tokens SET revoked_at = ?1 \
                 WHERE family_id = ?2 AND revoked_at IS NULL",
                rusqlite::params![now, family_id],
            )
            .map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn revoke_user(&self, user_id: &UserId, now: Timestamp) -> Result<(), StoreError> {
        let user_id = user_id.as_str().to_owned();
        let now = millis(now);
        self.write(move |tx| {
            tx.execute(
                "UPDATE refresh_tokens SET revoked_at = ?1 \
                 WHERE user_id = ?2 AND revoked_at IS NULL",
                rusqlite::params![now, user_id],
            )
            .map_err(db_error)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl PasswordResetRepository for SqliteStore {
    async fn insert(
        &self,
        token_hash: &str,
        user_id: &UserId,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let token_hash = token_hash.to_owned();
        let user_id = user_id.as_str().to_owned();
        let expires_at = millis(expires_at);
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO password_resets (token_hash, user_id, expires_at) \
                 VALUES (?1, ?2, ?3)",
                rusqlite::params![token_hash, user_id, expires_at],
            )
            .map_err(db_error)?;
            Ok(())
        })
        .await
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
                    "SELECT user_id FROM password_resets \
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

    async fn consume(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError> {
        let token_hash = token_hash.to_owned();
        let now = millis(now);
        self.write(move |tx| {
            tx.query_row(
                "UPDATE password_resets SET used_at = ?1 \
                 WHERE token_hash = ?2 AND used_at IS NULL AND expires_at > ?1 \
                 RETURNING user_id",
                rusqlite::params![now, token_hash],
                |row| row.get::<_, String>(0),
            )
            .optional()
            .map(|user_id| user_id.map(UserId::from_string))
            .map_err(db_error)
        })
        .await
    }
}

#[async_trait]
impl StoreHealth for SqliteStore {
    fn adapter(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|connection| {
            connection
                .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .map_err(db_error)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opening_creates_the_directory_and_a_configured_wal_database() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("nested/data");
        let store = SqliteStore::open(&data_dir).await.unwrap();
        store.ping().await.unwrap();
        assert!(data_dir.join(FILE_NAME).exists());
        let connection = store.connection.lock().unwrap();
        let pragma = |name: &str| -> i64 {
            connection
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(pragma("foreign_keys"), 1);
        assert_eq!(pragma("synchronous"), 1, "NORMAL");
        assert_eq!(pragma("busy_timeout"), 5000);
        let mode: String = connection
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn reopening_applies_no_migration_twice() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).await.unwrap());
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let mut connection = store.connection.lock().unwrap();
        assert_eq!(migrations::migrate(&mut connection, 0).unwrap(), 0);
        let versions: Vec<i64> = connection
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<i64> = (1..=migrations::MIGRATIONS.len() as i64).collect();
        assert_eq!(versions, expected);
    }

    #[test]
    fn only_a_unique_violation_on_users_email_is_an_email_conflict() {
        let failure = |extended_code, message: &str| {
            rusqlite::Error::SqliteFailure(ffi::Error::new(extended_code), Some(message.into()))
        };
        assert!(matches!(
            db_error(failure(
                ffi::SQLITE_CONSTRAINT_UNIQUE,
                "UNIQUE constraint failed: users.email"
            )),
            StoreError::Conflict(Constraint::UserEmail)
        ));
        for (code, message) in [
            (
                ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
                "UNIQUE constraint failed: users.id",
            ),
            (
                ffi::SQLITE_CONSTRAINT_UNIQUE,
                "UNIQUE constraint failed: users.email_verified",
            ),
            (
                ffi::SQLITE_CONSTRAINT_NOTNULL,
                "NOT NULL constraint failed: users.email",
            ),
            (ffi::SQLITE_BUSY, "database is locked"),
        ] {
            assert!(
                matches!(db_error(failure(code, message)), StoreError::Unavailable(_)),
                "{message}"
            );
        }
    }
}
