//! Bookings: a brand holds a gig's slot until it pays. Creating one validates the start with
//! the gig's calendar (the code that lists slots), takes the Redis hold for every member, and
//! writes the booking through the store's final guard with its expiry job; handlers call these
//! and map [`BookingError`] to a response. What follows the booking (delivery, approval,
//! revisions) is in [`after`].
//!
//! Two guards, one answer: Redis refuses a taken slot fast, for every core-api process at
//! once; the store refuses it for certain, in the step that writes the booking, even when Redis
//! lost its keys. Either refusal is a 409, and a refused booking gives its hold back at once.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use noillin_domain::{
    Role, User, UserId, ValidationErrors,
    availability::{SlotError, is_bookable, local_day},
    booking::{Booking, BookingId, BookingState, BookingTransitionError, MarketTerms, NewHold},
    event::Event,
    gig::{Gig, GigId, GigStatus},
    payment::{BookingPayment, Canceller},
};
use noillin_redis::{HoldOutcome, SlotHold};
use noillin_store::{
    BookingFilter, BookingGuard, BookingRefusal, Constraint, DailyCap, StoreError,
};

use crate::{
    AppState, accounts::secrets::random_token, gigs, gigs::GigError, outbox, paging::Page,
};

pub mod after;

/// How long an unpaid hold keeps its slot, and how many a brand may keep at once.
#[derive(Debug, Clone)]
pub struct BookingSettings {
    pub hold_ttl: Duration,
    pub max_live_holds: u32,
    /// Fees, payout delay, approval window and revisions.
    pub terms: MarketTerms,
}

/// What a booking use case answers instead of a booking.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// No such booking or gig, or one the caller is no party to: the same answer.
    #[error("not found")]
    NotFound,
    /// The input breaks the rules; every field is listed.
    #[error("invalid: {0}")]
    Invalid(ValidationErrors),
    /// The gig does not offer this start at all (off its grid, outside every member's windows,
    /// too soon, too far ahead, or the gig is archived).
    #[error("the start is not a slot of the gig")]
    NotASlot,
    /// The gig offers the start, but it is taken (a live booking of a member meets it, or the
    /// day is fully booked).
    #[error("the slot is taken")]
    SlotTaken,
    /// The brand keeps `max` unpaid holds already.
    #[error("at most {max} unpaid holds at once")]
    TooManyHolds { max: u32 },
    /// A party to the booking who may not make this change.
    #[error("only the booking's brand may do this")]
    BrandOnly,
    /// Only a booked influencer may make this change.
    #[error("only a booked influencer may do this")]
    MembersOnly,
    /// Delivery before the booking's start.
    #[error("the booking has not started yet")]
    NotStarted,
    /// The brand asked for every revision it may.
    #[error("at most {max} revisions")]
    RevisionLimit { max: u32 },
    /// The booking was reviewed already, or the review answered.
    #[error("already reviewed")]
    AlreadyReviewed,
    /// The booking is not in a state this change applies to.
    #[error("the booking is {}", state.as_str())]
    WrongState { state: BookingState },
    /// Redis, which holds slots, is unreachable: booking fails closed.
    #[error("slot holds unavailable: {0}")]
    HoldsUnavailable(String),
    /// The payment provider is unreachable: no hold without a payment to complete it.
    #[error("payments unavailable: {0}")]
    PaymentsUnavailable(String),
    /// Cancelling a paid booking needs a reason; the caller gave none.
    #[error("a reason is required")]
    ReasonRequired,
    /// Stored data the rules refuse.
    #[error("stored data refused: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The events of a change could not be made into outbox messages.
    #[error(transparent)]
    Outbox(anyhow::Error),
}

impl From<GigError> for BookingError {
    fn from(e: GigError) -> Self {
        match e {
            GigError::NotFound => BookingError::NotFound,
            GigError::Invalid(errors) => BookingError::Invalid(errors),
            GigError::Store(e) => BookingError::Store(e),
            GigError::Outbox(e) => BookingError::Outbox(e),
            other => BookingError::Corrupt(other.to_string()),
        }
    }
}

