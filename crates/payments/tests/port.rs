//! The payments port against the Stripe stand-in, through the real SDK: idempotent intents,
//! cancelling (and what a paid intent answers instead), refunds that never go past what was
//! paid, and a provider that cannot be reached.

use noillin_domain::{booking::BookingId, gig::Money};
use noillin_payments::{CancelOutcome, IntentStatus, Payments, PaymentsError, RefundOutcome};
use noillin_stripe_standin::{Settings, StandIn};

async fn stripe() -> (StandIn, Payments) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let standin = StandIn::start("127.0.0.1:0", Settings::default())
        .await
        .expect("the stand-in starts");
    let payments =
        Payments::new(&standin.settings().api_key, Some(&standin.base_url())).expect("a client");
    (standin, payments)
}

fn euros(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "EUR".into(),
    }
}

#[tokio::test]
async fn an_intent_is_made_once_per_booking_for_its_price() {
    let (_standin, payments) = stripe().await;
    let booking = BookingId::generate();
    let first = payments
        .create_intent(&booking, &euros(45_000), "Story feature")
        .await
        .unwrap();
    assert_eq!(first.status, IntentStatus::AwaitingPayment);
    assert_eq!(first.amount, euros(45_000));
    assert_eq!(first.booking_id.as_deref(), Some(booking.as_str()));
    assert!(first.client_secret.starts_with(&first.id));
    let again = payments
        .create_intent(&booking, &euros(45_000), "Story feature")
        .await
        .unwrap();
    assert_eq!(again.id, first.id, "a retried creation is the same intent");
    // Another price under the same booking is refused, never a second intent.
    let other = payments
        .create_intent(&booking, &euros(50_000), "Story feature")
        .await;
    assert!(matches!(other, Err(PaymentsError::Refused(_))), "{other:?}");
}

#[tokio::test]
async fn cancelling_twice_is_one_cancel_and_a_paid_intent_says_so_instead() {
    let (standin, payments) = stripe().await;
    let unpaid = payments
        .create_intent(&BookingId::generate(), &euros(1_000), "a")
        .await
        .unwrap();
    assert_eq!(
        payments.cancel_intent(&unpaid.id).await.unwrap(),
        CancelOutcome::Canceled
    );
    assert_eq!(
        payments.cancel_intent(&unpaid.id).await.unwrap(),
        CancelOutcome::Canceled
    );
    assert_eq!(
        payments.intent(&unpaid.id).await.unwrap().status,
        IntentStatus::Canceled
    );

    let paid = payments
        .create_intent(&BookingId::generate(), &euros(2_000), "b")
        .await
        .unwrap();
    standin.controls().pay(&paid.id).await.unwrap();
    match payments.cancel_intent(&paid.id).await.unwrap() {
        CancelOutcome::Paid(intent) => {
            assert_eq!(intent.status, IntentStatus::Succeeded);
            assert_eq!(intent.amount, euros(2_000));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_refund_is_asked_once_per_reason_and_never_past_what_was_paid() {
    let (standin, payments) = stripe().await;
    let booking = BookingId::generate();
    let intent = payments
        .create_intent(&booking, &euros(45_000), "c")
        .await
        .unwrap();
    standin.controls().pay(&intent.id).await.unwrap();
    let first = payments
        .refund(&booking, &intent.id, 22_500, "cancellation")
        .await
        .unwrap();
    let again = payments
        .refund(&booking, &intent.id, 22_500, "cancellation")
        .await
        .unwrap();
    assert_eq!(first, again, "the same reason is the same refund");
    let rest = payments
        .refund(&booking, &intent.id, 22_500, "late")
        .await
        .unwrap();
    assert!(matches!(rest, RefundOutcome::Requested { .. }) && rest != first);
    assert_eq!(
        payments
            .refund(&booking, &intent.id, 1, "more")
            .await
            .unwrap(),
        RefundOutcome::AlreadyRefunded
    );
    let refunds = standin
        .controls()
        .events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.r#type == "charge.refunded")
        .count();
    assert_eq!(refunds, 2);
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable_not_refused_and_a_wrong_key_is_refused() {
    let (standin, _) = stripe().await;
    let wrong_key = Payments::new("sk_test_wrong", Some(&standin.base_url())).unwrap();
    let refused = wrong_key
        .create_intent(&BookingId::generate(), &euros(100), "d")
        .await;
    assert!(
        matches!(refused, Err(PaymentsError::Refused(_))),
        "{refused:?}"
    );
    let base = standin.base_url();
    drop(standin);
    let gone = Payments::new("sk_test_x", Some(&base)).unwrap();
    let unavailable = gone
        .create_intent(&BookingId::generate(), &euros(100), "e")
        .await;
    assert!(
        matches!(unavailable, Err(PaymentsError::Unavailable(_))),
        "{unavailable:?}"
    );
    assert!(matches!(
        Payments::new(" ", None),
        Err(PaymentsError::Config(_))
    ));
}
