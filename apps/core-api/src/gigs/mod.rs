//! Gigs: creation, editing, publication, group membership, and the slots a gig can be booked
//! at. Handlers call these; the rules live in the domain crate.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use noillin_domain::{
    UserId, ValidationErrors,
    availability::{MAX_QUERY_DAYS, Schedule, SlotError, SlotQuery, slots},
    gig::{Gig, GigChange, GigId, GigMember, GigStatus, MAX_MEMBERS, MemberState, changes},
};
use noillin_messaging::Event;
use noillin_store::{Constraint, StoreError};

use crate::{AppState, accounts, error::ApiError, extract::RequestId, outbox};

/// Loads a gig `viewer` may see ([`Gig::visible_to`]); others' drafts, gigs hidden because a
/// member is suspended, and unknown ids are the same 404.
pub async fn visible(state: &AppState, id: &str, viewer: &UserId) -> Result<Gig, ApiError> {
    let gig = state
        .store
        .gigs
        .find(&GigId::from_string(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    if gig.visible_to(viewer, members_active(state, &gig).await?) {
        Ok(gig)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Whether no one behind the gig (owner or member) is suspended, read now.
async fn members_active(state: &AppState, gig: &Gig) -> Result<bool, ApiError> {
    Ok(!state.store.users.any_suspended(&gig.people()).await?)
}

/// Loads a gig `owner` owns; anyone else's gig is a 404, as if it did not exist.
pub async fn owned(state: &AppState, id: &str, owner: &UserId) -> Result<Gig, ApiError> {
    let gig = visible(state, id, owner).await?;
    if gig.owner_id != *owner {
        return Err(ApiError::NotFound);
    }
    Ok(gig)
}

/// Stores `changed` (read as `original`) with compare-and-swap on its version, together with the
/// events the change emits: of two concurrent changes, the second gets 409 and changes nothing.
pub async fn save(
    state: &AppState,
    original: &Gig,
    mut changed: Gig,
    request: &RequestId,
) -> Result<Gig, ApiError> {
    changed.version = original.version + 1;
    changed.updated_at = state.clock.now();
    let events = changes(original, &changed)
        .into_iter()
        .map(|change| event(&changed, change))
        .collect();
    let messages = outbox::messages(events, request.0.as_deref())?;
    match state.store.gigs.update(&changed, &messages).await {
        Ok(()) => {
            if !messages.is_empty() {
                state.relay_waker.wake();
            }
            Ok(changed)
        }
        Err(StoreError::Conflict(Constraint::StaleVersion)) => Err(ApiError::Conflict(
            "concurrent-change",
            "the gig changed meanwhile; read it again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The event a change of `gig` emits.
fn event(gig: &Gig, change: GigChange) -> Event {
    let ids = |users: Vec<UserId>| users.into_iter().map(|u| u.to_string()).collect();
    let (gig_id, title, owner_id) = (
        gig.id.to_string(),
        gig.title.clone(),
        gig.owner_id.to_string(),
    );
    match change {
        GigChange::MemberInvited(member) => Event::GigMemberInvited {
            gig_id,
            title,
            owner_id,
            member_id: member.to_string(),
        },
        GigChange::MemberAnswered { member, accepted } => Event::GigMemberAnswered {
            gig_id,
            title,
            owner_id,
            member_id: member.to_string(),
            accepted,
        },
        GigChange::Published { members } => Event::GigPublished {
            gig_id,
            title,
            owner_id,
            member_ids: ids(members),
        },
        GigChange::Archived { members } => Event::GigArchived {
            gig_id,
            title,
            owner_id,
            member_ids: ids(members),
        },
    }
}

/// Publishes a draft whose members all accepted.
pub async fn publish(state: &AppState, gig: Gig, request: &RequestId) -> Result<Gig, ApiError> {
    gig.check_publishable()?;
    let mut published = gig.clone();
    published.status = GigStatus::Published;
    save(state, &gig, published, request).await
}

/// Archives a gig (from any state but archived).
pub async fn archive(state: &AppState, gig: Gig, request: &RequestId) -> Result<Gig, ApiError> {
    if gig.status == GigStatus::Archived {
        return Err(ApiError::Conflict(
            "already-archived",
            "the gig is archived".into(),
        ));
    }
    let mut archived = gig.clone();
    archived.status = GigStatus::Archived;
    save(state, &gig, archived, request).await
}

/// Replaces a draft's members with `invited` (user id and share); the owner keeps the first
/// place and accepts implicitly, everyone else is invited anew.
pub async fn set_members(
    state: &AppState,
    original: Gig,
    owner_share_bps: u32,
    invited: Vec<(String, u32)>,
    request: &RequestId,
) -> Result<Gig, ApiError> {
    if original.status != GigStatus::Draft {
        return Err(ApiError::Conflict(
            "not-a-draft",
            "members can change only while the gig is a draft".into(),
        ));
    }
    let mut gig = original.clone();
    let owner = GigMember {
        user_id: gig.owner_id.clone(),
        share_bps: owner_share_bps,
        state: MemberState::Accepted,
    };
    let others = invited.into_iter().map(|(user_id, share_bps)| GigMember {
        user_id: UserId::from_string(user_id),
        share_bps,
        state: MemberState::Invited,
    });
    gig.members = std::iter::once(owner).chain(others).collect();
    let mut errors = ValidationErrors::default();
    for error in gig.validate_members().err().unwrap_or_default().0 {
        errors.add(request_field(&error.field), error.code, error.message);
    }
    // A store read per member only for a list of an allowed size.
    if gig.members.len() <= MAX_MEMBERS {
        for (i, member) in gig.members.iter().skip(1).enumerate() {
            if accounts::active_influencer(state, &member.user_id)
                .await?
                .is_none()
            {
                errors.add(
                    format!("members[{i}].user_id"),
                    "unknown_influencer",
                    "is not an active influencer",
                );
            }
        }
    }
    errors.into_result(())?;
    save(state, &original, gig, request).await
}

/// The request's name for a field [`Gig::validate_members`] names by the gig's member list,
/// where the owner comes first: the request gives the owner's share apart and counts the other
/// members from 0.
fn request_field(gig_field: &str) -> String {
    let place = gig_field
        .strip_prefix("members[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(index, rest)| Some((index.parse::<usize>().ok()?, rest)));
    match place {
        Some((0, ".share_bps")) => "owner_share_bps".to_owned(),
        Some((index, rest)) if index > 0 => format!("members[{}]{rest}", index - 1),
        _ => gig_field.to_owned(),
    }
}

/// A member's answer to its invitation.
pub async fn answer_invitation(
    state: &AppState,
    id: &str,
    member: &UserId,
    accept: bool,
    request: &RequestId,
) -> Result<Gig, ApiError> {
    let original = visible(state, id, member).await?;
    let mut gig = original.clone();
    let Some(entry) = gig
        .members
        .iter_mut()
        .skip(1)
        .find(|m| m.user_id == *member)
    else {
        return Err(ApiError::NotFound);
    };
    if gig.status != GigStatus::Draft {
        return Err(ApiError::Conflict(
            "not-a-draft",
            "the gig is no longer a draft".into(),
        ));
    }
    entry.state = if accept {
        MemberState::Accepted
    } else {
        MemberState::Declined
    };
    save(state, &original, gig, request).await
}

/// Refuses a slot range the engine would refuse, before anything is loaded.
pub fn check_range(from: Timestamp, to: Timestamp) -> Result<(), ApiError> {
    if to <= from {
        return Err(slot_error(SlotError::EmptyRange));
    }
    if to.duration_since(from) > SignedDuration::from_hours(MAX_QUERY_DAYS * 24) {
        return Err(slot_error(SlotError::RangeTooLong));
    }
    Ok(())
}

/// The instants in `[from, to)` the gig can start at, by the engine that booking will use;
/// none when the gig offers no slots ([`Gig::offers_slots`]: archived, or a member suspended).
/// Drafts are seen by their members only, who may preview them.
pub async fn gig_slots(
    state: &AppState,
    gig: &Gig,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Timestamp>, ApiError> {
    if !gig.offers_slots(members_active(state, gig).await?) {
        return Ok(Vec::new());
    }
    let member_ids: Vec<UserId> = gig.members.iter().map(|m| m.user_id.clone()).collect();
    let mut rules: HashMap<UserId, _> = state
        .store
        .availability
        .get_many(&member_ids)
        .await?
        .into_iter()
        .collect();
    let mut schedules = Vec::with_capacity(member_ids.len());
    for id in &member_ids {
        let profile = state
            .store
            .profiles
            .influencer(id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let time_zone = jiff::tz::TimeZone::get(&profile.time_zone).map_err(|e| {
            ApiError::Internal(anyhow::anyhow!(
                "stored time zone {}: {e}",
                profile.time_zone
            ))
        })?;
        // Busy time arrives with bookings; until then every member is free in their windows.
        schedules.push(Schedule {
            time_zone,
            rules: rules.remove(id).unwrap_or_default(),
            busy: Vec::new(),
        });
    }
    let cap_zone = schedules
        .first()
        .map(|s| s.time_zone.clone())
        .ok_or(ApiError::NotFound)?;
    let settings = gig.terms.slot_settings();
    let query = SlotQuery {
        members: &schedules,
        settings: &settings,
        cap_zone: &cap_zone,
        booked_starts: &[],
        now: state.clock.now(),
    };
    slots(&query, from, to).map_err(slot_error)
}

/// What a refused slot query answers: a bad range is the client's, anything else is stored
/// data the engine does not accept, ours.
fn slot_error(e: SlotError) -> ApiError {
    match e {
        SlotError::EmptyRange => ApiError::invalid("to", "invalid_range", "must be after from"),
        SlotError::RangeTooLong => ApiError::invalid(
            "to",
            "range_too_long",
            format!("the range may span at most {MAX_QUERY_DAYS} days"),
        ),
        SlotError::OutOfRange => ApiError::invalid("to", "invalid_range", e.to_string()),
        SlotError::NoMembers | SlotError::Invalid(_) => {
            ApiError::Internal(anyhow::anyhow!("stored gig or rules refused: {e:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_errors_are_named_as_the_request_names_them() {
        assert_eq!(request_field("members[0].share_bps"), "owner_share_bps");
        assert_eq!(
            request_field("members[1].share_bps"),
            "members[0].share_bps"
        );
        assert_eq!(request_field("members[3].user_id"), "members[2].user_id");
        assert_eq!(request_field("members"), "members");
    }
}
