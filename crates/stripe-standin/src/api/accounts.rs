//! Connected accounts and their onboarding. An account starts with nothing submitted, neither
//! charges nor payouts enabled, and its requested `transfers` capability `inactive`;
//! completing onboarding (its account link, or `POST /_sim/accounts/{id}/onboard`) submits its
//! details, enables charges and payouts and activates the requested capability.

use stripe_shared::{
    Account, AccountBusinessType, AccountCapabilities, AccountCapabilitiesStatus, AccountId,
    AccountType,
};

use crate::errors::{ApiError, to_json};
use crate::ids;
use crate::params::{Params, parse_bool};
use crate::state::{Ctx, State};

/// The country of an account made without one: the stand-in platform's.
const DEFAULT_COUNTRY: &str = "US";

pub(super) fn retrieve(state: &State, id: &str) -> Result<serde_json::Value, ApiError> {
    to_json(
        state
            .accounts
            .get(id)
            .ok_or_else(|| ApiError::no_such("account", id, "account"))?,
    )
}

fn account_type(params: &Params) -> Result<AccountType, ApiError> {
    match params.get("type") {
        // Stripe's default when neither `type` nor `controller` is given.
        None | Some("standard") => Ok(AccountType::Standard),
        Some("express") => Ok(AccountType::Express),
        Some("custom") => Ok(AccountType::Custom),
        Some(other) => Err(ApiError::bad_param(
            "type",
            format!("Invalid type: must be one of custom, express, or standard (got {other})"),
        )),
    }
}

fn business_type(params: &Params) -> Result<Option<AccountBusinessType>, ApiError> {
    match params.get("business_type") {
        None => Ok(None),
        Some("individual") => Ok(Some(AccountBusinessType::Individual)),
        Some("company") => Ok(Some(AccountBusinessType::Company)),
        Some("non_profit") => Ok(Some(AccountBusinessType::NonProfit)),
        Some("government_entity") => Ok(Some(AccountBusinessType::GovernmentEntity)),
        Some(other) => Err(ApiError::bad_param(
            "business_type",
            format!(
                "Invalid business_type: must be one of company, government_entity, individual, or non_profit \
                 (got {other})"
            ),
        )),
    }
}

pub(super) fn create(
    state: &mut State,
    ctx: &Ctx,
    params: &Params,
) -> Result<serde_json::Value, ApiError> {
    let type_ = account_type(params)?;
    let business_type = business_type(params)?;
    let key = "capabilities[transfers][requested]";
    let transfers_requested = parse_bool(
        key,
        params.get_at(&["capabilities", "transfers", "requested"]),
    )?
    .unwrap_or(false);
    let id = ids::new_id("acct");
    let account = Account {
        business_profile: None,
        business_type,
        capabilities: Some(capabilities(
            transfers_requested.then_some(AccountCapabilitiesStatus::Inactive),
        )),
        charges_enabled: Some(false),
        company: None,
        controller: None,
        country: Some(
            params
                .string("country")
                .unwrap_or_else(|| DEFAULT_COUNTRY.to_owned()),
        ),
        created: Some(ctx.now),
        default_currency: None,
        details_submitted: Some(false),
        email: params.string("email"),
        external_accounts: None,
        future_requirements: None,
        groups: None,
        id: AccountId::from(id.as_str()),
        individual: None,
        metadata: Some(params.map("metadata")),
        payouts_enabled: Some(false),
        requirements: None,
        settings: None,
        tos_acceptance: None,
        type_: Some(type_),
    };
    let body = to_json(&account)?;
    state.accounts.insert(id, account);
    Ok(body)
}

/// Completes the account's onboarding as its holder would, sending `account.updated`; an
/// account onboarded already is left as it is, and no event is sent.
pub(crate) fn onboard(state: &mut State, ctx: &Ctx, id: &str) -> Result<Account, ApiError> {
    let Some(account) = state.accounts.get_mut(id) else {
        return Err(ApiError::no_such("account", id, "account"));
    };
    if account.details_submitted == Some(true) {
        return Ok(account.clone());
    }
    account.details_submitted = Some(true);
    account.charges_enabled = Some(true);
    account.payouts_enabled = Some(true);
    if let Some(capabilities) = account.capabilities.as_mut()
        && capabilities.transfers.is_some()
    {
        capabilities.transfers = Some(AccountCapabilitiesStatus::Active);
    }
    let account = account.clone();
    state.emit(ctx, "account.updated", id, &account)?;
    Ok(account)
}

/// Whether the account can be the destination of a transfer.
pub(super) fn transfers_active(account: &Account) -> bool {
    account.capabilities.as_ref().is_some_and(|capabilities| {
        capabilities.transfers == Some(AccountCapabilitiesStatus::Active)
    })
}

/// An account's capabilities: `transfers` as given, none of the others requested.
fn capabilities(transfers: Option<AccountCapabilitiesStatus>) -> AccountCapabilities {
    AccountCapabilities {
        transfers,
        acss_debit_payments: None,
        affirm_payments: None,
        afterpay_clearpay_payments: None,
        alma_payments: None,
        amazon_pay_payments: None,
        app_distribution: None,
        au_becs_debit_payments: None,
        bacs_debit_payments: None,
        bancontact_payments: None,
        bank_transfer_payments: None,
        billie_payments: None,
        bizum_payments: None,
        blik_payments: None,
        blik_recurring_payments: None,
        boleto_payments: None,
        card_issuing: None,
        card_payments: None,
        cartes_bancaires_payments: None,
        cashapp_payments: None,
        crypto_payments: None,
        eps_payments: None,
        fpx_payments: None,
        gb_bank_transfer_payments: None,
        giropay_payments: None,
        grabpay_payments: None,
        ideal_payments: None,
        india_international_payments: None,
        jcb_payments: None,
        jp_bank_transfer_payments: None,
        kakao_pay_payments: None,
        klarna_payments: None,
        konbini_payments: None,
        kr_card_payments: None,
        legacy_payments: None,
        link_payments: None,
        mb_way_payments: None,
        mobilepay_payments: None,
        multibanco_payments: None,
        mx_bank_transfer_payments: None,
        naver_pay_payments: None,
        nz_bank_account_becs_debit_payments: None,
        oxxo_payments: None,
        p24_payments: None,
        pay_by_bank_payments: None,
        payco_payments: None,
        paynow_payments: None,
        paypay_payments: None,
        payto_payments: None,
        pix_payments: None,
        promptpay_payments: None,
        revolut_pay_payments: None,
        samsung_pay_payments: None,
        satispay_payments: None,
        scalapay_payments: None,
        sepa_bank_transfer_payments: None,
        sepa_debit_payments: None,
        sequra_payments: None,
        sofort_payments: None,
        sunbit_payments: None,
        swish_payments: None,
        tax_reporting_us_1099_k: None,
        tax_reporting_us_1099_misc: None,
        treasury: None,
        twint_payments: None,
        upi_payments: None,
        us_bank_account_ach_payments: None,
        us_bank_transfer_payments: None,
        zip_payments: None,
    }
}
