//! Bookings in MongoDB: one document per booking in `bookings` (`_id` = booking id), members
//! embedded, with the instants the guard and the queries compare as BSON dates (`start`,
//! `busy_start`, `busy_end`, and `live_until`, the booking's [`Booking::live_until`] kept for
//! queries only: "live at `now`" is `live_until > now`). `calendars` holds one document per
//! party (`_id` = user id, `{creations}`), which exists only to be written by each creation
//! that involves that party.
//!
//! # Why creations cannot double-book
//!
//! A creation is one transaction ([`MongoStore::transact`]) that reads (with the transaction's
//! session) the members' overlapping live bookings, the brand's live holds and the gig's live
//! bookings that day, refuses when one of them forbids the booking, and otherwise `$inc`s the
//! calendar of every member and of the brand and inserts the booking. A refusal writes nothing,
//! so refused creations never contend for the calendars.
//!
//! A transaction reads one snapshot, so two concurrent creations could each miss the other's
//! booking; what stops them both committing is that they write a common document. Any two
//! creations that must see each other share a party: an overlap needs a common member, the
//! holds limit a common brand, and the daily cap a common gig, whose bookings all have the
//! gig's owner among their members (the owner is always a member, and a gig's owner never
//! changes). MongoDB lets only one of two transactions that write one document commit: the
//! second writer fails with a write conflict while the first is open, and so does a writer whose
//! snapshot (taken at its first read) predates the first's commit. So a creation that read
//! before a rival committed cannot write the calendar after it: it is aborted and run again from
//! the start by `transact`, with a new snapshot that holds the winner's booking, and refuses or
//! proceeds exactly as if it had run after the winner. Creations sharing no party never conflict and run
//! in parallel.
//!
//! Conflicts are judged against the transaction's read point, whichever it is: with read concern
//! `majority` that point may lag the latest commit, which only makes more creations conflict
//! and rerun, never lets one miss a committed booking.
//!
//! The calendars are created (an upsert with `$setOnInsert`; a racing upsert that loses with a
//! duplicate key found it created) before the transaction and outside it: an upsert inside
//! racing transactions would race on inserting the document instead of conflicting on updating
//! it. A calendar missing from the transaction's snapshot fails the creation rather than leave
//! a party unguarded.
//!
//! An update is one `replaceOne` filtered on `{_id, version: v - 1}`, as for gigs; it does not
//! touch the calendars, because it only keeps or releases time (see the port). With ledger
//! postings it is a transaction: the versioned `replaceOne`, then the postings
//! ([`MongoStore::post`]), then the messages; a stale version or a refused payout aborts it
//! whole. A reclaim (a booking taking its time again) is a creation whose last step is that
//! versioned `replaceOne` instead of the insert, followed by its postings: the same reads (never
//! counting the booking against itself), the same calendar writes, so it conflicts with racing
//! creations exactly as they conflict with each other.
//!
//! `due_ms` is the booking's [`Booking::due_at`] in unix milliseconds, rounded up so a sweep
//! never finds a booking before it is due, and absent when nothing is due; a partial index over
//! the bookings that have one keeps the sweep's query to the few that are due.

use async_trait::async_trait;
use futures::FutureExt;
use jiff::Timestamp;
use mongodb::{
    Collection,
    bson::{DateTime, Document, doc},
};
use noillin_domain::{
    UserId,
    availability::Interval,
    booking::{Booking, BookingId, BookingMember, BookingState, Delivery, Settlement, StateChange},
    gig::{GigId, Money},
    ledger::Posting,
    payment::{BookingPayment, CancellationPolicy},
};
use serde::{Deserialize, Serialize};

use super::{MongoStore, collect, corrupt, date, index, is_duplicate_key, timestamp, unavailable};
use crate::{
    BookingFilter, BookingGuard, BookingRefusal, BookingRepository, Constraint, OutboxMessage,
    StoreError,
    bookings::{StoredClaim, millis_down, millis_up},
    distinct,
};

