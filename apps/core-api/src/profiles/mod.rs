//! Profiles: each user reads and edits its own; anyone signed in reads an influencer's public
//! profile. Brands' profiles are private to the brand.

use noillin_domain::{
    BrandProfile, InfluencerProfile, UserId, ValidationErrors,
    event::Event,
    profile::{BrandProfileChanges, InfluencerProfileChanges},
};
use noillin_store::StoreError;

use crate::{AppState, accounts, outbox};

/// What the profile use cases answer when they do not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ProfilesError {
    /// No such profile, or one the caller may not see.
    #[error("no such profile")]
    NotFound,
    /// The changes break the rules; every field error is listed.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The events of a change could not be made into outbox messages.
    #[error("outbox: {0}")]
    Outbox(anyhow::Error),
}

/// The influencer `user_id`'s own profile.
pub async fn my_influencer_profile(
    state: &AppState,
    user_id: &UserId,
) -> Result<InfluencerProfile, ProfilesError> {
    state
        .store
        .profiles
        .influencer(user_id)
        .await?
        .ok_or(ProfilesError::NotFound)
}

/// Applies `changes` to the influencer `user_id`'s own profile: all of them or, when any field
/// breaks the rules, none. Search hears of it through the outbox, in the same store step.
pub async fn update_my_influencer_profile(
    state: &AppState,
    user_id: &UserId,
    changes: InfluencerProfileChanges,
    correlation_id: Option<&str>,
) -> Result<InfluencerProfile, ProfilesError> {
    let profile = my_influencer_profile(state, user_id)
        .await?
        .apply(changes)?;
    let changed = Event::SearchInfluencerChanged {
        user_id: user_id.to_string(),
    };
    let messages =
        outbox::messages(vec![changed], correlation_id).map_err(ProfilesError::Outbox)?;
    state
        .store
        .profiles
        .update_influencer(&profile, &messages)
        .await?;
    state.relay_waker.wake();
    Ok(profile)
}

/// An influencer's public profile. Unknown ids, non-influencers and suspended accounts are all
/// simply not found.
pub async fn public_influencer_profile(
    state: &AppState,
    id: &UserId,
) -> Result<InfluencerProfile, ProfilesError> {
    if accounts::active_influencer(state, id).await?.is_none() {
        return Err(ProfilesError::NotFound);
    }
    my_influencer_profile(state, id).await
}

/// The brand `user_id`'s own profile.
pub async fn my_brand_profile(
    state: &AppState,
    user_id: &UserId,
) -> Result<BrandProfile, ProfilesError> {
    state
        .store
        .profiles
        .brand(user_id)
        .await?
        .ok_or(ProfilesError::NotFound)
}

/// Applies `changes` to the brand `user_id`'s own profile: all of them or, when any field
/// breaks the rules, none.
pub async fn update_my_brand_profile(
    state: &AppState,
    user_id: &UserId,
    changes: BrandProfileChanges,
) -> Result<BrandProfile, ProfilesError> {
    let profile = my_brand_profile(state, user_id).await?.apply(changes)?;
    state.store.profiles.update_brand(&profile).await?;
    Ok(profile)
}
