//! The payments port: the only crate that talks to Stripe. It makes, reads and cancels the
//! payment intent of a booking, refunds it, and verifies the webhooks Stripe sends, reducing
//! each to the domain's [`PaymentEvent`](noillin_domain::payment::PaymentEvent).
//!
//! Every write carries an idempotency key derived from the booking (and, for refunds, the
//! reason), so a retried job or request can never charge, cancel or refund twice.

mod intents;
mod webhook;

pub use intents::{CancelOutcome, Intent, IntentStatus, Payments, PaymentsError, RefundOutcome};
pub use webhook::{SIGNATURE_TOLERANCE_SECS, Verified, WebhookRejection, WebhookVerifier};
