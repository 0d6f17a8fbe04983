//! The outbox in MongoDB: one document per message in `outbox` (`_id` = message id),
//! `{routing_key, correlation_id, payload, created_at, deliver_after_ms, claim_token,
//! lease_until, attempts, last_error, parked_at}`; `deliver_after_ms` is the delivery delay in
//! milliseconds (null: at once); `claim_token` and `lease_until` are null while nobody holds the
//! message. A message the broker refused is held back by `lease_until` with no claim token;
//! `attempts` counts the refusals and `last_error` keeps the last reason; a parked message has
//! `parked_at` and is never claimed. Documents written before these fields existed lack them,
//! which reads as no refusal and not parked.
//!
//! A state change with messages runs as a multi-document transaction (see
//! [`MongoStore::write_with_outbox`]): MongoDB has no other way to make two documents appear
//! together. A change without messages stays a single-document write.
//!
//! A claim takes three steps, none of which needs a transaction: find up to `limit` claimable
//! ids in `_id` order (walking the `_id` index, which skips only the few held messages at the
//! front), set the claim on those of them that are still claimable (`updateMany` re-checks the
//! filter on each document as it writes it, so of two racing claims only one sets a given
//! message), then read back the messages that carry this claim's token.

use std::time::Duration;

use async_trait::async_trait;
use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;
use mongodb::{
    ClientSession, Collection,
    bson::{DateTime, Document, doc},
    error::{
        Error as MongoError, ErrorKind, TRANSIENT_TRANSACTION_ERROR,
        UNKNOWN_TRANSACTION_COMMIT_RESULT, WriteFailure,
    },
    options::{ReadConcern, ReadPreference, ReturnDocument, SelectionCriteria, WriteConcern},
};
use serde::{Deserialize, Serialize};

use super::{MongoStore, collect, corrupt, date, index, timestamp, unavailable};
use crate::{
    OutboxMessage, OutboxRefusal, OutboxRepository, ParkedOutboxMessage, RefusalPolicy, StoreError,
};

/// How often a transaction is tried when the server reports a transient error (a write
/// conflict with a concurrent transaction, a primary stepping down).
const TRANSACTION_ATTEMPTS: u32 = 8;

/// How often a commit is sent when its outcome is unknown (the server commits a transaction at
/// most once, so sending the commit again is safe).
const COMMIT_ATTEMPTS: u32 = 3;

/// The pause before the second attempt of a transaction; doubled for each further one, so that
/// the transaction it conflicted with has time to commit.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(10);

/// The state change of [`MongoStore::write_with_outbox`]: runs its writes in the session when
/// given one, and answers whether it changed anything.
type StateWrite<'s> = BoxFuture<'s, Result<bool, MongoError>>;

/// The writes of [`MongoStore::transact`], in the session's transaction: `Ok(Err(_))` refuses
/// the change (the transaction is aborted and the refusal returned), `Err(_)` is the server's.
type TransactionStep<'s, T, E> = BoxFuture<'s, Result<Result<T, E>, MongoError>>;

/// Creates the indexes of `outbox`.
pub(super) async fn create_indexes(outbox: &Collection<OutboxDoc>) -> Result<(), StoreError> {
    // Reading back a claim; completing and releasing go by `_id`.
    outbox
        .create_index(index(
            doc! { "claim_token": 1, "_id": 1 },
            "outbox_claim_token",
            |_| {},
        ))
        .await
        .map_err(unavailable)?;
    // Claims walk the unparked messages (`parked_at` null or missing) in `_id` order without
    // stepping over parked ones; listing the parked ones walks the other end.
    outbox
        .create_index(index(
            doc! { "parked_at": 1, "_id": 1 },
            "outbox_parked_at",
            |_| {},
        ))
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// A document of `outbox`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct OutboxDoc {
    #[serde(rename = "_id")]
    id: String,
    routing_key: String,
    correlation_id: Option<String>,
    payload: String,
    created_at: DateTime,
    #[serde(default)]
    deliver_after_ms: Option<i64>,
    claim_token: Option<String>,
    lease_until: Option<DateTime>,
    #[serde(default)]
    attempts: i64,
    #[serde(default)]
    last_error: Option<String>,
    #[serde(default)]
    parked_at: Option<DateTime>,
}

impl OutboxDoc {
    pub(super) fn encode(message: &OutboxMessage) -> Self {
        Self {
            id: message.id.clone(),
            routing_key: message.routing_key.clone(),
            correlation_id: message.correlation_id.clone(),
            payload: message.payload.clone(),
            created_at: date(message.created_at),
            deliver_after_ms: message.deliver_after.map(delay_millis),
            claim_token: None,
            lease_until: None,
            attempts: 0,
            last_error: None,
            parked_at: None,
        }
    }

