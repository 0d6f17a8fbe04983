//! Webhooks as the platform's receiver will get them, verified with the SDK's own verifier.

mod common;

use common::{Received, Receiver, WAIT, client, count, onboarded_account, settings, start};
use noillin_stripe_standin::{EventRecord, FlushOrder, Settings, WebhookSettings};
use stripe_connect::transfer::CreateTransfer;
use stripe_core::payment_intent::{CancelPaymentIntent, ConfirmPaymentIntent, CreatePaymentIntent};
use stripe_core::refund::CreateRefund;
use stripe_shared::PaymentIntentStatus;
use stripe_types::Currency;
use stripe_webhook::EventObject;

fn to(receiver: &Receiver) -> Settings {
    Settings {
        webhook_url: Some(receiver.url.clone()),
        ..settings()
    }
}

async fn create(client: &stripe::Client) -> String {
    CreatePaymentIntent::new(1000, Currency::EUR)
        .send(client)
        .await
        .expect("the intent is created")
        .id
        .to_string()
}

fn types_for<'a>(received: &'a [Received], object_id: &str) -> Vec<&'a str> {
    received
        .iter()
        .filter(|r| r.object_id == object_id)
        .map(|r| r.r#type.as_str())
        .collect()
}

fn delivered(events: &[EventRecord], type_: &str, object_id: &str) -> bool {
    events
        .iter()
        .any(|e| e.r#type == type_ && e.object_id == object_id && e.delivered)
}

#[tokio::test]
async fn every_event_arrives_signed_and_parses_as_the_sdks_event() {
    let receiver = Receiver::start().await;
    let standin = start(to(&receiver)).await;
    let client = client(&standin);
    let controls = standin.controls();

    let paid = create(&client).await;
    controls.pay(&paid).await.expect("paid");
    let declined = create(&client).await;
    let refused = ConfirmPaymentIntent::new(declined.as_str())
        .payment_method("pm_card_chargeDeclined")
        .send(&client)
        .await;
    assert!(refused.is_err());
    let canceled = create(&client).await;
    CancelPaymentIntent::new(canceled.as_str())
        .send(&client)
        .await
        .expect("canceled");
    let refund = CreateRefund::new()
        .payment_intent(paid.as_str())
        .amount(400)
        .send(&client)
        .await
        .expect("refunded");
    let charge = refund.charge.expect("the refund's charge").id().to_string();
    let account = onboarded_account(&standin, &client).await;
    let transfer = CreateTransfer::new(Currency::EUR, account.as_str())
        .amount(600)
        .send(&client)
        .await
        .expect("sent");

    receiver
        .wait_for(|received| {
            count(received, "payment_intent.succeeded", &paid) == 1
                && count(received, "charge.succeeded", &charge) == 1
                && count(received, "payment_intent.payment_failed", &declined) == 1
                && count(received, "payment_intent.canceled", &canceled) == 1
                && count(received, "charge.refunded", &charge) == 1
                && count(received, "transfer.created", transfer.id.as_str()) == 1
                && count(received, "account.updated", &account) == 1
                && received
                    .iter()
                    .filter(|r| r.r#type == "payment_intent.created")
                    .count()
                    == 3
        })
        .await;

    receiver.inspect(|received| {
        assert_eq!(received.len(), 10, "no other event: {received:#?}");
        for delivery in received {
            let event = delivery.event();
            assert_eq!(event.id.as_str(), delivery.id);
            assert_eq!(event.api_version, Some(stripe_shared::version::VERSION));
            assert!(!event.livemode);
            assert_eq!(event.pending_webhooks, 1);
            let request = event.request.as_ref().expect("the request that caused it");
            assert!(
                request.id.as_ref().is_some_and(|id| id.starts_with("req_")),
                "{request:?}"
            );
            let raw: serde_json::Value = serde_json::from_str(&delivery.payload).expect("JSON");
            assert_eq!(raw["object"], "event");
            assert_eq!(raw["data"]["object"]["id"], delivery.object_id.as_str());
            match (&event.data.object, delivery.r#type.as_str()) {
                (EventObject::PaymentIntentCreated(intent), "payment_intent.created") => {
                    assert_eq!(intent.status, PaymentIntentStatus::RequiresPaymentMethod);
                }
                (EventObject::PaymentIntentSucceeded(intent), "payment_intent.succeeded") => {
                    assert_eq!(intent.id.as_str(), paid);
                    assert_eq!(intent.amount_received, 1000);
                    assert_eq!(
                        intent.latest_charge.as_ref().map(|c| c.id().to_string()),
                        Some(charge.clone())
                    );
                }
                (EventObject::ChargeSucceeded(succeeded), "charge.succeeded") => {
                    assert!(succeeded.paid)
                }
                (
                    EventObject::PaymentIntentPaymentFailed(intent),
                    "payment_intent.payment_failed",
                ) => {
                    assert_eq!(intent.status, PaymentIntentStatus::RequiresPaymentMethod);
                    assert!(intent.last_payment_error.is_some());
                }
                (EventObject::PaymentIntentCanceled(intent), "payment_intent.canceled") => {
                    assert_eq!(intent.status, PaymentIntentStatus::Canceled);
                }
                (EventObject::ChargeRefunded(refunded), "charge.refunded") => {
                    assert_eq!((refunded.amount_refunded, refunded.refunded), (400, false));
                }
                (EventObject::TransferCreated(created), "transfer.created") => {
                    assert_eq!(created.amount, 600)
                }
                (EventObject::AccountUpdated(updated), "account.updated") => {
                    assert_eq!(updated.id.as_str(), account);
                    assert_eq!(updated.payouts_enabled, Some(true));
                }
                (object, type_) => panic!("{type_} parsed as {object:?}"),
            }
        }
        assert_eq!(
            types_for(received, &paid),
            ["payment_intent.created", "payment_intent.succeeded"]
        );
    });
    let events = controls
        .wait_for_events(WAIT, |events| {
            events.len() == 10 && events.iter().all(|e| e.delivered)
        })
        .await
        .expect("all delivered");
    assert!(
        events
            .iter()
            .all(|e| e.deliveries.len() == 1 && e.deliveries[0].status == Some(200))
    );
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_same_event() {
    let receiver = Receiver::start().await;
    receiver.fail("payment_intent.created", 2);
    let standin = start(to(&receiver)).await;
    let intent = create(&client(&standin)).await;

    receiver
        .wait_for(|received| {
            received
                .iter()
                .any(|r| r.object_id == intent && r.answered == 200)
        })
        .await;
    receiver.inspect(|received| {
        let answers: Vec<u16> = received.iter().map(|r| r.answered).collect();
        assert_eq!(answers, [500, 500, 200]);
        assert!(
            received
                .iter()
                .all(|r| r.id == received[0].id && r.payload == received[0].payload)
        );
    });
    let events = standin
        .controls()
        .wait_for_events(WAIT, |events| {
            delivered(events, "payment_intent.created", &intent)
        })
        .await
        .expect("delivered in the end");
    let statuses: Vec<Option<u16>> = events[0].deliveries.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
}

#[tokio::test]
async fn a_retrying_event_holds_back_its_objects_later_events_until_given_up() {
    let receiver = Receiver::start().await;
    receiver.fail("payment_intent.created", 100);
    let standin = start(to(&receiver)).await;
    let client = client(&standin);
    let intent = create(&client).await;
    CancelPaymentIntent::new(intent.as_str())
        .send(&client)
        .await
        .expect("canceled");

    receiver
        .wait_for(|received| count(received, "payment_intent.canceled", &intent) == 1)
        .await;
    receiver.inspect(|received| {
        let types = types_for(received, &intent);
        let created =
            vec!["payment_intent.created"; standin.settings().retry_max_attempts as usize];
        assert_eq!(
            types[..types.len() - 1],
            created[..],
            "every attempt, then the next event"
        );
    });
    let events = standin.controls().events().await.expect("the events");
    assert!(!events[0].delivered);
    assert_eq!(
        events[0].deliveries.len(),
        standin.settings().retry_max_attempts as usize
    );
}

#[tokio::test]
async fn duplicates_are_copies_of_the_same_event() {
    let receiver = Receiver::start().await;
    let standin = start(settings()).await;
    // The endpoint set through the control, as the one-command run may do.
    let controls = standin.controls();
    controls
        .set_webhooks(WebhookSettings {
            url: Some(receiver.url.clone()),
            duplicates: Some(2),
            ..Default::default()
        })
        .await
        .expect("set");
    let intent = create(&client(&standin)).await;

    receiver
        .wait_for(|received| count(received, "payment_intent.created", &intent) == 3)
        .await;
    receiver.inspect(|received| {
        assert!(
            received
                .iter()
                .all(|r| r.id == received[0].id && r.payload == received[0].payload)
        );
        assert!(received.iter().all(|r| r.answered == 200));
    });
    controls
        .wait_for_events(WAIT, |events| {
            events.len() == 1 && events[0].deliveries.len() == 3
        })
        .await
        .expect("three deliveries recorded");
}

#[tokio::test]
async fn paused_events_wait_and_flush_in_reverse() {
    let receiver = Receiver::start().await;
    let standin = start(to(&receiver)).await;
    let controls = standin.controls();
    controls
        .set_webhooks(WebhookSettings {
            paused: Some(true),
            ..Default::default()
        })
        .await
        .expect("paused");
    let intent = create(&client(&standin)).await;
    controls.pay(&intent).await.expect("paid");

    let held = controls.events().await.expect("the events");
    let types: Vec<&str> = held.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(
        types,
        [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded"
        ]
    );
    assert!(
        held.iter().all(|e| e.deliveries.is_empty()),
        "nothing sent while paused"
    );

    controls.flush(FlushOrder::Reverse).await.expect("flushed");
    receiver.wait_for(|received| received.len() == 3).await;
    receiver.inspect(|received| {
        assert_eq!(
            types_for(received, &intent),
            ["payment_intent.succeeded", "payment_intent.created"]
        );
    });

    // Unpaused by the flush: the next event goes at once.
    CancelPaymentIntent::new(create(&client(&standin)).await.as_str())
        .send(&client(&standin))
        .await
        .expect("canceled");
    receiver
        .wait_for(|received| {
            received
                .iter()
                .any(|r| r.r#type == "payment_intent.canceled")
        })
        .await;
}

#[tokio::test]
async fn a_replay_signed_long_ago_is_refused_by_the_sdks_verifier() {
    let receiver = Receiver::start().await;
    let standin = start(to(&receiver)).await;
    let controls = standin.controls();
    let intent = create(&client(&standin)).await;
    let events = controls
        .wait_for_events(WAIT, |events| {
            delivered(events, "payment_intent.created", &intent)
        })
        .await
        .expect("delivered");
    let event_id = events[0].id.clone();

    let long_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
        - 600;
    controls
        .resend(&event_id, Some(long_ago))
        .await
        .expect("resent");
    receiver.inspect(|received| {
        assert_eq!(
            received.len(),
            2,
            "the resend returns once the receiver answered"
        );
        assert_eq!(received[1].id, event_id);
        assert_eq!(received[1].payload, received[0].payload);
        assert!(
            matches!(received[1].verified, common::Verified::BadTimestamp(at) if at == long_ago)
        );
        assert_eq!(received[1].answered, 400);
    });

    controls.resend(&event_id, None).await.expect("resent");
    receiver.inspect(|received| {
        assert_eq!(received.len(), 3);
        assert_eq!(received[2].event().id.as_str(), event_id);
    });
    let events = controls.events().await.expect("the events");
    let statuses: Vec<Option<u16>> = events[0].deliveries.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [Some(200), Some(400), Some(200)]);
}

#[tokio::test]
async fn a_silent_success_sends_no_event() {
    let receiver = Receiver::start().await;
    let standin = start(to(&receiver)).await;
    let client = client(&standin);
    let controls = standin.controls();
    let intent = create(&client).await;
    controls.succeed_silently(&intent).await.expect("succeeded");
    let retrieved = stripe_core::payment_intent::RetrievePaymentIntent::new(intent.as_str())
        .send(&client)
        .await
        .expect("retrieved");
    assert_eq!(retrieved.status, PaymentIntentStatus::Succeeded);
    assert!(retrieved.latest_charge.is_some());
    let events = controls.events().await.expect("the events");
    let types: Vec<&str> = events.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(types, ["payment_intent.created"]);
}

#[tokio::test]
async fn a_receiver_that_is_down_is_recorded_as_a_connection_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!(
        "http://{}/webhooks",
        listener.local_addr().expect("an address")
    );
    drop(listener);
    let standin = start(Settings {
        webhook_url: Some(url),
        retry_max_attempts: 2,
        ..settings()
    })
    .await;
    let intent = create(&client(&standin)).await;
    let events = standin
        .controls()
        .wait_for_events(WAIT, |events| {
            events.first().is_some_and(|e| e.deliveries.len() == 2)
        })
        .await
        .expect("two attempts");
    assert_eq!(events[0].object_id, intent);
    assert!(events[0].deliveries.iter().all(|d| d.status.is_none()));
    assert!(!events[0].delivered);
}
