//! PaymentIntents: create, retrieve, confirm (with Stripe's test cards), cancel.

use stripe_shared::{
    ApiErrorsCode, ApiErrorsType, CustomerId, PaymentFlowsAutomaticPaymentMethodsPaymentIntent,
    PaymentFlowsAutomaticPaymentMethodsPaymentIntentAllowRedirects as AllowRedirects,
    PaymentIntent, PaymentIntentCancellationReason, PaymentIntentCaptureMethod,
    PaymentIntentConfirmationMethod, PaymentIntentId, PaymentIntentStatus, PaymentMethodId,
};
use stripe_types::Expandable;

use super::{charges, currency};
use crate::errors::{ApiError, api_errors, to_json};
use crate::ids;
use crate::params::{Params, parse_bool};
use crate::state::{Ctx, State};

/// Stripe's test payment methods the stand-in knows: whether a charge with it succeeds.
fn card_succeeds(payment_method: &str) -> Option<bool> {
    match payment_method {
        "pm_card_visa" | "pm_card_mastercard" | "pm_card_amex" => Some(true),
        "pm_card_chargeDeclined" | "pm_card_visa_chargeDeclined" => Some(false),
        _ => None,
    }
}

fn intent<'a>(state: &'a State, id: &str) -> Result<&'a PaymentIntent, ApiError> {
    state
        .intents
        .get(id)
        .ok_or_else(|| ApiError::no_such("payment_intent", id, "intent"))
}

/// The intent as JSON, its charge expanded when the request asks `expand[]=latest_charge`.
pub(crate) fn render_intent(
    state: &State,
    id: &str,
    params: &Params,
) -> Result<serde_json::Value, ApiError> {
    let mut intent = intent(state, id)?.clone();
    if params
        .list("expand")
        .iter()
        .any(|field| field == "latest_charge")
        && let Some(charge) = intent
            .latest_charge
            .as_ref()
            .and_then(|charge| state.charges.get(charge.id().as_str()))
    {
        intent.latest_charge = Some(Expandable::Object(Box::new(charge.clone())));
    }
    to_json(&intent)
}

fn automatic_payment_methods(
    params: &Params,
) -> Result<Option<PaymentFlowsAutomaticPaymentMethodsPaymentIntent>, ApiError> {
    let key = "automatic_payment_methods";
    let Some(enabled) = parse_bool(key, params.get_in(key, "enabled"))? else {
        return Ok(None);
    };
    let allow_redirects = match params.get_in(key, "allow_redirects") {
        None => None,
        Some("always") => Some(AllowRedirects::Always),
        Some("never") => Some(AllowRedirects::Never),
        Some(other) => {
            return Err(ApiError::bad_param(
                key,
                format!("Invalid allow_redirects: {other}"),
            ));
        }
    };
    Ok(Some(PaymentFlowsAutomaticPaymentMethodsPaymentIntent {
        allow_redirects,
        enabled,
    }))
}

