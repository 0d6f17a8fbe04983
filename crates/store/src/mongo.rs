//! The production adapter: MongoDB through the official driver.
//!
//! Collections, each described in its module:
//! - `users`: users with their profiles embedded; see [`accounts`].
//! - `refresh_tokens`, `password_resets` (reset requests): see [`sessions`].
//! - `gigs`: one document per gig (`_id` = gig id), members embedded; see [`gigs`].
//! - `bookings`: one document per booking (`_id` = booking id), members embedded, and
//!   `calendars`: one document per booking party that racing creations write; see [`bookings`].
//! - `payment_events`: one document per verified provider event (`_id` = its id), so each is
//!   acted on once; see [`payments`].
//! - `ledger_entries`, `ledger_balances`, `ledger_accounts`: every money movement, each
//!   account's running balance per currency, and each account's last entry number, written
//!   only with the booking change that causes them; see [`ledger`].
//! - `reviews`: one document per reviewed booking (`_id` = its id), counted in each member's
//!   rating in `users`; see [`reviews`].
//! - `availability`: one document per user (`_id` = user id) with the weekly windows and the
//!   date overrides; see [`availability`].
//! - `outbox`: one document per message waiting to be published; see [`outbox`].
//! - `notifications`: one document per notification; see [`notifications`].
//! - `mails`: one document per outgoing mail; see [`mails`].
//! - `audit_log`: one document per administrative action; see [`audit`].
//! - `conversations`, `messages`: chat conversations with each party's read mark, and their
//!   numbered messages; see [`chat`].
//!
//! A state change that emits outbox messages is a multi-document transaction, so the adapter
//! needs a replica set (or a sharded cluster), as production and CI run; on a standalone server
//! only those writes fail. So is ending a user's sessions (a status change, a password reset),
//! creating an administrator with its audit entry, creating or reclaiming a booking, a booking
//! change with ledger postings, storing a review, recording a payment event, and appending a chat
//! message. Everything else is single-document writes.
//!
//! The database handle uses write concern `majority` and read concern `majority` (weaker
//! concerns can lose acknowledged writes on failover) and reads from the primary, whatever the
//! URI says, so a caller always reads its own writes (a secondary may lag behind a write that a
//! majority has acknowledged). Timestamps are BSON dates (milliseconds),
//! so sub-millisecond precision is dropped (except a gig's `created_at`/`updated_at`, kept as
//! RFC 3339 strings: see [`gigs`]). Documents that do not decode make the operation fail
//! with `Unavailable`; nothing here panics on unexpected data.

mod accounts;
mod audit;
mod availability;
mod bookings;
mod chat;
mod gigs;
mod ledger;
mod mails;
mod notifications;
mod outbox;
mod payments;
mod reviews;
mod sessions;

use async_trait::async_trait;
use futures::{FutureExt, TryStreamExt};
use jiff::Timestamp;
use mongodb::{
    Client, Collection, Cursor, Database, IndexModel,
    bson::{self, DateTime, Document, doc},
    error::{Error as MongoError, ErrorKind, WriteFailure},
    options::{
        DatabaseOptions, IndexOptions, ReadConcern, ReadPreference, SelectionCriteria, WriteConcern,
    },
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{Constraint, OutboxMessage, StoreError, StoreHealth};

/// MongoDB's duplicate key error code.
const DUPLICATE_KEY: i32 = 11000;

pub struct MongoStore {
    database: Database,
    users: Collection<accounts::UserDoc>,
    refresh_tokens: Collection<sessions::RefreshTokenDoc>,
    password_resets: Collection<sessions::PasswordResetDoc>,
    gigs: Collection<gigs::GigDoc>,
    bookings: Collection<bookings::BookingDoc>,
    calendars: Collection<Document>,
    payment_events: Collection<payments::PaymentEventDoc>,
    ledger_entries: Collection<ledger::EntryDoc>,
    ledger_balances: Collection<ledger::BalanceDoc>,
    ledger_accounts: Collection<ledger::AccountDoc>,
    reviews: Collection<reviews::ReviewDoc>,
    availability: Collection<availability::AvailabilityDoc>,
    outbox: Collection<outbox::OutboxDoc>,
    notifications: Collection<notifications::NotificationDoc>,
    mails: Collection<mails::MailDoc>,
    audit_log: Collection<audit::AuditDoc>,
    conversations: Collection<chat::ConversationDoc>,
    messages: Collection<chat::MessageDoc>,
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
            bookings: database.collection("bookings"),
            calendars: database.collection("calendars"),
            payment_events: database.collection("payment_events"),
            ledger_entries: database.collection("ledger_entries"),
            ledger_balances: database.collection("ledger_balances"),
            ledger_accounts: database.collection("ledger_accounts"),
            reviews: database.collection("reviews"),
            availability: database.collection("availability"),
            outbox: database.collection("outbox"),
            notifications: database.collection("notifications"),
            mails: database.collection("mails"),
            audit_log: database.collection("audit_log"),
            conversations: database.collection("conversations"),
            messages: database.collection("messages"),
            database,
        };
        store.create_indexes().await?;
        accounts::move_legacy_names(&store.users).await?;
        tracing::info!(database = %name, "MongoDB store opened");
        Ok(store)
    }

    /// Creates the indexes. Idempotent: creating an index that exists with the same keys and
    /// options is a no-op. Changing the options of an existing index (e.g. a TTL) fails with
    /// `IndexOptionsConflict` and needs a `collMod` (or drop and recreate) first.
    async fn create_indexes(&self) -> Result<(), StoreError> {
        accounts::create_indexes(&self.users).await?;
        sessions::create_indexes(&self.refresh_tokens, &self.password_resets).await?;
        gigs::create_indexes(&self.gigs).await?;
        bookings::create_indexes(&self.bookings).await?;
        ledger::create_indexes(&self.ledger_entries, &self.ledger_balances).await?;
        reviews::create_indexes(&self.reviews).await?;
        outbox::create_indexes(&self.outbox).await?;
        notifications::create_indexes(&self.notifications).await?;
        chat::create_indexes(&self.conversations, &self.messages).await?;
        Ok(())
    }
}

