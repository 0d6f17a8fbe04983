//! Stripe's event shapes through the port: full objects as Stripe's API reference
//! documents them (fields the platform never reads included), signed here with the v1 scheme,
//! must verify and reduce to the facts the platform acts on. If the SDK or the port ever stops
//! reading what Stripe really sends, this fails, whatever the stand-in does.

use noillin_domain::{
    gig::Money,
    payment::{ChargeFacts, IntentFacts, PaymentEventKind},
};
use noillin_payments::{Verified, WebhookRejection, WebhookVerifier};
use stripe_webhook::Webhook;

const SECRET: &str = "whsec_samples_current";
const OLD_SECRET: &str = "whsec_samples_previous";

fn sample(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `body` signed with `secret` at `at` and verified at `now`.
fn verify_at(body: &str, secret: &str, at: i64, now: i64) -> Result<Verified, WebhookRejection> {
    let signature = Webhook::generate_test_header(body, secret, Some(at));
    WebhookVerifier::new([OLD_SECRET.to_owned(), SECRET.to_owned()]).verify(
        body,
        Some(&signature),
        now,
    )
}

fn verify(body: &str) -> Verified {
    let now = 1_795_921_100;
    verify_at(body, SECRET, now, now).expect("a genuine sample verifies")
}

fn event(verified: Verified) -> PaymentEventKind {
    match verified {
        Verified::Event(event) => event.kind,
        other => panic!("not an event the platform acts on: {other:?}"),
    }
}

#[test]
fn a_succeeded_intent_names_its_booking_amount_and_currency() {
    let kind = event(verify(&sample("payment_intent_succeeded")));
    assert_eq!(
        kind,
        PaymentEventKind::IntentSucceeded {
            intent: IntentFacts {
                intent_id: "pi_3QpPaymentIntentOk01".into(),
                booking_id: Some("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into()),
                amount: Money {
                    amount_minor: 45_000,
                    currency: "EUR".into(),
                },
            },
        }
    );
}

#[test]
fn a_failed_payment_carries_stripes_reason() {
    match event(verify(&sample("payment_intent_payment_failed"))) {
        PaymentEventKind::IntentFailed { intent, reason } => {
            assert_eq!(intent.amount.currency, "USD");
            assert_eq!(reason, "Your card was declined.");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_refunded_charge_names_its_intent_and_what_went_back() {
    assert_eq!(
        event(verify(&sample("charge_refunded"))),
        PaymentEventKind::ChargeRefunded {
            charge: ChargeFacts {
                charge_id: "ch_3QpPaymentIntentOk01".into(),
                intent_id: Some("pi_3QpPaymentIntentOk01".into()),
                amount: Money {
                    amount_minor: 45_000,
                    currency: "EUR".into(),
                },
                amount_refunded_minor: 22_500,
            },
        }
    );
}

#[test]
fn a_delivery_signed_by_the_previous_secret_of_a_rotation_still_verifies() {
    let body = sample("payment_intent_succeeded");
    let now = 1_795_921_100;
    assert!(matches!(
        verify_at(&body, OLD_SECRET, now, now),
        Ok(Verified::Event(_))
    ));
}

#[test]
fn forged_altered_stale_and_unsigned_deliveries_are_refused() {
    let body = sample("payment_intent_succeeded");
    let now = 1_795_921_100;
    assert_eq!(
        verify_at(&body, "whsec_someone_else", now, now),
        Err(WebhookRejection::BadSignature)
    );
    // One byte changed after signing.
    let signature = Webhook::generate_test_header(&body, SECRET, Some(now));
    let altered = body.replace("45000", "45001");
    assert_eq!(
        WebhookVerifier::new([SECRET.to_owned()]).verify(&altered, Some(&signature), now),
        Err(WebhookRejection::BadSignature)
    );
    // Five minutes is the tolerance, either way.
    assert!(verify_at(&body, SECRET, now - 300, now).is_ok());
    assert_eq!(
        verify_at(&body, SECRET, now - 301, now),
        Err(WebhookRejection::Stale {
            signed_at: now - 301
        })
    );
    assert_eq!(
        verify_at(&body, SECRET, now + 301, now),
        Err(WebhookRejection::Stale {
            signed_at: now + 301
        })
    );
    let verifier = WebhookVerifier::new([SECRET.to_owned()]);
    assert_eq!(
        verifier.verify(&body, None, now),
        Err(WebhookRejection::MissingSignature)
    );
    assert_eq!(
        verifier.verify(&body, Some("t=soon,v1=00"), now),
        Err(WebhookRejection::MissingSignature)
    );
    // No secret configured: nothing verifies.
    assert_eq!(
        WebhookVerifier::new([String::new()]).verify(&body, Some(&signature), now),
        Err(WebhookRejection::BadSignature)
    );
}

#[test]
fn other_event_types_are_acknowledged_and_ignored() {
    let body = sample("payment_intent_succeeded")
        .replace("\"payment_intent.succeeded\"", "\"payment_intent.created\"");
    assert_eq!(
        verify(&body),
        Verified::Ignored {
            id: "evt_3QpPaymentIntentOk01".into(),
            event_type: "payment_intent.created".into(),
        }
    );
    // A type the SDK does not know, with an object it cannot read: still only ignored.
    let unknown = r#"{"id":"evt_new","object":"event","api_version":"2026-09-30.endive","created":1795921000,"data":{"object":{"id":"x_1","object":"brand_new_thing"}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"brand_new.thing_happened"}"#;
    assert!(matches!(verify(unknown), Verified::Ignored { .. }));
}
