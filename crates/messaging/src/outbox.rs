//! Events as outbox messages: what a process writes in the same store step as the change that
//! emitted them, for a relay to publish later. Each is kept exactly as the broker will carry
//! it, so the relay publishes it without decoding it.

use std::time::Duration;

use noillin_domain::{booking::Booking, event::Event};
use noillin_store::OutboxMessage;

use crate::Envelope;

/// Wraps events (caused by request `correlation_id`) as outbox messages.
pub fn messages(
    events: Vec<Event>,
    correlation_id: Option<&str>,
) -> anyhow::Result<Vec<OutboxMessage>> {
    events
        .into_iter()
        .map(|event| {
            let message = Envelope::new(event, correlation_id.map(str::to_owned)).outgoing()?;
            Ok(OutboxMessage {
                id: message.message_id,
                routing_key: message.routing_key,
                correlation_id: message.correlation_id,
                payload: String::from_utf8(message.payload)?,
                created_at: message.occurred_at,
                deliver_after: None,
            })
        })
        .collect()
}

/// Wraps one event to be delivered `delay` after it is published (a hold's expiry).
pub fn delayed_message(
    event: Event,
    correlation_id: Option<&str>,
    delay: Duration,
) -> anyhow::Result<OutboxMessage> {
    let mut message = messages(vec![event], correlation_id)?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no message made"))?;
    message.deliver_after = Some(delay);
    Ok(message)
}

/// The timer that pays a settled booking's members once their payout is due; none for a
/// booking that is not settled. Written in the step that settles the booking.
pub fn payout_timer(
    booking: &Booking,
    correlation_id: Option<&str>,
) -> anyhow::Result<Option<OutboxMessage>> {
    let Some(settlement) = &booking.settlement else {
        return Ok(None);
    };
    let delay = settlement.payout_due_at.duration_since(settlement.at);
    delayed_message(
        Event::BookingPayoutDue {
            booking_id: booking.id.to_string(),
        },
        correlation_id,
        delay.unsigned_abs(),
    )
    .map(Some)
}