#[cfg(test)]
mod tests;

/// Creates the indexes of `bookings` (`calendars` is only ever read by `_id`).
pub(super) async fn create_indexes(bookings: &Collection<BookingDoc>) -> Result<(), StoreError> {
    let pending = BookingState::PendingPayment.as_str();
    bookings
        .create_indexes([
            // A member's overlapping claims: bookings are made for the future and most of a
            // member's bookings lie in the past, so the range walked is "ends after the new
            // start" (the few ahead), not "starts before its end" (every one ever made).
            index(
                doc! { "members.user_id": 1, "busy_end": 1 },
                "bookings_members_busy_end",
                |_| {},
            ),
            // A party's bookings newest first, each side of the party filter's `$or`.
            index(
                doc! { "members.user_id": 1, "_id": 1 },
                "bookings_members_user_id",
                |_| {},
            ),
            index(
                doc! { "brand_id": 1, "_id": 1 },
                "bookings_brand_id",
                |_| {},
            ),
            // The brand's unpaid holds still live; a hold leaves it once no longer pending.
            index(
                doc! { "brand_id": 1, "live_until": 1 },
                "bookings_brand_id_holds",
                |options| {
                    options.partial_filter_expression = Some(doc! { "state": pending });
                },
            ),
            index(
                doc! { "gig_id": 1, "start": 1 },
                "bookings_gig_id_start",
                |_| {},
            ),
            index(doc! { "state": 1, "_id": 1 }, "bookings_state", |_| {}),
            // Unpaid holds by expiry: the payment reconciler's oldest-first walk.
            index(
                doc! { "hold_expires_at": 1 },
                "bookings_pending_expiry",
                |options| {
                    options.partial_filter_expression = Some(doc! { "state": pending });
                },
            ),
            // What the sweep completes or pays out: only bookings with something due.
            index(doc! { "due_ms": 1, "_id": 1 }, "bookings_due", |options| {
                options.partial_filter_expression = Some(doc! { "due_ms": { "$exists": true } });
            }),
        ])
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// A document of `bookings`. BSON has no unsigned integers: counts are `i64` here and checked
/// on the way back. `history`, `created_at` and `updated_at` keep the domain's serde form
/// (RFC 3339 strings at full precision): they are never queried.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct BookingDoc {
    #[serde(rename = "_id")]
    id: String,
    gig_id: String,
    gig_title: String,
    brand_id: String,
    members: Vec<MemberDoc>,
    price: Money,
    start: DateTime,
    end: DateTime,
    busy_start: DateTime,
    busy_end: DateTime,
    /// Derived from the state and the hold's expiry; written for queries, never read back.
    live_until: DateTime,
    time_zone: String,
    state: BookingState,
    hold_expires_at: DateTime,
    hold_token: String,
    history: Vec<StateChange>,
    /// The domain's serde form, as `history`: never queried.
    #[serde(default)]
    payment: Option<BookingPayment>,
    #[serde(default)]
    cancellation: CancellationPolicy,
    /// The domain's serde form, as `history`: never queried.
    #[serde(default)]
    deliveries: Vec<Delivery>,
    #[serde(default)]
    auto_complete_at: Option<Timestamp>,
    #[serde(default)]
    settlement: Option<Settlement>,
    /// [`Booking::due_at`] in unix milliseconds (rounded up), absent when nothing is due;
    /// written for the sweep's query, never read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    due_ms: Option<i64>,
    version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize)]
struct MemberDoc {
    user_id: String,
    share_bps: i64,
}

fn version_value(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| {
        StoreError::Unavailable(format!(
            "booking version {version} does not fit MongoDB's int64"
        ))
    })
}