impl MongoStore {
    /// Replaces document `id` of `collection` with `document` if its stored `version` is
    /// `version - 1` (a compare-and-swap: the caller read `v` and wrote `v + 1`), with the
    /// messages, in one atomic step. `Conflict(StaleVersion)` when another change came first,
    /// `NotFound` when there is no such document; nothing is written then. `what` names the
    /// record in errors.
    pub(super) async fn replace_versioned<T>(
        &self,
        collection: &Collection<T>,
        what: &str,
        id: &str,
        version: u64,
        document: &T,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError>
    where
        T: Serialize + Send + Sync,
    {
        // A record at version 0 has no predecessor: any stored version is stale.
        if let Some(expected) = version.checked_sub(1) {
            let expected = i64::try_from(expected).map_err(|_| {
                StoreError::Unavailable(format!(
                    "{what} version {version} does not fit MongoDB's int64"
                ))
            })?;
            let filter = doc! { "_id": id, "version": expected };
            let replaced = self
                .write_with_outbox(
                    outbox,
                    &(collection, filter, document),
                    |_, session, context| {
                        let (collection, filter, document) = context;
                        async move {
                            let mut replace = collection.replace_one(filter.clone(), *document);
                            if let Some(session) = session {
                                replace = replace.session(session);
                            }
                            Ok(replace.await?.matched_count == 1)
                        }
                        .boxed()
                    },
                )
                .await?;
            if replaced {
                return Ok(());
            }
        }
        Err(Self::stale_or_missing(collection, id).await)
    }

    /// Why a versioned write of document `id` matched nothing: `Conflict(StaleVersion)` when the
    /// document exists (at another version), `NotFound` when it does not. Reads the primary's
    /// latest state (the write that made the filter miss may not be majority-committed yet).
    pub(super) async fn stale_or_missing<T>(collection: &Collection<T>, id: &str) -> StoreError
    where
        T: Send + Sync,
    {
        let exists = collection
            .clone_with_type::<Document>()
            .find_one(doc! { "_id": id })
            .projection(doc! { "_id": 1 })
            .read_concern(ReadConcern::local())
            .await;
        match exists {
            Ok(Some(_)) => StoreError::Conflict(Constraint::StaleVersion),
            Ok(None) => StoreError::NotFound,
            Err(e) => unavailable(e),
        }
    }
}

fn index(keys: Document, name: &str, configure: impl FnOnce(&mut IndexOptions)) -> IndexModel {
    let mut options = IndexOptions::builder().name(name.to_owned()).build();
    configure(&mut options);
    IndexModel::builder().keys(keys).options(options).build()
}

/// Every document of `cursor`, each converted by `convert`.
async fn collect<T, U>(
    cursor: Cursor<T>,
    convert: impl FnMut(T) -> Result<U, StoreError>,
) -> Result<Vec<U>, StoreError>
where
    T: DeserializeOwned + Unpin + Send + Sync,
{
    let documents: Vec<T> = cursor.try_collect().await.map_err(unavailable)?;
    documents.into_iter().map(convert).collect()
}

/// Maps a driver error: a document the driver cannot decode into our type is corrupt data,
/// everything else makes the store unavailable for this operation.
fn unavailable(error: MongoError) -> StoreError {
    if matches!(error.kind.as_ref(), ErrorKind::BsonDeserialization(_)) {
        return StoreError::Corrupt(format!("undecodable document in MongoDB: {error}"));
    }
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
    StoreError::Corrupt(format!("unreadable {what} in MongoDB: {detail}"))
}

fn to_bson<T: Serialize>(value: &T) -> Result<bson::Bson, StoreError> {
    bson::to_bson(value).map_err(|e| StoreError::Unavailable(format!("cannot encode: {e}")))
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

    #[test]
    fn a_document_the_driver_cannot_decode_is_corrupt_and_other_failures_unavailable() {
        #[derive(Debug, serde::Deserialize)]
        struct Counted {
            #[allow(dead_code)]
            count: i64,
        }
        let decoding = bson::from_document::<Counted>(doc! { "count": "many" }).unwrap_err();
        let undecodable: MongoError = ErrorKind::BsonDeserialization(decoding).into();
        assert!(matches!(unavailable(undecodable), StoreError::Corrupt(_)));

        let refused: mongodb::error::WriteError =
            bson::from_document(doc! { "code": 121, "errmsg": "validation" }).unwrap();
        let refused: MongoError = ErrorKind::Write(WriteFailure::WriteError(refused)).into();
        assert!(matches!(unavailable(refused), StoreError::Unavailable(_)));
    }
}