/// A booking request as the client wrote it.
#[derive(Debug, Clone)]
pub struct BookingRequest {
    pub gig_id: String,
    /// RFC 3339 instant.
    pub start: String,
}

/// Holds a slot of a published gig for `brand` and writes the booking `pending_payment`.
pub async fn create(
    state: &AppState,
    brand: &UserId,
    request: BookingRequest,
    correlation_id: Option<&str>,
) -> Result<Booking, BookingError> {
    let start = read_start(&request.start)?;
    let gig = bookable_gig(state, &request.gig_id).await?;
    let now = state.clock.now();
    let calendar = gigs::calendar(state, &gig, start, just_after(start), now).await?;
    let settings = gig.terms.slot_settings();
    let offered = is_bookable(&calendar.unbooked().query(&settings, now), start);
    if !offered.map_err(slot_error)? {
        return Err(BookingError::NotASlot);
    }
    if !is_bookable(&calendar.query(&settings, now), start).map_err(slot_error)? {
        return Err(BookingError::SlotTaken);
    }
    let hold_ttl = state.bookings.hold_ttl;
    let mut booking = Booking::hold(NewHold {
        id: BookingId::generate(),
        gig: &gig,
        brand_id: brand.clone(),
        start,
        time_zone: calendar.owner_zone_name.clone(),
        hold_token: random_token().map_err(BookingError::Outbox)?,
        now,
        hold_ttl: SignedDuration::try_from(hold_ttl).unwrap_or(SignedDuration::MAX),
        // Filled in once the intent exists, after the slot is held.
        payment: BookingPayment {
            intent_id: String::new(),
            client_secret: String::new(),
            paid: None,
            refund: None,
        },
    });
    let expiry = outbox::delayed_message(
        Event::BookingHoldExpiryDue {
            booking_id: booking.id.to_string(),
        },
        correlation_id,
        hold_ttl,
    )
    .map_err(BookingError::Outbox)?;
    let hold = SlotHold::of(&booking);
    match state.redis.take_hold(&hold).await {
        Ok(HoldOutcome::Taken) => {}
        Ok(HoldOutcome::Conflict) => return Err(BookingError::SlotTaken),
        Err(e) => return Err(BookingError::HoldsUnavailable(e.to_string())),
    }
    // Only the one request that holds the slot makes an intent: a rival refused by Redis
    // never reaches the provider.
    let description = format!("{} ({})", gig.title, booking.start);
    let intent = match state
        .payments
        .create_intent(&booking.id, &booking.price, &description)
        .await
    {
        Ok(intent) => intent,
        Err(e) => {
            give_back(state, &hold).await;
            return Err(BookingError::PaymentsUnavailable(e.to_string()));
        }
    };
    booking.payment = Some(BookingPayment {
        intent_id: intent.id.clone(),
        client_secret: intent.client_secret,
        paid: None,
        refund: None,
    });
    let guard = BookingGuard {
        now,
        max_live_holds: state.bookings.max_live_holds,
        daily_cap: gig.terms.max_per_day.map(|max| {
            let day = local_day(start, &calendar.owner_zone);
            let midnight = |date: jiff::civil::Date| {
                date.to_zoned(calendar.owner_zone.clone())
                    .map(|zoned| zoned.timestamp())
                    .unwrap_or(start)
            };
            DailyCap {
                day_start: midnight(day),
                day_end: day.tomorrow().map(midnight).unwrap_or(Timestamp::MAX),
                max,
            }
        }),
    };
    let created = state
        .store
        .bookings
        .create(&booking, &guard, std::slice::from_ref(&expiry))
        .await;
    if let Err(refusal) = created {
        give_back(state, &hold).await;
        // Nobody was given the intent's secret, so it cannot be paid; cancelling it only
        // tidies the provider's side, and a failure there is no reason to fail differently.
        if let Err(e) = state.payments.cancel_intent(&intent.id).await {
            tracing::warn!(error = %e, intent_id = %intent.id, "unused payment intent not cancelled");
        }
        return Err(match refusal {
            BookingRefusal::SlotTaken | BookingRefusal::DayFull => BookingError::SlotTaken,
            BookingRefusal::TooManyHolds => BookingError::TooManyHolds {
                max: state.bookings.max_live_holds,
            },
            BookingRefusal::Store(e) => BookingError::Store(e),
        });
    }
    state.relay_waker.wake();
    tracing::info!(booking_id = %booking.id, gig_id = %gig.id, "slot held");
    Ok(booking)
}

