//! The payment reconciler: a periodic walk over bookings something is due for (a delivered
//! booking past its approval window, a settled one whose payout is due: [`payouts::sweep`])
//! and over unpaid holds whose hold lapsed more than a grace period ago and are still
//! `pending_payment`. Each is settled as its expiry job would
//! have settled it ([`payments::settle_lapsed`]: the provider is asked about its intent, which
//! is cancelled, or applied if it was paid), so a lost webhook or a lost expiry strands no
//! booking and keeps no payment. Every worker runs it; settling is a compare-and-swap and every
//! provider call is idempotent, so two workers settling one booking change it once.

use std::{sync::Arc, time::Duration};

use jiff::{SignedDuration, Timestamp};
use noillin_service::shutdown::Shutdown;

use crate::{handlers::Handlers, payments, payouts};

/// Bookings settled per walk, at most; the next walk takes the rest.
const BATCH: u32 = 100;

/// How often the reconciler walks, and how long after a hold lapsed it steps in (its expiry
/// job and the webhooks come first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub every: Duration,
    pub grace: Duration,
}

/// Walks every `settings.every` until `shutdown`.
pub async fn run(handlers: Arc<Handlers>, settings: Settings, shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = shutdown.wait() => break,
            () = tokio::time::sleep(settings.every) => {}
        }
        let grace = SignedDuration::try_from(settings.grace).unwrap_or(SignedDuration::ZERO);
        let before = Timestamp::now() - grace;
        match payouts::sweep(&handlers, Timestamp::now()).await {
            Ok(0) => {}
            Ok(handled) => tracing::info!(handled, "reconciler settled due bookings"),
            Err(e) => tracing::warn!(error = %e, "reconciler could not list due bookings"),
        }
        let lapsed = match handlers.store.bookings.lapsed_pending(before, BATCH).await {
            Ok(lapsed) => lapsed,
            Err(e) => {
                tracing::warn!(error = %e, "reconciler could not list lapsed holds");
                continue;
            }
        };
        for booking in lapsed {
            let booking_id = booking.id.to_string();
            match payments::settle_lapsed(&handlers, &booking_id).await {
                Ok(()) => {
                    metrics::counter!("payments_reconciled_total").increment(1);
                    tracing::info!(booking_id, "reconciler settled a lapsed hold");
                }
                Err(e) => tracing::warn!(booking_id, error = %e, "reconciler could not settle"),
            }
        }
    }
}
