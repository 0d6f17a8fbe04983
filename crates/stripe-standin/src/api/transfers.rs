//! Transfers to connected accounts made through the stand-in whose `transfers` capability is
//! active; there are no balances to check them against. A test can make the next attempts to
//! a destination fail as an outage would (`POST /_sim/transfers/failures`).

use stripe_shared::{AccountId, ChargeId, Transfer, TransferId};
use stripe_types::{Expandable, List};

use super::{accounts, currency};
use crate::errors::{ApiError, to_json};
use crate::ids;
use crate::params::Params;
use crate::state::{Ctx, State};

pub(super) fn retrieve(state: &State, id: &str) -> Result<serde_json::Value, ApiError> {
    to_json(
        state
            .transfers
            .get(id)
            .ok_or_else(|| ApiError::no_such("transfer", id, "transfer"))?,
    )
}

pub(super) fn create(
    state: &mut State,
    ctx: &Ctx,
    params: &Params,
) -> Result<serde_json::Value, ApiError> {
    let amount = params
        .amount("amount")?
        .ok_or_else(|| ApiError::missing_param("amount"))?;
    let currency = currency(params)?;
    let destination = params.required("destination")?;
    if let Some(left) = state.transfer_failures.get_mut(destination)
        && *left > 0
    {
        // An outage in front of the API: nothing is made, nothing is kept under the
        // idempotency key, and a retry is a new attempt.
        *left -= 1;
        return Err(ApiError::internal(
            "An unknown error occurred (a failure asked through POST /_sim/transfers/failures)."
                .to_owned(),
        ));
    }
    let Some(account) = state.accounts.get(destination) else {
        return Err(ApiError::no_such_param(
            "destination",
            destination,
            "destination",
        ));
    };
    if !accounts::transfers_active(account) {
        return Err(ApiError::invalid_request(
            "destination",
            "Your destination account needs to have at least one of the following capabilities enabled: \
             transfers, crypto_transfers, legacy_payments"
                .to_owned(),
        ));
    }
    let source_transaction = match params.get("source_transaction") {
        Some(charge) if !state.charges.contains_key(charge) => {
            return Err(ApiError::no_such_param(
                "charge",
                charge,
                "source_transaction",
            ));
        }
        Some(charge) => Some(Expandable::Id(ChargeId::from(charge))),
        None => None,
    };
    let id = ids::new_id("tr");
    let transfer = Transfer {
        amount,
        amount_reversed: 0,
        balance_transaction: None,
        created: ctx.now,
        currency,
        description: params.string("description"),
        destination: Some(Expandable::Id(AccountId::from(destination))),
        // The payment the transfer makes on the connected account, as Stripe names it.
        destination_payment: Some(Expandable::Id(ChargeId::from(ids::new_id("py")))),
        id: TransferId::from(id.as_str()),
        livemode: false,
        metadata: params.map("metadata"),
        reversals: List {
            data: Vec::new(),
            has_more: false,
            url: format!("/v1/transfers/{id}/reversals"),
        },
        reversed: false,
        source_transaction,
        source_type: Some("card".to_owned()),
        transfer_group: params.string("transfer_group"),
    };
    state.emit(ctx, "transfer.created", &id, &transfer)?;
    let body = to_json(&transfer)?;
    state.transfer_order.push(id.clone());
    state.transfers.insert(id, transfer);
    Ok(body)
}
