//! Payments through the API in-process (no worker here: what the webhook records is applied by
//! the worker, which the end-to-end suite runs): every hold comes with its payment intent, only
//! the brand sees its secret, and webhook deliveries are verified, recorded once and answered.

use jiff::Timestamp;
use noillin_stripe_standin::WebhookSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use stripe_webhook::Webhook;

use noillin_test_support::{ApiClient, TestUser, local_midnight};

use crate::helpers::{TestApp, spawn_app};

const ZONE: &str = "Europe/Lisbon";

struct Scene {
    app: TestApp,
    influencer: TestUser,
    brand: TestUser,
    gig: String,
    start: String,
}

async fn scene() -> Scene {
    let app = spawn_app().await;
    let influencer = app.api.register("influencer").await;
    let brand = app.api.register("brand").await;
    app.api.make_available(&influencer, ZONE).await;
    let gig = app
        .api
        .create_gig_with_terms(
            &influencer,
            "Story feature",
            json!({ "duration_minutes": 60, "horizon_days": 60 }),
        )
        .await;
    assert_eq!(
        app.api.publish_gig(&influencer, &gig).await.status,
        StatusCode::OK
    );
    let start = (local_midnight(ZONE, 7) + jiff::SignedDuration::from_hours(10)).to_string();
    Scene {
        app,
        influencer,
        brand,
        gig,
        start,
    }
}

async fn book(api: &ApiClient, brand: &TestUser, gig: &str, start: &str) -> Value {
    let response = api
        .post(
            "/bookings",
            &json!({ "gig_id": gig, "start": start }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body
}

/// POSTs `body` to the webhook endpoint with `signature`.
async fn deliver(app: &TestApp, body: &str, signature: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1/payments/webhook", app.address))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let response = request.send().await.expect("the webhook endpoint answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A genuine-looking event of `event_type` about an unknown object.
fn event_body(id: &str, event_type: &str, object: Value) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2026-09-30.endive",
        "created": Timestamp::now().as_second(), "livemode": false, "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type, "data": { "object": object },
    })
    .to_string()
}

