//! Availability in MongoDB: one document per user in `availability`,
//! `{_id: user id, weekly: {monday: [{start: "09:00", end: "17:00"}], ...},
//! overrides: {"2026-06-10": {kind: "blocked"}, ...}}`.
//!
//! Every change is one single-document update of one field path (`weekly`, or
//! `overrides.<date>`), upserting the document when the user has none, so changes to different
//! dates never overwrite each other. A user without a document, or a document without `weekly`
//! or `overrides`, has empty rules.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use jiff::civil::Date;
use mongodb::bson::{Document, doc};
use noillin_domain::{
    UserId,
    availability::{AvailabilityRules, Override, WeeklyRules},
};
use serde::Deserialize;

use super::{MongoStore, collect, corrupt, is_duplicate_key, to_bson, unavailable};
use crate::{AvailabilityRepository, StoreError, distinct};

/// How often an upsert is tried when a concurrent upsert of the same user inserted the
/// document first (the server retries such upserts itself since 4.2; this covers the rest).
const UPSERT_ATTEMPTS: usize = 3;

/// A document of `availability`.
#[derive(Debug, Deserialize)]
pub(super) struct AvailabilityDoc {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    weekly: WeeklyRules,
    /// Keyed by local date, `YYYY-MM-DD`.
    #[serde(default)]
    overrides: BTreeMap<String, Override>,
}

