//! Users and profiles in SQLite.
//!
//! An account's name is stored once, in `users.display_name`: an influencer profile's
//! `display_name` and a brand profile's `company_name` are read from it (a join) and written to
//! it (in the profile update's transaction).

use async_trait::async_trait;
use noillin_domain::{BrandProfile, Email, InfluencerProfile, Role, User, UserId, UserStatus};
use rusqlite::{OptionalExtension, Row, Transaction};

use super::{
    SqliteStore, audit, changed_one, corrupt, db_error, from_json, millis, outbox, sessions,
    timestamp, to_json,
};
use crate::{
    AuditEntry, Constraint, NewProfile, OutboxMessage, PageRequest, ProfileRepository, SessionsEnd,
    StoreError, UserRepository,
};

/// The columns of `users`, in the order [`UserRow::from_row`] reads them.
const USER_COLUMNS: &str = "id, email, password_hash, role, status, token_version, display_name, \
                            created_at, updated_at";

/// The columns of `influencer_profiles`, in the order [`InfluencerRow::execute`] binds them.
const INFLUENCER_COLUMNS: &str = "user_id, bio, niches, languages, location, time_zone, \
                                  social_accounts, rating, review_count";

/// An influencer profile with its name, in the order [`InfluencerRow::from_row`] reads them.
const SELECT_INFLUENCER: &str = "SELECT p.user_id, u.display_name, p.bio, p.niches, \
                                 p.languages, p.location, p.time_zone, p.social_accounts, \
                                 p.rating, p.review_count \
                                 FROM influencer_profiles AS p JOIN users AS u ON u.id = p.user_id";

/// The columns of `brand_profiles`, in the order [`execute_brand`] binds them.
const BRAND_COLUMNS: &str = "user_id, industry, website, contact_name";

/// A brand profile with its name, in the order [`brand_from_row`] reads them.
const SELECT_BRAND: &str = "SELECT b.user_id, u.display_name, b.industry, b.website, \
                            b.contact_name \
                            FROM brand_profiles AS b JOIN users AS u ON u.id = b.user_id";

/// Renames an account (`?1` its id, `?2` the name).
const RENAME_USER: &str = "UPDATE users SET display_name = ?2 WHERE id = ?1";

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

/// An `influencer_profiles` row: the profile with its lists encoded as JSON.
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
    fn encode(profile: &InfluencerProfile) -> Result<Self, StoreError> {
        Ok(Self {
            user_id: profile.user_id.as_str().to_owned(),
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
            social_accounts: from_json("social accounts", &self.social_accounts)?,
            rating: self.rating,
            review_count: u32::try_from(self.review_count)
                .map_err(|e| corrupt("review count", e))?,
        })
    }

    /// Runs [`UPDATE_INFLUENCER`] with the row's values bound as `?1`..`?7`; returns how many
    /// rows it changed.
    fn update(&self, tx: &Transaction<'_>) -> Result<usize, StoreError> {
        tx.execute(
            UPDATE_INFLUENCER,
            rusqlite::params![
                self.user_id,
                self.bio,
                self.niches,
                self.languages,
                self.location,
                self.time_zone,
                self.social_accounts,
            ],
        )
        .map_err(db_error)
    }

    /// Runs `sql` with the row's values bound as `?1`..`?9` in `INFLUENCER_COLUMNS` order;
    /// returns how many rows it changed.
    fn execute(&self, tx: &Transaction<'_>, sql: &str) -> Result<usize, StoreError> {
        tx.execute(
            sql,
            rusqlite::params![
                self.user_id,
                self.bio,
                self.niches,
                self.languages,
                self.location,
                self.time_zone,
                self.social_accounts,
                self.rating,
                self.review_count,
            ],
        )
        .map_err(db_error)
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

/// Runs `sql` with the brand profile's values bound as `?1`..`?4` in `BRAND_COLUMNS` order;
/// returns how many rows it changed.
fn execute_brand(
    tx: &Transaction<'_>,
    sql: &str,
    profile: &BrandProfile,
) -> Result<usize, StoreError> {
    tx.execute(
        sql,
        rusqlite::params![
            profile.user_id.as_str(),
            profile.industry,
            profile.website,
            profile.contact_name,
        ],
    )
    .map_err(db_error)
}

/// The rating and review count are left alone: reviews own them.
const UPDATE_INFLUENCER: &str = "UPDATE influencer_profiles SET bio = ?2, niches = ?3, \
                                 languages = ?4, location = ?5, time_zone = ?6, \
                                 social_accounts = ?7 WHERE user_id = ?1";

const UPDATE_BRAND: &str = "UPDATE brand_profiles SET industry = ?2, website = ?3, \
                            contact_name = ?4 WHERE user_id = ?1";

/// Updates a profile with `update` (which changes one row or none) and, when it existed,
/// renames its account to `name`, in one transaction; `NotFound` when there was no profile.
fn update_profile_and_name(
    tx: &Transaction<'_>,
    update: impl FnOnce(&Transaction<'_>) -> Result<usize, StoreError>,
    user_id: &str,
    name: &str,
) -> Result<(), StoreError> {
    changed_one(update(tx)?)?;
    changed_one(
        tx.execute(RENAME_USER, rusqlite::params![user_id, name])
            .map_err(db_error)?,
    )
}

/// The profile to insert with a user, encoded before the blocking task starts.
enum ProfileRow {
    Influencer(InfluencerRow),
    Brand(BrandProfile),
    None,
}

impl SqliteStore {
    /// The user whose `column` (a unique one) holds `value`.
    async fn find_user(
        &self,
        column: &'static str,
        value: String,
    ) -> Result<Option<User>, StoreError> {
        // Every authenticated request reads a user by a unique column: run it in place, with the
        // statement parsed once per connection.
        self.look_up(move |connection| {
            connection
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE {column} = ?1"
                ))
                .map_err(db_error)?
                .query_row([value], UserRow::from_row)
                .optional()
                .map_err(db_error)?
                .map(UserRow::into_user)
                .transpose()
        })
        .await
    }
}

