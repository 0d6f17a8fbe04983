//! Consuming: deliveries, acknowledgement, and what happens to a message its handler could not
//! process — retried after increasing delays, then parked with the reason, never dropped.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use lapin::{
    BasicProperties, Channel, Confirmation,
    options::{BasicAckOptions, BasicPublishOptions},
    types::{AMQPValue, ShortString},
};

use crate::{Concern, Envelope, Error, Topology};

/// Header counting how many times a message was handed to a handler before (0 on first try).
pub const ATTEMPT_HEADER: &str = "x-noillin-attempt";
/// Header carrying the last failure of a retried or parked message.
pub const ERROR_HEADER: &str = "x-noillin-error";
/// Longest failure text kept in a header.
const MAX_ERROR_LEN: usize = 500;

/// How long to wait before each retry; a message is tried `delays.len() + 1` times in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    delays: Vec<Duration>,
}

impl Default for RetryPolicy {
    /// 1 s, 10 s, 1 min, 5 min, 30 min: six tries over about 36 minutes.
    fn default() -> Self {
        Self::new(
            [1, 10, 60, 300, 1800]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        )
    }
}

impl RetryPolicy {
    pub fn new(delays: Vec<Duration>) -> Self {
        Self { delays }
    }

    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// The wait before the retry that follows failed attempt `attempt` (0-based), if any is
    /// left.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        self.delays.get(usize::try_from(attempt).ok()?).copied()
    }
}

/// Most retries a policy may have; each delay gets a queue of its own.
const MAX_RETRIES: usize = 10;
/// Longest delay a policy may have, in milliseconds (a day).
const MAX_DELAY_MS: u64 = 86_400_000;

impl std::str::FromStr for RetryPolicy {
    type Err = String;

    /// Comma-separated delays in milliseconds, as `WORKER_RETRY_DELAYS_MS` writes them:
    /// `1000,10000,60000`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let delays: Option<Vec<u64>> = s.split(',').map(|d| d.trim().parse().ok()).collect();
        match delays {
            Some(delays)
                if delays.len() <= MAX_RETRIES
                    && delays.iter().all(|d| (1..=MAX_DELAY_MS).contains(d)) =>
            {
                Ok(Self::new(
                    delays.into_iter().map(Duration::from_millis).collect(),
                ))
            }
            _ => Err(format!(
                "use 1 to {MAX_RETRIES} comma-separated delays of 1 to {MAX_DELAY_MS} ms"
            )),
        }
    }
}

/// Deliveries from one queue.
pub struct Subscription {
    consumer: lapin::Consumer,
    shared: Arc<Shared>,
}

/// What every delivery of a subscription needs to retry or park itself.
struct Shared {
    channel: Channel,
    topology: Topology,
    concern: Concern,
    policy: RetryPolicy,
}

impl Subscription {
    pub(crate) fn new(
        channel: Channel,
        consumer: lapin::Consumer,
        topology: Topology,
        concern: Concern,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            consumer,
            shared: Arc::new(Shared {
                channel,
                topology,
                concern,
                policy,
            }),
        }
    }

    /// The next delivery; `None` when the consumer was cancelled or the connection closed.
    /// Deliveries are independent of the subscription: several can be in hand at once (up to
    /// the prefetch) and handled concurrently.
    pub async fn next(&mut self) -> Option<Result<Delivery, Error>> {
        let delivery = self.consumer.next().await?;
        Some(delivery.map_err(Error::from).map(|inner| Delivery {
            inner,
            shared: self.shared.clone(),
        }))
    }
}

/// What became of a failed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// It will be handed to a handler again after this delay.
    Retried(Duration),
    /// It is in the parking queue, with its failure in a header.
    Parked,
}

/// One received message, to be acknowledged or failed by its handler.
pub struct Delivery {
    inner: lapin::message::Delivery,
    shared: Arc<Shared>,
}

impl Delivery {
    /// The message decoded, or why it could not be.
    pub fn envelope(&self) -> Result<Envelope, String> {
        let envelope: Envelope =
            serde_json::from_slice(&self.inner.data).map_err(|e| e.to_string())?;
        if envelope.version != crate::SCHEMA_VERSION {
            return Err(format!("unknown envelope version {}", envelope.version));
        }
        Ok(envelope)
    }

    /// Whether the broker delivered this message before (a hint only; handlers are idempotent).
    pub fn redelivered(&self) -> bool {
        self.inner.redelivered
    }

    /// How many times handlers failed this message before.
    pub fn attempt(&self) -> u32 {
        header_u32(&self.inner.properties, ATTEMPT_HEADER).unwrap_or(0)
    }

