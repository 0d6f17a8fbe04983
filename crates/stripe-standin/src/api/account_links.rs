//! Account links: a link to the stand-in's own onboarding page, which completes the account's
//! onboarding and redirects to the link's `return_url`.

use stripe_connect::AccountLink;

use crate::errors::{ApiError, to_json};
use crate::params::Params;
use crate::state::{Ctx, State};

/// How long a link may be opened, as Stripe's (a few minutes). The stand-in does not enforce
/// it: a link opened late still onboards.
const LINK_LIFETIME_SECS: i64 = 300;

pub(super) fn create(
    state: &State,
    ctx: &Ctx,
    params: &Params,
) -> Result<serde_json::Value, ApiError> {
    let account = params.required("account")?;
    let type_ = params.required("type")?;
    if type_ != "account_onboarding" {
        return Err(ApiError::bad_param(
            "type",
            format!("The stand-in only makes account_onboarding links (got {type_})."),
        ));
    }
    let return_url = params.required("return_url")?;
    if reqwest::Url::parse(return_url).is_err() {
        return Err(ApiError::bad_param(
            "return_url",
            format!("Not a valid URL: {return_url}"),
        ));
    }
    if let Some(refresh_url) = params.get("refresh_url")
        && reqwest::Url::parse(refresh_url).is_err()
    {
        return Err(ApiError::bad_param(
            "refresh_url",
            format!("Not a valid URL: {refresh_url}"),
        ));
    }
    if !state.accounts.contains_key(account) {
        return Err(ApiError::no_such_param("account", account, "account"));
    }
    let page = format!("{}/_sim/onboarding/{account}", state.base_url);
    let url = reqwest::Url::parse_with_params(&page, [("return_url", return_url)])
        .map_err(|err| ApiError::internal(format!("could not make the link: {err}")))?;
    to_json(&AccountLink {
        created: ctx.now,
        expires_at: ctx.now + LINK_LIFETIME_SECS,
        url: url.into(),
    })
}
