//! The payment events port: every verified provider event is recorded once by its id, with
//! the outbox message that carries it to the worker, in one atomic step (DESIGN.md
//! invariants 2 and 3): a replayed or duplicated delivery finds its id taken and enqueues
//! nothing.

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::payment::PaymentEvent;

use crate::{OutboxMessage, StoreError};

/// Provider events received.
#[async_trait]
pub trait PaymentEventRepository: Send + Sync {
    /// Records `event` as received at `received_at` with `outbox`, unless an event with its id
    /// was recorded before. `true` when this call recorded it; `false` for a duplicate, and
    /// nothing is written then.
    async fn record(
        &self,
        event: &PaymentEvent,
        received_at: Timestamp,
        outbox: &[OutboxMessage],
    ) -> Result<bool, StoreError>;
}
