//! The transactional outbox, core-api's side: events become outbox messages written in the same
//! store step as the change that emitted them, and a relay publishes them to RabbitMQ.
//!
//! The relay claims a batch under a lease, publishes it with publisher confirms, deletes what the
//! broker confirmed and gives back what it did not. Every core-api process runs one; the lease
//! keeps two relays from publishing one message at the same time, and a relay that dies holding a
//! claim only delays its messages until the lease ends. Delivery is at least once (a relay that
//! published but could not delete before its lease ended lets another publish again), which
//! consumers absorb by being idempotent.
//!
//! A message the broker refuses (no queue is bound for its routing key, or a nack) is not a
//! broker outage: it is held back for a delay of its own, growing with each refusal, while the
//! others flow, and after `OUTBOX_MAX_ATTEMPTS` refusals it is parked in the store with its
//! reason for an operator (`core-api outbox parked`, `core-api outbox retry <id>`). A broker that
//! cannot be reached backs the whole relay off instead, and counts no attempt.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use noillin_messaging::{BrokerLink, OutgoingMessage, PublishError};
use noillin_service::shutdown::Shutdown;
use noillin_store::{OutboxMessage, OutboxRefusal, OutboxRepository, RefusalPolicy, StoreError};
use tokio::sync::Notify;

pub use noillin_messaging::outbox::{delayed_message, messages, payout_timer};

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
    /// How messages the broker refuses are held back, and after how many refusals they are
    /// parked.
    pub refusals: RefusalPolicy,
}

/// Refusals after which a message is parked unless `OUTBOX_MAX_ATTEMPTS` says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

impl RelaySettings {
    /// The defaults, parking a message after `max_attempts` refusals.
    pub fn with_max_attempts(max_attempts: u32) -> Self {
        let mut settings = Self::default();
        settings.refusals.max_attempts = max_attempts;
        settings
    }
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch: 200,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
            // With the default 10 attempts: about eight and a half minutes from the first
            // refusal to parking, time for a deploy that adds the missing binding.
            refusals: RefusalPolicy {
                max_attempts: DEFAULT_MAX_ATTEMPTS,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(5 * 60),
            },
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
            let wait = match outcome
                .as_ref()
                .map(|batch| batch.next_step(self.settings.batch))
            {
                Ok(NextStep::Continue) => {
                    backoff = MIN_BACKOFF;
                    continue;
                }
                Ok(NextStep::Wait) => {
                    backoff = MIN_BACKOFF;
                    tokio::select! {
                        () = self.waker.0.notified() => {}
                        () = tokio::time::sleep(self.settings.poll) => {}
                        () = shutdown.wait() => break,
                    }
                    continue;
                }
                Ok(NextStep::BackOff) => backoff,
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
        let claimed_count = claimed.len();
        let (outgoing, results) = publish(broker, claimed).await;
        let mut confirmed = Vec::with_capacity(outgoing.len());
        let mut refused = Vec::new();
        let mut failed = Vec::new();
        for (message, result) in outgoing.into_iter().zip(results) {
            match Settlement::of(result) {
                Settlement::Confirmed => confirmed.push(message.message_id),
                Settlement::Refused(reason) => {
                    tracing::warn!(message_id = %message.message_id, routing_key = %message.routing_key, error = %reason, "outbox message refused by the broker; held back");
                    refused.push(OutboxRefusal {
                        id: message.message_id,
                        reason,
                    });
                }
                Settlement::Failed(e) => {
                    tracing::warn!(message_id = %message.message_id, routing_key = %message.routing_key, error = %e, "outbox message not published; will retry");
                    failed.push(message.message_id);
                }
            }
        }
        // Completing first: if the store fails in between, what the broker confirmed is not
        // published again, and the others only wait for the lease.
        if !confirmed.is_empty() {
            self.outbox.complete(&claim, &confirmed).await?;
        }
        let mut parked = Vec::new();
        if !refused.is_empty() {
            parked = self
                .outbox
                .refuse(&claim, &refused, Timestamp::now(), &self.settings.refusals)
                .await?;
            for id in &parked {
                tracing::error!(message_id = %id, "outbox message parked: the broker refused it too often; see `core-api outbox parked`");
            }
        }
        if !failed.is_empty() {
            self.outbox.release(&claim, &failed).await?;
        }
        metrics::counter!("outbox_published_total").increment(confirmed.len() as u64);
        metrics::counter!("outbox_refused_total").increment(refused.len() as u64);
        metrics::counter!("outbox_parked_total").increment(parked.len() as u64);
        metrics::counter!("outbox_publish_failures_total").increment(failed.len() as u64);
        tracing::debug!(
            published = confirmed.len(),
            refused = refused.len(),
            parked = parked.len(),
            failed = failed.len(),
            "outbox batch relayed"
        );
        Ok(Batch {
            claimed: claimed_count,
            failed: failed.len(),
        })
    }
}

