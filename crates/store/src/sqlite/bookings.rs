//! Bookings in SQLite: one `bookings` row per booking holding the whole booking as JSON, plus
//! `booking_members`, each member's claim on their time (`busy_start_ms`, `busy_end_ms`,
//! `live_until_ms`), rewritten in the same transaction as the booking.
//!
//! The final guard is the write lock. A creation runs its three checks (a member's overlapping
//! live claim, the brand's live holds, the gig's live bookings that day) and its inserts in one
//! `BEGIN IMMEDIATE` transaction, which takes the file's write lock before its first read: no
//! other write, from this process or another one on the file, can run between the checks and the
//! inserts, so racing creations run one at a time and each sees every booking committed before
//! it. Liveness is judged in the queries (`live_until_ms > now`), so a lapsed hold stops
//! blocking at its expiry whether or not anything has moved it to `expired` yet.

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::{
    UserId,
    availability::Interval,
    booking::{Booking, BookingId, BookingState},
    gig::GigId,
    ledger::Posting,
};
use rusqlite::{OptionalExtension, Transaction};

use super::{
    SqliteStore, db_error, documents_from, from_json, ledger, millis, outbox, stale_or_missing,
    timestamp, to_json, version_value,
};
use crate::{
    BookingFilter, BookingGuard, BookingRefusal, BookingRepository, OutboxMessage, StoreError,
    bookings::{StoredClaim, millis_down, millis_up},
    distinct,
};

/// A booking encoded for its rows, before the blocking task starts.
struct BookingRow {
    id: String,
    brand_id: String,
    gig_id: String,
    state: &'static str,
    hold_expires_ms: i64,
    /// [`Booking::due_at`], when something is due, rounded up: a sweep never finds a booking
    /// before it is due.
    due_ms: Option<i64>,
    claim: StoredClaim,
    version: i64,
    document: String,
    /// Distinct member ids (a member has one claim per booking).
    members: Vec<String>,
}

impl BookingRow {
    fn encode(booking: &Booking) -> Result<Self, StoreError> {
        let mut members: Vec<String> = booking
            .members
            .iter()
            .map(|m| m.user_id.as_str().to_owned())
            .collect();
        members.sort_unstable();
        members.dedup();
        Ok(Self {
            id: booking.id.as_str().to_owned(),
            brand_id: booking.brand_id.as_str().to_owned(),
            gig_id: booking.gig_id.as_str().to_owned(),
            state: booking.state.as_str(),
            hold_expires_ms: millis(booking.hold_expires_at),
            due_ms: booking.due_at().map(millis_up),
            claim: StoredClaim::of(booking),
            version: version_value("booking", booking.version)?,
            document: to_json(booking)?,
            members,
        })
    }

