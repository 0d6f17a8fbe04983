//! Payment intents and refunds through async-stripe.

use std::{collections::HashMap, str::FromStr, time::Duration};

use noillin_domain::{booking::BookingId, gig::Money};
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::{
    payment_intent::{
        CancelPaymentIntent, CancelPaymentIntentCancellationReason, CreatePaymentIntent,
        RetrievePaymentIntent,
    },
    refund::CreateRefund,
};
use stripe_shared::{ApiErrorsCode, PaymentIntent, PaymentIntentStatus};
use stripe_types::Currency;

/// The metadata key a payment intent names its booking under.
pub const BOOKING_ID_KEY: &str = "booking_id";

/// How long one call to Stripe may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to the payment provider failed.
#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    /// The provider could not be reached, answered with a server error, limited our rate or
    /// was still running another request under the same idempotency key (409): try again
    /// later (every write is idempotent).
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (a bug of ours, or an object in an unexpected state).
    #[error("payment provider refused: {0}")]
    Refused(String),
    /// The configuration is unusable (an empty key).
    #[error("payments misconfigured: {0}")]
    Config(String),
}

impl PaymentsError {
    pub(crate) fn from_stripe(e: StripeError) -> Self {
        match e {
            StripeError::Stripe(errors, status)
                if status < 500 && status != 429 && status != 409 =>
            {
                PaymentsError::Refused(format!(
                    "{} ({status}): {}",
                    errors.code.as_ref().map_or("no code", |c| c.as_str()),
                    errors.message.as_deref().unwrap_or("no message")
                ))
            }
            other => PaymentsError::Unavailable(other.to_string()),
        }
    }
}

/// Where a payment intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentStatus {
    /// Waiting for the brand to pay (or to retry after a refusal).
    AwaitingPayment,
    /// Paid, being settled: not yet succeeded, and no longer cancellable by us.
    Processing,
    Succeeded,
    Canceled,
}

/// A payment intent as the platform needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    /// What the brand's browser pays with.
    pub client_secret: String,
    pub status: IntentStatus,
    pub amount: Money,
    /// The booking named in its metadata.
    pub booking_id: Option<String>,
}

/// What asking to cancel an intent came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It is cancelled now (or was already).
    Canceled,
    /// It can no longer be cancelled: it succeeded (or is processing), so money came in.
    Paid(Intent),
}

/// What asking for a refund came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// The provider accepted the refund (this call's, or the same key's earlier one).
    Requested { refund_id: String },
    /// Nothing is left to refund: an earlier refund returned it all.
    AlreadyRefunded,
}

/// The platform's Stripe account.
#[derive(Clone)]
pub struct Payments {
    pub(crate) client: Client,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments").finish_non_exhaustive()
    }
}

impl Payments {
    /// A client of the account whose secret key is `secret_key`, at `api_base` (Stripe's own
    /// when `None`; the stand-in's in tests and local runs).
    pub fn new(secret_key: &str, api_base: Option<&str>) -> Result<Self, PaymentsError> {
        if secret_key.trim().is_empty() {
            return Err(PaymentsError::Config(
                "the Stripe secret key is empty".into(),
            ));
        }
        let mut builder = ClientBuilder::new(secret_key).timeout(REQUEST_TIMEOUT);
        if let Some(base) = api_base {
            builder = builder.url(base);
        }
        let client = builder
            .build()
            .map_err(|e| PaymentsError::Config(e.to_string()))?;
        Ok(Self { client })
    }

    /// Makes the payment intent of `booking` for `amount`. Made again for the same booking
    /// (a retried request), it is the same intent.
    pub async fn create_intent(
        &self,
        booking: &BookingId,
        amount: &Money,
        description: &str,
    ) -> Result<Intent, PaymentsError> {
        let metadata = HashMap::from([(BOOKING_ID_KEY.to_owned(), booking.to_string())]);
        let intent = CreatePaymentIntent::new(amount.amount_minor, currency(amount)?)
            .metadata(metadata)
            .description(description)
            .customize()
            .request_strategy(idempotent(&format!("booking-{booking}-intent"))?)
            .send(&self.client)
            .await
            .map_err(PaymentsError::from_stripe)?;
        read_intent(&intent)
    }

    /// The intent `id` as the provider has it now.
    pub async fn intent(&self, id: &str) -> Result<Intent, PaymentsError> {
        let intent = RetrievePaymentIntent::new(id)
            .send(&self.client)
            .await
            .map_err(PaymentsError::from_stripe)?;
        read_intent(&intent)
    }

