//! Refunds of a PaymentIntent's charge, never more than was charged.

use stripe_shared::{ApiErrorsCode, PaymentIntentStatus, Refund, RefundId, RefundReason};
use stripe_types::Expandable;

use crate::errors::{ApiError, to_json};
use crate::ids;
use crate::params::Params;
use crate::state::{Ctx, State};

pub(super) fn retrieve(state: &State, id: &str) -> Result<serde_json::Value, ApiError> {
    to_json(
        state
            .refunds
            .get(id)
            .ok_or_else(|| ApiError::no_such("refund", id, "refund"))?,
    )
}

/// The charge a refund request names, directly or through its PaymentIntent.
fn charge_of(state: &State, params: &Params) -> Result<String, ApiError> {
    if let Some(intent_id) = params.get("payment_intent") {
        let intent = state.intents.get(intent_id).ok_or_else(|| {
            ApiError::no_such_param("payment_intent", intent_id, "payment_intent")
        })?;
        return match (&intent.status, &intent.latest_charge) {
            (PaymentIntentStatus::Succeeded, Some(charge)) => Ok(charge.id().to_string()),
            _ => Err(ApiError::state(
                ApiErrorsCode::PaymentIntentUnexpectedState,
                format!(
                    "This PaymentIntent ({intent_id}) does not have a successful charge to refund."
                ),
            )
            .param("payment_intent")),
        };
    }
    let charge_id = params
        .get("charge")
        .ok_or_else(|| ApiError::missing_param("charge"))?;
    if state.charges.contains_key(charge_id) {
        Ok(charge_id.to_owned())
    } else {
        Err(ApiError::no_such_param("charge", charge_id, "charge"))
    }
}

pub(super) fn create(
    state: &mut State,
    ctx: &Ctx,
    params: &Params,
) -> Result<serde_json::Value, ApiError> {
    let reason = match params.get("reason") {
        None => None,
        Some("duplicate") => Some(RefundReason::Duplicate),
        Some("fraudulent") => Some(RefundReason::Fraudulent),
        Some("requested_by_customer") => Some(RefundReason::RequestedByCustomer),
        Some(other) => {
            return Err(ApiError::bad_param(
                "reason",
                format!(
                    "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer (got {other})"
                ),
            ));
        }
    };
    let requested = params.amount("amount")?;
    let charge_id = charge_of(state, params)?;
    let Some(charge) = state.charges.get_mut(&charge_id) else {
        return Err(ApiError::no_such_param("charge", &charge_id, "charge"));
    };
    let left = charge.amount - charge.amount_refunded;
    if left == 0 {
        return Err(ApiError::state(
            ApiErrorsCode::ChargeAlreadyRefunded,
            format!("Charge {charge_id} has already been refunded."),
        ));
    }
    let amount = requested.unwrap_or(left);
    if amount > left {
        return Err(ApiError::state(
            ApiErrorsCode::AmountTooLarge,
            format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
            ),
        )
        .param("amount"));
    }
    let id = ids::new_id("re");
    let refund = Refund {
        amount,
        balance_transaction: None,
        charge: Some(Expandable::Id(charge.id.clone())),
        created: ctx.now,
        currency: charge.currency.clone(),
        customer: None,
        customer_account: None,
        description: None,
        destination_details: None,
        failure_balance_transaction: None,
        failure_reason: None,
        id: RefundId::from(id.as_str()),
        instructions_email: None,
        metadata: Some(params.map("metadata")),
        next_action: None,
        payment_intent: charge.payment_intent.clone(),
        payment_method: None,
        pending_reason: None,
        presentment_details: None,
        reason,
        receipt_number: None,
        source_transfer_reversal: None,
        status: Some("succeeded".to_owned()),
        transfer_reversal: None,
    };
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded == charge.amount;
    let charge = charge.clone();
    state.emit(ctx, "charge.refunded", &charge_id, &charge)?;
    let body = to_json(&refund)?;
    state.refunds.insert(id, refund);
    Ok(body)
}