/// The booking `id` as `viewer` may see it: a party's, or any for an administrator.
pub async fn get(state: &AppState, viewer: &User, id: &str) -> Result<Booking, BookingError> {
    let booking = state
        .store
        .bookings
        .find(&BookingId::from_string(id))
        .await?
        .ok_or(BookingError::NotFound)?;
    if viewer.role == Role::Admin || booking.is_party(&viewer.id) {
        Ok(booking)
    } else {
        Err(BookingError::NotFound)
    }
}

/// One page of the bookings `viewer` is a party to (every booking for an administrator),
/// newest first, in `state` when given.
pub async fn list(
    state: &AppState,
    viewer: &User,
    filter_state: Option<BookingState>,
    page: Page,
) -> Result<BookingPage, BookingError> {
    let filter = BookingFilter {
        party: (viewer.role != Role::Admin).then(|| viewer.id.clone()),
        state: filter_state,
    };
    let before = page.cursor.clone().map(BookingId::from_string);
    let bookings = state
        .store
        .bookings
        .list(&filter, before.as_ref(), page.limit)
        .await?;
    let next_before = page.next(&bookings, |b| b.id.clone());
    Ok(BookingPage {
        bookings,
        next_before,
    })
}

/// One page of bookings and the cursor of the next.
#[derive(Debug, Clone)]
pub struct BookingPage {
    pub bookings: Vec<Booking>,
    pub next_before: Option<BookingId>,
}

/// Cancels booking `id`. An unpaid hold is abandoned by its brand alone (members and
/// administrators see it but cannot); its payment intent is cancelled after. A paid booking may
/// be cancelled before delivery by its brand, a member or an administrator, with a reason: what
/// goes back to the brand follows the gig's policy for the brand and is everything otherwise,
/// and the refund is asked of the provider after the change is stored. Either way the slot is
/// free again at once. Anyone else is told the booking does not exist.
pub async fn cancel(
    state: &AppState,
    caller: &User,
    id: &str,
    reason: Option<String>,
    correlation_id: Option<&str>,
) -> Result<Booking, BookingError> {
    let reason = reason.map(read_reason).transpose()?;
    let mut booking = get(state, caller, id).await?;
    let now = state.clock.now();
    let booking_id = booking.id.to_string();
    let (events, release) = match booking.state {
        BookingState::PendingPayment => {
            if booking.brand_id != caller.id {
                return Err(BookingError::BrandOnly);
            }
            let reason =
                reason.unwrap_or_else(|| "cancelled by the brand before payment".to_owned());
            booking
                .cancel_hold(&caller.id, &reason, now)
                .map_err(|e| transition_error(e, booking.state))?;
            (vec![Event::BookingIntentCancelDue { booking_id }], true)
        }
        BookingState::Confirmed => {
            let canceller = if caller.role == Role::Admin {
                Canceller::Admin
            } else if booking.brand_id == caller.id {
                Canceller::Brand
            } else {
                Canceller::Member
            };
            let reason = reason.ok_or(BookingError::ReasonRequired)?;
            let owed = booking
                .cancel_paid(&caller.id, canceller, &reason, &state.bookings.terms, now)
                .map_err(|e| transition_error(e, booking.state))?;
            let mut events = vec![Event::BookingCancelled {
                booking_id: booking_id.clone(),
                by_id: caller.id.to_string(),
            }];
            if owed > 0 {
                events.push(Event::BookingRefundDue { booking_id });
            }
            (events, false)
        }
        state => return Err(BookingError::WrongState { state }),
    };
    let mut messages = outbox::messages(events, correlation_id).map_err(BookingError::Outbox)?;
    messages.extend(after::payout_timer(&booking, correlation_id)?);
    // What the brand does not get back is earned by the members at once.
    let postings = booking.settlement_postings();
    save(state, caller, &booking, &postings, &messages).await?;
    if release {
        give_back(state, &SlotHold::of(&booking)).await;
    }
    tracing::info!(booking_id = %booking.id, "booking cancelled");
    Ok(booking)
}