    /// Cancels the intent `id` so that it can no longer be paid. An intent that was paid
    /// meanwhile cannot be: that is reported, with the intent, for the caller to settle.
    pub async fn cancel_intent(&self, id: &str) -> Result<CancelOutcome, PaymentsError> {
        let sent = CancelPaymentIntent::new(id)
            .cancellation_reason(CancelPaymentIntentCancellationReason::Abandoned)
            .customize()
            .request_strategy(idempotent(&format!("intent-{id}-cancel"))?)
            .send(&self.client)
            .await;
        match sent {
            Ok(_) => Ok(CancelOutcome::Canceled),
            Err(StripeError::Stripe(errors, _))
                if errors.code == Some(ApiErrorsCode::PaymentIntentUnexpectedState) =>
            {
                // Cancelled already, or paid: the intent says which.
                let intent = self.intent(id).await?;
                match intent.status {
                    IntentStatus::Canceled => Ok(CancelOutcome::Canceled),
                    IntentStatus::Succeeded | IntentStatus::Processing => {
                        Ok(CancelOutcome::Paid(intent))
                    }
                    IntentStatus::AwaitingPayment => Err(PaymentsError::Refused(format!(
                        "intent {id} refused to cancel while awaiting payment"
                    ))),
                }
            }
            Err(e) => Err(PaymentsError::from_stripe(e)),
        }
    }

    /// Refunds `amount_minor` of intent `intent_id`'s payment for `booking`. `reason` names the
    /// refund (one per booking and reason): asking again with the same reason is the same
    /// refund, never a second one.
    pub async fn refund(
        &self,
        booking: &BookingId,
        intent_id: &str,
        amount_minor: i64,
        reason: &str,
    ) -> Result<RefundOutcome, PaymentsError> {
        let metadata = HashMap::from([(BOOKING_ID_KEY.to_owned(), booking.to_string())]);
        let sent = CreateRefund::new()
            .payment_intent(intent_id)
            .amount(amount_minor)
            .metadata(metadata)
            .customize()
            .request_strategy(idempotent(&format!("booking-{booking}-refund-{reason}"))?)
            .send(&self.client)
            .await;
        match sent {
            Ok(refund) => Ok(RefundOutcome::Requested {
                refund_id: refund.id.to_string(),
            }),
            Err(StripeError::Stripe(errors, _))
                if errors.code == Some(ApiErrorsCode::ChargeAlreadyRefunded) =>
            {
                Ok(RefundOutcome::AlreadyRefunded)
            }
            Err(e) => Err(PaymentsError::from_stripe(e)),
        }
    }
}

pub(crate) fn idempotent(key: &str) -> Result<RequestStrategy, PaymentsError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| PaymentsError::Config(format!("idempotency key {key:?}: {e:?}")))
}

pub(crate) fn currency(amount: &Money) -> Result<Currency, PaymentsError> {
    match Currency::from_str(&amount.currency.to_ascii_lowercase()) {
        Ok(Currency::Unknown(code)) => Err(PaymentsError::Refused(format!(
            "currency {code} unknown to the provider"
        ))),
        Ok(currency) => Ok(currency),
        Err(never) => match never {},
    }
}

/// The platform's view of a provider intent.
pub(crate) fn read_intent(intent: &PaymentIntent) -> Result<Intent, PaymentsError> {
    let status = match &intent.status {
        PaymentIntentStatus::Succeeded => IntentStatus::Succeeded,
        PaymentIntentStatus::Canceled => IntentStatus::Canceled,
        PaymentIntentStatus::Processing | PaymentIntentStatus::RequiresCapture => {
            IntentStatus::Processing
        }
        PaymentIntentStatus::RequiresPaymentMethod
        | PaymentIntentStatus::RequiresConfirmation
        | PaymentIntentStatus::RequiresAction => IntentStatus::AwaitingPayment,
        other => {
            return Err(PaymentsError::Refused(format!(
                "intent {} has an unknown status {}",
                intent.id,
                other.as_str()
            )));
        }
    };
    Ok(Intent {
        id: intent.id.to_string(),
        client_secret: intent.client_secret.clone().unwrap_or_default(),
        status,
        amount: money(intent.amount, &intent.currency),
        booking_id: intent.metadata.get(BOOKING_ID_KEY).cloned(),
    })
}

/// Provider amounts as domain money (currency codes upper case, as the platform writes them).
pub(crate) fn money(amount_minor: i64, currency: &Currency) -> Money {
    Money {
        amount_minor,
        currency: currency.to_string().to_ascii_uppercase(),
    }
}