impl BookingDoc {
    fn encode(booking: &Booking) -> Result<Self, StoreError> {
        let claim = StoredClaim::of(booking);
        Ok(Self {
            id: booking.id.as_str().to_owned(),
            gig_id: booking.gig_id.as_str().to_owned(),
            gig_title: booking.gig_title.clone(),
            brand_id: booking.brand_id.as_str().to_owned(),
            members: booking
                .members
                .iter()
                .map(|m| MemberDoc {
                    user_id: m.user_id.as_str().to_owned(),
                    share_bps: i64::from(m.share_bps),
                })
                .collect(),
            price: booking.price.clone(),
            start: DateTime::from_millis(claim.start_ms),
            end: date(booking.end),
            busy_start: DateTime::from_millis(claim.busy_start_ms),
            busy_end: DateTime::from_millis(claim.busy_end_ms),
            live_until: DateTime::from_millis(claim.live_until_ms),
            time_zone: booking.time_zone.clone(),
            state: booking.state,
            hold_expires_at: date(booking.hold_expires_at),
            hold_token: booking.hold_token.clone(),
            history: booking.history.clone(),
            payment: booking.payment.clone(),
            cancellation: booking.cancellation,
            deliveries: booking.deliveries.clone(),
            auto_complete_at: booking.auto_complete_at,
            settlement: booking.settlement.clone(),
            due_ms: booking.due_at().map(millis_up),
            version: version_value(booking.version)?,
            created_at: booking.created_at,
            updated_at: booking.updated_at,
        })
    }