/// What becomes of a claimed message once the broker answered its publish.
#[derive(Debug)]
enum Settlement {
    /// Confirmed: delete it.
    Confirmed,
    /// The broker took the message and refused it: sending it again at once would only repeat
    /// the refusal, so it waits a delay of its own (and is parked after too many).
    Refused(String),
    /// The broker could not be reached or the channel failed: nothing is wrong with the message,
    /// which goes back at once (the relay backs off).
    Failed(PublishError),
}

impl Settlement {
    fn of(result: Result<(), PublishError>) -> Self {
        match result {
            Ok(()) => Settlement::Confirmed,
            Err(e @ (PublishError::Unroutable(_) | PublishError::Nacked)) => {
                Settlement::Refused(e.to_string())
            }
            Err(e @ (PublishError::Broker(_) | PublishError::Encode(_))) => Settlement::Failed(e),
        }
    }
}

/// What the relay does after a batch.
#[derive(Debug, PartialEq, Eq)]
enum NextStep {
    /// Claim again at once: the batch was full, more may be waiting.
    Continue,
    /// Wait to be woken or for the next poll.
    Wait,
    /// The broker failed: wait longer each time.
    BackOff,
}

#[derive(Debug, Default)]
struct Batch {
    /// Messages claimed, whatever became of them.
    claimed: usize,
    /// Messages not published because the broker failed.
    failed: usize,
}

impl Batch {
    /// Refused messages do not slow the relay: they are held back in the store, and the next
    /// claim takes the others.
    fn next_step(&self, batch_size: u32) -> NextStep {
        if self.failed > 0 {
            NextStep::BackOff
        } else if self.claimed >= batch_size as usize {
            NextStep::Continue
        } else {
            NextStep::Wait
        }
    }
}