pub(super) fn create(
    state: &mut State,
    ctx: &Ctx,
    params: &Params,
) -> Result<serde_json::Value, ApiError> {
    let amount = params
        .amount("amount")?
        .ok_or_else(|| ApiError::missing_param("amount"))?;
    let currency = currency(params)?;
    let capture_method = match params.get("capture_method") {
        None | Some("automatic_async") => PaymentIntentCaptureMethod::AutomaticAsync,
        Some("automatic") => PaymentIntentCaptureMethod::Automatic,
        Some(other) => {
            return Err(ApiError::bad_param(
                "capture_method",
                format!(
                    "The stand-in captures automatically; capture_method={other} is not supported."
                ),
            ));
        }
    };
    let automatic_payment_methods = automatic_payment_methods(params)?;
    let mut payment_method_types = params.list("payment_method_types");
    if automatic_payment_methods.is_some() && !payment_method_types.is_empty() {
        return Err(ApiError::bad_param(
            "payment_method_types",
            "You may only specify one of these parameters: automatic_payment_methods, payment_method_types.".to_owned(),
        ));
    }
    if payment_method_types.is_empty() {
        payment_method_types.push("card".to_owned());
    }
    let confirm_now = params.bool("confirm")?.unwrap_or(false);
    let payment_method = params.get("payment_method").filter(|pm| !pm.is_empty());
    let status = if payment_method.is_some() {
        PaymentIntentStatus::RequiresConfirmation
    } else {
        PaymentIntentStatus::RequiresPaymentMethod
    };
    let id = ids::new_id("pi");
    let intent = PaymentIntent {
        allowed_payment_method_types: None,
        amount,
        amount_capturable: 0,
        amount_details: None,
        amount_received: 0,
        application: None,
        application_fee_amount: None,
        automatic_payment_methods,
        canceled_at: None,
        cancellation_reason: None,
        capture_method,
        client_secret: Some(ids::client_secret(&id)),
        confirmation_method: PaymentIntentConfirmationMethod::Automatic,
        created: ctx.now,
        currency,
        customer: params
            .get("customer")
            .map(|customer| Expandable::Id(CustomerId::from(customer))),
        customer_account: None,
        description: params.string("description"),
        excluded_payment_method_types: None,
        hooks: None,
        id: PaymentIntentId::from(id.as_str()),
        last_payment_error: None,
        latest_charge: None,
        livemode: false,
        managed_payments: None,
        metadata: params.map("metadata"),
        next_action: None,
        on_behalf_of: None,
        payment_details: None,
        payment_method: payment_method.map(|pm| Expandable::Id(PaymentMethodId::from(pm))),
        payment_method_configuration_details: None,
        payment_method_options: None,
        payment_method_types,
        payment_record: None,
        presentment_details: None,
        processing: None,
        receipt_email: params.string("receipt_email"),
        review: None,
        setup_future_usage: None,
        shipping: None,
        source: None,
        statement_descriptor: params.string("statement_descriptor"),
        statement_descriptor_suffix: params.string("statement_descriptor_suffix"),
        status,
        transfer_data: None,
        transfer_group: params.string("transfer_group"),
    };
    state.emit(ctx, "payment_intent.created", &id, &intent)?;
    state.intents.insert(id.clone(), intent);
    if confirm_now && let Confirmation::Declined(declined) = confirm(state, ctx, &id, None)? {
        return Err(*declined);
    }
    render_intent(state, &id, params)
}

pub(super) fn retrieve(
    state: &State,
    id: &str,
    params: &Params,
) -> Result<serde_json::Value, ApiError> {
    render_intent(state, id, params)
}

pub(super) fn confirm_request(
    state: &mut State,
    ctx: &Ctx,
    id: &str,
    params: &Params,
) -> Result<serde_json::Value, ApiError> {
    let payment_method = params.get("payment_method").filter(|pm| !pm.is_empty());
    match confirm(state, ctx, id, payment_method)? {
        Confirmation::Succeeded => render_intent(state, id, params),
        Confirmation::Declined(declined) => Err(*declined),
    }
}

pub(crate) enum Confirmation {
    Succeeded,
    /// The intent is back to `requires_payment_method`; the error is what the API answers.
    Declined(Box<ApiError>),
}

/// Confirms as Stripe does with automatic capture: a good card charges at once.
pub(crate) fn confirm(
    state: &mut State,
    ctx: &Ctx,
    id: &str,
    payment_method: Option<&str>,
) -> Result<Confirmation, ApiError> {
    let current = intent(state, id)?;
    match current.status {
        PaymentIntentStatus::RequiresPaymentMethod
        | PaymentIntentStatus::RequiresConfirmation
        | PaymentIntentStatus::RequiresAction => {}
        PaymentIntentStatus::Succeeded => {
            return Err(ApiError::state(
                ApiErrorsCode::PaymentIntentUnexpectedState,
                "You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed."
                    .to_owned(),
            ));
        }
        ref other => {
            return Err(ApiError::state(
                ApiErrorsCode::PaymentIntentUnexpectedState,
                format!(
                    "You cannot confirm this PaymentIntent because it has a status of {}. Only a PaymentIntent with one \
                     of the following statuses may be confirmed: requires_confirmation, requires_payment_method, \
                     requires_action.",
                    other.as_str()
                ),
            ));
        }
    }
    let payment_method = payment_method
        .map(str::to_owned)
        .or_else(|| current.payment_method.as_ref().map(|pm| pm.id().to_string()))
        .ok_or_else(|| {
            ApiError::state(
                ApiErrorsCode::PaymentIntentUnexpectedState,
                "You cannot confirm this PaymentIntent because it's missing a payment method. Update the PaymentIntent \
                 with a payment method and then confirm it again."
                    .to_owned(),
            )
        })?;
    match card_succeeds(&payment_method) {
        None => Err(ApiError::no_such_param(
            "PaymentMethod",
            &payment_method,
            "payment_method",
        )),
        Some(true) => {
            succeed(state, ctx, id, &payment_method)?;
            Ok(Confirmation::Succeeded)
        }
        Some(false) => {
            decline(state, ctx, id).map(|declined| Confirmation::Declined(Box::new(declined)))
        }
    }
}

