//! Payment webhooks: the provider tells us what became of a payment. A delivery is checked
//! against the configured secrets, its event id is stored once together with the outbox
//! message that carries it to the worker, and it is acknowledged at once: the booking changes
//! in the worker, never in the request, so the provider is answered fast and a store or worker
//! outage only delays the change (the provider retries a refused delivery; an acknowledged one
//! is in the outbox).

use noillin_domain::event::Event;
use noillin_payments::{Verified, WebhookRejection};
use noillin_store::StoreError;

use crate::{AppState, outbox};

/// What became of a genuine delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Recorded now; the worker will apply it.
    Recorded,
    /// This event was recorded before (a redelivery, a replay): nothing more to do.
    Duplicate,
    /// An event type the platform does not act on.
    Ignored,
}

/// Why a delivery was not accepted. Nothing was recorded.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Rejected(#[from] WebhookRejection),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(anyhow::Error),
}

/// Verifies and records one delivery.
pub async fn receive(
    state: &AppState,
    body: &str,
    signature: Option<&str>,
    correlation_id: Option<&str>,
) -> Result<Receipt, WebhookError> {
    let now = state.clock.now();
    let event = match state.webhooks.verify(body, signature, now.as_second())? {
        Verified::Event(event) => event,
        Verified::Ignored { id, event_type } => {
            tracing::debug!(event_id = %id, event_type, "payment event ignored");
            return Ok(Receipt::Ignored);
        }
    };
    let kind = event.kind.name();
    let event_id = event.id.clone();
    let messages = outbox::messages(
        vec![Event::PaymentEventReceived {
            event: event.clone(),
        }],
        correlation_id,
    )
    .map_err(WebhookError::Outbox)?;
    let recorded = state
        .store
        .payment_events
        .record(&event, now, &messages)
        .await?;
    if !recorded {
        tracing::info!(event_id, event_type = kind, "payment event received again");
        return Ok(Receipt::Duplicate);
    }
    state.relay_waker.wake();
    tracing::info!(event_id, event_type = kind, "payment event recorded");
    Ok(Receipt::Recorded)
}
