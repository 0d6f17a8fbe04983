//! The transactional outbox, core-api's side: events become outbox messages written in the same
//! store step as the change that emitted them, and a relay publishes them to RabbitMQ.
//!
//! The relay claims a batch under a lease, publishes it with publisher confirms, deletes what the
//! broker confirmed and gives back what it did not. Every core-api process runs one; the lease
//! keeps two relays from publishing one message at the same time, and a relay that dies holding a
//! claim only delays its messages until the lease ends. Delivery is at least once (a relay that
//! published but could not delete before its lease ended lets another publish again), which
//! consumers absorb by being idempotent.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use noillin_messaging::{BrokerLink, Envelope, Event, OutgoingMessage};
use noillin_service::shutdown::Shutdown;
use noillin_store::{OutboxMessage, OutboxRepository, StoreError};
use tokio::sync::Notify;

/// Wraps events (caused by request `correlation_id`) as outbox messages: each is kept as the
/// broker will carry it.
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
            })
        })
        .collect()
}

/// Wakes this process's relay after a write added outbox messages, so they leave at once
/// instead of at the next poll.
#[derive(Clone, Default)]
pub struct RelayWaker(Arc<Notify>);

impl RelayWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Most messages claimed and published at once.
    pub batch: u32,
    /// How long a claim holds its messages; far longer than a batch takes to publish.
    pub lease: Duration,
    /// How often the outbox is checked when nothing woke the relay (messages written by other
    /// processes, leases that ended).
    pub poll: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch: 200,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
        }
    }
}

/// Publishes the outbox until shutdown.
pub struct Relay {
    outbox: Arc<dyn OutboxRepository>,
    broker: BrokerLink,
    waker: RelayWaker,
    settings: RelaySettings,
}

/// Waits after failures, doubling from the first to the longest.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Relay {
    pub fn new(
        outbox: Arc<dyn OutboxRepository>,
        broker: BrokerLink,
        waker: RelayWaker,
        settings: RelaySettings,
    ) -> Self {
        Self {
            outbox,
            broker,
            waker,
            settings,
        }
    }

    /// Runs until `shutdown`; a batch in hand is finished first.
    pub async fn run(self, shutdown: Shutdown) {
        let mut backoff = MIN_BACKOFF;
        loop {
            let broker = tokio::select! {
                broker = self.broker.connected() => broker,
                () = shutdown.wait() => break,
            };
            let outcome = self.relay_batch(&broker).await;
            let wait = match outcome {
                // A full batch: more may be waiting.
                Ok(batch)
                    if batch.failed == 0 && batch.published == self.settings.batch as usize =>
                {
                    backoff = MIN_BACKOFF;
                    continue;
                }
                Ok(batch) if batch.failed == 0 => {
                    backoff = MIN_BACKOFF;
                    tokio::select! {
                        () = self.waker.0.notified() => {}
                        () = tokio::time::sleep(self.settings.poll) => {}
                        () = shutdown.wait() => break,
                    }
                    continue;
                }
                Ok(_) => backoff,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "outbox unreadable");
                    backoff
                }
            };
            backoff = (backoff * 2).min(MAX_BACKOFF);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.wait() => break,
            }
        }
        tracing::info!("outbox relay stopped");
    }

    /// Claims one batch, publishes it, and settles each message by its confirm.
    async fn relay_batch(&self, broker: &noillin_messaging::Broker) -> Result<Batch, StoreError> {
        let claim = uuid::Uuid::new_v4().to_string();
        let now = Timestamp::now();
        let lease_until = now
            .saturating_add(self.settings.lease)
            .unwrap_or(Timestamp::MAX);
        let claimed = self
            .outbox
            .claim(&claim, self.settings.batch, now, lease_until)
            .await?;
        if claimed.is_empty() {
            return Ok(Batch::default());
        }
        let outgoing: Vec<OutgoingMessage> = claimed.into_iter().map(outgoing).collect();
        let results = broker.publish_batch(&outgoing).await;
        let mut confirmed = Vec::with_capacity(outgoing.len());
        let mut refused = Vec::new();
        for (message, result) in outgoing.into_iter().zip(results) {
            match result {
                Ok(()) => confirmed.push(message.message_id),
                Err(e) => {
                    tracing::warn!(message_id = %message.message_id, routing_key = %message.routing_key, error = %e, "outbox message not published; will retry");
                    refused.push(message.message_id);
                }
            }
        }
        // Completing first: if the store fails in between, what the broker confirmed is not
        // published again, and the refused messages only wait for the lease.
        if !confirmed.is_empty() {
            self.outbox.complete(&claim, &confirmed).await?;
        }
        if !refused.is_empty() {
            self.outbox.release(&claim, &refused).await?;
        }
        metrics::counter!("outbox_published_total").increment(confirmed.len() as u64);
        metrics::counter!("outbox_publish_failures_total").increment(refused.len() as u64);
        tracing::debug!(
            published = confirmed.len(),
            failed = refused.len(),
            "outbox batch relayed"
        );
        Ok(Batch {
            published: confirmed.len(),
            failed: refused.len(),
        })
    }
}

#[derive(Debug, Default)]
struct Batch {
    published: usize,
    failed: usize,
}

fn outgoing(message: OutboxMessage) -> OutgoingMessage {
    OutgoingMessage {
        message_id: message.id,
        routing_key: message.routing_key,
        correlation_id: message.correlation_id,
        payload: message.payload.into_bytes(),
        occurred_at: message.created_at,
    }
}
