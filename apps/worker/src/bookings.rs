//! Bookings' follow-ups. `booking.hold_expiry_due` arrives once an unpaid hold's time to live
//! has passed: the booking moves `pending_payment → expired` (a compare-and-swap, so a payment
//! or a cancel that won meanwhile is left alone) and its Redis hold is released by its token.
//! Nothing depends on this running on time: reads and new bookings already treat a lapsed hold
//! as dead, and the hold's keys lapse by their own TTL. A redelivery finds the booking expired
//! and only releases the hold again, which is harmless.

use jiff::Timestamp;
use noillin_domain::{
    booking::{Booking, BookingId, BookingTransitionError},
    event::Event,
};
use noillin_messaging::Envelope;
use noillin_redis::SlotHold;
use noillin_store::{Constraint, StoreError};

use crate::handlers::{Failure, Handlers};

/// Compare-and-swap attempts before the message is retried later.
const ATTEMPTS: u32 = 3;

pub async fn hold_expiry_due(handlers: &Handlers, envelope: &Envelope) -> Result<(), Failure> {
    let Event::BookingHoldExpiryDue { booking_id } = &envelope.event else {
        return Err(Failure::Malformed("not a hold expiry".into()));
    };
    let id = BookingId::from_string(booking_id.as_str());
    for _ in 0..ATTEMPTS {
        let Some(mut booking) = handlers.store.bookings.find(&id).await? else {
            // The booking was never committed (its creation failed after the message was
            // written would be a bug; a store that lost it is not ours to repair).
            tracing::warn!(booking_id, "hold expiry for an unknown booking");
            return Ok(());
        };
        match booking.expire(Timestamp::now()) {
            Ok(()) => {}
            Err(BookingTransitionError::NotPending { state }) => {
                tracing::debug!(booking_id, state = state.as_str(), "hold already settled");
                return release(handlers, &booking).await;
            }
            Err(BookingTransitionError::HoldStillLive) => {
                // Delivered early (clocks that disagree): try again after a retry delay.
                return Err(Failure::Unavailable(format!(
                    "hold of booking {booking_id} lapses at {}",
                    booking.hold_expires_at
                )));
            }
        }
        match handlers.store.bookings.update(&booking, &[]).await {
            Ok(()) => {
                tracing::info!(booking_id, "unpaid hold expired");
                return release(handlers, &booking).await;
            }
            // Someone else changed it first (a payment, a cancel): read it again.
            Err(StoreError::Conflict(Constraint::StaleVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Unavailable(format!(
        "booking {booking_id} kept changing while expiring it"
    )))
}

/// Releases the booking's Redis hold (only its own token's claim).
async fn release(handlers: &Handlers, booking: &Booking) -> Result<(), Failure> {
    handlers
        .redis
        .release_hold(&SlotHold::of(booking))
        .await
        .map_err(Failure::from)
}