    fn into_booking(self) -> Result<Booking, StoreError> {
        Ok(Booking {
            id: BookingId::from_string(self.id),
            gig_id: GigId::from_string(self.gig_id),
            gig_title: self.gig_title,
            brand_id: UserId::from_string(self.brand_id),
            members: self
                .members
                .into_iter()
                .map(|m| {
                    Ok(BookingMember {
                        user_id: UserId::from_string(m.user_id),
                        share_bps: u32::try_from(m.share_bps)
                            .map_err(|e| corrupt("booking member share", e))?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            price: self.price,
            start: timestamp(self.start)?,
            end: timestamp(self.end)?,
            busy_start: timestamp(self.busy_start)?,
            busy_end: timestamp(self.busy_end)?,
            time_zone: self.time_zone,
            state: self.state,
            hold_expires_at: timestamp(self.hold_expires_at)?,
            hold_token: self.hold_token,
            history: self.history,
            payment: self.payment,
            cancellation: self.cancellation,
            deliveries: self.deliveries,
            auto_complete_at: self.auto_complete_at,
            settlement: self.settlement,
            version: u64::try_from(self.version).map_err(|e| corrupt("booking version", e))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// `bookings` projected on what a busy span needs.
#[derive(Debug, Deserialize)]
struct BusyDoc {
    members: Vec<MemberIdDoc>,
    busy_start: DateTime,
    busy_end: DateTime,
}

#[derive(Debug, Deserialize)]
struct MemberIdDoc {
    user_id: String,
}

/// `bookings` projected on `start`.
#[derive(Debug, Deserialize)]
struct StartDoc {
    start: DateTime,
}

/// How a guarded write stores its booking once the checks pass.
enum GuardedWrite {
    /// A new booking.
    Insert,
    /// A booking taking its time again, replacing the stored one at this version.
    Replace { expected_version: i64 },
}

/// Everything a guarded write's transaction (a creation, a reclaim) reads, encoded once before
/// its first attempt.
struct Creation {
    document: BookingDoc,
    write: GuardedWrite,
    /// Every distinct member and the brand: the calendars the transaction writes.
    parties: Vec<String>,
    /// The members' overlapping live bookings.
    overlap: Document,
    /// The brand's live unpaid holds and their limit; `None` for a reclaim.
    live_holds: Option<(Document, u32)>,
    /// The gig's live bookings starting in the cap's day, and the cap.
    that_day: Option<(Document, u32)>,
    /// The ledger postings written with the booking.
    postings: Vec<Posting>,
}

impl Creation {
    fn new(
        booking: &Booking,
        guard: &BookingGuard,
        write: GuardedWrite,
        postings: &[Posting],
    ) -> Result<Self, StoreError> {
        let document = BookingDoc::encode(booking)?;
        let now = date(guard.now);
        let mut members: Vec<String> = distinct(&booking.member_ids())
            .into_iter()
            .map(|id| id.as_str().to_owned())
            .collect();
        // The booking itself never counts against itself (a reclaim finds it stored).
        let overlap = doc! {
            "_id": { "$ne": &document.id },
            "members.user_id": { "$in": members.clone() },
            "busy_end": { "$gt": document.busy_start },
            "busy_start": { "$lt": document.busy_end },
            "live_until": { "$gt": now },
        };
        let live_holds = matches!(write, GuardedWrite::Insert).then(|| {
            let filter = doc! {
                "brand_id": &document.brand_id,
                "state": BookingState::PendingPayment.as_str(),
                "live_until": { "$gt": now },
            };
            (filter, guard.max_live_holds)
        });
        let that_day = guard.daily_cap.as_ref().map(|cap| {
            let filter = doc! {
                "_id": { "$ne": &document.id },
                "gig_id": &document.gig_id,
                "start": { "$gte": date(cap.day_start), "$lt": date(cap.day_end) },
                "live_until": { "$gt": now },
            };
            (filter, cap.max)
        });
        if !members.contains(&document.brand_id) {
            members.push(document.brand_id.clone());
        }
        Ok(Self {
            document,
            write,
            parties: members,
            overlap,
            live_holds,
            that_day,
            postings: postings.to_vec(),
        })
    }
}

impl MongoStore {
    /// Makes sure every party has a calendar document, outside any transaction (see the module
    /// docs).
    async fn ensure_calendars(&self, parties: &[String]) -> Result<(), StoreError> {
        for party in parties {
            let upsert = self
                .calendars
                .update_one(
                    doc! { "_id": party },
                    doc! { "$setOnInsert": { "creations": 0_i64 } },
                )
                .upsert(true)
                .await;
            match upsert {
                Ok(_) => {}
                // A concurrent upsert inserted it first: it exists, which is all we need.
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }
}

impl MongoStore {
    /// Runs a guarded write: the checks and the calendar writes of the module docs, then the
    /// insert or the versioned replace and the ledger postings, in one transaction.
    async fn guarded(
        &self,
        creation: &Creation,
        outbox: &[OutboxMessage],
    ) -> Result<(), BookingRefusal> {
        self.ensure_calendars(&creation.parties).await?;
        self.ensure_ledger_accounts(&creation.postings).await?;
        self.transact(outbox, &creation, |store, session, creation| {
            async move {
                let busy = store
                    .bookings
                    .clone_with_type::<Document>()
                    .find_one(creation.overlap.clone())
                    .projection(doc! { "_id": 1 })
                    .session(&mut *session)
                    .await?;
                if busy.is_some() {
                    return Ok(Err(BookingRefusal::SlotTaken));
                }
                if let Some((live_holds, max)) = &creation.live_holds {
                    let held = store
                        .bookings
                        .count_documents(live_holds.clone())
                        .session(&mut *session)
                        .await?;
                    if held >= u64::from(*max) {
                        return Ok(Err(BookingRefusal::TooManyHolds));
                    }
                }
                if let Some((that_day, max)) = &creation.that_day {
                    let booked = store
                        .bookings
                        .count_documents(that_day.clone())
                        .session(&mut *session)
                        .await?;
                    if booked >= u64::from(*max) {
                        return Ok(Err(BookingRefusal::DayFull));
                    }
                }
                // Then the write that makes racing creations sharing a party conflict: a rival that
                // committed after this snapshot was read fails it with a write conflict.
                let claimed = store
                    .calendars
                    .update_many(
                        doc! { "_id": { "$in": &creation.parties } },
                        doc! { "$inc": { "creations": 1_i64 } },
                    )
                    .session(&mut *session)
                    .await?;
                if usize::try_from(claimed.matched_count).ok() != Some(creation.parties.len()) {
                    return Ok(Err(BookingRefusal::Store(StoreError::Unavailable(
                        "a booking party's calendar is missing".into(),
                    ))));
                }
                match creation.write {
                    GuardedWrite::Insert => {
                        store
                            .bookings
                            .insert_one(&creation.document)
                            .session(&mut *session)
                            .await?;
                    }
                    GuardedWrite::Replace { expected_version } => {
                        let filter =
                            doc! { "_id": &creation.document.id, "version": expected_version };
                        let replaced = store
                            .bookings
                            .replace_one(filter, &creation.document)
                            .session(&mut *session)
                            .await?;
                        if replaced.matched_count != 1 {
                            return Ok(Err(BookingRefusal::Store(StoreError::Conflict(
                                Constraint::StaleVersion,
                            ))));
                        }
                    }
                }
                if let Err(refused) = store.post(session, &creation.postings).await? {
                    return Ok(Err(BookingRefusal::Store(refused)));
                }
                Ok(Ok(()))
            }
            .boxed()
        })
        .await?
    }
}

#[async_trait]
impl BookingRepository for MongoStore {
    async fn create(
        &self,
        booking: &Booking,
        guard: &BookingGuard,
        outbox: &[OutboxMessage],
    ) -> Result<(), BookingRefusal> {
        let creation = Creation::new(booking, guard, GuardedWrite::Insert, &[])?;
        self.guarded(&creation, outbox).await
    }

    async fn reclaim(
        &self,
        booking: &Booking,
        guard: &BookingGuard,
        ledger: &[Posting],
        outbox: &[OutboxMessage],
    ) -> Result<(), BookingRefusal> {
        let Some(expected_version) = booking.version.checked_sub(1) else {
            return Err(StoreError::Conflict(Constraint::StaleVersion).into());
        };
        let write = GuardedWrite::Replace {
            expected_version: version_value(expected_version)?,
        };
        let creation = Creation::new(booking, guard, write, ledger)?;
        match self.guarded(&creation, outbox).await {
            // The version filter missed: tell a missing booking from a stale one.
            Err(BookingRefusal::Store(StoreError::Conflict(Constraint::StaleVersion))) => {
                Err(BookingRefusal::Store(
                    Self::stale_or_missing(&self.bookings, booking.id.as_str()).await,
                ))
            }
            other => other,
        }
    }

    async fn lapsed_pending(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<Booking>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .bookings
            .find(doc! {
                "state": BookingState::PendingPayment.as_str(),
                "hold_expires_at": { "$lt": date(before) },
            })
            .sort(doc! { "hold_expires_at": 1 })
            .limit(i64::from(limit))
            .await
            .map_err(unavailable)?;
        collect(cursor, BookingDoc::into_booking).await
    }

    async fn find(&self, id: &BookingId) -> Result<Option<Booking>, StoreError> {
        self.bookings
            .find_one(doc! { "_id": id.as_str() })
            .await
            .map_err(unavailable)?
            .map(BookingDoc::into_booking)
            .transpose()
    }

    async fn update_with_ledger(
        &self,
        booking: &Booking,
        ledger: &[Posting],
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let document = BookingDoc::encode(booking)?;
        let id = booking.id.as_str();
        if ledger.is_empty() {
            return self
                .replace_versioned(
                    &self.bookings,
                    "booking",
                    id,
                    booking.version,
                    &document,
                    outbox,
                )
                .await;
        }
        // A booking at version 0 has no predecessor: any stored version is stale.
        let Some(expected) = booking.version.checked_sub(1) else {
            return Err(Self::stale_or_missing(&self.bookings, id).await);
        };
        let filter = doc! { "_id": id, "version": version_value(expected)? };
        self.ensure_ledger_accounts(ledger).await?;
        let context = (filter, document, ledger);
        let written = self
            .transact(
                outbox,
                &context,
                |store, session, (filter, document, ledger)| {
                    async move {
                        let replaced = store
                            .bookings
                            .replace_one(filter.clone(), document)
                            .session(&mut *session)
                            .await?;
                        if replaced.matched_count != 1 {
                            // Stale or missing: told apart once the transaction is over.
                            return Ok(Err(None));
                        }
                        Ok(store.post(session, ledger).await?.map_err(Some))
                    }
                    .boxed()
                },
            )
            .await?;
        match written {
            Ok(()) => Ok(()),
            Err(Some(refused)) => Err(refused),
            Err(None) => Err(Self::stale_or_missing(&self.bookings, id).await),
        }
    }

    async fn due(
        &self,
        before: Timestamp,
        after: Option<&BookingId>,
        limit: u32,
    ) -> Result<Vec<Booking>, StoreError> {
        // A limit of 0 means "no limit" to the server.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut filter = doc! {
            // `$exists` lets the partial index of the bookings with something due answer.
            "due_ms": { "$exists": true, "$lte": millis_down(before) },
        };
        if let Some(after) = after {
            filter.insert("_id", doc! { "$gt": after.as_str() });
        }
        let cursor = self
            .bookings
            .find(filter)
            .sort(doc! { "_id": 1 })
            .limit(i64::from(limit))
            .await
            .map_err(unavailable)?;
        collect(cursor, BookingDoc::into_booking).await
    }

    async fn list(
        &self,
        filter: &BookingFilter,
        before: Option<&BookingId>,
        limit: u32,
    ) -> Result<Vec<Booking>, StoreError> {
        // A limit of 0 means "no limit" to the server.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .bookings
            .find(list_filter(filter, before))
            .sort(doc! { "_id": -1 })
            .limit(i64::from(limit))
            .await
            .map_err(unavailable)?;
        collect(cursor, BookingDoc::into_booking).await
    }

    async fn busy(
        &self,
        members: &[UserId],
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(UserId, Interval)>, StoreError> {
        let members: Vec<&str> = distinct(members).into_iter().map(UserId::as_str).collect();
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let cursor = self
            .bookings
            .clone_with_type::<BusyDoc>()
            .find(doc! {
                "members.user_id": { "$in": &members },
                "busy_end": { "$gt": date(from) },
                "busy_start": { "$lt": date(to) },
                "live_until": { "$gt": date(now) },
            })
            .projection(doc! { "members.user_id": 1, "busy_start": 1, "busy_end": 1 })
            .await
            .map_err(unavailable)?;
        let spans = collect(cursor, |busy| {
            let span = Interval::new(timestamp(busy.busy_start)?, timestamp(busy.busy_end)?);
            Ok((busy.members, span))
        })
        .await?;
        let mut busy = Vec::new();
        for (booked, span) in spans {
            // Each asked-for member the booking keeps busy, once even if listed twice.
            let booked: Vec<&str> = booked.iter().map(|m| m.user_id.as_str()).collect();
            for member in distinct(&booked) {
                if members.contains(member) {
                    busy.push((UserId::from_string(*member), span));
                }
            }
        }
        Ok(busy)
    }

    async fn live_starts(
        &self,
        gig: &GigId,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Timestamp>, StoreError> {
        let cursor = self
            .bookings
            .clone_with_type::<StartDoc>()
            .find(doc! {
                "gig_id": gig.as_str(),
                "start": { "$gte": date(from), "$lt": date(to) },
                "live_until": { "$gt": date(now) },
            })
            .projection(doc! { "start": 1 })
            .await
            .map_err(unavailable)?;
        collect(cursor, |found| timestamp(found.start)).await
    }
}

/// The filter of a list page: the party as the brand or a member, the state, and ids below
/// `before`.
fn list_filter(filter: &BookingFilter, before: Option<&BookingId>) -> Document {
    let mut query = doc! {};
    if let Some(party) = &filter.party {
        query.insert(
            "$or",
            vec![
                doc! { "brand_id": party.as_str() },
                doc! { "members.user_id": party.as_str() },
            ],
        );
    }
    if let Some(state) = filter.state {
        query.insert("state", state.as_str());
    }
    if let Some(before) = before {
        query.insert("_id", doc! { "$lt": before.as_str() });
    }
    query
}
