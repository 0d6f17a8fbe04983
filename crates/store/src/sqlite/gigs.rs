//! Gigs in SQLite: one `gigs` row per gig holding the whole gig as JSON, plus `gig_members`
//! (who appears in `members`), rewritten in the same transaction as the gig so that
//! "gigs of this user" is an indexed lookup.

use async_trait::async_trait;
use noillin_domain::{
    UserId, UserStatus,
    gig::{Gig, GigId, GigStatus},
};
use rusqlite::{OptionalExtension, Transaction};

use super::{
    SqliteStore, db_error, documents_from, from_json, outbox, stale_or_missing, to_json,
    version_value,
};
use crate::{GigRepository, OutboxMessage, PageRequest, StoreError};

/// The value of `gigs.status`.
fn status_name(status: GigStatus) -> &'static str {
    match status {
        GigStatus::Draft => "draft",
        GigStatus::Published => "published",
        GigStatus::Archived => "archived",
    }
}

/// A gig encoded for its row, before the blocking task starts.
struct GigRow {
    id: String,
    owner_id: String,
    status: &'static str,
    version: i64,
    document: String,
    /// Distinct member ids (the membership index has one row per user).
    members: Vec<String>,
}

impl GigRow {
    fn encode(gig: &Gig) -> Result<Self, StoreError> {
        let mut members: Vec<String> = gig
            .members
            .iter()
            .map(|m| m.user_id.as_str().to_owned())
            .collect();
        members.sort_unstable();
        members.dedup();
        Ok(Self {
            id: gig.id.as_str().to_owned(),
            owner_id: gig.owner_id.as_str().to_owned(),
            status: status_name(gig.status),
            version: version_value("gig", gig.version)?,
            document: to_json(gig)?,
            members,
        })
    }

    fn insert_members(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let mut statement = tx
            .prepare_cached("INSERT INTO gig_members (gig_id, user_id) VALUES (?1, ?2)")
            .map_err(db_error)?;
        for user_id in &self.members {
            statement
                .execute(rusqlite::params![self.id, user_id])
                .map_err(db_error)?;
        }
        Ok(())
    }
}

/// The page size as an SQL `LIMIT`.
fn limit(page: &PageRequest) -> i64 {
    i64::from(page.limit)
}

#[async_trait]
impl GigRepository for SqliteStore {
    async fn insert(&self, gig: &Gig, outbox: &[OutboxMessage]) -> Result<(), StoreError> {
        let row = GigRow::encode(gig)?;
        let messages = outbox.to_vec();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO gigs (id, owner_id, status, version, document) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![row.id, row.owner_id, row.status, row.version, row.document],
            )
            .map_err(db_error)?;
            row.insert_members(tx)?;
            outbox::insert_messages(tx, &messages)
        })
        .await
    }

    async fn find(&self, id: &GigId) -> Result<Option<Gig>, StoreError> {
        let id = id.as_str().to_owned();
        // By primary key, on every read of a gig and its slots: in place, statement cached.
        self.look_up(move |connection| {
            connection
                .prepare_cached("SELECT document FROM gigs WHERE id = ?1")
                .map_err(db_error)?
                .query_row([id], |row| row.get::<_, String>(0))
                .optional()
                .map_err(db_error)?
                .map(|document| from_json("gig", &document))
                .transpose()
        })
        .await
    }

    async fn update(&self, gig: &Gig, outbox: &[OutboxMessage]) -> Result<(), StoreError> {
        let row = GigRow::encode(gig)?;
        let messages = outbox.to_vec();
        // A gig at version 0 has no predecessor: any stored version is stale.
        let expected = gig
            .version
            .checked_sub(1)
            .map(|v| version_value("gig", v))
            .transpose()?;
        // One IMMEDIATE transaction: the conditional UPDATE decides races (concurrent updates
        // from the same read are serialized by the write lock and only the first matches), and
        // the follow-up SELECT sees the same state the UPDATE did.
        self.write(move |tx| {
            let changed = match expected {
                Some(expected) => tx
                    .execute(
                        "UPDATE gigs SET owner_id = ?2, status = ?3, version = ?4, \
                         document = ?5 WHERE id = ?1 AND version = ?6",
                        rusqlite::params![
                            row.id,
                            row.owner_id,
                            row.status,
                            row.version,
                            row.document,
                            expected,
                        ],
                    )
                    .map_err(db_error)?,
                None => 0,
            };
            if changed != 1 {
                return Err(stale_or_missing(tx, "gigs", &row.id));
            }
            tx.execute("DELETE FROM gig_members WHERE gig_id = ?1", [&row.id])
                .map_err(db_error)?;
            row.insert_members(tx)?;
            outbox::insert_messages(tx, &messages)
        })
        .await
    }

    async fn list_for_member(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Vec<Gig>, StoreError> {
        let user = user.as_str().to_owned();
        let after = page.after.clone();
        let limit = limit(page);
        // Each branch walks its index from `after` and stops after `limit` ids; the union of the
        // two (a user is usually both owner and member) is cut to `limit` again.
        let after_owner = if after.is_some() { "AND id > ?2" } else { "" };
        let after_member = if after.is_some() {
            "AND gig_id > ?2"
        } else {
            ""
        };
        let sql = format!(
            "SELECT g.document FROM gigs AS g JOIN ( \
                 SELECT id FROM ( \
                     SELECT id FROM gigs WHERE owner_id = ?1 {after_owner} \
                     ORDER BY id LIMIT ?3) \
                 UNION \
                 SELECT gig_id FROM ( \
                     SELECT gig_id FROM gig_members WHERE user_id = ?1 {after_member} \
                     ORDER BY gig_id LIMIT ?3) \
             ) AS mine ON g.id = mine.id \
             ORDER BY g.id LIMIT ?3"
        );
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&sql).map_err(db_error)?;
            documents_from::<Gig>(
                "gig",
                &mut statement,
                rusqlite::params![user, after.unwrap_or_default(), limit],
            )
        })
        .await
    }

    async fn list_published(&self, page: &PageRequest) -> Result<Vec<Gig>, StoreError> {
        let after = page.after.clone();
        let limit = limit(page);
        let after_clause = if after.is_some() { "AND g.id > ?2" } else { "" };
        // The status index walks published gigs in id order; each is checked against its
        // owner's and members' accounts (primary-key lookups) before it counts towards the
        // limit, so hidden gigs never shorten a page.
        let sql = format!(
            "SELECT g.document FROM gigs AS g \
             WHERE g.status = ?1 {after_clause} \
             AND NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = g.owner_id AND u.status = ?4) \
             AND NOT EXISTS (SELECT 1 FROM gig_members AS m JOIN users AS u ON u.id = m.user_id \
                             WHERE m.gig_id = g.id AND u.status = ?4) \
             ORDER BY g.id LIMIT ?3"
        );
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&sql).map_err(db_error)?;
            documents_from::<Gig>(
                "gig",
                &mut statement,
                rusqlite::params![
                    status_name(GigStatus::Published),
                    after.unwrap_or_default(),
                    limit,
                    UserStatus::Suspended.as_str(),
                ],
            )
        })
        .await
    }
}
