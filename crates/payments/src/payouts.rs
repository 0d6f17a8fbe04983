//! Payout accounts (Stripe Connect Express accounts), their onboarding, and transfers to them
//! through async-stripe.

use std::collections::HashMap;

use noillin_domain::gig::Money;
use stripe::StripeRequest;
use stripe_connect::{
    account::{
        CreateAccount, CreateAccountCapabilities, CreateAccountCapabilitiesTransfers,
        CreateAccountType, RetrieveAccount,
    },
    account_link::{CreateAccountLink, CreateAccountLinkType},
    transfer::CreateTransfer,
};
use stripe_shared::Account;

use crate::intents::{BOOKING_ID_KEY, Payments, PaymentsError, currency, idempotent, money};

/// The metadata key a payout account names its user under.
pub const USER_ID_KEY: &str = "user_id";
/// The metadata key a transfer names the member it pays under.
pub const MEMBER_ID_KEY: &str = "member_id";

/// A member's payout account as the platform needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutAccount {
    pub id: String,
    /// The account can be paid out to its bank.
    pub payouts_enabled: bool,
    /// Its holder finished the onboarding form.
    pub details_submitted: bool,
}

/// One transfer of a booking's money to one member's payout account.
#[derive(Debug, Clone, Copy)]
pub struct TransferRequest<'a> {
    pub booking_id: &'a str,
    pub member_id: &'a str,
    /// The member's payout account (`acct_…`).
    pub destination: &'a str,
    pub amount: &'a Money,
    pub description: &'a str,
}

/// A transfer the provider made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReceipt {
    pub id: String,
    pub amount_minor: i64,
    /// Upper case, as the platform writes currencies.
    pub currency: String,
}

fn read_account(account: &Account) -> PayoutAccount {
    PayoutAccount {
        id: account.id.to_string(),
        payouts_enabled: account.payouts_enabled.unwrap_or(false),
        details_submitted: account.details_submitted.unwrap_or(false),
    }
}

impl Payments {
    /// Makes the payout account of `user_id`: an Express account with the `transfers`
    /// capability requested, its user in the metadata. Made again for the same user (a retried
    /// request), it is the same account.
    pub async fn create_payout_account(
        &self,
        user_id: &str,
        email: &str,
    ) -> Result<PayoutAccount, PaymentsError> {
        let mut capabilities = CreateAccountCapabilities::new();
        capabilities.transfers = Some(CreateAccountCapabilitiesTransfers {
            requested: Some(true),
        });
        let metadata = HashMap::from([(USER_ID_KEY.to_owned(), user_id.to_owned())]);
        let account = CreateAccount::new()
            .type_(CreateAccountType::Express)
            .email(email)
            .capabilities(capabilities)
            .metadata(metadata)
            .customize()
            .request_strategy(idempotent(&format!("payout-account-{user_id}"))?)
            .send(&self.client)
            .await
            .map_err(PaymentsError::from_stripe)?;
        Ok(read_account(&account))
    }

    /// The payout account `account_id` as the provider has it now.
    pub async fn payout_account(&self, account_id: &str) -> Result<PayoutAccount, PaymentsError> {
        let account = RetrieveAccount::new(account_id)
            .send(&self.client)
            .await
            .map_err(PaymentsError::from_stripe)?;
        Ok(read_account(&account))
    }

    /// A link to the provider's onboarding of `account_id`, for its holder's browser: it comes
    /// back to `return_url` when done, or to `refresh_url` when the link expired or was used
    /// (then ask for a new one). Links are short-lived and single-use: make one per visit.
    pub async fn onboarding_link(
        &self,
        account_id: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> Result<String, PaymentsError> {
        let link = CreateAccountLink::new(account_id, CreateAccountLinkType::AccountOnboarding)
            .refresh_url(refresh_url)
            .return_url(return_url)
            .send(&self.client)
            .await
            .map_err(PaymentsError::from_stripe)?;
        Ok(link.url)
    }

    /// Transfers `request.amount` to the member's payout account, in the booking's transfer
    /// group, naming the booking and the member in its metadata. Asked again for the same
    /// booking and member (a replay after a crash), it is the same transfer, never a second
    /// one. A destination that cannot receive transfers (unknown, or not onboarded) is
    /// [`PaymentsError::Refused`]; note that the provider then keeps that refusal under the
    /// booking and member's key for a day, so check [`PayoutAccount::payouts_enabled`] first.
    pub async fn transfer(
        &self,
        request: &TransferRequest<'_>,
    ) -> Result<TransferReceipt, PaymentsError> {
        let metadata = HashMap::from([
            (BOOKING_ID_KEY.to_owned(), request.booking_id.to_owned()),
            (MEMBER_ID_KEY.to_owned(), request.member_id.to_owned()),
        ]);
        let key = format!(
            "booking-{}-payout-{}",
            request.booking_id, request.member_id
        );
        let transfer = CreateTransfer::new(currency(request.amount)?, request.destination)
            .amount(request.amount.amount_minor)
            .transfer_group(request.booking_id)
            .metadata(metadata)
            .description(request.description)
            .customize()
            .request_strategy(idempotent(&key)?)
            .send(&self.client)
            .await
            .map_err(PaymentsError::from_stripe)?;
        let paid = money(transfer.amount, &transfer.currency);
        Ok(TransferReceipt {
            id: transfer.id.to_string(),
            amount_minor: paid.amount_minor,
            currency: paid.currency,
        })
    }
}
