//! `available_on`: whether a hit has at least one bookable slot on a local day, decided by the
//! slot engine over the store's current state (rules, overrides, live bookings), exactly as the
//! slots endpoint lists them.

use jiff::{civil::Date, tz::TimeZone};
use noillin_domain::{
    UserId,
    gig::{Gig, GigId, GigStatus},
};
use noillin_store::PageRequest;

use super::{SearchError, day_bounds};
use crate::{AppState, gigs, gigs::GigError};

/// Gigs read per store page when collecting an influencer's gigs.
const GIG_PAGE: u32 = 100;

/// Whether gig `id` has a slot on `day` in its owner's zone.
pub async fn gig(state: &AppState, id: String, day: Date) -> Result<bool, SearchError> {
    let Some(gig) = state.store.gigs.find(&GigId::from_string(id)).await? else {
        return Ok(false);
    };
    if gig.status != GigStatus::Published {
        return Ok(false);
    }
    let Some(zone) = zone_of(state, &gig.owner_id).await? else {
        return Ok(false);
    };
    has_slot(state, &gig, day, &zone).await
}

/// Whether influencer `id` can be booked on `day` in their zone: some published gig of theirs
/// (owned, or a group gig they are in) has a slot then.
pub async fn influencer(state: &AppState, id: String, day: Date) -> Result<bool, SearchError> {
    let user = UserId::from_string(id);
    let Some(zone) = zone_of(state, &user).await? else {
        return Ok(false);
    };
    let mut after = None;
    loop {
        let page = state
            .store
            .gigs
            .list_for_member(
                &user,
                &PageRequest {
                    after: after.take(),
                    limit: GIG_PAGE,
                },
            )
            .await?;
        for gig in page.iter().filter(|g| g.status == GigStatus::Published) {
            if has_slot(state, gig, day, &zone).await? {
                return Ok(true);
            }
        }
        if page.len() < GIG_PAGE as usize {
            return Ok(false);
        }
        after = page.last().map(|g| g.id.to_string());
    }
}

/// The influencer's time zone, `None` when they have no profile.
async fn zone_of(state: &AppState, user: &UserId) -> Result<Option<TimeZone>, SearchError> {
    let Some(profile) = state.store.profiles.influencer(user).await? else {
        return Ok(None);
    };
    TimeZone::get(&profile.time_zone)
        .map(Some)
        .map_err(|e| SearchError::Corrupt(format!("stored time zone {}: {e}", profile.time_zone)))
}

/// Whether `gig` can start within local day `day` of `zone`.
async fn has_slot(
    state: &AppState,
    gig: &Gig,
    day: Date,
    zone: &TimeZone,
) -> Result<bool, SearchError> {
    let Some((from, to)) = day_bounds(day, zone) else {
        return Ok(false);
    };
    match gigs::starts(state, gig, from, to).await {
        Ok(starts) => Ok(!starts.is_empty()),
        // A day the engine cannot place, or a member without a profile: no slot.
        Err(GigError::Invalid(_) | GigError::NotFound) => Ok(false),
        Err(GigError::Store(e)) => Err(e.into()),
        Err(e) => Err(SearchError::Corrupt(e.to_string())),
    }
}
