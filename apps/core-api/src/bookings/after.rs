//! After the booking took place: a member delivers, the brand approves or asks for a revision.
//! Each change is a compare-and-swap written with its events; completion writes the fee and
//! the members' earnings to the ledger in the same step and starts the payout timer. Without
//! the brand's answer the worker completes the booking when its approval window ends.

use noillin_domain::{
    User, ValidationErrors,
    booking::{Booking, validate_delivery},
    event::Event,
};
use noillin_store::OutboxMessage;

use super::{BookingError, get, read_reason, save, transition_error};
use crate::{AppState, outbox};

/// What a member hands in.
#[derive(Debug, Clone)]
pub struct DeliveryRequest {
    pub links: Vec<String>,
    pub note: Option<String>,
}

/// A member delivers booking `id`: `confirmed → delivered`, once it has started; the brand is
/// told, and the booking completes by itself if the brand does not answer in time.
pub async fn deliver(
    state: &AppState,
    caller: &User,
    id: &str,
    request: DeliveryRequest,
    correlation_id: Option<&str>,
) -> Result<Booking, BookingError> {
    let note = request.note.unwrap_or_default();
    let mut errors = ValidationErrors::default();
    validate_delivery(&request.links, &note, &mut errors);
    let (links, note) = errors
        .into_result((request.links, note))
        .map_err(BookingError::Invalid)?;
    let mut booking = get(state, caller, id).await?;
    if !booking.is_member(&caller.id) {
        return Err(BookingError::MembersOnly);
    }
    let terms = state.bookings.terms;
    let now = state.clock.now();
    booking
        .deliver(&caller.id, links, note, terms.approval_window, now)
        .map_err(|e| transition_error(e, booking.state))?;
    let booking_id = booking.id.to_string();
    let mut messages = outbox::messages(
        vec![Event::BookingDelivered {
            booking_id: booking_id.clone(),
        }],
        correlation_id,
    )
    .map_err(BookingError::Outbox)?;
    messages.push(
        outbox::delayed_message(
            Event::BookingAutoCompleteDue { booking_id },
            correlation_id,
            terms.approval_window.unsigned_abs(),
        )
        .map_err(BookingError::Outbox)?,
    );
    save(state, caller, &booking, &[], &messages).await?;
    tracing::info!(booking_id = %booking.id, "booking delivered");
    Ok(booking)
}

/// The brand approves the delivery of booking `id`: `delivered → completed`, its members'
/// earnings and the platform's fee written to the ledger with it.
pub async fn approve(
    state: &AppState,
    caller: &User,
    id: &str,
    correlation_id: Option<&str>,
) -> Result<Booking, BookingError> {
    let mut booking = brands_booking(state, caller, id).await?;
    let now = state.clock.now();
    booking
        .approve(&caller.id, &state.bookings.terms, now)
        .map_err(|e| transition_error(e, booking.state))?;
    let mut messages = outbox::messages(
        vec![Event::BookingCompleted {
            booking_id: booking.id.to_string(),
        }],
        correlation_id,
    )
    .map_err(BookingError::Outbox)?;
    messages.extend(payout_timer(&booking, correlation_id)?);
    save(
        state,
        caller,
        &booking,
        &booking.settlement_postings(),
        &messages,
    )
    .await?;
    tracing::info!(booking_id = %booking.id, "booking completed by the brand");
    Ok(booking)
}

/// The brand asks for a revision of booking `id`, with a reason: `delivered → confirmed`, at
/// most `MAX_REVISIONS` times; the members are told why.
pub async fn request_revision(
    state: &AppState,
    caller: &User,
    id: &str,
    reason: String,
    correlation_id: Option<&str>,
) -> Result<Booking, BookingError> {
    let reason = read_reason(reason)?;
    let mut booking = brands_booking(state, caller, id).await?;
    let now = state.clock.now();
    booking
        .request_revision(&caller.id, &reason, state.bookings.terms.max_revisions, now)
        .map_err(|e| transition_error(e, booking.state))?;
    let messages = outbox::messages(
        vec![Event::BookingRevisionRequested {
            booking_id: booking.id.to_string(),
        }],
        correlation_id,
    )
    .map_err(BookingError::Outbox)?;
    save(state, caller, &booking, &[], &messages).await?;
    tracing::info!(booking_id = %booking.id, "revision requested");
    Ok(booking)
}

/// The timer that pays a settled booking's members when their payout is due.
pub fn payout_timer(
    booking: &Booking,
    correlation_id: Option<&str>,
) -> Result<Option<OutboxMessage>, BookingError> {
    outbox::payout_timer(booking, correlation_id).map_err(BookingError::Outbox)
}

/// Booking `id` when `caller` is its brand: a member gets [`BookingError::BrandOnly`], anyone
/// else [`BookingError::NotFound`].
async fn brands_booking(
    state: &AppState,
    caller: &User,
    id: &str,
) -> Result<Booking, BookingError> {
    let booking = get(state, caller, id).await?;
    if booking.brand_id != caller.id {
        return Err(BookingError::BrandOnly);
    }
    Ok(booking)
}