    fn into_parked(self) -> Result<ParkedOutboxMessage, StoreError> {
        let parked_at = self
            .parked_at
            .ok_or_else(|| corrupt("outbox parked_at", "missing on a parked message"))?;
        Ok(ParkedOutboxMessage {
            attempts: u32::try_from(self.attempts).map_err(|e| corrupt("outbox attempts", e))?,
            reason: self.last_error.unwrap_or_default(),
            parked_at: timestamp(parked_at)?,
            id: self.id,
            routing_key: self.routing_key,
        })
    }

    fn into_message(self) -> Result<OutboxMessage, StoreError> {
        Ok(OutboxMessage {
            id: self.id,
            routing_key: self.routing_key,
            correlation_id: self.correlation_id,
            payload: self.payload,
            created_at: timestamp(self.created_at)?,
            deliver_after: self.deliver_after_ms.map(delay).transpose()?,
        })
    }
}

/// A delivery delay in whole milliseconds; a delay beyond `i64` milliseconds (millions of years)
/// is held at the largest one.
fn delay_millis(delay: Duration) -> i64 {
    i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)
}

fn delay(millis: i64) -> Result<Duration, StoreError> {
    u64::try_from(millis)
        .map(Duration::from_millis)
        .map_err(|e| corrupt("outbox delivery delay", e))
}

/// `outbox` projected on `_id`.
#[derive(Debug, Deserialize)]
struct IdOnly {
    #[serde(rename = "_id")]
    id: String,
}

/// `outbox` projected on `attempts`.
#[derive(Debug, Deserialize)]
struct AttemptsOnly {
    #[serde(default)]
    attempts: i64,
}

/// Messages nobody holds at `now` and not parked: never claimed (or released), or whose lease
/// (or refusal delay) ended before.
fn claimable(now: DateTime) -> Document {
    doc! {
        "parked_at": null,
        "$or": [
            { "lease_until": null },
            { "lease_until": { "$lt": now } },
        ],
    }
}

/// The server's code for a write that conflicted with a concurrent transaction.
const WRITE_CONFLICT: i32 = 112;

/// Whether a transaction that failed with `error` may be run again from the start: the server
/// labelled the error transient, or it is a write conflict. MongoDB labels write conflicts
/// itself; some MongoDB-compatible servers (DocumentDB) report them without the label, and a
/// conflict between racing transactions must end in one winner, not in an outage.
fn may_run_again(error: &MongoError) -> bool {
    // A commit whose outcome stayed unknown may have been applied: running the transaction
    // again could report a conflict with its own write.
    if error.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) {
        return false;
    }
    error.contains_label(TRANSIENT_TRANSACTION_ERROR) || is_write_conflict(error)
}

fn is_write_conflict(error: &MongoError) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Command(command) => command.code == WRITE_CONFLICT,
        ErrorKind::Write(WriteFailure::WriteError(write)) => write.code == WRITE_CONFLICT,
        ErrorKind::InsertMany(insert) => insert
            .write_errors
            .iter()
            .flatten()
            .any(|write| write.code == WRITE_CONFLICT),
        _ => false,
    }
}

/// The pause before attempt `attempt` (2 or more) of a transaction.
fn retry_delay(attempt: u32) -> Duration {
    FIRST_RETRY_DELAY.saturating_mul(1 << (attempt.saturating_sub(2)).min(16))
}

/// Aborts the session's transaction. The server drops an unfinished transaction by itself (and
/// the driver ignores the server's answer), so a failure here changes nothing for the caller.
async fn abort(session: &mut ClientSession) {
    if let Err(e) = session.abort_transaction().await {
        tracing::warn!(error = %e, "could not abort a MongoDB transaction");
    }
}

/// Commits the session's transaction, sending the commit again while its outcome is unknown.
async fn commit(session: &mut ClientSession) -> Result<(), MongoError> {
    let mut attempt = 1;
    loop {
        match session.commit_transaction().await {
            Err(e)
                if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
                    && attempt < COMMIT_ATTEMPTS =>
            {
                attempt += 1;
            }
            result => return result,
        }
    }
}

