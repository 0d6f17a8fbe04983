//! Gigs: creation, editing, publication, group membership, and the slots a gig can be booked
//! at. Each use case loads the gig, asks the domain ([`Gig`]'s transitions) and stores the result
//! with the events it emits; handlers call these and map [`GigError`] to a response.

mod slots;

use noillin_domain::event::Event;
use noillin_domain::{
    UserId, ValidationErrors,
    gig::{Gig, GigChange, GigDraft, GigId, GigRuleError, GigUpdate, MAX_MEMBERS, changes},
};
use noillin_store::{Constraint, PageRequest, StoreError};

use crate::{AppState, accounts, outbox, paging::Page};

pub use slots::{GigSlots, SlotsRequest, calendar, slots, starts};

/// What a gig use case answers instead of a gig.
#[derive(Debug, thiserror::Error)]
pub enum GigError {
    /// No such gig, or one the caller may not see or change: the same answer.
    #[error("not found")]
    NotFound,
    /// The gig changed since it was read; read it again.
    #[error("the gig changed meanwhile")]
    Stale,
    /// Archived gigs cannot be edited.
    #[error("archived gigs cannot change")]
    Archived,
    /// The gig is archived already.
    #[error("the gig is archived")]
    AlreadyArchived,
    /// Members change only while the gig is a draft.
    #[error("members can change only while the gig is a draft")]
    MembersLocked,
    /// Invitations are answered only while the gig is a draft.
    #[error("the gig is no longer a draft")]
    InvitationClosed,
    /// The input, or the gig it would make, breaks the rules; every field is listed.
    #[error("invalid: {0}")]
    Invalid(ValidationErrors),
    /// Stored data the rules refuse (a stored zone or terms the engine does not accept).
    #[error("stored data refused: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The events of a change could not be made into outbox messages.
    #[error(transparent)]
    Outbox(anyhow::Error),
}

impl From<ValidationErrors> for GigError {
    fn from(errors: ValidationErrors) -> Self {
        GigError::Invalid(errors)
    }
}

impl From<GigRuleError> for GigError {
    fn from(e: GigRuleError) -> Self {
        match e {
            GigRuleError::Archived => GigError::Archived,
            GigRuleError::AlreadyArchived => GigError::AlreadyArchived,
            GigRuleError::Invalid(errors) | GigRuleError::NotPublishable(errors) => {
                GigError::Invalid(errors)
            }
            GigRuleError::MembersLocked => GigError::MembersLocked,
            GigRuleError::InvitationClosed => GigError::InvitationClosed,
            GigRuleError::NotInvited => GigError::NotFound,
        }
    }
}

/// Which gigs a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Published gigs without a suspended member.
    Published,
    /// The viewer's own gigs and those it is invited to, in any status.
    Mine,
}

/// Creates a draft gig owned by `owner`, alone with the whole payout.
pub async fn create(state: &AppState, owner: &UserId, offer: GigDraft) -> Result<Gig, GigError> {
    let gig = Gig::draft(GigId::generate(), owner.clone(), offer, state.clock.now())?;
    let messages = outbox::messages(vec![search_changed(&gig)], None).map_err(GigError::Outbox)?;
    state.store.gigs.insert(&gig, &messages).await?;
    state.relay_waker.wake();
    Ok(gig)
}

/// One page of the gigs `viewer` lists.
pub async fn list(
    state: &AppState,
    viewer: &UserId,
    listing: Listing,
    page: Page,
) -> Result<GigPage, GigError> {
    let request = PageRequest {
        after: page.cursor.clone(),
        limit: page.limit,
    };
    let gigs = match listing {
        Listing::Mine => state.store.gigs.list_for_member(viewer, &request).await?,
        Listing::Published => state.store.gigs.list_published(&request).await?,
    };
    let next_after = page.next(&gigs, |g| g.id.clone());
    Ok(GigPage { gigs, next_after })
}

/// One page of gigs and the cursor of the next.
#[derive(Debug, Clone)]
pub struct GigPage {
    pub gigs: Vec<Gig>,
    pub next_after: Option<GigId>,
}

/// Loads a gig `viewer` may see ([`Gig::visible_to`]); others' drafts, gigs hidden because a
/// member is suspended, and unknown ids are the same [`GigError::NotFound`].
pub async fn visible(state: &AppState, id: &str, viewer: &UserId) -> Result<Gig, GigError> {
    let gig = state
        .store
        .gigs
        .find(&GigId::from_string(id))
        .await?
        .ok_or(GigError::NotFound)?;
    if gig.visible_to(viewer, members_active(state, &gig).await?) {
        Ok(gig)
    } else {
        Err(GigError::NotFound)
    }
}