/// Writes a transition of `booking` (read by `caller`) with its ledger postings and messages.
/// When another change came first (a payment, an expiry, another party's action), answers the
/// state it made.
async fn save(
    state: &AppState,
    caller: &User,
    booking: &Booking,
    postings: &[noillin_domain::ledger::Posting],
    messages: &[noillin_store::OutboxMessage],
) -> Result<(), BookingError> {
    match state
        .store
        .bookings
        .update_with_ledger(booking, postings, messages)
        .await
    {
        Ok(()) => {
            state.relay_waker.wake();
            Ok(())
        }
        Err(StoreError::Conflict(Constraint::StaleVersion)) => {
            let current = get(state, caller, booking.id.as_str()).await?;
            Err(BookingError::WrongState {
                state: current.state,
            })
        }
        Err(e) => Err(e.into()),
    }
}

fn transition_error(e: BookingTransitionError, current: BookingState) -> BookingError {
    match e {
        BookingTransitionError::NotPending { state }
        | BookingTransitionError::NotConfirmed { state }
        | BookingTransitionError::NotDelivered { state } => BookingError::WrongState { state },
        BookingTransitionError::HoldStillLive | BookingTransitionError::ApprovalWindowOpen => {
            BookingError::WrongState { state: current }
        }
        BookingTransitionError::NotStarted => BookingError::NotStarted,
        BookingTransitionError::RevisionLimit { max } => BookingError::RevisionLimit { max },
    }
}

/// Releases a hold. A failure only leaves keys that lapse by their TTL, and the store no longer
/// counts the booking, so it is logged rather than failing the request.
async fn give_back(state: &AppState, hold: &SlotHold) {
    if let Err(e) = state.redis.release_hold(hold).await {
        tracing::warn!(error = %e, "slot hold not released; it lapses by its TTL");
    }
}

/// The published gig `id`; unknown, draft and hidden gigs are all [`BookingError::NotFound`],
/// archived ones offer no slot.
async fn bookable_gig(state: &AppState, id: &str) -> Result<Gig, BookingError> {
    if id.len() > noillin_domain::MAX_ID_LEN {
        return Err(BookingError::NotFound);
    }
    let gig = state
        .store
        .gigs
        .find(&GigId::from_string(id))
        .await?
        .ok_or(BookingError::NotFound)?;
    let active = gigs::members_active(state, &gig).await?;
    match gig.status {
        GigStatus::Published if active => Ok(gig),
        GigStatus::Archived if active => Err(BookingError::NotASlot),
        _ => Err(BookingError::NotFound),
    }
}

fn read_start(start: &str) -> Result<Timestamp, BookingError> {
    start.parse::<Timestamp>().map_err(|_| {
        let mut errors = ValidationErrors::default();
        errors.add("start", "invalid_instant", "must be an RFC 3339 instant");
        BookingError::Invalid(errors)
    })
}

/// Longest cancellation reason, in characters.
const MAX_REASON_CHARS: usize = 500;

pub(crate) fn read_reason(reason: String) -> Result<String, BookingError> {
    let mut errors = ValidationErrors::default();
    errors.text("reason", &reason, 1, MAX_REASON_CHARS);
    errors.into_result(reason).map_err(BookingError::Invalid)
}

/// The range `[start, just_after(start))` holds `start` alone.
fn just_after(start: Timestamp) -> Timestamp {
    noillin_domain::availability::shifted(start, SignedDuration::from_nanos(1))
}

/// A start the engine cannot place in its calendar is no slot; stored rules it refuses are
/// not the client's fault.
fn slot_error(e: SlotError) -> BookingError {
    match e {
        SlotError::EmptyRange | SlotError::RangeTooLong | SlotError::OutOfRange => {
            BookingError::NotASlot
        }
        SlotError::NoMembers | SlotError::Invalid(_) => {
            BookingError::Corrupt(format!("stored gig or rules refused: {e:?}"))
        }
    }
}
