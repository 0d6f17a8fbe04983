//! What is around every call: idempotency keys, authentication, errors in Stripe's shape,
//! unknown ids and URLs, and stopping.

mod common;

use common::{client, client_with_key, metadata, settings, start, stripe_error};
use stripe::{ApiErrorsCode, ApiErrorsType, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_connect::transfer::RetrieveTransfer;
use stripe_core::payment_intent::{
    CancelPaymentIntent, ConfirmPaymentIntent, CreatePaymentIntent, RetrievePaymentIntent,
};
use stripe_core::refund::CreateRefund;
use stripe_types::Currency;

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
