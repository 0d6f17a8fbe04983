//! Money: `/me/earnings` (influencers), `/me/spending` (brands), `/me/payout-account`
//! (influencers).

use axum::extract::State;
use noillin_domain::ledger::{Account, Balance, LedgerEntry};
use noillin_payments::PayoutAccount;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    earnings::{self, EarningsError, Statement},
    error::{ApiError, ApiResult},
    extract::{ApiQuery, Brand, Influencer, WithRole},
    paging::Page,
    routes::problems::{InvalidQuery, RoleRequired},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_earnings))
        .routes(routes!(my_spending))
        .routes(routes!(my_payout_account, connect_payout_account))
}

/// One currency's balance.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    pub currency: String,
    /// Minor units: the sum of every entry.
    pub balance_minor: i64,
    /// Earned but not yet payable (paid out `PAYOUT_DELAY_HOURS` after settlement).
    pub pending_minor: i64,
    /// What may be paid out now: balance less pending.
    pub available_minor: i64,
}

impl From<&Balance> for BalanceView {
    fn from(b: &Balance) -> Self {
        Self {
            currency: b.currency.clone(),
            balance_minor: b.balance_minor,
            pending_minor: b.pending_minor,
            available_minor: b.available_minor(),
        }
    }
}

/// One ledger entry of your account.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    /// The entry's place in your account: 1, 2, 3, … in the order written.
    pub seq: u64,
    pub booking_id: String,
    /// `charge`, `platform_fee`, `earning`, `refund`, `payout` or `reversal`.
    pub kind: String,
    /// Minor units added to your balance (negative: taken away).
    pub amount_minor: i64,
    pub currency: String,
    /// Your balance in this currency once this entry is counted.
    pub balance_after_minor: i64,
    pub at: String,
    /// When it may be paid out (earnings: their payout date).
    pub available_at: String,
}

impl From<&LedgerEntry> for EntryView {
    fn from(e: &LedgerEntry) -> Self {
        Self {
            seq: e.seq,
            booking_id: e.posting.booking_id.to_string(),
            kind: e.posting.kind.as_str().to_owned(),
            amount_minor: e.posting.amount_minor,
            currency: e.posting.currency.clone(),
            balance_after_minor: e.balance_after_minor,
            at: e.posting.at.to_string(),
            available_at: e.posting.available_at.to_string(),
        }
    }
}

/// Your balances and one page of your entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementView {
    pub balances: Vec<BalanceView>,
    pub items: Vec<EntryView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<String>,
    /// The instant the balances are for.
    pub at: String,
}

impl From<Statement> for StatementView {
    fn from(s: Statement) -> Self {
        Self {
            balances: s.balances.iter().map(BalanceView::from).collect(),
            items: s.entries.iter().map(EntryView::from).collect(),
            next_before: s.next_before.map(|seq| seq.to_string()),
            at: s.at.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last `seq` of the previous page.
    #[param(max_length = 19, pattern = "^[0-9]{1,19}$")]
    pub before: Option<String>,
}

async fn statement(
    state: &AppState,
    account: &Account,
    query: StatementQuery,
) -> ApiResult<axum::Json<StatementView>> {
    let page = Page::read(query.limit, "before", query.before)?;
    let before = match page.cursor.as_deref() {
        None => None,
        // Exactly what the documented pattern admits: `parse` alone would also take a `+` and
        // leading zeros past 19 digits.
        Some(text) => Some(
            Some(text)
                .filter(|t| (1..=19).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "before",
                        "invalid_cursor",
                        "must be a `seq` from a previous page",
                    )
                })?,
        ),
    };
    let statement = earnings::statement(state, account, before, &page).await?;
    Ok(axum::Json(StatementView::from(statement)))
}

/// Your earnings as an influencer: balance per currency (pending until payable, then
/// available until paid out) and every entry — earnings, payouts, reversals — newest first.
#[utoipa::path(get, path = "/me/earnings", tag = "earnings", security(("bearer" = [])),
    params(StatementQuery),
    responses((status = 200, description = "Balances and one page of entries", body = StatementView),
        RoleRequired, InvalidQuery))]
async fn my_earnings(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    ApiQuery(query): ApiQuery<StatementQuery>,
) -> ApiResult<axum::Json<StatementView>> {
    statement(&state, &earnings::account_of(&user.0), query).await
}

/// Your spending as a brand: what you paid (`charge`) and got back (`refund`), per currency,
/// newest first.
#[utoipa::path(get, path = "/me/spending", tag = "earnings", security(("bearer" = [])),
    params(StatementQuery),
    responses((status = 200, description = "Balances and one page of entries", body = StatementView),
        RoleRequired, InvalidQuery))]
async fn my_spending(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Brand>,
    ApiQuery(query): ApiQuery<StatementQuery>,
) -> ApiResult<axum::Json<StatementView>> {
    statement(&state, &earnings::account_of(&user.0), query).await
}

/// Your payout account at Stripe.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutAccountView {
    /// Whether you connected one.
    pub connected: bool,
    /// The Stripe connected account (`acct_…`).
    pub account_id: Option<String>,
    /// Whether Stripe lets the platform transfer to it (onboarding finished).
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    /// Where to finish onboarding at Stripe; only in the answer to `POST`.
    pub onboarding_url: Option<String>,
}

impl PayoutAccountView {
    fn of(account: Option<&PayoutAccount>, onboarding_url: Option<String>) -> Self {
        Self {
            connected: account.is_some(),
            account_id: account.map(|a| a.id.clone()),
            payouts_enabled: account.is_some_and(|a| a.payouts_enabled),
            details_submitted: account.is_some_and(|a| a.details_submitted),
            onboarding_url,
        }
    }
}

/// Your payout account and whether it can be paid.
#[utoipa::path(get, path = "/me/payout-account", tag = "earnings", security(("bearer" = [])),
    responses((status = 200, description = "Your payout account", body = PayoutAccountView), RoleRequired))]
async fn my_payout_account(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
) -> ApiResult<axum::Json<PayoutAccountView>> {
    let account = earnings::payout_account(&state, &user.0).await?;
    Ok(axum::Json(PayoutAccountView::of(account.as_ref(), None)))
}

/// Connects a payout account (a Stripe connected account, made once) and answers a fresh
/// `onboarding_url`: open it to give Stripe your details; Stripe sends you back to the
/// dashboard. Payouts wait until onboarding is done.
#[utoipa::path(post, path = "/me/payout-account", tag = "earnings", security(("bearer" = [])),
    responses((status = 200, description = "Your payout account and where to onboard", body = PayoutAccountView), RoleRequired))]
async fn connect_payout_account(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
) -> ApiResult<axum::Json<PayoutAccountView>> {
    let (account, link) = earnings::connect_payout_account(&state, &user.0).await?;
    Ok(axum::Json(PayoutAccountView::of(
        Some(&account),
        Some(link),
    )))
}

impl From<EarningsError> for ApiError {
    fn from(e: EarningsError) -> Self {
        match e {
            EarningsError::PaymentsUnavailable(reason) => ApiError::Unavailable(reason),
            EarningsError::PaymentsRefused(reason) => {
                ApiError::Internal(anyhow::anyhow!("the payment provider refused: {reason}"))
            }
            EarningsError::Store(e) => e.into(),
        }
    }
}
