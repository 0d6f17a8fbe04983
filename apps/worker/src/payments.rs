//! Payments in the worker: what each verified provider event does to its booking, cancelling
//! the intents of holds that ended unpaid, asking for refunds, and settling holds that lapsed
//! (on their expiry job, and from the reconciler for any the job missed).
//!
//! The rules (DESIGN.md §3, §5, invariant 2):
//! - a booking is confirmed only by a succeeded intent of its own, for its price, in its
//!   currency ([`Booking::accept_payment`]); anything else changes nothing;
//! - a payment that arrives after the hold lapsed confirms only if the slot can be taken again,
//!   in Redis and in the store's guard; otherwise, or when the brand had abandoned the hold, all
//!   of it goes back (the booking records the refund, and a `booking.refund_due` job asks the
//!   provider for it);
//! - every change is a compare-and-swap on the booking's version, so of two deliveries of one
//!   event, or an event racing an expiry or a cancel, one wins and the other reads what it did;
//! - every call to the provider is idempotent, so a retried job repeats nothing.

use jiff::Timestamp;
use noillin_domain::{
    availability::local_day,
    booking::{Booking, BookingId, BookingState, PaymentOutcome},
    event::Event,
    payment::{ChargeFacts, IntentFacts, PaymentEvent, PaymentEventKind},
};
use noillin_messaging::Envelope;
use noillin_payments::{CancelOutcome, Intent, IntentStatus, PaymentsError, RefundOutcome};
use noillin_redis::{HoldOutcome, SlotHold};
use noillin_store::{
    BookingGuard, BookingRefusal, Constraint, DailyCap, OutboxMessage, StoreError,
};

use crate::{
    handlers::{Failure, Handlers},
    notify,
};

/// Compare-and-swap attempts before the message is retried later.
const ATTEMPTS: u32 = 3;

/// Why money goes back when the slot went to someone else while the payment was late.
const SLOT_TAKEN: &str = "your payment arrived after the hold lapsed and the slot had been \
                          booked by someone else";
/// Why money goes back when the brand had abandoned the hold before paying.
const ABANDONED: &str = "you had cancelled this hold before the payment arrived";

impl From<PaymentsError> for Failure {
    fn from(e: PaymentsError) -> Self {
        match e {
            PaymentsError::Unavailable(_) => Failure::Unavailable(e.to_string()),
            // A refusal does not change by retrying; parked with its reason for an operator.
            PaymentsError::Refused(_) | PaymentsError::Config(_) => Failure::Corrupt(e.to_string()),
        }
    }
}

/// `payment.event_received`: applies one verified provider event.
pub async fn event_received(
    handlers: &Handlers,
    envelope: &Envelope,
    last_attempt: bool,
) -> Result<(), Failure> {
    let Event::PaymentEventReceived { event } = &envelope.event else {
        return Err(Failure::Malformed("not a payment event".into()));
    };
    let PaymentEvent { id, kind, .. } = event;
    match kind {
        PaymentEventKind::IntentSucceeded { intent } => {
            let Some(booking_id) = &intent.booking_id else {
                tracing::warn!(event_id = %id, intent_id = %intent.intent_id, "payment for no booking of ours");
                return Ok(());
            };
            paid(
                handlers,
                booking_id,
                intent,
                id,
                envelope.correlation_id.as_deref(),
            )
            .await
        }
        PaymentEventKind::IntentFailed { intent, reason } => {
            let Some(booking_id) = &intent.booking_id else {
                return Ok(());
            };
            // Nothing changes: the brand may pay again while the hold lasts. Told under this
            // event's id, so a redelivery tells nobody twice.
            let told = Envelope {
                event: Event::BookingPaymentFailed {
                    booking_id: booking_id.clone(),
                    reason: reason.clone(),
                },
                ..envelope.clone()
            };
            notify::booking_event(handlers, &told, last_attempt).await
        }
        PaymentEventKind::IntentCanceled { intent } => canceled(handlers, intent).await,
        PaymentEventKind::ChargeRefunded { charge } => refunded(handlers, charge).await,
    }
}