impl MongoStore {
    /// Runs the state change `write` and inserts `outbox` in one atomic step, and answers
    /// whether `write` changed anything. When `write` reports it changed nothing, nothing is
    /// written: the messages go with the change.
    ///
    /// With messages, both run in one transaction on a fresh session (`write` gets the session
    /// and must pass it to each of its operations), retried as a whole on a
    /// `TransientTransactionError` or a write conflict. Without messages, `write` runs alone, without a session, as
    /// the single-document write it is.
    ///
    /// `context` is handed to `write` on each attempt, so that `write`'s future may borrow it.
    pub(super) async fn write_with_outbox<C, F>(
        &self,
        outbox: &[OutboxMessage],
        context: &C,
        mut write: F,
    ) -> Result<bool, StoreError>
    where
        C: Sync + ?Sized,
        F: for<'s> FnMut(&'s Self, Option<&'s mut ClientSession>, &'s C) -> StateWrite<'s> + Send,
    {
        if outbox.is_empty() {
            return write(self, None, context).await.map_err(unavailable);
        }
        // A change that writes nothing is refused, so its messages are not written either.
        let written = self
            .transact(outbox, context, |store, session, context| {
                let write = write(store, Some(session), context);
                Box::pin(async move {
                    Ok(match write.await? {
                        true => Ok(()),
                        false => Err(()),
                    })
                })
            })
            .await?;
        Ok(written.is_ok())
    }

    /// Runs `write` and inserts `outbox` in one multi-document transaction (even without
    /// messages: `write` may change several documents), retried as a whole when the server says
    /// it may be ([`may_run_again`]: a transient error or a write conflict). When `write` refuses
    /// the change, nothing is written and its refusal is returned.
    pub(super) async fn transact<C, T, E, F>(
        &self,
        outbox: &[OutboxMessage],
        context: &C,
        mut write: F,
    ) -> Result<Result<T, E>, StoreError>
    where
        C: Sync + ?Sized,
        T: Send,
        E: Send,
        F: for<'s> FnMut(&'s Self, &'s mut ClientSession, &'s C) -> TransactionStep<'s, T, E>
            + Send,
    {
        let documents: Vec<OutboxDoc> = outbox.iter().map(OutboxDoc::encode).collect();
        let mut session = self
            .database
            .client()
            .start_session()
            .await
            .map_err(unavailable)?;
        let mut attempt = 1;
        loop {
            // Explicit concerns: a transaction takes the client's (the URI's), not the
            // database handle's.
            session
                .start_transaction()
                .read_concern(ReadConcern::majority())
                .write_concern(WriteConcern::majority())
                .selection_criteria(SelectionCriteria::ReadPreference(ReadPreference::Primary))
                .await
                .map_err(unavailable)?;
            let written = match write(self, &mut session, context).await {
                Ok(Ok(value)) if documents.is_empty() => Ok(value),
                Ok(Ok(value)) => self
                    .outbox
                    .insert_many(&documents)
                    .session(&mut session)
                    .await
                    .map(|_| value),
                Ok(Err(refused)) => {
                    abort(&mut session).await;
                    return Ok(Err(refused));
                }
                Err(e) => Err(e),
            };
            let error = match written {
                Ok(value) => match commit(&mut session).await {
                    Ok(()) => return Ok(Ok(value)),
                    Err(e) => e,
                },
                Err(e) => {
                    abort(&mut session).await;
                    e
                }
            };
            if !may_run_again(&error) || attempt == TRANSACTION_ATTEMPTS {
                return Err(unavailable(error));
            }
            attempt += 1;
            tokio::time::sleep(retry_delay(attempt)).await;
        }
    }

    /// Inserts `document` into `collection` and `outbox` in one atomic step.
    pub(super) async fn insert_with_outbox<T>(
        &self,
        collection: &Collection<T>,
        document: &T,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError>
    where
        T: Serialize + Send + Sync,
    {
        self.write_with_outbox(outbox, &(collection, document), |_, session, context| {
            let (collection, document) = *context;
            async move {
                let mut insert = collection.insert_one(document);
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
}

#[async_trait]
impl OutboxRepository for MongoStore {
    async fn append(&self, messages: &[OutboxMessage]) -> Result<(), StoreError> {
        // No state change of their own, but several messages still appear together.
        self.write_with_outbox(messages, &(), |_, _, _| async { Ok(true) }.boxed())
            .await?;
        Ok(())
    }

    async fn claim(
        &self,
        claim_token: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        // A limit of 0 means "no limit" to the server.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = date(now);
        let cursor = self
            .outbox
            .clone_with_type::<IdOnly>()
            .find(claimable(now))
            .projection(doc! { "_id": 1 })
            .sort(doc! { "_id": 1 })
            .limit(i64::from(limit))
            .await
            .map_err(unavailable)?;
        let candidates = collect(cursor, |document| Ok(document.id)).await?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }

        let mut filter = claimable(now);
        filter.insert("_id", doc! { "$in": candidates });
        self.outbox
            .update_many(
                filter,
                doc! { "$set": { "claim_token": claim_token, "lease_until": date(lease_until) } },
            )
            .await
            .map_err(unavailable)?;

        // This claim's own writes, acknowledged by a majority: the primary's latest state has
        // them whatever the read concern, and `local` does not wait for the majority snapshot.
        let cursor = self
            .outbox
            .find(doc! { "claim_token": claim_token })
            .sort(doc! { "_id": 1 })
            .read_concern(ReadConcern::local())
            .await
            .map_err(unavailable)?;
        collect(cursor, OutboxDoc::into_message).await
    }

    async fn complete(&self, claim_token: &str, ids: &[String]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let result = self
            .outbox
            .delete_many(doc! { "_id": { "$in": ids }, "claim_token": claim_token })
            .await
            .map_err(unavailable)?;
        Ok(result.deleted_count)
    }

    async fn release(&self, claim_token: &str, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.outbox
            .update_many(
                doc! { "_id": { "$in": ids }, "claim_token": claim_token },
                doc! { "$set": { "claim_token": null, "lease_until": null } },
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn refuse(
        &self,
        claim_token: &str,
        refusals: &[OutboxRefusal],
        now: Timestamp,
        policy: &RefusalPolicy,
    ) -> Result<Vec<String>, StoreError> {
        let mut parked = Vec::new();
        for refusal in refusals {
            // Counting keeps the claim, so that no other relay takes the message before the
            // second step has decided what becomes of it.
            let counted = self
                .outbox
                .clone_with_type::<AttemptsOnly>()
                .find_one_and_update(
                    doc! { "_id": &refusal.id, "claim_token": claim_token },
                    doc! {
                        "$inc": { "attempts": 1_i64 },
                        "$set": { "last_error": &refusal.reason },
                    },
                )
                .projection(doc! { "attempts": 1 })
                .return_document(ReturnDocument::After)
                .await
                .map_err(unavailable)?;
            // No longer held by this claim (its lease ended): whoever holds it decides.
            let Some(counted) = counted else { continue };
            let attempts =
                u32::try_from(counted.attempts).map_err(|e| corrupt("outbox attempts", e))?;
            let parks = policy.parks_after(attempts);
            let settle = if parks {
                doc! { "$set": { "claim_token": null, "lease_until": null, "parked_at": date(now) } }
            } else {
                let retry_at = date(policy.retry_at(now, attempts));
                doc! { "$set": { "claim_token": null, "lease_until": retry_at } }
            };
            let settled = self
                .outbox
                .update_one(
                    doc! { "_id": &refusal.id, "claim_token": claim_token },
                    settle,
                )
                .await
                .map_err(unavailable)?;
            if parks && settled.matched_count == 1 {
                parked.push(refusal.id.clone());
            }
        }
        Ok(parked)
    }

    async fn parked(&self, limit: u32) -> Result<Vec<ParkedOutboxMessage>, StoreError> {
        // A limit of 0 means "no limit" to the server.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .outbox
            .find(doc! { "parked_at": { "$ne": null } })
            .sort(doc! { "parked_at": 1, "_id": 1 })
            .limit(i64::from(limit))
            .await
            .map_err(unavailable)?;
        collect(cursor, OutboxDoc::into_parked).await
    }

    async fn retry_parked(&self, id: &str) -> Result<bool, StoreError> {
        let result = self
            .outbox
            .update_one(
                doc! { "_id": id, "parked_at": { "$ne": null } },
                doc! { "$set": {
                    "parked_at": null,
                    "attempts": 0_i64,
                    "last_error": null,
                    "claim_token": null,
                    "lease_until": null,
                } },
            )
            .await
            .map_err(unavailable)?;
        Ok(result.matched_count == 1)
    }

    async fn pending(&self) -> Result<u64, StoreError> {
        self.outbox
            .count_documents(doc! { "parked_at": null })
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson::{self, Bson};

    use super::*;

    #[test]
    fn a_new_message_is_stored_unclaimed_with_native_types() {
        let message = OutboxMessage {
            id: "0190a5b2-0000-7000-8000-000000000001".into(),
            routing_key: "gig.updated".into(),
            correlation_id: None,
            payload: r#"{"gig_id":"g1"}"#.into(),
            created_at: Timestamp::from_millisecond(1_780_000_000_123).unwrap(),
            deliver_after: None,
        };
        let document = bson::to_document(&OutboxDoc::encode(&message)).unwrap();
        assert_eq!(document.get_str("_id").unwrap(), message.id);
        assert!(document.get_datetime("created_at").is_ok());
        assert_eq!(document.get_i64("attempts").unwrap(), 0);
        for field in [
            "correlation_id",
            "deliver_after_ms",
            "claim_token",
            "lease_until",
            "last_error",
            "parked_at",
        ] {
            assert_eq!(document.get(field), Some(&Bson::Null), "{field}");
        }
        let back: OutboxDoc = bson::from_document(document).unwrap();
        assert_eq!(back.into_message().unwrap(), message);
    }

    #[test]
    fn a_message_stored_before_refusals_were_counted_reads_as_never_refused() {
        let document = bson::doc! {
            "_id": "0190a5b2-0000-7000-8000-000000000002",
            "routing_key": "gig.updated",
            "correlation_id": null,
            "payload": "{}",
            "created_at": DateTime::from_millis(1_780_000_000_123),
            "claim_token": null,
            "lease_until": null,
        };
        let stored: OutboxDoc = bson::from_document(document).unwrap();
        assert_eq!(stored.attempts, 0);
        assert_eq!(stored.parked_at, None);
        assert_eq!(stored.last_error, None);
        assert_eq!(stored.deliver_after_ms, None);
    }

    #[test]
    fn a_delayed_message_keeps_its_delay_to_the_millisecond() {
        let message = OutboxMessage {
            id: "0190a5b2-0000-7000-8000-000000000003".into(),
            routing_key: "booking.hold_expiry".into(),
            correlation_id: None,
            payload: "{}".into(),
            created_at: Timestamp::from_millisecond(1_780_000_000_123).unwrap(),
            deliver_after: Some(Duration::from_secs(15 * 60)),
        };
        let document = bson::to_document(&OutboxDoc::encode(&message)).unwrap();
        assert_eq!(document.get_i64("deliver_after_ms").unwrap(), 900_000);
        let back: OutboxDoc = bson::from_document(document).unwrap();
        assert_eq!(back.into_message().unwrap(), message);

        let mut negative = bson::to_document(&OutboxDoc::encode(&message)).unwrap();
        negative.insert("deliver_after_ms", -1_i64);
        let stored: OutboxDoc = bson::from_document(negative).unwrap();
        assert!(matches!(stored.into_message(), Err(StoreError::Corrupt(_))));
    }

    fn server_error(code: i32, name: &str) -> bson::Document {
        bson::doc! { "code": code, "codeName": name, "errmsg": "from the server" }
    }

    #[test]
    fn an_unlabelled_write_conflict_runs_the_transaction_again() {
        let command: mongodb::error::CommandError =
            bson::from_document(server_error(WRITE_CONFLICT, "WriteConflict")).unwrap();
        assert!(may_run_again(&MongoError::from(ErrorKind::Command(
            command
        ))));
        let write: mongodb::error::WriteError =
            bson::from_document(server_error(WRITE_CONFLICT, "WriteConflict")).unwrap();
        assert!(may_run_again(&MongoError::from(ErrorKind::Write(
            WriteFailure::WriteError(write)
        ))));
        let mut insert = server_error(WRITE_CONFLICT, "WriteConflict");
        insert.insert("index", 0);
        let insert: mongodb::error::InsertManyError =
            bson::from_document(bson::doc! { "writeErrors": [insert] }).unwrap();
        assert!(may_run_again(&MongoError::from(ErrorKind::InsertMany(
            insert
        ))));
    }

    #[test]
    fn other_server_errors_end_the_transaction() {
        for (code, name) in [(11000, "DuplicateKey"), (13, "Unauthorized")] {
            let command: mongodb::error::CommandError =
                bson::from_document(server_error(code, name)).unwrap();
            assert!(!may_run_again(&MongoError::from(ErrorKind::Command(
                command
            ))));
            let write: mongodb::error::WriteError =
                bson::from_document(server_error(code, name)).unwrap();
            assert!(!may_run_again(&MongoError::from(ErrorKind::Write(
                WriteFailure::WriteError(write)
            ))));
        }
        let io = std::io::Error::other("connection reset");
        assert!(!may_run_again(&MongoError::from(ErrorKind::Io(
            std::sync::Arc::new(io)
        ))));
    }

    #[test]
    fn retries_wait_longer_each_time_within_bounds() {
        let delays: Vec<Duration> = (2..=TRANSACTION_ATTEMPTS).map(retry_delay).collect();
        assert_eq!(delays[0], FIRST_RETRY_DELAY);
        assert!(
            delays.windows(2).all(|pair| pair[1] == pair[0] * 2),
            "{delays:?}"
        );
        assert!(retry_delay(u32::MAX) < Duration::from_secs(3600));
    }
}
