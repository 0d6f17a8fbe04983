//! Webhook deliveries: signed as Stripe signs them (`Stripe-Signature: t=…,v1=…`), re-signed
//! at every attempt, retried with exponential backoff after a non-2xx answer or a connection
//! error.

use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use stripe_webhook::Webhook;

use crate::controls::Delivery;
use crate::events::Job;
use crate::ids;
use crate::state::Shared;

/// Drains one object's lane, one delivery (with its retries) after the other.
pub(crate) async fn run_lane(shared: Arc<Shared>, object: String) {
    loop {
        let Some(job) = shared.lock().outbox.next_job(&object) else {
            return;
        };
        deliver(&shared, job).await;
    }
}

async fn deliver(shared: &Shared, job: Job) {
    if !job.delay.is_zero() {
        tokio::time::sleep(job.delay).await;
    }
    let attempts = shared.settings.retry_max_attempts.max(1);
    let mut backoff = shared.settings.retry_first_delay;
    for attempt in 1..=attempts {
        match attempt_delivery(shared, job.event, None).await {
            // The endpoint was removed meanwhile: nothing to send to.
            None => return,
            Some(Some(status)) if (200..300).contains(&status) => return,
            Some(_) => {}
        }
        if attempt < attempts {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }
    tracing::debug!(event = job.event, attempts, "webhook delivery given up");
}

/// One attempt, signed at `signed_at` or now, recorded with the answer's status (`None` for a
/// connection error). `None` when no endpoint is set.
pub(crate) async fn attempt_delivery(
    shared: &Shared,
    event: usize,
    signed_at: Option<i64>,
) -> Option<Option<u16>> {
    let (url, payload) = shared.lock().outbox.target(event)?;
    let timestamp = signed_at.unwrap_or_else(ids::now);
    let signature =
        Webhook::generate_test_header(&payload, &shared.settings.webhook_secret, Some(timestamp));
    let sent = shared
        .http
        .post(&url)
        .header("stripe-signature", signature)
        .header(CONTENT_TYPE, "application/json")
        .body(payload.to_string())
        .send()
        .await;
    let status = match sent {
        Ok(response) => Some(response.status().as_u16()),
        Err(err) => {
            tracing::debug!(error = %err, "webhook delivery failed");
            None
        }
    };
    shared.lock().outbox.record(
        event,
        Delivery {
            at: ids::now(),
            status,
        },
    );
    Some(status)
}