/// Inserts a user and its profile as part of the caller's transaction.
fn insert_user(tx: &Transaction<'_>, user: &User, profile: &ProfileRow) -> Result<(), StoreError> {
    tx.execute(
        &format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
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
    match profile {
        ProfileRow::Influencer(row) => row.execute(
            tx,
            &format!(
                "INSERT INTO influencer_profiles ({INFLUENCER_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
        )?,
        ProfileRow::Brand(brand) => execute_brand(
            tx,
            &format!("INSERT INTO brand_profiles ({BRAND_COLUMNS}) VALUES (?1, ?2, ?3, ?4)"),
            brand,
        )?,
        ProfileRow::None => 0,
    };
    Ok(())
}

/// Ends every session of `change.user_id` as part of the caller's transaction: sets `column` to
/// `value`, stamps `updated_at`, bumps the token version if it is still the expected one, and
/// revokes every refresh token of the user; returns the updated user.
pub(super) fn end_sessions(
    tx: &Transaction<'_>,
    change: &SessionsEnd,
    column: &'static str,
    value: &str,
) -> Result<User, StoreError> {
    let updated = tx
        .query_row(
            &format!(
                "UPDATE users SET {column} = ?1, token_version = token_version + 1, \
                 updated_at = ?2 WHERE id = ?3 AND token_version = ?4 RETURNING {USER_COLUMNS}"
            ),
            rusqlite::params![
                value,
                millis(change.at),
                change.user_id.as_str(),
                i64::from(change.expected_token_version),
            ],
            UserRow::from_row,
        )
        .optional()
        .map_err(db_error)?;
    let Some(updated) = updated else {
        let exists = tx
            .query_row(
                "SELECT 1 FROM users WHERE id = ?1",
                [change.user_id.as_str()],
                |_| Ok(()),
            )
            .optional()
            .map_err(db_error)?
            .is_some();
        return Err(if exists {
            StoreError::Conflict(Constraint::StaleVersion)
        } else {
            StoreError::NotFound
        });
    };
    sessions::revoke_where(tx, "user_id", change.user_id.as_str(), millis(change.at))?;
    updated.into_user()
}

#[async_trait]
impl UserRepository for SqliteStore {
    async fn insert(&self, user: &User, profile: &NewProfile) -> Result<(), StoreError> {
        let user = user.clone();
        // The profile belongs to the user being created, whatever its `user_id` says, and its
        // name is the user's `display_name` (see `NewProfile`).
        let profile = match profile {
            NewProfile::Influencer(p) => ProfileRow::Influencer(InfluencerRow {
                user_id: user.id.as_str().to_owned(),
                ..InfluencerRow::encode(p)?
            }),
            NewProfile::Brand(p) => ProfileRow::Brand(BrandProfile {
                user_id: user.id.clone(),
                ..p.clone()
            }),
            NewProfile::None => ProfileRow::None,
        };
        self.write(move |tx| insert_user(tx, &user, &profile)).await
    }

    async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.find_user("id", id.as_str().to_owned()).await
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.find_user("email", email.as_str().to_owned()).await
    }

    async fn insert_admin(&self, user: &User, audit: &AuditEntry) -> Result<(), StoreError> {
        let user = user.clone();
        let audit = audit.clone();
        self.write(move |tx| {
            insert_user(tx, &user, &ProfileRow::None)?;
            audit::insert_entry(tx, &audit)
        })
        .await
    }

    async fn set_status(
        &self,
        change: &SessionsEnd,
        status: UserStatus,
        audit: &AuditEntry,
        outbox: &[OutboxMessage],
    ) -> Result<User, StoreError> {
        let change = change.clone();
        let audit = audit.clone();
        let messages = outbox.to_vec();
        self.write(move |tx| {
            let user = end_sessions(tx, &change, "status", status.as_str())?;
            audit::insert_entry(tx, &audit)?;
            outbox::insert_messages(tx, &messages)?;
            Ok(user)
        })
        .await
    }

    async fn any_suspended(&self, ids: &[UserId]) -> Result<bool, StoreError> {
        if ids.is_empty() {
            return Ok(false);
        }
        // `?1` is the status, the ids follow.
        let values: Vec<String> = std::iter::once(UserStatus::Suspended.as_str().to_owned())
            .chain(ids.iter().map(|id| id.as_str().to_owned()))
            .collect();
        let placeholders = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM users WHERE status = ?1 AND id IN ({placeholders}))"
        );
        // By primary key, for at most a gig's members: in place, statement cached.
        self.look_up(move |connection| {
            connection
                .prepare_cached(&sql)
                .map_err(db_error)?
                .query_row(rusqlite::params_from_iter(&values), |row| row.get(0))
                .map_err(db_error)
        })
        .await
    }
}

