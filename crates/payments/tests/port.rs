//! The payments port against the Stripe stand-in, through the real SDK: idempotent intents,
//! cancelling (and what a paid intent answers instead), refunds that never go past what was
//! paid, a provider that cannot be reached, and payouts: accounts, onboarding and transfers
//! that are never made twice.

use noillin_domain::{booking::BookingId, gig::Money};
use noillin_payments::{
    CancelOutcome, IntentStatus, Payments, PaymentsError, RefundOutcome, TransferRequest,
};
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

const RETURN_URL: &str = "https://app.example/payouts/done";
const REFRESH_URL: &str = "https://app.example/payouts/again";

/// A payout account whose holder finished onboarding through the link the port made.
async fn onboarded(standin: &StandIn, payments: &Payments, user: &str) -> String {
    let account = payments
        .create_payout_account(user, &format!("{user}@example.com"))
        .await
        .expect("the account is made");
    let link = payments
        .onboarding_link(&account.id, REFRESH_URL, RETURN_URL)
        .await
        .expect("a link");
    standin
        .controls()
        .open_account_link(&link)
        .await
        .expect("onboarding completes");
    account.id
}

fn payout<'a>(
    booking: &'a str,
    member: &'a str,
    destination: &'a str,
    amount: &'a Money,
) -> TransferRequest<'a> {
    TransferRequest {
        booking_id: booking,
        member_id: member,
        destination,
        amount,
        description: "Payout: story feature",
    }
}

#[tokio::test]
async fn a_payout_account_is_made_once_per_user() {
    let (_standin, payments) = stripe().await;
    let first = payments
        .create_payout_account("user-1", "ana@example.com")
        .await
        .unwrap();
    assert!(first.id.starts_with("acct_"), "{}", first.id);
    assert!(!first.payouts_enabled && !first.details_submitted);
    let again = payments
        .create_payout_account("user-1", "ana@example.com")
        .await
        .unwrap();
    assert_eq!(again, first, "a retried creation is the same account");
    let other = payments
        .create_payout_account("user-2", "bo@example.com")
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(payments.payout_account(&first.id).await.unwrap(), first);
    let missing = payments.payout_account("acct_missing").await;
    assert!(
        matches!(missing, Err(PaymentsError::Refused(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn onboarding_through_the_link_enables_payouts() {
    let (standin, payments) = stripe().await;
    let account = payments
        .create_payout_account("user-1", "ana@example.com")
        .await
        .unwrap();
    let link = payments
        .onboarding_link(&account.id, REFRESH_URL, RETURN_URL)
        .await
        .unwrap();
    assert_eq!(
        standin.controls().open_account_link(&link).await.unwrap(),
        RETURN_URL
    );
    let now = payments.payout_account(&account.id).await.unwrap();
    assert!(now.payouts_enabled && now.details_submitted, "{now:?}");
    let unknown = payments
        .onboarding_link("acct_missing", REFRESH_URL, RETURN_URL)
        .await;
    assert!(
        matches!(unknown, Err(PaymentsError::Refused(_))),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn a_transfer_is_made_once_per_booking_and_member() {
    let (standin, payments) = stripe().await;
    let account = onboarded(&standin, &payments, "user-1").await;
    let booking = BookingId::generate();
    let amount = euros(36_000);
    let request = payout(booking.as_str(), "member-1", &account, &amount);
    let first = payments.transfer(&request).await.unwrap();
    assert!(first.id.starts_with("tr_"), "{}", first.id);
    assert_eq!(
        (first.amount_minor, first.currency.as_str()),
        (36_000, "EUR")
    );
    let replay = payments.transfer(&request).await.unwrap();
    assert_eq!(replay, first, "a replay is the same transfer");

    let transfers = standin.controls().transfers().await.unwrap();
    assert_eq!(transfers.len(), 1, "{transfers:?}");
    let made = &transfers[0];
    assert_eq!(made.id, first.id);
    assert_eq!(made.destination, account);
    assert_eq!(made.transfer_group.as_deref(), Some(booking.as_str()));
    assert_eq!(
        made.metadata.get("booking_id").map(String::as_str),
        Some(booking.as_str())
    );
    assert_eq!(
        made.metadata.get("member_id").map(String::as_str),
        Some("member-1")
    );

    // Another member of the same booking is another transfer.
    let second = onboarded(&standin, &payments, "user-2").await;
    let other = payments
        .transfer(&payout(booking.as_str(), "member-2", &second, &amount))
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(standin.controls().transfers().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_transfer_to_an_account_not_onboarded_is_refused() {
    let (standin, payments) = stripe().await;
    let account = payments
        .create_payout_account("user-1", "ana@example.com")
        .await
        .unwrap();
    let amount = euros(1_000);
    let refused = payments
        .transfer(&payout("b-1", "member-1", &account.id, &amount))
        .await;
    assert!(
        matches!(refused, Err(PaymentsError::Refused(_))),
        "{refused:?}"
    );
    let nowhere = payments
        .transfer(&payout("b-2", "member-1", "acct_missing", &amount))
        .await;
    assert!(
        matches!(nowhere, Err(PaymentsError::Refused(_))),
        "{nowhere:?}"
    );
    assert!(standin.controls().transfers().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_transfer_outage_is_unavailable_and_the_retry_pays_once() {
    let (standin, payments) = stripe().await;
    let account = onboarded(&standin, &payments, "user-1").await;
    standin
        .controls()
        .fail_transfers(&account, 1)
        .await
        .unwrap();
    let amount = euros(12_500);
    let request = payout("b-1", "member-1", &account, &amount);
    let failed = payments.transfer(&request).await;
    assert!(
        matches!(failed, Err(PaymentsError::Unavailable(_))),
        "{failed:?}"
    );
    assert!(standin.controls().transfers().await.unwrap().is_empty());
    let retried = payments.transfer(&request).await.unwrap();
    let again = payments.transfer(&request).await.unwrap();
    assert_eq!(again, retried);
    let transfers = standin.controls().transfers().await.unwrap();
    assert_eq!(
        transfers
            .iter()
            .filter(
                |t| t.metadata.get("booking_id").map(String::as_str) == Some("b-1")
                    && t.metadata.get("member_id").map(String::as_str) == Some("member-1")
            )
            .count(),
        1
    );
}
