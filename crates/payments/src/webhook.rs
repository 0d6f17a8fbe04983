//! Verifying Stripe's webhooks (the v1 signature scheme) and reducing them to the domain's
//! payment events.
//!
//! Several secrets may be configured at once, so that a secret can be rotated without losing
//! events: a delivery is genuine if any of them signed it. Stripe signs `"{t}.{body}"` with
//! HMAC-SHA256 and refuses nothing older than five minutes; neither do we, so a captured
//! delivery cannot be replayed later (and one replayed within the window is a duplicate by its
//! event id, which the caller stores once).

use jiff::Timestamp;
use noillin_domain::payment::{ChargeFacts, IntentFacts, PaymentEvent, PaymentEventKind};
use stripe_shared::{Charge, PaymentIntent};
use stripe_webhook::{EventObject, Webhook, WebhookError};

use crate::intents::{BOOKING_ID_KEY, money};

/// How far a signature's time may be from ours, in seconds (Stripe's default tolerance).
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Why a delivery was refused. Nothing was recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRejection {
    /// No `Stripe-Signature` header, or one that cannot be read.
    #[error("missing or malformed signature header")]
    MissingSignature,
    /// None of the configured secrets signed this body.
    #[error("no configured secret signed this body")]
    BadSignature,
    /// Signed too long ago (or in the future): a replay, or a clock far off.
    #[error("signed at {signed_at}, outside the tolerance")]
    Stale { signed_at: i64 },
    /// Genuine, but an event the platform acts on could not be read.
    #[error("unreadable event: {0}")]
    Malformed(String),
}

/// What a genuine delivery holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// An event the platform acts on.
    Event(PaymentEvent),
    /// Any other event type: acknowledged and ignored.
    Ignored { id: String, event_type: String },
}

/// The webhook endpoint's secrets.
#[derive(Clone)]
pub struct WebhookVerifier {
    secrets: Vec<String>,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

/// The event types the platform acts on.
const HANDLED: [&str; 4] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
];

impl WebhookVerifier {
    /// A verifier accepting deliveries signed by any of `secrets` (blank ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Self {
            secrets: secrets
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    /// Checks `body` against its `signature` header at `now` (unix seconds) and reads it.
    pub fn verify(
        &self,
        body: &str,
        signature: Option<&str>,
        now: i64,
    ) -> Result<Verified, WebhookRejection> {
        let signature = signature.ok_or(WebhookRejection::MissingSignature)?;
        let mut last = WebhookRejection::BadSignature;
        for secret in &self.secrets {
            match Webhook::construct_event_with_timestamp(body, signature, secret, now) {
                Ok(event) => return read(event),
                Err(WebhookError::BadSignature | WebhookError::BadKey) => continue,
                Err(WebhookError::BadHeader(_)) => return Err(WebhookRejection::MissingSignature),
                Err(WebhookError::BadTimestamp(signed_at)) => {
                    last = WebhookRejection::Stale { signed_at };
                    // Signed by this secret, but stale: no other secret changes that.
                    break;
                }
                Err(WebhookError::BadParse(reason)) => return ignored_or_malformed(body, reason),
            }
        }
        Err(last)
    }
}

/// A genuine body the SDK could not read: ignored when it is of a type we do not act on (a new
/// field in an object we never use must not make Stripe retry for days), refused otherwise.
fn ignored_or_malformed(body: &str, reason: String) -> Result<Verified, WebhookRejection> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        id: String,
        #[serde(rename = "type")]
        event_type: String,
    }
    match serde_json::from_str::<Envelope>(body) {
        Ok(envelope) if !HANDLED.contains(&envelope.event_type.as_str()) => Ok(Verified::Ignored {
            id: envelope.id,
            event_type: envelope.event_type,
        }),
        _ => Err(WebhookRejection::Malformed(reason)),
    }
}

fn read(event: stripe_webhook::Event) -> Result<Verified, WebhookRejection> {
    let id = event.id.to_string();
    let created = Timestamp::from_second(event.created)
        .map_err(|e| WebhookRejection::Malformed(format!("created: {e}")))?;
    let kind = match event.data.object {
        EventObject::PaymentIntentSucceeded(intent) => PaymentEventKind::IntentSucceeded {
            intent: intent_facts(&intent),
        },
        EventObject::PaymentIntentPaymentFailed(intent) => PaymentEventKind::IntentFailed {
            reason: intent
                .last_payment_error
                .as_ref()
                .and_then(|e| e.message.clone().or_else(|| e.decline_code.clone()))
                .unwrap_or_else(|| "the payment was declined".to_owned()),
            intent: intent_facts(&intent),
        },
        EventObject::PaymentIntentCanceled(intent) => PaymentEventKind::IntentCanceled {
            intent: intent_facts(&intent),
        },
        EventObject::ChargeRefunded(charge) => PaymentEventKind::ChargeRefunded {
            charge: charge_facts(&charge),
        },
        _ => {
            return Ok(Verified::Ignored {
                id,
                event_type: event.type_.as_str().to_owned(),
            });
        }
    };
    Ok(Verified::Event(PaymentEvent { id, created, kind }))
}

fn intent_facts(intent: &PaymentIntent) -> IntentFacts {
    IntentFacts {
        intent_id: intent.id.to_string(),
        booking_id: intent.metadata.get(BOOKING_ID_KEY).cloned(),
        amount: money(intent.amount, &intent.currency),
    }
}

fn charge_facts(charge: &Charge) -> ChargeFacts {
    ChargeFacts {
        charge_id: charge.id.to_string(),
        intent_id: charge.payment_intent.as_ref().map(|p| p.id().to_string()),
        amount: money(charge.amount, &charge.currency),
        amount_refunded_minor: charge.amount_refunded,
    }
}
