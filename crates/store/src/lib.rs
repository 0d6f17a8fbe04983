//! The store port: the platform's source of truth behind one repository trait per aggregate,
//! with two adapters — MongoDB in production (`MONGO_URI`) and an embedded SQLite file under
//! `DATA_DIR` when no MongoDB is configured (development, tests, the one-command run). Both pass
//! the same contract suite (`tests/contract/`, one file per aggregate).

mod accounts;
mod bookings;
mod chat;
mod ledger;
mod mongo;
mod payments;
mod reviews;
mod sqlite;

pub use accounts::{
    NewProfile, PasswordResetRepository, PasswordResetRequest, ProfileRepository, RefreshToken,
    Rotation, SessionRepository, SessionsEnd, UserRepository,
};
pub use bookings::{BookingFilter, BookingGuard, BookingRefusal, BookingRepository, DailyCap};
pub use chat::{ChatRepository, ConversationCursor, MessageOutbox};
pub use ledger::LedgerRepository;
pub use payments::PaymentEventRepository;
pub use reviews::ReviewRepository;

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::{
    UserId,
    availability::{AvailabilityRules, Override, WeeklyRules},
    gig::{Gig, GigId},
    mail::{Mail, MailId, MailStatus},
    notification::{Notification, NotificationId},
};

/// Which adapter to open.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// An SQLite file in this directory.
    Embedded { data_dir: PathBuf },
    /// A MongoDB deployment; the database is the URI's default database, else `database`.
    Mongo { uri: String, database: String },
}

impl StoreConfig {
    /// MongoDB when `MONGO_URI` is set (its database from the URI, else `MONGO_DATABASE`, else
    /// `noillin`), otherwise SQLite under `DATA_DIR` (default `./data`); `var` reads a variable.
    pub fn from_vars(mut var: impl FnMut(&str) -> Option<String>) -> Self {
        match var("MONGO_URI") {
            Some(uri) => StoreConfig::Mongo {
                uri,
                database: var("MONGO_DATABASE").unwrap_or_else(|| "noillin".to_owned()),
            },
            None => StoreConfig::Embedded {
                data_dir: PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "./data".to_owned())),
            },
        }
    }
}

/// A uniqueness rule the store enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// One account per email address (case-insensitive: emails are stored normalized).
    UserEmail,
    /// A compare-and-swap update found another version than the one it expected: someone else
    /// changed the record first.
    StaleVersion,
    /// A booking has one review.
    ReviewExists,
    /// A payout would leave its account's available balance below zero.
    InsufficientBalance,
}

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write would break a uniqueness rule; nothing was written.
    #[error("conflict on {0:?}")]
    Conflict(Constraint),
    /// The record to change does not exist.
    #[error("not found")]
    NotFound,
    /// The store could not be reached or failed; the operation may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored row or document cannot be decoded (an unknown enum text, an unparsable
    /// timestamp, a malformed JSON column): data no code of ours writes. Retrying reads the same
    /// data, so callers must not retry; the text names what was unreadable, for the logs only.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

/// One administrative action, recorded in the same atomic step as the action itself.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// A UUIDv7 (so ids sort by time); unique.
    pub id: String,
    /// The administrator who acted; `None` for the operator at the command line.
    pub actor: Option<UserId>,
    /// What was done, e.g. `user.suspended`.
    pub action: String,
    /// What it was done to, e.g. `user:{id}`.
    pub target: String,
    pub at: Timestamp,
    /// Anything else worth keeping (a JSON object).
    pub details: serde_json::Value,
}

/// The audit log: written only together with the actions it records.
#[async_trait]
pub trait AuditLogRepository: Send + Sync {
    /// Entries newest first (descending id): at most `limit` with an id below `before` when
    /// given.
    async fn list(&self, before: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
}

/// A page of a list: at most `limit` items after the item with id `after` (keyset paging in
/// id order; ids are UUIDv7, so that is creation order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: u32,
}

