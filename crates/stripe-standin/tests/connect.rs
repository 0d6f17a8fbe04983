//! Connected accounts through the real SDK: accounts, onboarding through an account link,
//! transfers that need an onboarded destination, and transfer outages.

mod common;

use std::collections::HashMap;

use common::{
    Receiver, client, count, new_account, onboarded_account, settings, start, stripe_error,
};
use noillin_stripe_standin::{Settings, TransferRecord};
use stripe::{ApiErrorsCode, ApiErrorsType, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_connect::account::RetrieveAccount;
use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
use stripe_connect::transfer::CreateTransfer;
use stripe_shared::{AccountBusinessType, AccountCapabilitiesStatus, AccountType};
use stripe_types::Currency;

fn transfers_status(account: &stripe_shared::Account) -> Option<AccountCapabilitiesStatus> {
    account
        .capabilities
        .as_ref()
        .and_then(|capabilities| capabilities.transfers.clone())
}

fn idempotent(key: &str) -> RequestStrategy {
    RequestStrategy::Idempotent(IdempotencyKey::new(key).expect("a key"))
}

#[tokio::test]
async fn an_account_starts_not_onboarded_and_is_retrieved() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let created = new_account(&client).await;
    assert!(created.id.as_str().starts_with("acct_"), "{}", created.id);
    assert_eq!(created.type_, Some(AccountType::Express));
    assert_eq!(created.country.as_deref(), Some("FR"));
    assert_eq!(created.email.as_deref(), Some("creator@example.com"));
    assert_eq!(created.business_type, Some(AccountBusinessType::Individual));
    assert_eq!(
        created.metadata,
        Some(HashMap::from([("user_id".to_owned(), "u1".to_owned())]))
    );
    assert_eq!(
        (
            created.charges_enabled,
            created.payouts_enabled,
            created.details_submitted
        ),
        (Some(false), Some(false), Some(false))
    );
    assert_eq!(
        transfers_status(&created),
        Some(AccountCapabilitiesStatus::Inactive)
    );

    let retrieved = RetrieveAccount::new(created.id.clone())
        .send(&client)
        .await
        .expect("the account is retrieved");
    assert_eq!(retrieved.id, created.id);
    assert_eq!(retrieved.created, created.created);

    let (error, status) = stripe_error(RetrieveAccount::new("acct_missing").send(&client).await);
    assert_eq!(
        (status, error.code),
        (404, Some(ApiErrorsCode::ResourceMissing))
    );
}

#[tokio::test]
async fn an_account_link_onboards_the_account_and_redirects_back() {
    let receiver = Receiver::start().await;
    let standin = start(Settings {
        webhook_url: Some(receiver.url.clone()),
        ..settings()
    })
    .await;
    let client = client(&standin);
    let account = new_account(&client).await.id.to_string();
    let link = CreateAccountLink::new(account.as_str(), CreateAccountLinkType::AccountOnboarding)
        .refresh_url("https://app.example/payouts/refresh")
        .return_url("https://app.example/payouts/done?from=stripe")
        .send(&client)
        .await
        .expect("the link is made");
    assert!(
        link.url
            .starts_with(&format!("{}_sim/onboarding/{account}?", standin.base_url())),
        "{}",
        link.url
    );
    assert!(link.expires_at > link.created);

    let controls = standin.controls();
    let back = controls
        .open_account_link(&link.url)
        .await
        .expect("the link is opened");
    assert_eq!(back, "https://app.example/payouts/done?from=stripe");
    let onboarded = RetrieveAccount::new(account.as_str())
        .send(&client)
        .await
        .expect("the account is retrieved");
    assert_eq!(
        (
            onboarded.charges_enabled,
            onboarded.payouts_enabled,
            onboarded.details_submitted
        ),
        (Some(true), Some(true), Some(true))
    );
    assert_eq!(
        transfers_status(&onboarded),
        Some(AccountCapabilitiesStatus::Active)
    );

    receiver
        .wait_for(|received| count(received, "account.updated", &account) == 1)
        .await;
    receiver.inspect(|received| {
        let updated = received
            .iter()
            .find(|r| r.r#type == "account.updated")
            .expect("the event");
        match &updated.event().data.object {
            stripe_webhook::EventObject::AccountUpdated(sent) => {
                assert_eq!(sent.payouts_enabled, Some(true));
            }
            other => panic!("account.updated parsed as {other:?}"),
        }
    });
    // Opened again (or onboarded through the control), nothing changes and nothing is sent.
    controls
        .open_account_link(&link.url)
        .await
        .expect("opened again");
    controls.onboard(&account).await.expect("onboarded again");
    let events = controls.events().await.expect("the events");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.r#type == "account.updated")
            .count(),
        1
    );

    let (error, status) = stripe_error(
        CreateAccountLink::new("acct_missing", CreateAccountLinkType::AccountOnboarding)
            .return_url("https://app.example/done")
            .send(&client)
            .await,
    );
    assert_eq!(
        (status, error.code, error.param.as_deref()),
        (400, Some(ApiErrorsCode::ResourceMissing), Some("account"))
    );
    assert!(controls.onboard("acct_missing").await.is_err());
}

