//! Payments through the real SDK: intents, declines, cancellations, refunds and transfers, as
//! the payments port will make them.

mod common;

use common::{client, metadata, onboarded_account, settings, start, stripe_error};
use stripe::{ApiErrorsCode, ApiErrorsType};
use stripe_connect::transfer::{CreateTransfer, RetrieveTransfer};
use stripe_core::payment_intent::{
    CancelPaymentIntent, CancelPaymentIntentCancellationReason, ConfirmPaymentIntent,
    CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods, RetrievePaymentIntent,
};
use stripe_core::refund::{CreateRefund, CreateRefundReason};
use stripe_shared::{PaymentIntent, PaymentIntentCancellationReason, PaymentIntentStatus};
use stripe_types::{Currency, Expandable};

async fn create(client: &stripe::Client, amount: i64) -> PaymentIntent {
    CreatePaymentIntent::new(amount, Currency::EUR)
        .metadata(metadata("b1"))
        .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
        .send(client)
        .await
        .expect("the intent is created")
}

async fn retrieve(client: &stripe::Client, id: &str) -> PaymentIntent {
    RetrievePaymentIntent::new(id)
        .send(client)
        .await
        .expect("the intent is retrieved")
}

#[tokio::test]
async fn an_intent_is_created_retrieved_and_paid() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let created = CreatePaymentIntent::new(2500, Currency::EUR)
        .metadata(metadata("b1"))
        .description("Gig: unboxing video")
        .transfer_group("booking_b1")
        .send(&client)
        .await
        .expect("the intent is created");
    assert!(created.id.as_str().starts_with("pi_"), "{}", created.id);
    assert_eq!(created.status, PaymentIntentStatus::RequiresPaymentMethod);
    assert_eq!(created.amount, 2500);
    assert_eq!(created.currency, Currency::EUR);
    assert!(!created.livemode);
    let secret = created.client_secret.clone().expect("a client secret");
    assert!(
        secret.starts_with(&format!("{}_secret_", created.id)),
        "{secret}"
    );

    let retrieved = retrieve(&client, &created.id).await;
    assert_eq!(
        retrieved.metadata,
        metadata("b1"),
        "metadata keys and values survive the form encoding"
    );
    assert_eq!(
        retrieved.description.as_deref(),
        Some("Gig: unboxing video")
    );
    assert_eq!(retrieved.transfer_group.as_deref(), Some("booking_b1"));
    assert_eq!(retrieved.created, created.created);

    let paid = standin
        .controls()
        .pay(created.id.as_str())
        .await
        .expect("the intent is paid");
    assert_eq!(paid["status"], "succeeded");

    let expanded = RetrievePaymentIntent::new(created.id.clone())
        .expand(vec!["latest_charge".to_owned()])
        .send(&client)
        .await
        .expect("the intent is retrieved");
    assert_eq!(expanded.status, PaymentIntentStatus::Succeeded);
    assert_eq!(expanded.amount_received, 2500);
    let Some(Expandable::Object(charge)) = expanded.latest_charge else {
        panic!("the charge is expanded: {:?}", expanded.latest_charge);
    };
    assert!(charge.id.as_str().starts_with("ch_"));
    assert!(charge.paid && charge.captured && !charge.refunded);
    assert_eq!((charge.amount, charge.amount_refunded), (2500, 0));
    assert_eq!(
        charge.payment_intent.as_ref().map(|pi| pi.id().clone()),
        Some(created.id.clone())
    );
    let plain = retrieve(&client, &created.id).await;
    assert!(matches!(plain.latest_charge, Some(Expandable::Id(ref id)) if *id == charge.id));
}

#[tokio::test]
async fn confirming_with_a_good_card_succeeds() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let intent = create(&client, 1000).await;
    let confirmed = ConfirmPaymentIntent::new(intent.id.clone())
        .payment_method("pm_card_visa")
        .send(&client)
        .await
        .expect("the intent is confirmed");
    assert_eq!(confirmed.status, PaymentIntentStatus::Succeeded);
    assert_eq!(confirmed.amount_received, 1000);
    assert!(confirmed.latest_charge.is_some());

    let again = ConfirmPaymentIntent::new(intent.id.clone())
        .payment_method("pm_card_visa")
        .send(&client)
        .await;
    let (error, status) = stripe_error(again);
    assert_eq!(status, 400);
    assert_eq!(
        error.code,
        Some(ApiErrorsCode::PaymentIntentUnexpectedState)
    );
}

