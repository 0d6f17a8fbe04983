//! The payments port: the only crate that talks to Stripe. It makes, reads and cancels the
//! payment intent of a booking, refunds it, and verifies the webhooks Stripe sends, reducing
//! each to the domain's [`PaymentEvent`](noillin_domain::payment::PaymentEvent). It also makes
//! the members' payout accounts (Stripe Connect Express accounts), their onboarding links, and
//! the transfers that pay them.
//!
//! Every write carries an idempotency key derived from the booking (and, for refunds, the
//! reason; for transfers, the member; for payout accounts, the user), so a retried job or
//! request can never charge, cancel, refund or pay twice.

mod intents;
mod payouts;
mod webhook;

pub use intents::{CancelOutcome, Intent, IntentStatus, Payments, PaymentsError, RefundOutcome};
pub use payouts::{PayoutAccount, TransferReceipt, TransferRequest};
pub use webhook::{SIGNATURE_TOLERANCE_SECS, Verified, WebhookRejection, WebhookVerifier};
