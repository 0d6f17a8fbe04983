//! The changes an influencer makes to their rules. Each is checked whole before it applies, so a
//! refused change leaves the rules exactly as they were.

use jiff::civil::Date;

use super::rules::{AvailabilityRules, Override, WeeklyRules};
use super::validate::MAX_OVERRIDES;
use crate::ValidationErrors;

/// Why a change to the rules was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvailabilityChangeError {
    /// The windows break a rule; every problem is listed.
    #[error(transparent)]
    Invalid(ValidationErrors),
    /// A new date would take the overrides past [`MAX_OVERRIDES`].
    #[error("at most {MAX_OVERRIDES} date overrides")]
    TooManyOverrides,
}

impl AvailabilityRules {
    /// Replaces the weekly windows; the overrides stay.
    pub fn replace_weekly(&mut self, weekly: WeeklyRules) -> Result<(), ValidationErrors> {
        weekly.validate()?;
        self.weekly = weekly;
        Ok(())
    }

    /// Sets the override of local `date`, replacing any it had. Replacing one is always
    /// possible; a new date is refused once there are [`MAX_OVERRIDES`], so an influencer
    /// removes past dates before adding more.
    pub fn set_override(
        &mut self,
        date: Date,
        value: Override,
    ) -> Result<(), AvailabilityChangeError> {
        value.validate().map_err(AvailabilityChangeError::Invalid)?;
        if !self.overrides.contains_key(&date) && self.overrides.len() >= MAX_OVERRIDES {
            return Err(AvailabilityChangeError::TooManyOverrides);
        }
        self.overrides.insert(date, value);
        Ok(())
    }
}
