//! The stand-in's API through the real SDK: what the payments port will do with it.

mod common;

use std::collections::HashMap;

use common::{client, client_with_key, settings, start, stripe_error};
use stripe::{ApiErrorsCode, ApiErrorsType, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_connect::transfer::{CreateTransfer, RetrieveTransfer};
use stripe_core::payment_intent::{
    CancelPaymentIntent, CancelPaymentIntentCancellationReason, ConfirmPaymentIntent,
    CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods, RetrievePaymentIntent,
};
use stripe_core::refund::{CreateRefund, CreateRefundReason};
use stripe_shared::{PaymentIntent, PaymentIntentCancellationReason, PaymentIntentStatus};
use stripe_types::{Currency, Expandable};

fn metadata(booking: &str) -> HashMap<String, String> {
    HashMap::from([
        ("booking_id".to_owned(), booking.to_owned()),
        ("gig id".to_owned(), "g[1]&x=y".to_owned()),
    ])
}

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
    let created = CreateTransfer::new(Currency::EUR, "acct_1InfluencerA")
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
        Some("acct_1InfluencerA".to_owned())
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

fn idempotent(key: &str) -> RequestStrategy {
    RequestStrategy::Idempotent(IdempotencyKey::new(key).expect("a valid key"))
}

#[tokio::test]
async fn an_idempotency_key_answers_the_first_response_once() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let create = |amount: i64| {
        CreatePaymentIntent::new(amount, Currency::EUR)
            .metadata(metadata("b1"))
            .customize()
            .request_strategy(idempotent("booking-b1-pay"))
    };
    let first = create(1000)
        .send(&client)
        .await
        .expect("the intent is created");
    let second = create(1000)
        .send(&client)
        .await
        .expect("the first answer again");
    assert_eq!(first.id, second.id);
    assert_eq!(first.client_secret, second.client_secret);

    let other = create(1200).send(&client).await;
    let (error, status) = stripe_error(other);
    assert_eq!(
        (status, error.type_),
        (400, ApiErrorsType::IdempotencyError)
    );

    let events = standin.controls().events().await.expect("the events");
    let created: Vec<_> = events
        .iter()
        .filter(|event| event.r#type == "payment_intent.created")
        .collect();
    assert_eq!(created.len(), 1, "one intent, one event: {events:?}");
    assert_eq!(created[0].object_id, first.id.as_str());

    // The same key on another endpoint is refused too; the declined answer is stored like any.
    let confirm = |payment_method: &str| {
        ConfirmPaymentIntent::new(first.id.clone())
            .payment_method(payment_method)
            .customize()
            .request_strategy(idempotent("booking-b1-confirm"))
    };
    let declined = stripe_error(confirm("pm_card_chargeDeclined").send(&client).await);
    let replayed = stripe_error(confirm("pm_card_chargeDeclined").send(&client).await);
    assert_eq!((declined.1, replayed.1), (402, 402));
    let failed = standin.controls().events().await.expect("the events");
    assert_eq!(
        failed
            .iter()
            .filter(|event| event.r#type == "payment_intent.payment_failed")
            .count(),
        1
    );
    let reused = CancelPaymentIntent::new(first.id.clone())
        .customize()
        .request_strategy(idempotent("booking-b1-pay"))
        .send(&client)
        .await;
    assert_eq!(
        stripe_error(reused).0.type_,
        ApiErrorsType::IdempotencyError
    );
}

#[tokio::test]
async fn a_wrong_api_key_is_refused() {
    let standin = start(settings()).await;
    let wrong = client_with_key(&standin, "sk_test_not_the_right_one");
    let refused = CreatePaymentIntent::new(1000, Currency::EUR)
        .send(&wrong)
        .await;
    let (error, status) = stripe_error(refused);
    assert_eq!(
        (status, error.type_),
        (401, ApiErrorsType::InvalidRequestError)
    );
    assert!(
        !error.message.unwrap_or_default().contains("not_the_right"),
        "the key is masked"
    );
    assert!(
        standin
            .controls()
            .events()
            .await
            .expect("the events")
            .is_empty()
    );
}

#[tokio::test]
async fn unknown_ids_are_resource_missing() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let missing = RetrievePaymentIntent::new("pi_missing").send(&client).await;
    let (error, status) = stripe_error(missing);
    assert_eq!(
        (status, error.code),
        (404, Some(ApiErrorsCode::ResourceMissing))
    );
    let missing = RetrieveTransfer::new("tr_missing").send(&client).await;
    assert_eq!(stripe_error(missing).1, 404);
    let missing = CreateRefund::new()
        .payment_intent("pi_missing")
        .send(&client)
        .await;
    let (error, _) = stripe_error(missing);
    assert_eq!(
        (error.code, error.param.as_deref()),
        (Some(ApiErrorsCode::ResourceMissing), Some("payment_intent"))
    );
}

#[tokio::test]
async fn raw_answers_are_in_stripes_shape() {
    let standin = start(settings()).await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client");
    let url = |path: &str| format!("{}{path}", standin.base_url());

    let anonymous = http
        .post(url("v1/payment_intents"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(anonymous.status(), 401);
    let body: serde_json::Value = anonymous.json().await.expect("JSON");
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let key = &standin.settings().api_key;
    let unknown = http
        .get(url("v1/customers"))
        .bearer_auth(key)
        .send()
        .await
        .expect("an answer");
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.expect("JSON");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Unrecognized request URL"))
    );

    let missing = http
        .post(url("v1/payment_intents"))
        .bearer_auth(key)
        .header("idempotency-key", "k1")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("currency=eur")
        .send()
        .await
        .expect("an answer");
    assert_eq!(missing.status(), 400);
    let body: serde_json::Value = missing.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "parameter_missing");
    assert_eq!(body["error"]["param"], "amount");

    // A refused request stored nothing under its key: the corrected one goes through.
    let send = || {
        http.post(url("v1/payment_intents"))
            .bearer_auth(key)
            .header("idempotency-key", "k1")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("currency=eur&amount=100")
            .send()
    };
    let first = send().await.expect("an answer");
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("request-id").is_some());
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: serde_json::Value = first.json().await.expect("JSON");
    assert_eq!(first["object"], "payment_intent");
    let replay = send().await.expect("an answer");
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let replay: serde_json::Value = replay.json().await.expect("JSON");
    assert_eq!(first, replay);

    let intent = first["id"].as_str().expect("an id");
    let paid = standin.controls().pay(intent).await.expect("paid");
    let charge_id = paid["latest_charge"].as_str().expect("a charge id");
    let charge = http
        .get(url(&format!("v1/charges/{charge_id}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("an answer");
    let charge: serde_json::Value = charge.json().await.expect("JSON");
    assert_eq!(
        (&charge["object"], &charge["payment_intent"]),
        (&"charge".into(), &intent.into())
    );
}

#[tokio::test]
async fn a_dropped_stand_in_stops_serving() {
    let standin = start(settings()).await;
    let controls = standin.controls();
    controls.events().await.expect("served");
    drop(standin);
    // The server task is aborted on the runtime: wait for the refusal rather than assume it.
    let stopped = tokio::time::timeout(common::WAIT, async {
        while controls.events().await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(stopped.is_ok(), "still serving after the drop");
}