    /// Whether a failure now would park the message instead of retrying it: the handler's
    /// last chance to record a final outcome of its own.
    pub fn is_last_attempt(&self) -> bool {
        self.shared.policy.delay_after(self.attempt()).is_none()
    }

    /// Acknowledges: the message's effect is stored.
    pub async fn ack(&self) -> Result<(), Error> {
        self.inner.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    /// The handler failed. A `retryable` failure is tried again after the policy's next delay
    /// while attempts remain; otherwise, or once they are used up, the message is parked with
    /// `reason`. The copy is confirmed by the broker before the original is acknowledged, so a
    /// crash in between duplicates the message rather than losing it.
    pub async fn fail(&self, reason: &str, retryable: bool) -> Result<Failed, Error> {
        let subscription = &self.shared;
        let attempt = self.attempt();
        let delay = retryable
            .then(|| subscription.policy.delay_after(attempt))
            .flatten();
        let (queue, outcome) = match delay {
            Some(delay) => (
                subscription
                    .topology
                    .retry_queue(subscription.concern, delay),
                Failed::Retried(delay),
            ),
            None => (
                subscription.topology.parking_queue(subscription.concern),
                Failed::Parked,
            ),
        };
        // The header comes with the message: a forged maximum must not overflow.
        let properties = with_failure(&self.inner.properties, attempt.saturating_add(1), reason);
        // The default exchange routes by queue name.
        let confirmation = subscription
            .channel
            .basic_publish(
                ShortString::from(""),
                queue.clone().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &self.inner.data,
                properties,
            )
            .await?
            .await?;
        match confirmation {
            Confirmation::Ack(None) => {}
            _ => {
                // Not stored elsewhere: leave the original unacknowledged, so the broker hands
                // it out again rather than lose it.
                return Err(Error::NotAccepted(queue));
            }
        }
        self.ack().await?;
        Ok(outcome)
    }
}

/// A message taken out of a parking queue, with why it was parked.
#[derive(Debug, Clone, PartialEq)]
pub struct ParkedMessage {
    pub message_id: Option<String>,
    /// The body, decoded when it is a valid envelope.
    pub envelope: Result<Envelope, String>,
    /// How many times handlers failed it.
    pub attempts: u32,
    pub error: Option<String>,
}

/// Takes every message out of a parking queue (for inspection or replay by an operator).
pub(crate) async fn drain(channel: &Channel, queue: &str) -> Result<Vec<ParkedMessage>, Error> {
    let mut parked = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), lapin::options::BasicGetOptions::default())
        .await?
    {
        let delivery = message.delivery;
        let properties = &delivery.properties;
        let error = properties
            .headers()
            .as_ref()
            .and_then(|h| match h.inner().get(ERROR_HEADER) {
                Some(AMQPValue::LongString(text)) => Some(text.to_string()),
                _ => None,
            });
        parked.push(ParkedMessage {
            message_id: properties.message_id().as_ref().map(|id| id.to_string()),
            envelope: serde_json::from_slice(&delivery.data).map_err(|e| e.to_string()),
            attempts: header_u32(properties, ATTEMPT_HEADER).unwrap_or(0),
            error,
        });
        delivery.acker.ack(BasicAckOptions::default()).await?;
    }
    Ok(parked)
}

fn header_u32(properties: &BasicProperties, name: &str) -> Option<u32> {
    let headers = properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongUInt(n) => Some(*n),
        AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
        _ => None,
    }
}

/// The message's properties with the attempt count and failure set, all else kept (message id,
/// correlation id, type, persistence).
fn with_failure(properties: &BasicProperties, attempt: u32, reason: &str) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongUInt(attempt));
    let reason: String = reason.chars().take(MAX_ERROR_LEN).collect();
    headers.insert(ERROR_HEADER.into(), AMQPValue::LongString(reason.into()));
    properties
        .clone()
        .with_headers(headers)
        .with_delivery_mode(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_policy_is_read_from_comma_separated_milliseconds() {
        let policy: RetryPolicy = " 200, 400 ,800".parse().unwrap();
        assert_eq!(policy.delays(), [200, 400, 800].map(Duration::from_millis));
        for bad in [
            "",
            "1000,soon",
            "0",
            "1,,2",
            "86400001",
            "1,1,1,1,1,1,1,1,1,1,1",
        ] {
            assert!(bad.parse::<RetryPolicy>().is_err(), "{bad:?} accepted");
        }
    }
}
