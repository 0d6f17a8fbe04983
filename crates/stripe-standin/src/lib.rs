//! A local stand-in for Stripe, for tests and the one-command run; never deployed.
//!
//! It answers the part of Stripe's API the platform uses, in Stripe's wire format, with the
//! async-stripe SDK's own types (`stripe_shared::PaymentIntent`, `Charge`, `Refund`,
//! `Transfer`, `Account`, `ApiErrors`, `stripe_connect::AccountLink`) serialized, so that the SDK always parses what it gets. It sends
//! Stripe's webhooks, signed as Stripe signs them, and offers test controls to pay as a
//! customer would and to misbehave as a network does. Tests start it in-process with
//! [`StandIn::start`]; the `stripe-standin` binary serves it on its own.
//!
//! # The API (`/v1`, form-encoded bodies as the SDK sends them)
//!
//! - `POST /v1/payment_intents` (`amount`, `currency`, `metadata[…]`, `description`,
//!   `payment_method_types[]` or `automatic_payment_methods[enabled]`, `transfer_group`,
//!   `receipt_email`, `statement_descriptor(_suffix)`, `customer`, `payment_method`,
//!   `confirm`, `capture_method`; other keys are ignored) → `requires_payment_method` (or
//!   `requires_confirmation` with a payment method); `GET /v1/payment_intents/{id}`
//!   (`expand[]=latest_charge` is honoured).
//! - `POST /v1/payment_intents/{id}/confirm` (`payment_method`): `pm_card_visa` (also
//!   `pm_card_mastercard`, `pm_card_amex`) succeeds at once with a Charge (`latest_charge`,
//!   `amount_received` = `amount`); `pm_card_chargeDeclined` (also
//!   `pm_card_visa_chargeDeclined`) is declined: the intent goes back to
//!   `requires_payment_method` with `last_payment_error`, and the API answers 402
//!   `card_error`/`card_declined` with the intent in the error, as Stripe does. Confirming a
//!   `succeeded` or `canceled` intent is a 400 `payment_intent_unexpected_state`.
//! - `POST /v1/payment_intents/{id}/cancel` (`cancellation_reason`): from any status but
//!   `succeeded` and `canceled` (400 `payment_intent_unexpected_state`).
//! - `POST /v1/refunds` (`payment_intent` or `charge`, `amount` (default: what is left),
//!   `reason`, `metadata[…]`): refunds the charge, updating its `amount_refunded` and
//!   `refunded`; 400 `charge_already_refunded` when nothing is left, 400 `amount_too_large`
//!   past what is left. `GET /v1/refunds/{id}`, `GET /v1/charges/{id}`.
//! - `POST /v1/accounts` (`type` (default `standard`), `country` (default `US`), `email`,
//!   `capabilities[transfers][requested]`, `business_type`, `metadata[…]`; other keys are
//!   ignored) → a connected account `acct_…` with `charges_enabled`, `payouts_enabled` and
//!   `details_submitted` false and the `transfers` capability `inactive` when requested (absent
//!   otherwise); `GET /v1/accounts/{id}`. No event is sent for a new account.
//! - `POST /v1/account_links` (`account`, `type` = `account_onboarding`, `return_url`;
//!   `refresh_url` is checked to be a URL and not used) → an AccountLink (expiring in 300 s, not enforced) whose `url` is the
//!   stand-in's own `GET /_sim/onboarding/{account}?return_url=…`. Opening it completes the
//!   account's onboarding: `details_submitted`, `charges_enabled` and `payouts_enabled` become
//!   true and the requested `transfers` capability `active`, `account.updated` is sent, and
//!   the page answers 303 to `return_url`. An account onboarded already stays as it is and no
//!   event is sent.
//! - `POST /v1/transfers` (`amount`, `currency`, `destination`, `transfer_group`,
//!   `metadata[…]`, `description`, `source_transaction`), `GET /v1/transfers/{id}`. The
//!   destination must be an account made through the stand-in (else 400 `resource_missing`,
//!   param `destination`) whose `transfers` capability is active (else 400
//!   `invalid_request_error`, param `destination`, no code, "Your destination account needs to
//!   have at least one of the following capabilities enabled: transfers, crypto_transfers,
//!   legacy_payments", kept under the idempotency key as Stripe keeps it).
//! - `Authorization: Bearer <key>` must be [`Settings::api_key`], else 401. Unknown ids are
//!   404 `resource_missing` (400 when the id is in a parameter). Every error is in Stripe's
//!   shape `{"error": {"type", "code", "message", "param", …}}`.
//! - `Idempotency-Key` on a POST: the same key with the same path and parameters answers the
//!   first response again (same status and body, header `Idempotent-Replayed: true`, no second
//!   effect and no second event); with another path or other parameters, 400
//!   `idempotency_error`. Keys are per API key, kept in memory without expiry. As Stripe, a
//!   request refused by validation (a missing or malformed parameter) stores nothing.
//! - Ids look like Stripe's (`pi_…`, `ch_…`, `re_…`, `tr_…`, `acct_…`, `evt_…`, client secrets
//!   `pi_…_secret_…`), `livemode` is false, `created` is unix seconds. Responses carry
//!   `Request-Id` and `Stripe-Version`.
//!
//! # Webhooks
//!
//! Events `payment_intent.created`, `payment_intent.succeeded`,
//! `payment_intent.payment_failed`, `payment_intent.canceled`, `charge.succeeded`,
//! `charge.refunded`, `transfer.created` and `account.updated`, as Stripe writes them (`id`, `object`,
//! `api_version` = the SDK's pinned version, `created`, `data.object`, `livemode`,
//! `pending_webhooks`, `request: {id, idempotency_key}`, `type`). Each is POSTed to the
//! endpoint with `Stripe-Signature` (v1 scheme, [`Settings::webhook_secret`]) in a background
//! task; a non-2xx answer or a connection error is retried after
//! [`Settings::retry_first_delay`], doubling, up to [`Settings::retry_max_attempts`] attempts,
//! each attempt signed anew with the current time. The events of one object (the event's
//! `data.object`) are delivered one after the other in the order they happened, a retry
//! holding back the object's later events; different objects are delivered independently.
//! An attempt that gets no answer within 10 s counts as a connection error. Events created
//! while no endpoint is set are never delivered (as with Stripe), nor are held events flushed
//! while none is set; a resend still sends them once an endpoint is set.
//!
//! # Test controls (`/_sim`, JSON bodies, no authentication; client: [`Controls`])
//!
//! - `POST /_sim/payment_intents/{id}/pay` `{"payment_method": "pm_card_visa" |
//!   "pm_card_chargeDeclined"}` (optional, default succeeds): confirms the intent as a
//!   customer's browser would and answers the intent (200 also when declined).
//! - `PUT /_sim/webhooks` `{"url", "delay_ms", "duplicates", "paused"}` (each optional): the
//!   endpoint (`""` removes it), a delay before the first attempt of each delivery, how many
//!   extra copies of each event to send (same id and payload, after the original), and
//!   pausing: events are held while paused; unpausing sends the held ones in order.
//! - `POST /_sim/webhooks/flush` `{"order": "fifo" | "reverse"}`: sends every held event in
//!   that order and unpauses.
//! - `POST /_sim/events/{id}/resend` `{"signed_at": <unix seconds>}` (optional): sends the
//!   stored event once more (one attempt, no retry, outside the object's queue), signed at
//!   `signed_at` or now; answers `{"status": <the receiver's status or null>}` once the
//!   receiver has answered.
//! - `GET /_sim/events`: every event so far in creation order, each `{"id", "type",
//!   "object_id", "deliveries": [{"at", "status"}], "delivered"}` (`status` null for a
//!   connection error).
//! - `POST /_sim/payment_intents/{id}/succeed_silently`: succeeds the intent with its charge
//!   and sends no event (a lost webhook).
//! - `GET /_sim/onboarding/{account}?return_url=…`: the page an account link leads to (see
//!   `POST /v1/account_links`); [`Controls::open_account_link`] opens it as a browser would.
//! - `POST /_sim/accounts/{id}/onboard`: completes the account's onboarding as its link does,
//!   without the redirect; answers the account ([`Controls::onboard`]).
//! - `POST /_sim/transfers/failures` `{"destination": "acct_…", "count": n}`: the next `n`
//!   transfer attempts to that account (a known one, else 404) answer 500 `api_error` and make
//!   nothing, as an outage in front of the API would: nothing is kept under their idempotency
//!   key, so a retry with the same key is a new attempt. A count given again replaces what is
//!   left. A replay of a transfer made before is answered from the idempotency keys and is no
//!   attempt ([`Controls::fail_transfers`]).
//! - `GET /_sim/transfers`: every transfer so far in creation order, each `{"id", "amount",
//!   "currency", "destination", "transfer_group", "metadata"}` ([`Controls::transfers`]).
//!
//! # What it leaves out
//!
//! Everything else in Stripe: customers, payment methods as objects (a test token such as
//! `pm_card_visa` stays the intent's `payment_method` id), manual capture, 3-D Secure and
//! `next_action`, failed charges (a decline creates none, nor `charge.failed`), balance
//! transactions, account requirements and verification (onboarding completes in one step),
//! the `controller` parameter, capabilities other than `transfers`, login links, payouts from
//! connected accounts, list and search endpoints, updates, `refund.*` events, basic authentication, the `Stripe-Account` header,
//! API-version-specific rendering and request-rate limits. Nothing is persisted.