impl AvailabilityDoc {
    fn into_rules(self) -> Result<(UserId, AvailabilityRules), StoreError> {
        let overrides = self
            .overrides
            .into_iter()
            .map(|(date, value)| {
                let date: Date = date
                    .parse()
                    .map_err(|e| corrupt("availability override date", e))?;
                Ok((date, value))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((
            UserId::from_string(self.id),
            AvailabilityRules {
                weekly: self.weekly,
                overrides,
            },
        ))
    }
}

/// The field path of one date's override.
fn override_path(date: Date) -> String {
    format!("overrides.{date}")
}

impl MongoStore {
    /// Applies `update` to the user's document, creating it when there is none.
    async fn upsert_availability(&self, user: &UserId, update: Document) -> Result<(), StoreError> {
        let mut attempt = 1;
        loop {
            match self
                .availability
                .update_one(doc! { "_id": user.as_str() }, update.clone())
                .upsert(true)
                .await
            {
                Ok(_) => return Ok(()),
                // Two first writes for one user raced to insert: the loser now finds the
                // document and updates it.
                Err(e) if is_duplicate_key(&e) && attempt < UPSERT_ATTEMPTS => attempt += 1,
                Err(e) => return Err(unavailable(e)),
            }
        }
    }
}

#[async_trait]
impl AvailabilityRepository for MongoStore {
    async fn get(&self, user: &UserId) -> Result<AvailabilityRules, StoreError> {
        let found = self
            .availability
            .find_one(doc! { "_id": user.as_str() })
            .await
            .map_err(unavailable)?;
        match found {
            Some(document) => document.into_rules().map(|(_, rules)| rules),
            None => Ok(AvailabilityRules::default()),
        }
    }

    async fn get_many(
        &self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, AvailabilityRules)>, StoreError> {
        let users = distinct(users);
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = users.iter().map(|u| u.as_str()).collect();
        let cursor = self
            .availability
            .find(doc! { "_id": { "$in": ids } })
            .await
            .map_err(unavailable)?;
        let mut found: HashMap<UserId, AvailabilityRules> =
            collect(cursor, AvailabilityDoc::into_rules)
                .await?
                .into_iter()
                .collect();
        Ok(users
            .into_iter()
            .map(|user| {
                let rules = found.remove(user).unwrap_or_default();
                (user.clone(), rules)
            })
            .collect())
    }

    async fn set_weekly(&self, user: &UserId, weekly: &WeeklyRules) -> Result<(), StoreError> {
        let update = doc! { "$set": { "weekly": to_bson(weekly)? } };
        self.upsert_availability(user, update).await
    }

    async fn set_override(
        &self,
        user: &UserId,
        date: Date,
        value: &Override,
    ) -> Result<(), StoreError> {
        let mut set = Document::new();
        set.insert(override_path(date), to_bson(value)?);
        self.upsert_availability(user, doc! { "$set": set }).await
    }

    async fn remove_override(&self, user: &UserId, date: Date) -> Result<(), StoreError> {
        let path = override_path(date);
        let mut filter = doc! { "_id": user.as_str() };
        filter.insert(path.clone(), doc! { "$exists": true });
        let mut unset = Document::new();
        unset.insert(path, "");
        let result = self
            .availability
            .update_one(filter, doc! { "$unset": unset })
            .await
            .map_err(unavailable)?;
        if result.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson::{self, Bson};
    use noillin_domain::availability::{DayTime, LocalWindow};

    use super::*;

    fn window(start: (u8, u8), end: (u8, u8)) -> LocalWindow {
        LocalWindow::new(
            DayTime::new(start.0, start.1).unwrap(),
            DayTime::new(end.0, end.1).unwrap(),
        )
    }

    #[test]
    fn documents_written_field_by_field_read_back_as_rules() {
        let weekly = WeeklyRules {
            monday: vec![window((9, 0), (12, 0)), window((22, 0), (24, 0))],
            ..WeeklyRules::default()
        };
        let windows = Override::Windows(vec![window((0, 0), (24, 0))]);
        let june_10 = jiff::civil::date(2026, 6, 10);
        let jan_2 = jiff::civil::date(2027, 1, 2);

        // What `$set: {"weekly": ...}` and `$set: {"overrides.<date>": ...}` leave behind.
        let weekly_bson = to_bson(&weekly).unwrap();
        let monday = weekly_bson
            .as_document()
            .unwrap()
            .get_array("monday")
            .unwrap();
        assert_eq!(
            monday[1].as_document().unwrap().get_str("end").unwrap(),
            "24:00"
        );
        assert_eq!(override_path(june_10), "overrides.2026-06-10");
        assert_eq!(
            to_bson(&Override::Blocked).unwrap(),
            Bson::Document(doc! { "kind": "blocked" })
        );
        let document = doc! {
            "_id": "u1",
            "weekly": weekly_bson,
            "overrides": {
                "2027-01-02": to_bson(&Override::Blocked).unwrap(),
                "2026-06-10": to_bson(&windows).unwrap(),
            },
        };

        let (user, rules) = bson::from_document::<AvailabilityDoc>(document)
            .unwrap()
            .into_rules()
            .unwrap();
        assert_eq!(user, UserId::from_string("u1"));
        assert_eq!(rules.weekly, weekly);
        assert_eq!(
            rules.overrides.into_iter().collect::<Vec<_>>(),
            vec![(june_10, windows), (jan_2, Override::Blocked)]
        );
    }

    #[test]
    fn a_document_with_overrides_only_has_no_weekly_windows() {
        let document = doc! {
            "_id": "u1",
            "overrides": { "2026-06-10": { "kind": "blocked" } },
        };
        let (_, rules) = bson::from_document::<AvailabilityDoc>(document)
            .unwrap()
            .into_rules()
            .unwrap();
        assert_eq!(rules.weekly, WeeklyRules::default());
        assert_eq!(rules.overrides.len(), 1);
        let (_, empty) = bson::from_document::<AvailabilityDoc>(doc! { "_id": "u2" })
            .unwrap()
            .into_rules()
            .unwrap();
        assert_eq!(empty, AvailabilityRules::default());
    }

    #[test]
    fn unexpected_availability_documents_are_errors_not_panics() {
        let bad_date = doc! { "_id": "u1", "overrides": { "June 10": { "kind": "blocked" } } };
        let decoded: AvailabilityDoc = bson::from_document(bad_date).unwrap();
        assert!(matches!(decoded.into_rules(), Err(StoreError::Corrupt(_))));

        let bad_time = doc! {
            "_id": "u1",
            "weekly": { "monday": [{ "start": "25:00", "end": "26:00" }] },
        };
        assert!(bson::from_document::<AvailabilityDoc>(bad_time).is_err());
    }
}