#[tokio::test]
async fn a_transfer_needs_an_onboarded_account_made_here() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let (error, status) = stripe_error(
        CreateTransfer::new(Currency::EUR, "acct_1NotMadeHere")
            .amount(100)
            .send(&client)
            .await,
    );
    assert_eq!(
        (status, error.code, error.param.as_deref()),
        (
            400,
            Some(ApiErrorsCode::ResourceMissing),
            Some("destination")
        )
    );

    let account = new_account(&client).await.id.to_string();
    let request = CreateTransfer::new(Currency::EUR, account.as_str()).amount(100);
    let refused = request
        .customize()
        .request_strategy(idempotent("payout-1"))
        .send(&client)
        .await;
    let (error, status) = stripe_error(refused);
    assert_eq!(
        (status, error.type_, error.code, error.param.as_deref()),
        (
            400,
            ApiErrorsType::InvalidRequestError,
            None,
            Some("destination")
        )
    );
    assert_eq!(
        error.message.as_deref(),
        Some(
            "Your destination account needs to have at least one of the following capabilities enabled: \
             transfers, crypto_transfers, legacy_payments"
        )
    );

    standin
        .controls()
        .onboard(&account)
        .await
        .expect("onboarded");
    // As Stripe, the refusal is kept under its idempotency key: the same key answers it again.
    let (_, replayed) = stripe_error(
        request
            .customize()
            .request_strategy(idempotent("payout-1"))
            .send(&client)
            .await,
    );
    assert_eq!(replayed, 400);
    let made = request
        .customize()
        .request_strategy(idempotent("payout-2"))
        .send(&client)
        .await
        .expect("the transfer is made");
    let transfers = standin.controls().transfers().await.expect("the transfers");
    assert_eq!(
        transfers.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        [made.id.as_str()]
    );
}

#[tokio::test]
async fn a_transfer_outage_makes_nothing_and_a_retry_with_the_same_key_pays_once() {
    let standin = start(settings()).await;
    let client = client(&standin);
    let controls = standin.controls();
    let account = onboarded_account(&standin, &client).await;
    let other = onboarded_account(&standin, &client).await;
    controls
        .fail_transfers(&account, 2)
        .await
        .expect("failures armed");
    assert!(controls.fail_transfers("acct_missing", 1).await.is_err());

    let request = CreateTransfer::new(Currency::EUR, account.as_str())
        .amount(4_000)
        .transfer_group("booking_b1")
        .metadata(HashMap::from([
            ("booking_id".to_owned(), "b1".to_owned()),
            ("member_id".to_owned(), "m1".to_owned()),
        ]));
    for _ in 0..2 {
        let (error, status) = stripe_error(
            request
                .customize()
                .request_strategy(idempotent("booking-b1-payout-m1"))
                .send(&client)
                .await,
        );
        assert_eq!((status, error.type_), (500, ApiErrorsType::ApiError));
    }
    // Another destination is not affected.
    CreateTransfer::new(Currency::EUR, other.as_str())
        .amount(1)
        .send(&client)
        .await
        .expect("another destination is paid");
    assert_eq!(controls.transfers().await.expect("transfers").len(), 1);

    let made = request
        .customize()
        .request_strategy(idempotent("booking-b1-payout-m1"))
        .send(&client)
        .await
        .expect("the retry is made");
    let replayed = request
        .customize()
        .request_strategy(idempotent("booking-b1-payout-m1"))
        .send(&client)
        .await
        .expect("the replay is answered");
    assert_eq!(replayed.id, made.id);
    let to_account: Vec<TransferRecord> = controls
        .transfers()
        .await
        .expect("transfers")
        .into_iter()
        .filter(|t| t.destination == account)
        .collect();
    assert_eq!(
        to_account,
        [TransferRecord {
            id: made.id.to_string(),
            amount: 4_000,
            currency: "eur".to_owned(),
            destination: account.clone(),
            transfer_group: Some("booking_b1".to_owned()),
            metadata: HashMap::from([
                ("booking_id".to_owned(), "b1".to_owned()),
                ("member_id".to_owned(), "m1".to_owned()),
            ]),
        }]
    );
}