/// A succeeded payment for `booking_id`: confirms it, takes the slot again after a lapsed hold,
/// or records that it all goes back.
async fn paid(
    handlers: &Handlers,
    booking_id: &str,
    intent: &IntentFacts,
    event_id: &str,
    correlation_id: Option<&str>,
) -> Result<(), Failure> {
    let id = BookingId::from_string(booking_id);
    for _ in 0..ATTEMPTS {
        let Some(mut booking) = handlers.store.bookings.find(&id).await? else {
            // The intent is made before the booking is stored: its payment can come first.
            return Err(Failure::Unavailable(format!(
                "booking {booking_id} of a succeeded payment is not stored (yet)"
            )));
        };
        let now = Timestamp::now();
        let outcome = match booking.accept_payment(intent, event_id, now) {
            Ok(outcome) => outcome,
            Err(mismatch) => {
                metrics::counter!("payments_mismatched_total").increment(1);
                tracing::error!(booking_id, event_id, %mismatch, "payment does not match its booking; nothing changed");
                return Ok(());
            }
        };
        let written = match outcome {
            PaymentOutcome::AlreadyRecorded => return Ok(()),
            PaymentOutcome::Confirmed => {
                let messages = messages(
                    vec![Event::BookingConfirmed {
                        booking_id: booking_id.to_owned(),
                    }],
                    correlation_id,
                )?;
                handlers
                    .store
                    .bookings
                    .update_with_ledger(&booking, &booking.charge_postings(), &messages)
                    .await
            }
            PaymentOutcome::HoldLapsed => {
                return late(handlers, booking, intent, event_id, correlation_id).await;
            }
            PaymentOutcome::Unwanted => {
                booking.refuse_payment(intent, event_id, ABANDONED, now);
                let messages = refund_messages(booking_id, correlation_id)?;
                handlers
                    .store
                    .bookings
                    .update_with_ledger(&booking, &booking.charge_postings(), &messages)
                    .await
            }
        };
        match written {
            Ok(()) => {
                tracing::info!(
                    booking_id,
                    event_id,
                    state = booking.state.as_str(),
                    "payment applied"
                );
                return Ok(());
            }
            Err(StoreError::Conflict(Constraint::StaleVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Unavailable(format!(
        "booking {booking_id} kept changing while applying a payment"
    )))
}

/// A payment that arrived after `booking`'s hold lapsed: confirmed if its slot is still free
/// (taken again in Redis, then in the store's guard), all of it refunded otherwise.
async fn late(
    handlers: &Handlers,
    mut booking: Booking,
    intent: &IntentFacts,
    event_id: &str,
    correlation_id: Option<&str>,
) -> Result<(), Failure> {
    let now = Timestamp::now();
    let booking_id = booking.id.to_string();
    let hold = SlotHold::of(&booking);
    let free = match handlers.redis.take_hold(&hold).await? {
        HoldOutcome::Taken => true,
        HoldOutcome::Conflict => false,
    };
    if free {
        let mut confirmed = booking.clone();
        confirmed
            .confirm_reclaimed(intent, event_id, now)
            .map_err(|e| Failure::Corrupt(e.to_string()))?;
        let messages = messages(
            vec![Event::BookingConfirmed {
                booking_id: booking_id.clone(),
            }],
            correlation_id,
        )?;
        let guard = reclaim_guard(handlers, &booking, now).await?;
        match handlers
            .store
            .bookings
            .reclaim(&confirmed, &guard, &confirmed.charge_postings(), &messages)
            .await
        {
            Ok(()) => {
                tracing::info!(
                    booking_id,
                    event_id,
                    "late payment: slot taken again, confirmed"
                );
                return Ok(());
            }
            Err(BookingRefusal::SlotTaken | BookingRefusal::DayFull) => {}
            Err(BookingRefusal::TooManyHolds) => {
                return Err(Failure::Corrupt("a reclaim refused for holds".into()));
            }
            // Another change came first (a concurrent settlement of this very payment may
            // hold the slot under the same token: it is not released), or the store failed;
            // the retry reads what is stored. A hold left behind lapses by its TTL.
            Err(BookingRefusal::Store(e)) => return Err(e.into()),
        }
        release(handlers, &booking).await?;
    }
    booking.refuse_payment(intent, event_id, SLOT_TAKEN, now);
    let messages = refund_messages(&booking_id, correlation_id)?;
    handlers
        .store
        .bookings
        .update_with_ledger(&booking, &booking.charge_postings(), &messages)
        .await?;
    tracing::info!(booking_id, event_id, "late payment: slot gone, refund due");
    Ok(())
}

/// The guard a reclaim checks: overlaps at `now`, and the gig's daily cap on the booking's
/// local day when the gig has one.
async fn reclaim_guard(
    handlers: &Handlers,
    booking: &Booking,
    now: Timestamp,
) -> Result<BookingGuard, Failure> {
    let gig = handlers.store.gigs.find(&booking.gig_id).await?;
    let daily_cap = gig.and_then(|gig| gig.terms.max_per_day).map(|max| {
        let zone = jiff::tz::TimeZone::get(&booking.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let day = local_day(booking.start, &zone);
        let midnight = |date: jiff::civil::Date| {
            date.to_zoned(zone.clone())
                .map(|zoned| zoned.timestamp())
                .unwrap_or(booking.start)
        };
        DailyCap {
            day_start: midnight(day),
            day_end: day.tomorrow().map(midnight).unwrap_or(Timestamp::MAX),
            max,
        }
    });
    Ok(BookingGuard {
        now,
        max_live_holds: u32::MAX,
        daily_cap,
    })
}

/// The intent was cancelled: an unpaid hold ends now (an intent cancelled by us after the hold
/// ended finds the booking ended already).
async fn canceled(handlers: &Handlers, intent: &IntentFacts) -> Result<(), Failure> {
    let Some(booking_id) = &intent.booking_id else {
        return Ok(());
    };
    let id = BookingId::from_string(booking_id.as_str());
    for _ in 0..ATTEMPTS {
        let Some(mut booking) = handlers.store.bookings.find(&id).await? else {
            return Ok(());
        };
        if booking.payment_canceled(Timestamp::now()).is_err() {
            return Ok(());
        }
        match handlers.store.bookings.update(&booking, &[]).await {
            Ok(()) => {
                tracing::info!(booking_id, "payment cancelled: hold ended");
                return release(handlers, &booking).await;
            }
            Err(StoreError::Conflict(Constraint::StaleVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Unavailable(format!(
        "booking {booking_id} kept changing"
    )))
}

/// Money went back: the booking records how much, and ends `refunded` once it is all.
async fn refunded(handlers: &Handlers, charge: &ChargeFacts) -> Result<(), Failure> {
    let Some(intent_id) = &charge.intent_id else {
        return Ok(());
    };
    // A charge names its intent, and the intent its booking.
    let Some(booking_id) = handlers.payments.intent(intent_id).await?.booking_id else {
        return Ok(());
    };
    let id = BookingId::from_string(booking_id.as_str());
    for _ in 0..ATTEMPTS {
        let Some(mut booking) = handlers.store.bookings.find(&id).await? else {
            return Ok(());
        };
        if booking.payment.as_ref().map(|p| p.intent_id.as_str()) != Some(intent_id.as_str()) {
            return Ok(());
        }
        let Some(postings) = booking.record_refund(charge, Timestamp::now()) else {
            return Ok(());
        };
        match handlers
            .store
            .bookings
            .update_with_ledger(&booking, &postings, &[])
            .await
        {
            Ok(()) => {
                tracing::info!(
                    booking_id,
                    refunded = charge.amount_refunded_minor,
                    state = booking.state.as_str(),
                    "refund settled"
                );
                return Ok(());
            }
            Err(StoreError::Conflict(Constraint::StaleVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Unavailable(format!(
        "booking {booking_id} kept changing"
    )))
}

/// `booking.intent_cancel_due`: an unpaid hold ended, so its intent must not be paid any more.
/// If it was paid meanwhile, that payment is applied like a late one.
pub async fn intent_cancel_due(handlers: &Handlers, envelope: &Envelope) -> Result<(), Failure> {
    let Event::BookingIntentCancelDue { booking_id } = &envelope.event else {
        return Err(Failure::Malformed("not an intent cancel job".into()));
    };
    let Some(booking) = find(handlers, booking_id).await? else {
        return Ok(());
    };
    cancel_or_settle(handlers, &booking, envelope.correlation_id.as_deref()).await
}

/// Cancels `booking`'s intent; an intent that was paid instead is applied as a payment.
async fn cancel_or_settle(
    handlers: &Handlers,
    booking: &Booking,
    correlation_id: Option<&str>,
) -> Result<(), Failure> {
    let Some(payment) = &booking.payment else {
        return Ok(());
    };
    match handlers.payments.cancel_intent(&payment.intent_id).await? {
        CancelOutcome::Canceled => Ok(()),
        CancelOutcome::Paid(intent) => {
            apply_intent(handlers, booking, &intent, correlation_id).await
        }
    }
}

/// Applies what the provider says of `booking`'s intent, as the event would have: a lost or
/// late webhook changes nothing then.
async fn apply_intent(
    handlers: &Handlers,
    booking: &Booking,
    intent: &Intent,
    correlation_id: Option<&str>,
) -> Result<(), Failure> {
    match intent.status {
        IntentStatus::Succeeded => {
            let facts = IntentFacts {
                intent_id: intent.id.clone(),
                booking_id: intent.booking_id.clone(),
                amount: intent.amount.clone(),
            };
            // Named after the intent: a webhook for the same payment finds it recorded.
            let event_id = format!("intent:{}", intent.id);
            paid(
                handlers,
                booking.id.as_str(),
                &facts,
                &event_id,
                correlation_id,
            )
            .await
        }
        // Being settled: neither paid nor cancellable yet.
        IntentStatus::Processing => Err(Failure::Unavailable(format!(
            "payment {} is processing",
            intent.id
        ))),
        IntentStatus::AwaitingPayment | IntentStatus::Canceled => Ok(()),
    }
}

/// `booking.refund_due`: asks the provider to return what the booking owes the brand. The
/// refund's idempotency key names the booking and the decision (its time), so asking again
/// is the same refund.
pub async fn refund_due(handlers: &Handlers, envelope: &Envelope) -> Result<(), Failure> {
    let Event::BookingRefundDue { booking_id } = &envelope.event else {
        return Err(Failure::Malformed("not a refund job".into()));
    };
    let Some(booking) = find(handlers, booking_id).await? else {
        return Ok(());
    };
    let Some(payment) = &booking.payment else {
        return Ok(());
    };
    let Some(refund) = payment.refund.as_ref().filter(|r| !r.settled()) else {
        return Ok(());
    };
    let reason = format!("{}", refund.requested_at.as_millisecond());
    // What the provider returned already (a refund made in its dashboard) is not asked again.
    let amount = refund.due_minor - refund.refunded_minor;
    match handlers
        .payments
        .refund(&booking.id, &payment.intent_id, amount, &reason)
        .await?
    {
        RefundOutcome::Requested { refund_id } => {
            tracing::info!(booking_id, refund_id, amount, "refund requested");
        }
        RefundOutcome::AlreadyRefunded => {
            tracing::info!(booking_id, "nothing left to refund");
        }
    }
    Ok(())
}

/// Settles an unpaid hold whose time is up, from its expiry job or the reconciler: its intent
/// is cancelled, and the booking expires; an intent that was paid is applied as a payment
/// instead (confirming or refunding). A booking no longer unpaid is only released.
pub async fn settle_lapsed(handlers: &Handlers, booking_id: &str) -> Result<(), Failure> {
    for _ in 0..ATTEMPTS {
        let Some(mut booking) = find(handlers, booking_id).await? else {
            tracing::warn!(booking_id, "lapsed hold of an unknown booking");
            return Ok(());
        };
        if booking.state != BookingState::PendingPayment {
            return release(handlers, &booking).await;
        }
        let now = Timestamp::now();
        if now < booking.hold_expires_at {
            // Delivered early (clocks that disagree): try again after a retry delay.
            return Err(Failure::Unavailable(format!(
                "hold of booking {booking_id} lapses at {}",
                booking.hold_expires_at
            )));
        }
        if let Some(payment) = &booking.payment {
            match handlers.payments.cancel_intent(&payment.intent_id).await? {
                CancelOutcome::Canceled => {}
                CancelOutcome::Paid(intent) => {
                    return apply_intent(handlers, &booking, &intent, None).await;
                }
            }
        }
        booking
            .expire(now)
            .map_err(|e| Failure::Corrupt(e.to_string()))?;
        match handlers.store.bookings.update(&booking, &[]).await {
            Ok(()) => {
                tracing::info!(booking_id, "unpaid hold expired");
                return release(handlers, &booking).await;
            }
            // A payment or a cancel came first: read it again.
            Err(StoreError::Conflict(Constraint::StaleVersion)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Unavailable(format!(
        "booking {booking_id} kept changing while settling its hold"
    )))
}

async fn find(handlers: &Handlers, booking_id: &str) -> Result<Option<Booking>, Failure> {
    Ok(handlers
        .store
        .bookings
        .find(&BookingId::from_string(booking_id))
        .await?)
}

/// Releases the booking's Redis hold (only its own token's claim).
pub async fn release(handlers: &Handlers, booking: &Booking) -> Result<(), Failure> {
    handlers
        .redis
        .release_hold(&SlotHold::of(booking))
        .await
        .map_err(Failure::from)
}

/// Events as outbox messages, caused by `correlation_id`.
pub(crate) fn messages(
    events: Vec<Event>,
    correlation_id: Option<&str>,
) -> Result<Vec<OutboxMessage>, Failure> {
    noillin_messaging::outbox::messages(events, correlation_id)
        .map_err(|e| Failure::Corrupt(e.to_string()))
}

fn refund_messages(
    booking_id: &str,
    correlation_id: Option<&str>,
) -> Result<Vec<OutboxMessage>, Failure> {
    messages(
        vec![Event::BookingRefundDue {
            booking_id: booking_id.to_owned(),
        }],
        correlation_id,
    )
}