#[tokio::test]
async fn a_declined_card_leaves_the_intent_waiting_for_another() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let intent = create(&client, 1000).await;
    let declined = ConfirmPaymentIntent::new(intent.id.clone())
        .payment_method("pm_card_chargeDeclined")
        .send(&client)
        .await;
    let (error, status) = stripe_error(declined);
    assert_eq!(status, 402);
    assert_eq!(error.type_, ApiErrorsType::CardError);
    assert_eq!(error.code, Some(ApiErrorsCode::CardDeclined));
    assert_eq!(error.decline_code.as_deref(), Some("generic_decline"));
    let in_error = error.payment_intent.expect("the intent is in the error");
    assert_eq!(in_error.status, PaymentIntentStatus::RequiresPaymentMethod);

    let retrieved = retrieve(&client, &intent.id).await;
    assert_eq!(retrieved.status, PaymentIntentStatus::RequiresPaymentMethod);
    assert_eq!(retrieved.amount_received, 0);
    assert!(retrieved.latest_charge.is_none());
    let last_error = retrieved.last_payment_error.expect("the decline is kept");
    assert_eq!(last_error.code, Some(ApiErrorsCode::CardDeclined));

    let controls = standin.controls();
    let declined_again = controls
        .decline(intent.id.as_str())
        .await
        .expect("the browser is answered");
    assert_eq!(declined_again["status"], "requires_payment_method");
    assert_eq!(
        declined_again["last_payment_error"]["code"],
        "card_declined"
    );
    let paid = controls
        .pay(intent.id.as_str())
        .await
        .expect("another card pays");
    assert_eq!(paid["status"], "succeeded");
    assert!(paid["last_payment_error"].is_null());
}

#[tokio::test]
async fn an_intent_is_canceled_and_cannot_be_confirmed_after() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let intent = create(&client, 1000).await;
    let canceled = CancelPaymentIntent::new(intent.id.clone())
        .cancellation_reason(CancelPaymentIntentCancellationReason::RequestedByCustomer)
        .send(&client)
        .await
        .expect("the intent is canceled");
    assert_eq!(canceled.status, PaymentIntentStatus::Canceled);
    assert_eq!(
        canceled.cancellation_reason,
        Some(PaymentIntentCancellationReason::RequestedByCustomer)
    );
    assert!(canceled.canceled_at.is_some());

    let confirmed = ConfirmPaymentIntent::new(intent.id.clone())
        .payment_method("pm_card_visa")
        .send(&client)
        .await;
    let (error, status) = stripe_error(confirmed);
    assert_eq!(status, 400);
    assert_eq!(
        error.code,
        Some(ApiErrorsCode::PaymentIntentUnexpectedState)
    );
    assert!(
        standin.controls().pay(intent.id.as_str()).await.is_err(),
        "the browser cannot pay it either"
    );
    assert_eq!(
        retrieve(&client, &intent.id).await.status,
        PaymentIntentStatus::Canceled
    );
}

#[tokio::test]
async fn a_succeeded_intent_cannot_be_canceled() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let intent = create(&client, 1000).await;
    standin
        .controls()
        .pay(intent.id.as_str())
        .await
        .expect("the intent is paid");
    let canceled = CancelPaymentIntent::new(intent.id.clone())
        .send(&client)
        .await;
    let (error, status) = stripe_error(canceled);
    assert_eq!(status, 400);
    assert_eq!(error.type_, ApiErrorsType::InvalidRequestError);
    assert_eq!(
        error.code,
        Some(ApiErrorsCode::PaymentIntentUnexpectedState)
    );
    assert!(
        error
            .message
            .is_some_and(|message| message.contains("succeeded"))
    );
    assert_eq!(
        retrieve(&client, &intent.id).await.status,
        PaymentIntentStatus::Succeeded
    );
}