#[tokio::test]
async fn a_hold_comes_with_its_payment_intent_whose_secret_only_its_brand_sees() {
    let s = scene().await;
    let booking = book(&s.app.api, &s.brand, &s.gig, &s.start).await;
    let intent_id = booking["payment"]["intent_id"].as_str().unwrap().to_owned();
    let secret = booking["payment"]["client_secret"].as_str().unwrap();
    assert!(intent_id.starts_with("pi_"), "{booking}");
    assert!(
        secret.starts_with(&format!("{intent_id}_secret_")),
        "{booking}"
    );
    assert_eq!(booking["payment"]["paid_at"], Value::Null);
    assert_eq!(booking["payment"]["refund_due_minor"], 0);

    let id = booking["id"].as_str().unwrap();
    let as_member = s
        .app
        .api
        .get(&format!("/bookings/{id}"), Some(&s.influencer.access))
        .await;
    assert_eq!(as_member.body["payment"]["intent_id"], intent_id.as_str());
    assert_eq!(as_member.body["payment"]["client_secret"], Value::Null);
    let as_brand = s
        .app
        .api
        .get(&format!("/bookings/{id}"), Some(&s.brand.access))
        .await;
    assert_eq!(as_brand.body["payment"]["client_secret"], secret);

    // The intent is for the price, in its currency, and names the booking.
    let events = s.app.stripe.controls().events().await.unwrap();
    let created: Vec<_> = events
        .iter()
        .filter(|e| e.r#type == "payment_intent.created")
        .collect();
    assert_eq!(created.len(), 1, "{events:?}");
    assert_eq!(created[0].object_id, intent_id);
}

#[tokio::test]
async fn a_rival_refused_by_the_slot_hold_makes_no_payment_intent() {
    let s = scene().await;
    book(&s.app.api, &s.brand, &s.gig, &s.start).await;
    let rival = s.app.api.register("brand").await;
    let refused = s
        .app
        .api
        .post(
            "/bookings",
            &json!({ "gig_id": s.gig, "start": s.start }),
            Some(&rival.access),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    let events = s.app.stripe.controls().events().await.unwrap();
    assert_eq!(events.len(), 1, "one intent, the winner's: {events:?}");
}

#[tokio::test]
async fn deliveries_from_stripe_are_recorded_once_and_others_are_refused() {
    let s = scene().await;
    let stripe = s.app.stripe.controls();
    stripe
        .set_webhooks(WebhookSettings {
            url: Some(format!("{}/api/v1/payments/webhook", s.app.address)),
            ..WebhookSettings::default()
        })
        .await
        .unwrap();
    let booking = book(&s.app.api, &s.brand, &s.gig, &s.start).await;
    let intent = booking["payment"]["intent_id"].as_str().unwrap();
    stripe.pay(intent).await.unwrap();
    let events = stripe
        .wait_for_events(std::time::Duration::from_secs(10), |events| {
            events.iter().filter(|e| e.delivered).count() >= 3
        })
        .await
        .unwrap();
    // Created (ignored), succeeded (recorded), charge.succeeded (ignored): all acknowledged.
    for event in &events {
        let statuses: Vec<_> = event.deliveries.iter().map(|d| d.status).collect();
        assert_eq!(statuses.first(), Some(&Some(200)), "{event:?}");
    }
    let succeeded = events
        .iter()
        .find(|e| e.r#type == "payment_intent.succeeded")
        .unwrap();
    // A replay within the tolerance is a duplicate: acknowledged, recorded once.
    assert_eq!(stripe.resend(&succeeded.id, None).await.unwrap(), Some(200));
    // One signed ten minutes ago is refused.
    let stale = Timestamp::now().as_second() - 600;
    assert_eq!(
        stripe.resend(&succeeded.id, Some(stale)).await.unwrap(),
        Some(401)
    );

    let store = s.app.store().await;
    let (_, claimed) = {
        let token = format!("probe-{}", uuid::Uuid::new_v4().simple());
        let now = jiff::Timestamp::now();
        let claimed = store
            .outbox
            .claim(
                &token,
                10_000,
                now,
                now + jiff::SignedDuration::from_mins(1),
            )
            .await
            .unwrap();
        (token, claimed)
    };
    let recorded = claimed
        .iter()
        .filter(|m| m.routing_key == "payment.event_received")
        .count();
    // The relay may have published it already; what it has not is never a second copy.
    assert!(recorded <= 1, "{claimed:?}");

    // Forged bodies, wrong secrets and missing headers are refused, and change nothing.
    let body = event_body(
        "evt_forged",
        "payment_intent.succeeded",
        json!({ "id": intent }),
    );
    let secret = &s.app.stripe.settings().webhook_secret;
    for signature in [
        None,
        Some("t=1,v1=nothex".to_owned()),
        Some(Webhook::generate_test_header(
            &body,
            "whsec_someone_else",
            None,
        )),
        Some(format!(
            "{},v1=00",
            Webhook::generate_test_header(&body, "whsec_someone_else", None)
        )),
    ] {
        let (status, problem) = deliver(&s.app, &body, signature.as_deref()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{signature:?}: {problem}");
        assert_eq!(problem["type"], "/problems/webhook-signature");
    }
    // Genuine, but a handled type whose object cannot be read: refused, so Stripe retries.
    let signed = Webhook::generate_test_header(&body, secret, None);
    assert_eq!(
        deliver(&s.app, &body, Some(&signed)).await.0,
        StatusCode::BAD_REQUEST
    );
    // Genuine, of a type the platform does not act on: acknowledged and ignored.
    let other = event_body("evt_other", "customer.created", json!({ "id": "cus_1" }));
    let signed = Webhook::generate_test_header(&other, secret, None);
    let (status, receipt) = deliver(&s.app, &other, Some(&signed)).await;
    assert_eq!(
        (status, receipt["outcome"].as_str()),
        (StatusCode::OK, Some("ignored"))
    );

    // The booking itself is unchanged here: the worker applies payments.
    let id = booking["id"].as_str().unwrap();
    let now = s
        .app
        .api
        .get(&format!("/bookings/{id}"), Some(&s.brand.access))
        .await;
    assert_eq!(now.body["state"], "pending_payment");
}

#[tokio::test]
async fn a_paid_booking_cannot_be_cancelled_without_a_reason_and_an_unpaid_one_by_its_brand_alone()
{
    let s = scene().await;
    let booking = book(&s.app.api, &s.brand, &s.gig, &s.start).await;
    let id = booking["id"].as_str().unwrap();
    let by_member = s
        .app
        .api
        .post(
            &format!("/bookings/{id}/cancel"),
            &json!({}),
            Some(&s.influencer.access),
        )
        .await;
    assert_eq!(
        by_member.status,
        StatusCode::FORBIDDEN,
        "{:?}",
        by_member.body
    );
    let by_brand = s
        .app
        .api
        .post(
            &format!("/bookings/{id}/cancel"),
            &json!({}),
            Some(&s.brand.access),
        )
        .await;
    assert_eq!(by_brand.status, StatusCode::OK, "{:?}", by_brand.body);
    assert_eq!(by_brand.body["state"], "cancelled");
    assert_eq!(by_brand.body["payment"]["client_secret"], Value::Null);
}