/// Whether no one behind the gig (owner or member) is suspended, read now.
pub(crate) async fn members_active(state: &AppState, gig: &Gig) -> Result<bool, GigError> {
    Ok(!state.store.users.any_suspended(&gig.people()).await?)
}

/// Loads a gig `owner` owns; anyone else's gig is [`GigError::NotFound`], as if it did not exist.
async fn owned(state: &AppState, id: &str, owner: &UserId) -> Result<Gig, GigError> {
    let gig = visible(state, id, owner).await?;
    if gig.owner_id != *owner {
        return Err(GigError::NotFound);
    }
    Ok(gig)
}

/// Changes `owner`'s gig `id` (not once archived).
pub async fn update(
    state: &AppState,
    id: &str,
    owner: &UserId,
    update: GigUpdate,
    correlation_id: Option<&str>,
) -> Result<Gig, GigError> {
    let original = owned(state, id, owner).await?;
    let changed = original.apply(update)?;
    save(state, &original, changed, correlation_id).await
}

/// Publishes `owner`'s draft `id`: valid, and every member accepted.
pub async fn publish(
    state: &AppState,
    id: &str,
    owner: &UserId,
    correlation_id: Option<&str>,
) -> Result<Gig, GigError> {
    let original = owned(state, id, owner).await?;
    let published = original.publish()?;
    save(state, &original, published, correlation_id).await
}

/// Archives `owner`'s gig `id` (from any state but archived).
pub async fn archive(
    state: &AppState,
    id: &str,
    owner: &UserId,
    correlation_id: Option<&str>,
) -> Result<Gig, GigError> {
    let original = owned(state, id, owner).await?;
    let archived = original.archive()?;
    save(state, &original, archived, correlation_id).await
}

/// Replaces the members of `owner`'s draft `id` with `invited` (user id and share); the owner
/// keeps the first place with `owner_share_bps` and accepts implicitly, everyone else is
/// invited anew. Every invited user must be an active influencer.
pub async fn set_members(
    state: &AppState,
    id: &str,
    owner: &UserId,
    owner_share_bps: u32,
    invited: Vec<(UserId, u32)>,
    correlation_id: Option<&str>,
) -> Result<Gig, GigError> {
    let original = owned(state, id, owner).await?;
    let changed = original.invite(owner_share_bps, invited)?;
    let mut errors = changed.invitation_errors();
    // A store read per member only for a list of an allowed size.
    if changed.members.len() <= MAX_MEMBERS {
        for (i, member) in changed.members.iter().skip(1).enumerate() {
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
    save(state, &original, changed, correlation_id).await
}

/// `member`'s answer to its invitation into gig `id`.
pub async fn answer_invitation(
    state: &AppState,
    id: &str,
    member: &UserId,
    accept: bool,
    correlation_id: Option<&str>,
) -> Result<Gig, GigError> {
    let original = visible(state, id, member).await?;
    let answered = original.answer(member, accept)?;
    save(state, &original, answered, correlation_id).await
}

/// Stores `changed` (read as `original`) with compare-and-swap on its version, together with the
/// events the change emits: of two concurrent changes, the second is [`GigError::Stale`] and
/// changes nothing.
async fn save(
    state: &AppState,
    original: &Gig,
    mut changed: Gig,
    correlation_id: Option<&str>,
) -> Result<Gig, GigError> {
    changed.version = original.version + 1;
    changed.updated_at = state.clock.now();
    // Every change may change what search shows of the gig (and of its owner's prices).
    let events = changes(original, &changed)
        .into_iter()
        .map(|change| event(&changed, change))
        .chain([search_changed(&changed)])
        .collect();
    let messages = outbox::messages(events, correlation_id).map_err(GigError::Outbox)?;
    match state.store.gigs.update(&changed, &messages).await {
        Ok(()) => {
            if !messages.is_empty() {
                state.relay_waker.wake();
            }
            Ok(changed)
        }
        Err(StoreError::Conflict(Constraint::StaleVersion)) => Err(GigError::Stale),
        Err(e) => Err(e.into()),
    }
}

/// Tells search to re-read `gig` (and its owner, whose price ranges come from their gigs).
fn search_changed(gig: &Gig) -> Event {
    Event::SearchGigChanged {
        gig_id: gig.id.to_string(),
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
