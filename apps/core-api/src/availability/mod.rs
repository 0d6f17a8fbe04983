//! Availability use cases: an influencer reads and changes their weekly windows and date
//! overrides. The rules of a change are the domain's ([`AvailabilityRules::set_override`],
//! [`AvailabilityRules::replace_weekly`]); this module loads, asks them, and writes.

use jiff::civil::Date;
use noillin_domain::{
    UserId, ValidationErrors,
    availability::{
        AvailabilityChangeError, AvailabilityRules, Override, WeeklyRules, parse_local_date,
    },
};
use noillin_store::StoreError;

use crate::AppState;

/// What an availability use case can answer besides its result.
#[derive(Debug, thiserror::Error)]
pub enum AvailabilityError {
    /// The date is not a `YYYY-MM-DD` calendar date.
    #[error("not a date YYYY-MM-DD")]
    InvalidDate,
    /// The windows break a rule; every problem is listed.
    #[error(transparent)]
    Invalid(ValidationErrors),
    /// A new date would take the overrides past the limit.
    #[error("too many date overrides")]
    TooManyOverrides,
    /// The date has no override to remove.
    #[error("no override on that date")]
    NoOverride,
    /// The store failed or is unreachable.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AvailabilityChangeError> for AvailabilityError {
    fn from(e: AvailabilityChangeError) -> Self {
        match e {
            AvailabilityChangeError::Invalid(errors) => AvailabilityError::Invalid(errors),
            AvailabilityChangeError::TooManyOverrides => AvailabilityError::TooManyOverrides,
        }
    }
}

/// The influencer's rules as stored.
pub async fn get_rules(
    state: &AppState,
    influencer: &UserId,
) -> Result<AvailabilityRules, AvailabilityError> {
    Ok(state.store.availability.get(influencer).await?)
}

/// Replaces the weekly windows (overrides stay); answers the rules as changed.
pub async fn replace_weekly(
    state: &AppState,
    influencer: &UserId,
    weekly: WeeklyRules,
) -> Result<AvailabilityRules, AvailabilityError> {
    let mut rules = state.store.availability.get(influencer).await?;
    rules
        .replace_weekly(weekly)
        .map_err(AvailabilityError::Invalid)?;
    state
        .store
        .availability
        .set_weekly(influencer, &rules.weekly)
        .await?;
    Ok(rules)
}

/// Sets the override of local date `date` (`YYYY-MM-DD`); answers the rules as changed.
pub async fn set_override(
    state: &AppState,
    influencer: &UserId,
    date: &str,
    value: Override,
) -> Result<AvailabilityRules, AvailabilityError> {
    let date = local_date(date)?;
    let mut rules = state.store.availability.get(influencer).await?;
    rules.set_override(date, value.clone())?;
    state
        .store
        .availability
        .set_override(influencer, date, &value)
        .await?;
    Ok(rules)
}

/// Removes the override of local date `date` (`YYYY-MM-DD`).
pub async fn remove_override(
    state: &AppState,
    influencer: &UserId,
    date: &str,
) -> Result<(), AvailabilityError> {
    let date = local_date(date)?;
    match state
        .store
        .availability
        .remove_override(influencer, date)
        .await
    {
        Err(StoreError::NotFound) => Err(AvailabilityError::NoOverride),
        other => Ok(other?),
    }
}

fn local_date(text: &str) -> Result<Date, AvailabilityError> {
    parse_local_date(text).ok_or(AvailabilityError::InvalidDate)
}