    fn insert_members(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let mut statement = tx
            .prepare_cached(
                "INSERT INTO booking_members \
                 (booking_id, user_id, busy_start_ms, busy_end_ms, live_until_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db_error)?;
        for user_id in &self.members {
            statement
                .execute(rusqlite::params![
                    self.id,
                    user_id,
                    self.claim.busy_start_ms,
                    self.claim.busy_end_ms,
                    self.claim.live_until_ms,
                ])
                .map_err(db_error)?;
        }
        Ok(())
    }

    /// Replaces the stored booking at version `expected` with this row and its members'
    /// claims, and stores `messages`; stale or missing otherwise, and nothing is written.
    fn replace(
        &self,
        tx: &Transaction<'_>,
        expected: Option<i64>,
        ledger: &[Posting],
        messages: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let changed = match expected {
            Some(expected) => tx
                .execute(
                    "UPDATE bookings SET brand_id = ?2, gig_id = ?3, state = ?4, \
                     start_ms = ?5, hold_expires_ms = ?6, live_until_ms = ?7, \
                     version = ?8, document = ?9, due_ms = ?11 WHERE id = ?1 AND version = ?10",
                    rusqlite::params![
                        self.id,
                        self.brand_id,
                        self.gig_id,
                        self.state,
                        self.claim.start_ms,
                        self.hold_expires_ms,
                        self.claim.live_until_ms,
                        self.version,
                        self.document,
                        expected,
                        self.due_ms,
                    ],
                )
                .map_err(db_error)?,
            None => 0,
        };
        if changed != 1 {
            return Err(stale_or_missing(tx, "bookings", &self.id));
        }
        tx.execute(
            "DELETE FROM booking_members WHERE booking_id = ?1",
            [&self.id],
        )
        .map_err(db_error)?;
        self.insert_members(tx)?;
        ledger::post(tx, ledger)?;
        outbox::insert_messages(tx, messages)
    }

    /// The first rule of `guard` the booking would break at `now_ms`, read inside `tx`, in the
    /// order the port documents.
    fn refusal(
        &self,
        tx: &Transaction<'_>,
        guard: &GuardMillis,
    ) -> Result<Option<BookingRefusal>, StoreError> {
        let mut overlap = tx
            .prepare_cached(
                "SELECT 1 FROM booking_members \
                 WHERE user_id = ?1 AND busy_end_ms > ?2 AND busy_start_ms < ?3 \
                 AND live_until_ms > ?4 AND booking_id <> ?5 LIMIT 1",
            )
            .map_err(db_error)?;
        for user_id in &self.members {
            let busy = overlap
                .query_row(
                    rusqlite::params![
                        user_id,
                        self.claim.busy_start_ms,
                        self.claim.busy_end_ms,
                        guard.now_ms,
                        self.id,
                    ],
                    |_| Ok(()),
                )
                .optional()
                .map_err(db_error)?;
            if busy.is_some() {
                return Ok(Some(BookingRefusal::SlotTaken));
            }
        }

        let live_holds: i64 = if guard.check_holds {
            tx.prepare_cached(
                "SELECT COUNT(*) FROM bookings \
                 WHERE brand_id = ?1 AND state = ?2 AND live_until_ms > ?3",
            )
            .map_err(db_error)?
            .query_row(
                rusqlite::params![
                    self.brand_id,
                    BookingState::PendingPayment.as_str(),
                    guard.now_ms,
                ],
                |row| row.get(0),
            )
            .map_err(db_error)?
        } else {
            0
        };
        if live_holds >= i64::from(guard.max_live_holds) {
            return Ok(Some(BookingRefusal::TooManyHolds));
        }

        if let Some((day_start_ms, day_end_ms, max)) = guard.daily_cap {
            let that_day: i64 = tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM bookings \
                     WHERE gig_id = ?1 AND start_ms >= ?2 AND start_ms < ?3 \
                     AND live_until_ms > ?4 AND id <> ?5",
                )
                .map_err(db_error)?
                .query_row(
                    rusqlite::params![self.gig_id, day_start_ms, day_end_ms, guard.now_ms, self.id],
                    |row| row.get(0),
                )
                .map_err(db_error)?;
            if that_day >= i64::from(max) {
                return Ok(Some(BookingRefusal::DayFull));
            }
        }
        Ok(None)
    }
}

/// The version a stored booking must have for `booking` to replace it; `None` for a booking
/// at version 0, which has no predecessor (any stored version is stale).
fn expected_version(booking: &Booking) -> Result<Option<i64>, StoreError> {
    booking
        .version
        .checked_sub(1)
        .map(|v| version_value("booking", v))
        .transpose()
}

/// A [`BookingGuard`] in the columns' units.
struct GuardMillis {
    now_ms: i64,
    /// Whether the brand's hold limit applies (creations) or not (reclaims).
    check_holds: bool,
    max_live_holds: u32,
    /// `[day_start_ms, day_end_ms)` and the most live bookings starting in it.
    daily_cap: Option<(i64, i64, u32)>,
}

impl GuardMillis {
    fn of(guard: &BookingGuard, check_holds: bool) -> Self {
        Self {
            now_ms: millis(guard.now),
            check_holds,
            max_live_holds: guard.max_live_holds,
            daily_cap: guard
                .daily_cap
                .as_ref()
                .map(|cap| (millis(cap.day_start), millis(cap.day_end), cap.max)),
        }
    }
}

