//! Availability in SQLite: `availability_weekly` (one row per user, JSON of the weekly windows)
//! and `availability_overrides` (one row per user and overridden local date). Every change is
//! one upsert or delete of one row, so changes to different dates never overwrite each other.

use std::collections::HashMap;

use async_trait::async_trait;
use jiff::civil::Date;
use noillin_domain::{
    UserId,
    availability::{AvailabilityRules, Override, WeeklyRules},
};
use rusqlite::Connection;

use super::{SqliteStore, changed_one, corrupt, db_error, from_json, to_json};
use crate::{AvailabilityRepository, StoreError, distinct};

/// The weekly rows and override rows of the users in the JSON array `?1`, in one statement (so
/// one snapshot): `(user_id, date, json)` where `date` is NULL for the weekly row.
const RULES_OF_USERS: &str = "\
    SELECT user_id, NULL, weekly FROM availability_weekly \
    WHERE user_id IN (SELECT value FROM json_each(?1)) \
    UNION ALL \
    SELECT user_id, date, value FROM availability_overrides \
    WHERE user_id IN (SELECT value FROM json_each(?1))";

/// The rules of each of `users` (distinct), in the order given; empty rules for users without
/// rows.
fn rules_of(
    connection: &Connection,
    users: &[String],
) -> Result<Vec<(UserId, AvailabilityRules)>, StoreError> {
    let mut found: HashMap<String, AvailabilityRules> = HashMap::new();
    if !users.is_empty() {
        let ids = to_json(users)?;
        let mut statement = connection
            .prepare_cached(RULES_OF_USERS)
            .map_err(db_error)?;
        let rows = statement
            .query_map([ids], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(db_error)?;
        for row in rows {
            let (user_id, date, json) = row.map_err(db_error)?;
            let rules = found.entry(user_id).or_default();
            match date {
                None => rules.weekly = from_json("weekly availability", &json)?,
                Some(date) => {
                    let date: Date = date
                        .parse()
                        .map_err(|e| corrupt("availability override date", e))?;
                    rules
                        .overrides
                        .insert(date, from_json("availability override", &json)?);
                }
            }
        }
    }
    Ok(users
        .iter()
        .map(|user| {
            let rules = found.remove(user).unwrap_or_default();
            (UserId::from_string(user.clone()), rules)
        })
        .collect())
}

/// The value of `availability_overrides.date`: ISO 8601, `YYYY-MM-DD`.
fn date_key(date: Date) -> String {
    date.to_string()
}

#[async_trait]
impl AvailabilityRepository for SqliteStore {
    async fn get(&self, user: &UserId) -> Result<AvailabilityRules, StoreError> {
        let users = vec![user.as_str().to_owned()];
        self.read(move |connection| {
            let mut rules = rules_of(connection, &users)?;
            Ok(rules.pop().map(|(_, rules)| rules).unwrap_or_default())
        })
        .await
    }

    async fn get_many(
        &self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, AvailabilityRules)>, StoreError> {
        let users: Vec<String> = distinct(users)
            .into_iter()
            .map(|u| u.as_str().to_owned())
            .collect();
        self.read(move |connection| rules_of(connection, &users))
            .await
    }

    async fn set_weekly(&self, user: &UserId, weekly: &WeeklyRules) -> Result<(), StoreError> {
        let user = user.as_str().to_owned();
        let weekly = to_json(weekly)?;
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO availability_weekly (user_id, weekly) VALUES (?1, ?2) \
                 ON CONFLICT (user_id) DO UPDATE SET weekly = excluded.weekly",
                rusqlite::params![user, weekly],
            )
            .map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn set_override(
        &self,
        user: &UserId,
        date: Date,
        value: &Override,
    ) -> Result<(), StoreError> {
        let user = user.as_str().to_owned();
        let date = date_key(date);
        let value = to_json(value)?;
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO availability_overrides (user_id, date, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (user_id, date) DO UPDATE SET value = excluded.value",
                rusqlite::params![user, date, value],
            )
            .map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn remove_override(&self, user: &UserId, date: Date) -> Result<(), StoreError> {
        let user = user.as_str().to_owned();
        let date = date_key(date);
        self.write(move |tx| {
            let removed = tx
                .execute(
                    "DELETE FROM availability_overrides WHERE user_id = ?1 AND date = ?2",
                    rusqlite::params![user, date],
                )
                .map_err(db_error)?;
            changed_one(removed)
        })
        .await
    }
}