/// Gigs.
#[async_trait]
pub trait GigRepository: Send + Sync {
    /// Stores a new gig and the messages it emits in one atomic step.
    async fn insert(&self, gig: &Gig, outbox: &[OutboxMessage]) -> Result<(), StoreError>;
    async fn find(&self, id: &GigId) -> Result<Option<Gig>, StoreError>;
    /// Replaces the gig if its stored version is `gig.version - 1` (compare-and-swap: the
    /// caller read version `v`, changed it and set `v + 1`), and stores the messages the change
    /// emits, in one atomic step. `Conflict(StaleVersion)` when another change came first;
    /// `NotFound` when there is no such gig; in both cases nothing is written.
    async fn update(&self, gig: &Gig, outbox: &[OutboxMessage]) -> Result<(), StoreError>;
    /// Gigs `user` owns or is a member of (any status, any membership state), in id order.
    async fn list_for_member(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Vec<Gig>, StoreError>;
    /// Published gigs none of whose members (the owner is always one) is a suspended user, in
    /// id order. The filter is part of the query, so a page is as full as `limit` allows and
    /// `after` keeps its meaning whatever was filtered out; it reads the users' status at query
    /// time, so suspending or reinstating a user takes effect on the next listing.
    async fn list_published(&self, page: &PageRequest) -> Result<Vec<Gig>, StoreError>;
}

/// Influencers' availability: weekly windows and date overrides, each change one atomic write.
#[async_trait]
pub trait AvailabilityRepository: Send + Sync {
    /// The user's rules; empty rules (no windows, no overrides) when never set.
    async fn get(&self, user: &UserId) -> Result<AvailabilityRules, StoreError>;
    /// Several users' rules at once (group gigs), in no particular order; users never set
    /// have empty rules.
    async fn get_many(
        &self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, AvailabilityRules)>, StoreError>;
    /// Replaces the weekly windows, keeping the overrides.
    async fn set_weekly(&self, user: &UserId, weekly: &WeeklyRules) -> Result<(), StoreError>;
    /// Sets the override of one local date, replacing any it had.
    async fn set_override(
        &self,
        user: &UserId,
        date: jiff::civil::Date,
        value: &Override,
    ) -> Result<(), StoreError>;
    /// Removes the override of one local date; `NotFound` when there was none.
    async fn remove_override(
        &self,
        user: &UserId,
        date: jiff::civil::Date,
    ) -> Result<(), StoreError>;
}

/// A message in the transactional outbox: written in the same atomic step as the state change
/// that emitted it, published to the broker by a relay, and deleted once the broker confirmed
/// it. The store does not read the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The message id (a UUIDv7, so ids sort by creation time); unique.
    pub id: String,
    pub routing_key: String,
    /// The request that caused it, for logs downstream.
    pub correlation_id: Option<String>,
    /// The serialized message, as it will be published.
    pub payload: String,
    pub created_at: Timestamp,
    /// Deliver it this long after it is published rather than at once (a hold's expiry); each
    /// distinct delay is one holding queue in the broker, so callers use a few fixed delays.
    /// Stored to the millisecond.
    pub deliver_after: Option<std::time::Duration>,
}

/// The outbox as the relay sees it. Several relays (one per core-api process) share it: a
/// message is held by one claim at a time, until the claim's lease ends; a relay that dies
/// with a claim only delays its messages by the lease. Delivery is at least once: a relay that
/// published but could not complete before its lease ended lets another publish again.
#[async_trait]
pub trait OutboxRepository: Send + Sync {
    /// Appends messages that go with no state change of their own.
    async fn append(&self, messages: &[OutboxMessage]) -> Result<(), StoreError>;
    /// Claims, under `claim_token`, up to `limit` messages nobody holds (never claimed, or
    /// whose lease ended before `now`), oldest first, until `lease_until`. Of two racing claims
    /// no message goes to both.
    async fn claim(
        &self,
        claim_token: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    /// Deletes the messages of `ids` still held by `claim_token` (the broker confirmed them);
    /// returns how many were deleted.
    async fn complete(&self, claim_token: &str, ids: &[String]) -> Result<u64, StoreError>;
    /// Gives back the messages of `ids` still held by `claim_token` (publishing failed), so any
    /// relay can claim them at once.
    async fn release(&self, claim_token: &str, ids: &[String]) -> Result<(), StoreError>;
    /// Records that the broker refused the messages of `refusals` still held by `claim_token`:
    /// each refusal counts as an attempt. Below `policy`'s last attempt the message is given
    /// back but not claimable before `now` plus the policy's delay for its count; at the last
    /// one it is parked with the refusal's reason. Returns the ids parked now.
    async fn refuse(
        &self,
        claim_token: &str,
        refusals: &[OutboxRefusal],
        now: Timestamp,
        policy: &RefusalPolicy,
    ) -> Result<Vec<String>, StoreError>;
    /// Parked messages, longest parked first, at most `limit`.
    async fn parked(&self, limit: u32) -> Result<Vec<ParkedOutboxMessage>, StoreError>;
    /// Un-parks a message: its attempts count from zero again and any relay can claim it at
    /// once. `false` when no parked message has this id.
    async fn retry_parked(&self, id: &str) -> Result<bool, StoreError>;
    /// How many messages wait to be published (claimed or not; parked ones do not wait).
    async fn pending(&self) -> Result<u64, StoreError>;
}

/// How the outbox treats a message the broker refuses (no queue is bound for it, or the broker
/// nacked it): refusing it again at once would only repeat, so each refusal holds it back for a
/// delay of its own, doubling from `first_delay` up to `max_delay`, while other messages flow;
/// the `max_attempts`-th refusal parks it for an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalPolicy {
    /// Refusals after which a message is parked; at least 1.
    pub max_attempts: u32,
    pub first_delay: std::time::Duration,
    pub max_delay: std::time::Duration,
}