/// The query of a list page: each source of ids (the brand's bookings, the member's claims,
/// every booking) walks its index downwards from `before` with the state filter applied and
/// stops after `limit` ids; the union is cut to `limit` again. Parameters: `?1` the party,
/// `?2` the state, `?3` `before`, `?4` the limit.
fn list_sql(filter: &BookingFilter, before: bool) -> String {
    let state = |column: &str| {
        if filter.state.is_some() {
            format!("AND {column} = ?2")
        } else {
            String::new()
        }
    };
    let below = |column: &str| {
        if before {
            format!("AND {column} < ?3")
        } else {
            String::new()
        }
    };
    let ids = if filter.party.is_some() {
        format!(
            "SELECT id FROM ( \
                 SELECT id FROM bookings WHERE brand_id = ?1 {} {} \
                 ORDER BY id DESC LIMIT ?4) \
             UNION \
             SELECT id FROM ( \
                 SELECT m.booking_id AS id FROM booking_members AS m \
                 JOIN bookings AS b ON b.id = m.booking_id \
                 WHERE m.user_id = ?1 {} {} \
                 ORDER BY m.booking_id DESC LIMIT ?4)",
            state("state"),
            below("id"),
            state("b.state"),
            below("m.booking_id"),
        )
    } else {
        format!(
            "SELECT id FROM bookings WHERE 1 = 1 {} {} ORDER BY id DESC LIMIT ?4",
            state("state"),
            below("id"),
        )
    };
    format!(
        "SELECT document FROM bookings WHERE id IN ({ids}) \
         ORDER BY id DESC LIMIT ?4"
    )
}

#[async_trait]
impl BookingRepository for SqliteStore {
    async fn create(
        &self,
        booking: &Booking,
        guard: &BookingGuard,
        outbox: &[OutboxMessage],
    ) -> Result<(), BookingRefusal> {
        let row = BookingRow::encode(booking)?;
        let guard = GuardMillis::of(guard, true);
        let messages = outbox.to_vec();
        let refused = self
            .write(move |tx| {
                if let Some(refusal) = row.refusal(tx, &guard)? {
                    // Nothing written yet: the empty transaction commits as a no-op.
                    return Ok(Some(refusal));
                }
                tx.execute(
                    "INSERT INTO bookings (id, brand_id, gig_id, state, start_ms, \
                     hold_expires_ms, live_until_ms, version, document, due_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    rusqlite::params![
                        row.id,
                        row.brand_id,
                        row.gig_id,
                        row.state,
                        row.claim.start_ms,
                        row.hold_expires_ms,
                        row.claim.live_until_ms,
                        row.version,
                        row.document,
                        row.due_ms,
                    ],
                )
                .map_err(db_error)?;
                row.insert_members(tx)?;
                outbox::insert_messages(tx, &messages)?;
                Ok(None)
            })
            .await?;
        match refused {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }

    async fn find(&self, id: &BookingId) -> Result<Option<Booking>, StoreError> {
        let id = id.as_str().to_owned();
        self.look_up(move |connection| {
            connection
                .prepare_cached("SELECT document FROM bookings WHERE id = ?1")
                .map_err(db_error)?
                .query_row([id], |row| row.get::<_, String>(0))
                .optional()
                .map_err(db_error)?
                .map(|document| from_json("booking", &document))
                .transpose()
        })
        .await
    }

    async fn update_with_ledger(
        &self,
        booking: &Booking,
        ledger: &[Posting],
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let row = BookingRow::encode(booking)?;
        let postings = ledger.to_vec();
        let messages = outbox.to_vec();
        let expected = expected_version(booking)?;
        // As for gigs: the write lock serializes updates from the same read, so only the first
        // matches the version, and the follow-up SELECT sees what the UPDATE saw.
        self.write(move |tx| row.replace(tx, expected, &postings, &messages))
            .await
    }

