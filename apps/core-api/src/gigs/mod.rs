//! Gigs: creation, editing, publication, group membership, and the slots a gig can be booked
//! at. Handlers call these; the rules live in the domain crate.

use jiff::Timestamp;
use noillin_domain::{
    Role, UserId, UserStatus, ValidationErrors,
    availability::{Schedule, SlotQuery, slots},
    gig::{Gig, GigChange, GigId, GigMember, GigStatus, MemberState, changes},
};
use noillin_messaging::Event;
use noillin_store::{Constraint, StoreError};

use crate::{AppState, error::ApiError, extract::RequestId, outbox};

/// Loads a gig `viewer` may see; others' drafts and unknown ids are the same 404.
pub async fn visible(state: &AppState, id: &str, viewer: &UserId) -> Result<Gig, ApiError> {
    if id.len() > 64 {
        return Err(ApiError::NotFound);
    }
    state
        .store
        .gigs
        .find(&GigId::from_string(id))
        .await?
        .filter(|gig| gig.visible_to(viewer))
        .ok_or(ApiError::NotFound)
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
    changed.updated_at = Timestamp::now();
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
    let mut gig = original.clone();
    if gig.status != GigStatus::Draft {
        return Err(ApiError::Conflict(
            "not-a-draft",
            "members can change only while the gig is a draft".into(),
        ));
    }
    let mut errors = ValidationErrors::default();
    let mut members = vec![GigMember {
        user_id: gig.owner_id.clone(),
        share_bps: owner_share_bps,
        state: MemberState::Accepted,
    }];
    for (i, (user_id, share_bps)) in invited.into_iter().enumerate() {
        let user_id = UserId::from_string(user_id);
        let is_influencer = user_id.as_str().len() <= 64
            && state
                .store
                .users
                .find_by_id(&user_id)
                .await?
                .is_some_and(|u| u.role == Role::Influencer && u.status == UserStatus::Active);
        if !is_influencer {
            errors.add(
                format!("members[{i}].user_id"),
                "unknown_influencer",
                "is not an active influencer",
            );
        }
        members.push(GigMember {
            user_id,
            share_bps,
            state: MemberState::Invited,
        });
    }
    gig.members = members;
    if let Err(e) = gig.validate_members() {
        errors.0.extend(e.0);
    }
    errors.into_result(())?;
    save(state, &original, gig, request).await
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

/// The instants in `[from, to)` the gig can start at, by the engine that booking will use.
pub async fn gig_slots(
    state: &AppState,
    gig: &Gig,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Timestamp>, ApiError> {
    let member_ids: Vec<UserId> = gig.members.iter().map(|m| m.user_id.clone()).collect();
    let rules = state.store.availability.get_many(&member_ids).await?;
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
        let rules = rules
            .iter()
            .find(|(user, _)| user == id)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        // Busy time arrives with bookings; until then every member is free in their windows.
        schedules.push(Schedule {
            time_zone,
            rules,
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
        now: Timestamp::now(),
    };
    slots(&query, from, to).map_err(|e| match e {
        noillin_domain::availability::SlotError::Invalid(errors) => {
            ApiError::Internal(anyhow::anyhow!("stored gig or rules invalid: {errors:?}"))
        }
        other => ApiError::invalid("to", "invalid_range", &other.to_string()),
    })
}