impl RefusalPolicy {
    /// How long a message refused `attempts` times (1 or more) is held back.
    pub fn delay_after(&self, attempts: u32) -> std::time::Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }

    /// Whether a message refused `attempts` times is parked.
    pub fn parks_after(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }

    /// When a message refused `attempts` times at `now` may be claimed again.
    pub fn retry_at(&self, now: Timestamp, attempts: u32) -> Timestamp {
        now.saturating_add(self.delay_after(attempts))
            .unwrap_or(Timestamp::MAX)
    }
}

/// A message the broker refused, with the broker's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRefusal {
    pub id: String,
    pub reason: String,
}

/// A message parked after the broker refused it too often: kept in the outbox, never claimed,
/// until an operator retries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedOutboxMessage {
    pub id: String,
    pub routing_key: String,
    /// Refusals, the last of which parked it.
    pub attempts: u32,
    /// The last refusal's reason.
    pub reason: String,
    pub parked_at: Timestamp,
}

/// Users' notifications.
#[async_trait]
pub trait NotificationRepository: Send + Sync {
    /// Stores a notification unless one with its id exists; `true` when it was stored now.
    /// (Ids derive from the event that caused them, so a redelivered event stores nothing.)
    async fn insert(&self, notification: &Notification) -> Result<bool, StoreError>;
    async fn find(&self, id: &NotificationId) -> Result<Option<Notification>, StoreError>;
    /// A user's notifications, newest first (descending id): at most `limit` with an id below
    /// `before` when given; only unread ones when `unread_only`.
    async fn list(
        &self,
        user: &UserId,
        unread_only: bool,
        before: Option<&NotificationId>,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError>;
    /// How many of the user's notifications are unread.
    async fn unread_count(&self, user: &UserId) -> Result<u64, StoreError>;
    /// Marks one of `user`'s notifications read (keeping the first read time) and returns it;
    /// `NotFound` when `user` has no notification with this id.
    async fn mark_read(
        &self,
        user: &UserId,
        id: &NotificationId,
        now: Timestamp,
    ) -> Result<Notification, StoreError>;
    /// Marks every unread notification of `user` read; returns how many changed.
    async fn mark_all_read(&self, user: &UserId, now: Timestamp) -> Result<u64, StoreError>;
    /// Takes the push of a notification: sets its push time unless one is set. `true` when
    /// this call set it (the caller pushes), `false` when another delivery did; `NotFound` for
    /// an unknown id. Of two racing calls exactly one gets `true`.
    async fn mark_pushed(&self, id: &NotificationId, now: Timestamp) -> Result<bool, StoreError>;
    /// Clears the push time after a push that failed, so a later delivery pushes again.
    async fn unmark_pushed(&self, id: &NotificationId) -> Result<(), StoreError>;
}

/// Records of outgoing mail.
#[async_trait]
pub trait MailRepository: Send + Sync {
    /// Stores a mail unless one with its id exists; returns the stored record (the existing
    /// one, with its status and attempts, when there was one).
    async fn insert(&self, mail: &Mail) -> Result<Mail, StoreError>;
    async fn find(&self, id: &MailId) -> Result<Option<Mail>, StoreError>;
    /// Takes a queued mail for one sending attempt, held until `until` (so two deliveries of one
    /// job never send it at once, and a sender that died frees it when the hold ends). `None`
    /// when the mail is sent, failed, held by another attempt, or unknown. Of two racing calls at
    /// most one gets the mail.
    async fn start_attempt(
        &self,
        id: &MailId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Mail>, StoreError>;
    /// Records one sending attempt: counts it, sets the status and the error (cleared when
    /// `error` is `None`), releases the attempt's hold, and returns the record. `NotFound` when
    /// there is no such mail.
    async fn record_attempt(
        &self,
        id: &MailId,
        status: MailStatus,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<Mail, StoreError>;
}

/// Liveness of the store itself.
#[async_trait]
pub trait StoreHealth: Send + Sync {
    /// `"sqlite"` or `"mongodb"`, for logs and readiness.
    fn adapter(&self) -> &'static str;
    /// Answers when the store can serve requests.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The store as the services see it: one handle per aggregate, cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub users: Arc<dyn UserRepository>,
    pub profiles: Arc<dyn ProfileRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub password_resets: Arc<dyn PasswordResetRepository>,
    pub gigs: Arc<dyn GigRepository>,
    pub bookings: Arc<dyn BookingRepository>,
    pub payment_events: Arc<dyn PaymentEventRepository>,
    pub ledger: Arc<dyn LedgerRepository>,
    pub reviews: Arc<dyn ReviewRepository>,
    pub chat: Arc<dyn ChatRepository>,
    pub availability: Arc<dyn AvailabilityRepository>,
    pub outbox: Arc<dyn OutboxRepository>,
    pub notifications: Arc<dyn NotificationRepository>,
    pub mails: Arc<dyn MailRepository>,
    pub audit_log: Arc<dyn AuditLogRepository>,
    pub health: Arc<dyn StoreHealth>,
}

impl Store {
    fn from_adapter<A>(adapter: A) -> Self
    where
        A: UserRepository
            + ProfileRepository
            + SessionRepository
            + PasswordResetRepository
            + GigRepository
            + BookingRepository
            + PaymentEventRepository
            + LedgerRepository
            + ReviewRepository
            + ChatRepository
            + AvailabilityRepository
            + OutboxRepository
            + NotificationRepository
            + MailRepository
            + AuditLogRepository
            + StoreHealth
            + 'static,
    {
        let adapter = Arc::new(adapter);
        Self {
            users: adapter.clone(),
            profiles: adapter.clone(),
            sessions: adapter.clone(),
            password_resets: adapter.clone(),
            gigs: adapter.clone(),
            bookings: adapter.clone(),
            payment_events: adapter.clone(),
            ledger: adapter.clone(),
            reviews: adapter.clone(),
            chat: adapter.clone(),
            availability: adapter.clone(),
            outbox: adapter.clone(),
            notifications: adapter.clone(),
            mails: adapter.clone(),
            audit_log: adapter.clone(),
            health: adapter,
        }
    }

    /// `"sqlite"` or `"mongodb"`.
    pub fn adapter(&self) -> &'static str {
        self.health.adapter()
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.health.ping().await
    }
}

/// `items` without repeats, in first-seen order. Quadratic, for the short lists it gets (the
/// members of one gig).
fn distinct<T: PartialEq>(items: &[T]) -> Vec<&T> {
    let mut distinct: Vec<&T> = Vec::with_capacity(items.len());
    for item in items {
        if !distinct.contains(&item) {
            distinct.push(item);
        }
    }
    distinct
}

/// Opens the configured adapter, applying migrations (SQLite) or creating indexes (MongoDB).
pub async fn open(config: &StoreConfig) -> Result<Store, StoreError> {
    match config {
        StoreConfig::Embedded { data_dir } => Ok(Store::from_adapter(
            sqlite::SqliteStore::open(data_dir).await?,
        )),
        StoreConfig::Mongo { uri, database } => Ok(Store::from_adapter(
            mongo::MongoStore::open(uri, database).await?,
        )),
    }
}