/// Publishes claimed messages: those to deliver at once in one batch, each delayed one to the
/// holding queue of its delay. Returns them with their results, in the same order.
async fn publish(
    broker: &noillin_messaging::Broker,
    claimed: Vec<OutboxMessage>,
) -> (Vec<OutgoingMessage>, Vec<Result<(), PublishError>>) {
    let (delayed, now): (Vec<_>, Vec<_>) = claimed
        .into_iter()
        .partition(|message| message.deliver_after.is_some());
    let mut sent: Vec<OutgoingMessage> = now.into_iter().map(outgoing).collect();
    let mut results = broker.publish_batch(&sent).await;
    for message in delayed {
        let delay = message.deliver_after.unwrap_or_default();
        let message = outgoing(message);
        results.push(broker.publish_delayed(&message, delay).await);
        sent.push(message);
    }
    (sent, results)
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use noillin_domain::event::Event;
    use noillin_messaging::{Broker, Concern, RetryPolicy};
    use noillin_store::{ParkedOutboxMessage, StoreConfig};

    use super::*;

    fn broker_down() -> PublishError {
        PublishError::Broker(noillin_messaging::Error::NotAccepted("events".into()))
    }

    #[test]
    fn a_refused_message_is_held_back_and_a_broker_failure_is_retried_at_once() {
        assert!(matches!(Settlement::of(Ok(())), Settlement::Confirmed));
        assert!(matches!(
            Settlement::of(Err(PublishError::Unroutable("nobody.listens".into()))),
            Settlement::Refused(reason) if reason.contains("nobody.listens")
        ));
        assert!(matches!(
            Settlement::of(Err(PublishError::Nacked)),
            Settlement::Refused(_)
        ));
        assert!(matches!(
            Settlement::of(Err(broker_down())),
            Settlement::Failed(_)
        ));
    }

    #[test]
    fn only_a_failing_broker_backs_the_relay_off() {
        let batch = |claimed, failed| Batch { claimed, failed };
        assert_eq!(batch(200, 0).next_step(200), NextStep::Continue);
        assert_eq!(batch(3, 0).next_step(200), NextStep::Wait);
        assert_eq!(batch(0, 0).next_step(200), NextStep::Wait);
        assert_eq!(batch(200, 1).next_step(200), NextStep::BackOff);
        assert_eq!(batch(5, 5).next_step(200), NextStep::BackOff);
    }

    #[test]
    fn by_default_a_refused_message_is_parked_after_ten_attempts_within_minutes() {
        let policy = RelaySettings::default().refusals;
        assert_eq!(policy.max_attempts, DEFAULT_MAX_ATTEMPTS);
        let delays: Vec<Duration> = (1..policy.max_attempts)
            .map(|attempt| policy.delay_after(attempt))
            .collect();
        assert_eq!(delays[0], Duration::from_secs(1));
        assert!(
            delays.windows(2).all(|pair| pair[1] >= pair[0]),
            "{delays:?}"
        );
        assert!(delays.iter().all(|delay| *delay <= policy.max_delay));
        let until_parked: Duration = delays.iter().sum();
        assert!(
            until_parked > Duration::from_secs(5 * 60)
                && until_parked < Duration::from_secs(15 * 60),
            "{until_parked:?}"
        );
        assert!(policy.parks_after(10) && !policy.parks_after(9));
        assert_eq!(RelaySettings::with_max_attempts(3).refusals.max_attempts, 3);
        assert_eq!(policy.delay_after(u32::MAX), policy.max_delay);
    }

    /// Against the real RabbitMQ, in a namespace of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unroutable_message_is_parked_while_the_others_are_delivered() {
        let url = std::env::var("RABBITMQ_URL")
            .unwrap_or_else(|_| noillin_messaging::DEFAULT_URL.to_owned());
        let namespace = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let data_dir = tempfile::tempdir().unwrap();
        let store = noillin_store::open(&StoreConfig::Embedded {
            data_dir: data_dir.path().to_owned(),
        })
        .await
        .unwrap();
        let broker = Broker::connect(&url, &namespace, "relay-test")
            .await
            .unwrap();
        broker.declare_topology().await.unwrap();
        let policy = RetryPolicy::new(vec![Duration::from_millis(100)]);
        let mut subscription = broker
            .consume(Concern::System, 50, "relay-test", policy.clone())
            .await
            .unwrap();

        let events = (0..30)
            .map(|n| Event::InstanceStarted {
                service: "relay-test".into(),
                instance: n.to_string(),
            })
            .collect();
        let mut batch = messages(events, None).unwrap();
        batch[4].routing_key = "nobody.listens".into();
        let unroutable = batch[4].clone();
        store.outbox.append(&batch).await.unwrap();

        let link = BrokerLink::start(url, namespace, "relay-test-relay".into());
        let shutdown = Shutdown::default();
        let settings = RelaySettings {
            // Small batches: the unroutable message is claimed again while others still wait.
            batch: 7,
            poll: Duration::from_millis(20),
            refusals: RefusalPolicy {
                max_attempts: 3,
                first_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(40),
            },
            ..RelaySettings::default()
        };
        let relay = tokio::spawn(
            Relay::new(
                store.outbox.clone(),
                link.clone(),
                RelayWaker::default(),
                settings,
            )
            .run(shutdown.clone()),
        );

        let expected: HashSet<String> = batch
            .iter()
            .filter(|m| m.id != unroutable.id)
            .map(|m| m.id.clone())
            .collect();
        let mut received = HashSet::new();
        while received.len() < expected.len() {
            let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next())
                .await
                .expect("a delivery in time")
                .unwrap()
                .unwrap();
            received.insert(delivery.envelope().unwrap().id.to_string());
            delivery.ack().await.unwrap();
        }
        assert_eq!(received, expected, "every routable message arrives");

        // Parking takes three refusals, a few tens of milliseconds apart: there is no event
        // to wait for but the store's state, so it is checked until it holds.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let parked: Vec<ParkedOutboxMessage> = loop {
            let parked = store.outbox.parked(10).await.unwrap();
            if !parked.is_empty() || tokio::time::Instant::now() >= deadline {
                break parked;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(parked.len(), 1, "{parked:?}");
        assert_eq!(parked[0].id, unroutable.id);
        assert_eq!(parked[0].routing_key, "nobody.listens");
        assert_eq!(parked[0].attempts, 3);
        assert!(
            parked[0].reason.contains("nobody.listens"),
            "{}",
            parked[0].reason
        );
        assert_eq!(store.outbox.pending().await.unwrap(), 0);

        shutdown.trigger();
        relay.await.unwrap();
        link.close().await;
        broker.delete_topology(&policy).await.unwrap();
        broker.close().await;
    }
}