    async fn reclaim(
        &self,
        booking: &Booking,
        guard: &BookingGuard,
        ledger: &[Posting],
        outbox: &[OutboxMessage],
    ) -> Result<(), BookingRefusal> {
        let row = BookingRow::encode(booking)?;
        let guard = GuardMillis::of(guard, false);
        let postings = ledger.to_vec();
        let messages = outbox.to_vec();
        let expected = expected_version(booking)?;
        // The check and the write share the write transaction, as for a creation.
        let refused = self
            .write(move |tx| {
                if let Some(refusal) = row.refusal(tx, &guard)? {
                    return Ok(Some(refusal));
                }
                row.replace(tx, expected, &postings, &messages)?;
                Ok(None)
            })
            .await?;
        match refused {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }

    async fn lapsed_pending(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<Booking>, StoreError> {
        let before = millis(before);
        self.read(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT document FROM bookings \
                     WHERE state = 'pending_payment' AND hold_expires_ms < ?1 \
                     ORDER BY hold_expires_ms LIMIT ?2",
                )
                .map_err(db_error)?;
            documents_from::<Booking>(
                "booking",
                &mut statement,
                rusqlite::params![before, i64::from(limit)],
            )
        })
        .await
    }

    async fn due(
        &self,
        before: Timestamp,
        after: Option<&BookingId>,
        limit: u32,
    ) -> Result<Vec<Booking>, StoreError> {
        let before = millis_down(before);
        let after = after.map(|id| id.as_str().to_owned()).unwrap_or_default();
        self.read(move |connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT document FROM bookings \
                     WHERE due_ms IS NOT NULL AND due_ms <= ?1 AND id > ?2 \
                     ORDER BY id LIMIT ?3",
                )
                .map_err(db_error)?;
            documents_from::<Booking>(
                "booking",
                &mut statement,
                rusqlite::params![before, after, i64::from(limit)],
            )
        })
        .await
    }

    async fn list(
        &self,
        filter: &BookingFilter,
        before: Option<&BookingId>,
        limit: u32,
    ) -> Result<Vec<Booking>, StoreError> {
        let sql = list_sql(filter, before.is_some());
        let party = filter
            .party
            .as_ref()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let state = filter.state.map(BookingState::as_str).unwrap_or_default();
        let before = before.map(|b| b.as_str().to_owned()).unwrap_or_default();
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&sql).map_err(db_error)?;
            documents_from::<Booking>(
                "booking",
                &mut statement,
                rusqlite::params![party, state, before, i64::from(limit)],
            )
        })
        .await
    }

    async fn busy(
        &self,
        members: &[UserId],
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(UserId, Interval)>, StoreError> {
        let members: Vec<String> = distinct(members)
            .into_iter()
            .map(|m| m.as_str().to_owned())
            .collect();
        let (from, to, now) = (millis(from), millis(to), millis(now));
        let rows = self
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached(
                        "SELECT busy_start_ms, busy_end_ms FROM booking_members \
                         WHERE user_id = ?1 AND busy_end_ms > ?2 AND busy_start_ms < ?3 \
                         AND live_until_ms > ?4",
                    )
                    .map_err(db_error)?;
                let mut rows = Vec::new();
                for member in members {
                    let spans = statement
                        .query_map(rusqlite::params![member, from, to, now], |row| {
                            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
                        })
                        .map_err(db_error)?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(db_error)?;
                    rows.extend(spans.into_iter().map(|span| (member.clone(), span)));
                }
                Ok(rows)
            })
            .await?;
        rows.into_iter()
            .map(|(member, (start, end))| {
                Ok((
                    UserId::from_string(member),
                    Interval::new(timestamp(start)?, timestamp(end)?),
                ))
            })
            .collect()
    }

    async fn live_starts(
        &self,
        gig: &GigId,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Timestamp>, StoreError> {
        let gig = gig.as_str().to_owned();
        let (from, to, now) = (millis(from), millis(to), millis(now));
        let starts = self
            .read(move |connection| {
                connection
                    .prepare_cached(
                        "SELECT start_ms FROM bookings \
                         WHERE gig_id = ?1 AND start_ms >= ?2 AND start_ms < ?3 \
                         AND live_until_ms > ?4",
                    )
                    .map_err(db_error)?
                    .query_map(rusqlite::params![gig, from, to, now], |row| {
                        row.get::<_, i64>(0)
                    })
                    .map_err(db_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db_error)
            })
            .await?;
        starts.into_iter().map(timestamp).collect()
    }
}
