//! Money as each side sees it: an influencer's earnings (balances per currency, pending and
//! available, and the ledger's entries) and payout account, a brand's spending. Reads only:
//! entries are written by the booking changes that cause them.

use jiff::Timestamp;
use noillin_domain::{
    User,
    ledger::{Account, Balance, LedgerEntry},
};
use noillin_payments::{PaymentsError, PayoutAccount};
use noillin_store::StoreError;

use crate::{AppState, paging::Page};

/// What a ledger use case answers instead.
#[derive(Debug, thiserror::Error)]
pub enum EarningsError {
    #[error("payments unavailable: {0}")]
    PaymentsUnavailable(String),
    #[error("the payment provider refused: {0}")]
    PaymentsRefused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PaymentsError> for EarningsError {
    fn from(e: PaymentsError) -> Self {
        match e {
            PaymentsError::Refused(reason) => EarningsError::PaymentsRefused(reason),
            other => EarningsError::PaymentsUnavailable(other.to_string()),
        }
    }
}

/// An account's balances and one page of its entries, newest first.
#[derive(Debug, Clone)]
pub struct Statement {
    pub balances: Vec<Balance>,
    pub entries: Vec<LedgerEntry>,
    pub next_before: Option<u64>,
    pub at: Timestamp,
}

/// The ledger account of `user`: an influencer's earnings, a brand's spending.
pub fn account_of(user: &User) -> Account {
    match user.role {
        noillin_domain::Role::Brand => Account::Brand(user.id.clone()),
        _ => Account::Influencer(user.id.clone()),
    }
}

/// `account`'s balances now and the page of entries `page` asks for (its cursor is an entry's
/// `seq`; one that is not a number is a validation error of the route).
pub async fn statement(
    state: &AppState,
    account: &Account,
    before: Option<u64>,
    page: &Page,
) -> Result<Statement, EarningsError> {
    let now = state.clock.now();
    let balances = state.store.ledger.balances(account, now).await?;
    let entries = state
        .store
        .ledger
        .entries(account, before, page.limit)
        .await?;
    let next_before = page.next(&entries, |e| e.seq);
    Ok(Statement {
        balances,
        entries,
        next_before,
        at: now,
    })
}

/// The influencer's payout account as the provider knows it, if they connected one.
pub async fn payout_account(
    state: &AppState,
    influencer: &User,
) -> Result<Option<PayoutAccount>, EarningsError> {
    let Some(id) = state.store.profiles.payout_account(&influencer.id).await? else {
        return Ok(None);
    };
    Ok(Some(state.payments.payout_account(&id).await?))
}

/// Connects a payout account for the influencer (made once, however often this is asked) and
/// answers it with a fresh onboarding link.
pub async fn connect_payout_account(
    state: &AppState,
    influencer: &User,
) -> Result<(PayoutAccount, String), EarningsError> {
    let account_id = match state.store.profiles.payout_account(&influencer.id).await? {
        Some(id) => id,
        None => {
            // The provider's idempotency key is the user's: two racing requests make one
            // account, and the store keeps the first id it is given.
            let made = state
                .payments
                .create_payout_account(influencer.id.as_str(), influencer.email.as_str())
                .await?;
            state
                .store
                .profiles
                .set_payout_account(&influencer.id, &made.id)
                .await?
        }
    };
    let base = &state.dashboard_url;
    let link = state
        .payments
        .onboarding_link(
            &account_id,
            &format!("{base}payouts?onboarding=retry"),
            &format!("{base}payouts?onboarding=done"),
        )
        .await?;
    let account = state.payments.payout_account(&account_id).await?;
    tracing::info!(user_id = %influencer.id, account_id, "payout account onboarding link made");
    Ok((account, link))
}
