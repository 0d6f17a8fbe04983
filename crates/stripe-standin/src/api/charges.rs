//! Charges: made when an intent succeeds, refunded by refunds, readable by id.

use stripe_shared::{BillingDetails, Charge, ChargeId, ChargeStatus, PaymentIntent};
use stripe_types::Expandable;

use crate::errors::{ApiError, to_json};
use crate::state::State;

pub(super) fn retrieve(state: &State, id: &str) -> Result<serde_json::Value, ApiError> {
    to_json(
        state
            .charges
            .get(id)
            .ok_or_else(|| ApiError::no_such("charge", id, "charge"))?,
    )
}

/// The charge of a successful, automatically captured payment of `intent`.
pub(super) fn succeeded(
    intent: &PaymentIntent,
    id: &str,
    payment_method: &str,
    now: i64,
) -> Charge {
    Charge {
        amount: intent.amount,
        amount_captured: intent.amount,
        amount_refunded: 0,
        application: None,
        application_fee: None,
        application_fee_amount: None,
        authorization_code: None,
        balance_transaction: None,
        billing_details: BillingDetails {
            address: None,
            email: None,
            name: None,
            phone: None,
            tax_id: None,
        },
        calculated_statement_descriptor: intent.statement_descriptor.clone(),
        captured: true,
        created: now,
        currency: intent.currency.clone(),
        customer: intent.customer.clone(),
        description: intent.description.clone(),
        disputed: false,
        failure_balance_transaction: None,
        failure_code: None,
        failure_message: None,
        fraud_details: None,
        id: ChargeId::from(id),
        level3: None,
        livemode: false,
        metadata: intent.metadata.clone(),
        on_behalf_of: None,
        outcome: None,
        paid: true,
        payment_intent: Some(Expandable::Id(intent.id.clone())),
        payment_method: Some(payment_method.to_owned()),
        payment_method_details: None,
        presentment_details: None,
        radar_options: None,
        receipt_email: intent.receipt_email.clone(),
        receipt_number: None,
        receipt_url: None,
        refunded: false,
        refunds: None,
        review: None,
        shipping: None,
        source: None,
        source_transfer: None,
        statement_descriptor: intent.statement_descriptor.clone(),
        statement_descriptor_suffix: intent.statement_descriptor_suffix.clone(),
        status: ChargeStatus::Succeeded,
        transfer: None,
        transfer_data: None,
        transfer_group: intent.transfer_group.clone(),
    }
}
