//! The consume loop of one concern: take a delivery, run its handler, acknowledge or park.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use noillin_messaging::{BrokerLink, Concern, Delivery, Failed, RetryPolicy};
use noillin_service::shutdown::Shutdown;
use tokio::{sync::Semaphore, task::JoinSet};

use tracing::Instrument;

use crate::handlers::{Failure, Handlers};

/// How a consumer takes its messages.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Unacknowledged messages the broker may hand it.
    pub prefetch: u16,
    /// Messages handled at once.
    pub concurrency: usize,
    /// When failed messages come back, and when they are parked.
    pub retry: RetryPolicy,
}

/// Consumes `concern` until shutdown, handling up to `concurrency` messages at once and
/// reconnecting with the broker link when the connection drops. On shutdown the messages in
/// hand are finished and acknowledged before returning; prefetched but unstarted messages go
/// back to the queue when the channel closes.
pub async fn run(
    concern: Concern,
    broker: BrokerLink,
    handlers: Arc<Handlers>,
    settings: Settings,
    consuming: Arc<AtomicUsize>,
    shutdown: Shutdown,
) {
    let Settings {
        prefetch,
        concurrency,
        retry,
    } = settings;
    let queue = concern.name();
    let tag = format!("worker-{}-{queue}", std::process::id());
    while !shutdown.is_triggered() {
        let connection = tokio::select! {
            connection = broker.connected() => connection,
            () = shutdown.wait() => break,
        };
        // Declaring the topology takes a round trip per queue and binding: a stop asked for
        // meanwhile does not wait for it.
        let subscribed = tokio::select! {
            subscribed = connection.consume(concern, prefetch, &tag, retry.clone()) => subscribed,
            () = shutdown.wait() => break,
        };
        let mut subscription = match subscribed {
            Ok(subscription) => subscription,
            Err(e) => {
                tracing::warn!(error = %e, queue, "cannot consume yet");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            }
        };
        consuming.fetch_add(1, Ordering::Relaxed);
        tracing::info!(queue, prefetch, concurrency, "consuming");
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut in_flight = JoinSet::new();
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot,
                () = shutdown.wait() => break,
            };
            let Ok(slot) = slot else { break };
            let next = tokio::select! {
                next = subscription.next() => next,
                () = shutdown.wait() => break,
            };
            match next {
                Some(Ok(delivery)) => {
                    let handlers = handlers.clone();
                    in_flight.spawn(async move {
                        process(concern, &handlers, delivery).await;
                        drop(slot);
                    });
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, queue, "delivery error");
                    break;
                }
                None => break,
            }
            while in_flight.try_join_next().is_some() {}
        }
        consuming.fetch_sub(1, Ordering::Relaxed);
        // Messages in hand are finished (and acknowledged) before the channel goes away.
        while in_flight.join_next().await.is_some() {}
        drop(subscription);
    }
    tracing::info!(queue, "consumer stopped");
}

async fn process(concern: Concern, handlers: &Handlers, delivery: Delivery) {
    let queue = concern.name();
    let started = Instant::now();
    let outcome = match delivery.envelope() {
        Ok(envelope) => {
            let span = tracing::info_span!(
                "message",
                queue,
                message_id = %envelope.id,
                request_id = envelope.correlation_id.as_deref().unwrap_or("-"),
                redelivered = delivery.redelivered(),
            );
            handlers
                .handle(concern, &envelope, delivery.is_last_attempt())
                .instrument(span)
                .await
        }
        Err(reason) => Err(Failure::Malformed(reason)),
    };
    let label = match &outcome {
        Ok(()) => match delivery.ack().await {
            Ok(()) => "processed",
            // The broker redelivers it; handlers are idempotent.
            Err(e) => {
                tracing::warn!(queue, error = %e, "acknowledgement lost");
                "unacknowledged"
            }
        },
        Err(failure) => {
            // Counted from 1, as the parked message's header counts; the header arrives with
            // the message, so a forged maximum must not overflow.
            let attempt = delivery.attempt().saturating_add(1);
            match delivery
                .fail(&failure.to_string(), failure.retryable())
                .await
            {
                Ok(Failed::Retried(after)) => {
                    tracing::warn!(queue, error = %failure, attempt, retry_in = ?after, "message failed; will retry");
                    "retried"
                }
                Ok(Failed::Parked) => {
                    tracing::error!(queue, error = %failure, attempt, "message parked");
                    "parked"
                }
                Err(e) => {
                    tracing::warn!(queue, error = %e, "failed message could not be moved; it will be redelivered");
                    "unacknowledged"
                }
            }
        }
    };
    metrics::counter!("worker_messages_total", "queue" => queue, "outcome" => label).increment(1);
    metrics::histogram!("worker_message_duration_seconds", "queue" => queue)
        .record(started.elapsed().as_secs_f64());
}