fn succeed(state: &mut State, ctx: &Ctx, id: &str, payment_method: &str) -> Result<(), ApiError> {
    let charge_id = ids::new_id("ch");
    let Some(intent) = state.intents.get_mut(id) else {
        return Err(ApiError::no_such("payment_intent", id, "intent"));
    };
    let charge = charges::succeeded(intent, &charge_id, payment_method, ctx.now);
    intent.status = PaymentIntentStatus::Succeeded;
    intent.amount_received = intent.amount;
    intent.amount_capturable = 0;
    intent.last_payment_error = None;
    intent.latest_charge = Some(Expandable::Id(charge.id.clone()));
    intent.payment_method = Some(Expandable::Id(PaymentMethodId::from(payment_method)));
    let intent = intent.clone();
    // Stripe sends the charge's event before the intent's.
    state.emit(ctx, "charge.succeeded", &charge_id, &charge)?;
    state.charges.insert(charge_id, charge);
    state.emit(ctx, "payment_intent.succeeded", id, &intent)
}

fn decline(state: &mut State, ctx: &Ctx, id: &str) -> Result<ApiError, ApiError> {
    let Some(intent) = state.intents.get_mut(id) else {
        return Err(ApiError::no_such("payment_intent", id, "intent"));
    };
    let mut error = api_errors(
        ApiErrorsType::CardError,
        Some(ApiErrorsCode::CardDeclined),
        "Your card was declined.".to_owned(),
    );
    error.decline_code = Some("generic_decline".to_owned());
    intent.status = PaymentIntentStatus::RequiresPaymentMethod;
    intent.last_payment_error = Some(Box::new(error));
    // Stripe detaches a failed payment method so that the next confirmation brings another.
    intent.payment_method = None;
    let intent = intent.clone();
    state.emit(ctx, "payment_intent.payment_failed", id, &intent)?;
    Ok(ApiError::card_declined(intent))
}

pub(super) fn cancel(
    state: &mut State,
    ctx: &Ctx,
    id: &str,
    params: &Params,
) -> Result<serde_json::Value, ApiError> {
    let reason = match params.get("cancellation_reason") {
        None => None,
        Some("duplicate") => Some(PaymentIntentCancellationReason::Duplicate),
        Some("fraudulent") => Some(PaymentIntentCancellationReason::Fraudulent),
        Some("requested_by_customer") => Some(PaymentIntentCancellationReason::RequestedByCustomer),
        Some("abandoned") => Some(PaymentIntentCancellationReason::Abandoned),
        Some(other) => {
            return Err(ApiError::bad_param(
                "cancellation_reason",
                format!(
                    "Invalid cancellation_reason: must be one of duplicate, fraudulent, requested_by_customer or \
                     abandoned (got {other})"
                ),
            ));
        }
    };
    let current = intent(state, id)?;
    match current.status {
        PaymentIntentStatus::RequiresPaymentMethod
        | PaymentIntentStatus::RequiresCapture
        | PaymentIntentStatus::RequiresConfirmation
        | PaymentIntentStatus::RequiresAction
        | PaymentIntentStatus::Processing => {}
        ref other => {
            return Err(ApiError::state(
                ApiErrorsCode::PaymentIntentUnexpectedState,
                format!(
                    "You cannot cancel this PaymentIntent because it has a status of {}. Only a PaymentIntent with one \
                     of the following statuses may be canceled: requires_payment_method, requires_capture, \
                     requires_confirmation, requires_action, processing.",
                    other.as_str()
                ),
            ));
        }
    }
    let Some(intent) = state.intents.get_mut(id) else {
        return Err(ApiError::no_such("payment_intent", id, "intent"));
    };
    intent.status = PaymentIntentStatus::Canceled;
    intent.canceled_at = Some(ctx.now);
    intent.cancellation_reason = reason;
    let intent = intent.clone();
    state.emit(ctx, "payment_intent.canceled", id, &intent)?;
    render_intent(state, id, params)
}