#[tokio::test]
async fn refunds_never_exceed_what_was_charged() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let intent = create(&client, 1000).await;
    let unpaid = CreateRefund::new()
        .payment_intent(intent.id.as_str())
        .send(&client)
        .await;
    assert_eq!(stripe_error(unpaid).1, 400, "nothing was charged yet");
    standin
        .controls()
        .pay(intent.id.as_str())
        .await
        .expect("the intent is paid");

    let partial = CreateRefund::new()
        .payment_intent(intent.id.as_str())
        .amount(300)
        .reason(CreateRefundReason::RequestedByCustomer)
        .metadata(metadata("b1"))
        .send(&client)
        .await
        .expect("a partial refund");
    assert!(partial.id.as_str().starts_with("re_"));
    assert_eq!(partial.amount, 300);
    assert_eq!(partial.status.as_deref(), Some("succeeded"));
    assert_eq!(
        partial.payment_intent.as_ref().map(|pi| pi.id().clone()),
        Some(intent.id.clone())
    );

    let too_much = CreateRefund::new()
        .payment_intent(intent.id.as_str())
        .amount(701)
        .send(&client)
        .await;
    let (error, status) = stripe_error(too_much);
    assert_eq!(
        (status, error.code),
        (400, Some(ApiErrorsCode::AmountTooLarge))
    );

    let rest = CreateRefund::new()
        .payment_intent(intent.id.as_str())
        .send(&client)
        .await
        .expect("the rest is refunded");
    assert_eq!(rest.amount, 700, "by default, what is left");

    let more = CreateRefund::new()
        .payment_intent(intent.id.as_str())
        .amount(1)
        .send(&client)
        .await;
    let (error, status) = stripe_error(more);
    assert_eq!(
        (status, error.code),
        (400, Some(ApiErrorsCode::ChargeAlreadyRefunded))
    );

    let charge_id = rest
        .charge
        .as_ref()
        .expect("the refund names its charge")
        .id()
        .clone();
    let by_charge = CreateRefund::new()
        .charge(charge_id.as_str())
        .send(&client)
        .await;
    assert_eq!(
        stripe_error(by_charge).0.code,
        Some(ApiErrorsCode::ChargeAlreadyRefunded)
    );

    let expanded = RetrievePaymentIntent::new(intent.id.clone())
        .expand(vec!["latest_charge".to_owned()])
        .send(&client)
        .await
        .expect("the intent is retrieved");
    let Some(Expandable::Object(charge)) = expanded.latest_charge else {
        panic!("the charge is expanded");
    };
    assert_eq!((charge.amount_refunded, charge.refunded), (1000, true));
}

#[tokio::test]
async fn a_transfer_is_created_and_retrieved() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let account = onboarded_account(&standin, &client).await;
    let created = CreateTransfer::new(Currency::EUR, account.as_str())
        .amount(850)
        .transfer_group("booking_b1")
        .metadata(metadata("b1"))
        .send(&client)
        .await
        .expect("the transfer is created");
    assert!(created.id.as_str().starts_with("tr_"));
    let retrieved = RetrieveTransfer::new(created.id.clone())
        .send(&client)
        .await
        .expect("the transfer is retrieved");
    assert_eq!(retrieved.amount, 850);
    assert_eq!(retrieved.currency, Currency::EUR);
    assert_eq!(
        retrieved
            .destination
            .as_ref()
            .map(|account| account.id().to_string()),
        Some(account.clone())
    );
    assert_eq!(retrieved.transfer_group.as_deref(), Some("booking_b1"));
    assert_eq!(retrieved.metadata, metadata("b1"));

    let nowhere = CreateTransfer::new(Currency::EUR, "not-an-account")
        .amount(1)
        .send(&client)
        .await;
    let (error, status) = stripe_error(nowhere);
    assert_eq!(
        (status, error.code),
        (400, Some(ApiErrorsCode::ResourceMissing))
    );
    assert_eq!(error.param.as_deref(), Some("destination"));
}