#[async_trait]
impl ProfileRepository for SqliteStore {
    async fn influencer(&self, user_id: &UserId) -> Result<Option<InfluencerProfile>, StoreError> {
        let user_id = user_id.as_str().to_owned();
        // By primary key, for every slot query and profile read: in place, statement cached.
        self.look_up(move |connection| {
            connection
                .prepare_cached(&format!("{SELECT_INFLUENCER} WHERE p.user_id = ?1"))
                .map_err(db_error)?
                .query_row([user_id], InfluencerRow::from_row)
                .optional()
                .map_err(db_error)?
                .map(InfluencerRow::into_profile)
                .transpose()
        })
        .await
    }

    async fn update_influencer(
        &self,
        profile: &InfluencerProfile,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let row = InfluencerRow::encode(profile)?;
        let messages = outbox.to_vec();
        self.write(move |tx| {
            update_profile_and_name(tx, |tx| row.update(tx), &row.user_id, &row.display_name)?;
            outbox::insert_messages(tx, &messages)
        })
        .await
    }

    async fn brand(&self, user_id: &UserId) -> Result<Option<BrandProfile>, StoreError> {
        let user_id = user_id.as_str().to_owned();
        self.read(move |connection| {
            connection
                .query_row(
                    &format!("{SELECT_BRAND} WHERE b.user_id = ?1"),
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
            update_profile_and_name(
                tx,
                |tx| execute_brand(tx, UPDATE_BRAND, &profile),
                profile.user_id.as_str(),
                &profile.company_name,
            )
        })
        .await
    }

    async fn influencer_ids(&self, page: &PageRequest) -> Result<Vec<UserId>, StoreError> {
        let after = page.after.clone().unwrap_or_default();
        let limit = i64::from(page.limit);
        self.read(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT id FROM users WHERE role = 'influencer' AND id > ?1 \
                     ORDER BY id LIMIT ?2",
                )
                .map_err(db_error)?;
            statement
                .query_map(rusqlite::params![after, limit], |row| {
                    row.get::<_, String>(0)
                })
                .map_err(db_error)?
                .map(|id| id.map(UserId::from_string).map_err(db_error))
                .collect()
        })
        .await
    }
    async fn payout_account(&self, user_id: &UserId) -> Result<Option<String>, StoreError> {
        let id = user_id.as_str().to_owned();
        self.look_up(move |connection| {
            let account: Option<Option<String>> = connection
                .prepare_cached(
                    "SELECT payout_account_id FROM influencer_profiles WHERE user_id = ?1",
                )
                .map_err(db_error)?
                .query_row([id], |row| row.get(0))
                .optional()
                .map_err(db_error)?;
            Ok(account.flatten())
        })
        .await
    }

    async fn set_payout_account(
        &self,
        user_id: &UserId,
        account_id: &str,
    ) -> Result<String, StoreError> {
        let id = user_id.as_str().to_owned();
        let account = account_id.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE influencer_profiles SET payout_account_id = ?2 \
                 WHERE user_id = ?1 AND payout_account_id IS NULL",
                rusqlite::params![id, account],
            )
            .map_err(db_error)?;
            let stored: Option<Option<String>> = tx
                .query_row(
                    "SELECT payout_account_id FROM influencer_profiles WHERE user_id = ?1",
                    [&id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db_error)?;
            stored.flatten().ok_or(StoreError::NotFound)
        })
        .await
    }
}