mod api;
mod controls;
mod delivery;
mod errors;
mod events;
mod idempotency;
mod ids;
mod params;
mod sim;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::any;

pub use controls::{Controls, Delivery, EventRecord, FlushOrder, TransferRecord, WebhookSettings};

use crate::state::Shared;

/// How a stand-in is set up.
#[derive(Clone)]
pub struct Settings {
    /// The secret key clients must send as `Authorization: Bearer …`.
    pub api_key: String,
    /// The `whsec_…` secret webhooks are signed with.
    pub webhook_secret: String,
    /// Where webhooks go; can be set later through `PUT /_sim/webhooks`.
    pub webhook_url: Option<String>,
    pub retry_first_delay: Duration,
    pub retry_max_attempts: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_key: "sk_test_standin".to_owned(),
            webhook_secret: "whsec_standin".to_owned(),
            webhook_url: None,
            retry_first_delay: Duration::from_secs(1),
            retry_max_attempts: 8,
        }
    }
}

impl std::fmt::Debug for Settings {
    // The secrets stay out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("api_key", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .field("webhook_url", &self.webhook_url)
            .field("retry_first_delay", &self.retry_first_delay)
            .field("retry_max_attempts", &self.retry_max_attempts)
            .finish()
    }
}

/// A running stand-in; dropping it stops serving and delivering.
pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl StandIn {
    /// Binds `addr` (use "127.0.0.1:0" for a free port) and serves in a spawned task on the
    /// current tokio runtime.
    pub async fn start(addr: &str, settings: Settings) -> anyhow::Result<StandIn> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(settings, format!("http://{addr}"))?);
        let app = Router::new()
            .route("/v1/{*path}", any(api::handle))
            .nest("/_sim", sim::router())
            .fallback(not_found)
            .with_state(Arc::clone(&shared));
        shared.spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(error = %err, "the stripe stand-in stopped serving");
            }
        });
        Ok(StandIn { addr, shared })
    }

    /// `http://127.0.0.1:PORT/`, what `STRIPE_API_BASE` and the SDK's `ClientBuilder::url` take.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The address bound, with the port chosen when `start` was given port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    pub fn controls(&self) -> Controls {
        Controls::new(&self.base_url())
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> errors::ApiError {
    errors::ApiError::unrecognized_url(method.as_str(), uri.path())
}
