//! The consume loop of one concern: take a delivery, run its handler, acknowledge or park.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use noillin_messaging::{BrokerLink, Concern, Delivery};
use noillin_service::shutdown::Shutdown;

use crate::handlers;

/// Consumes `concern` until shutdown, reconnecting with the broker link when the connection
/// drops. On shutdown the message in hand is finished and acknowledged before returning;
/// prefetched but unstarted messages go back to the queue when the channel closes.
pub async fn run(
    concern: Concern,
    broker: BrokerLink,
    prefetch: u16,
    consuming: Arc<AtomicBool>,
    shutdown: Shutdown,
) {
    let queue = concern.name();
    while !shutdown.is_triggered() {
        let connection = tokio::select! {
            connection = broker.connected() => connection,
            () = shutdown.wait() => break,
        };
        let tag = format!("worker-{}-{queue}", std::process::id());
        let mut subscription = match connection.consume(concern, prefetch, &tag).await {
            Ok(subscription) => subscription,
            Err(e) => {
                tracing::warn!(error = %e, queue, "cannot consume yet");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            }
        };
        consuming.store(true, Ordering::Relaxed);
        tracing::info!(queue, prefetch, "consuming");
        loop {
            let next = tokio::select! {
                next = subscription.next() => next,
                () = shutdown.wait() => break,
            };
            match next {
                Some(Ok(delivery)) => process(concern, delivery).await,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, queue, "delivery error");
                    break;
                }
                None => break,
            }
        }
        consuming.store(false, Ordering::Relaxed);
    }
    tracing::info!(queue, "consumer stopped");
}

async fn process(concern: Concern, delivery: Delivery) {
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
            let _entered = span.enter();
            handlers::handle(&envelope)
        }
        Err(reason) => Err(handlers::Failure::Malformed(reason)),
    };
    let acknowledged = match &outcome {
        Ok(()) => delivery.ack().await,
        Err(failure) => {
            tracing::error!(queue, error = %failure, "message parked");
            delivery.park().await
        }
    };
    if let Err(e) = acknowledged {
        // The broker redelivers it; handlers are idempotent.
        tracing::warn!(queue, error = %e, "acknowledgement lost");
    }
    let label = if outcome.is_ok() {
        "processed"
    } else {
        "parked"
    };
    metrics::counter!("worker_messages_total", "queue" => queue, "outcome" => label).increment(1);
    metrics::histogram!("worker_message_duration_seconds", "queue" => queue)
        .record(started.elapsed().as_secs_f64());
}
