//! A gig's state transitions: creating a draft, applying an update, publishing, archiving,
//! inviting members and their answers. Each returns the changed gig or why it refuses; none
//! does I/O.

use jiff::Timestamp;

use super::{FULL_SHARE_BPS, Gig, GigId, GigMember, GigStatus, GigTerms, MemberState, Money};
use crate::{SocialPlatform, UserId, ValidationErrors, payment::CancellationPolicy};

impl Gig {
    /// A new draft of `owner`'s, alone with the whole payout, its text trimmed and checked.
    pub fn draft(
        id: GigId,
        owner: UserId,
        offer: GigDraft,
        now: Timestamp,
    ) -> Result<Gig, ValidationErrors> {
        let mut gig = Gig {
            id,
            owner_id: owner.clone(),
            title: offer.title,
            description: offer.description,
            deliverables: offer.deliverables,
            platform: offer.platform,
            category: offer.category,
            price: offer.price,
            terms: offer.terms,
            cancellation: offer.cancellation,
            status: GigStatus::Draft,
            members: vec![GigMember {
                user_id: owner,
                share_bps: FULL_SHARE_BPS,
                state: MemberState::Accepted,
            }],
            version: 1,
            created_at: now,
            updated_at: now,
        };
        gig.trim_text();
        gig.validate()?;
        Ok(gig)
    }

    /// The gig with the owner's `update` applied, its text trimmed and checked. Archived gigs
    /// stay as they were: bookings and payouts refer to them.
    pub fn apply(&self, update: GigUpdate) -> Result<Gig, GigRuleError> {
        if self.status == GigStatus::Archived {
            return Err(GigRuleError::Archived);
        }
        let mut gig = self.clone();
        let GigUpdate {
            title,
            description,
            deliverables,
            platform,
            category,
            price,
            terms,
            cancellation,
        } = update;
        if let Some(v) = title {
            gig.title = v;
        }
        if let Some(v) = description {
            gig.description = v;
        }
        if let Some(v) = deliverables {
            gig.deliverables = v;
        }
        if let Some(v) = platform {
            gig.platform = v;
        }
        if let Some(v) = category {
            gig.category = v;
        }
        if let Some(v) = price {
            gig.price = v;
        }
        if let Some(v) = terms {
            gig.terms = v;
        }
        if let Some(v) = cancellation {
            gig.cancellation = v;
        }
        gig.trim_text();
        gig.validate().map_err(GigRuleError::Invalid)?;
        Ok(gig)
    }

    /// Stores one-line texts without surrounding blanks, however the client sent them (the
    /// description keeps its layout).
    fn trim_text(&mut self) {
        let trim = |text: &mut String| *text = text.trim().to_owned();
        trim(&mut self.title);
        trim(&mut self.category);
        self.deliverables.iter_mut().for_each(trim);
    }

    /// The gig published ([`Gig::check_publishable`] says why it cannot be).
    pub fn publish(&self) -> Result<Gig, GigRuleError> {
        self.check_publishable()
            .map_err(GigRuleError::NotPublishable)?;
        Ok(Gig {
            status: GigStatus::Published,
            ..self.clone()
        })
    }

    /// The gig archived, from any state but archived.
    pub fn archive(&self) -> Result<Gig, GigRuleError> {
        if self.status == GigStatus::Archived {
            return Err(GigRuleError::AlreadyArchived);
        }
        Ok(Gig {
            status: GigStatus::Archived,
            ..self.clone()
        })
    }

    /// The draft with its members replaced: the owner first with `owner_share_bps`, accepted
    /// implicitly, then every `invited` influencer with its share, invited anew. The shares are
    /// checked: the errors name fields as [`Gig::invitation_errors`] does. Whether the invited
    /// are active influencers is for the caller, who can look them up.
    pub fn invite(
        &self,
        owner_share_bps: u32,
        invited: Vec<(UserId, u32)>,
    ) -> Result<Gig, GigRuleError> {
        if self.status != GigStatus::Draft {
            return Err(GigRuleError::MembersLocked);
        }
        let owner = GigMember {
            user_id: self.owner_id.clone(),
            share_bps: owner_share_bps,
            state: MemberState::Accepted,
        };
        let others = invited.into_iter().map(|(user_id, share_bps)| GigMember {
            user_id,
            share_bps,
            state: MemberState::Invited,
        });
        Ok(Gig {
            members: std::iter::once(owner).chain(others).collect(),
            ..self.clone()
        })
    }

    /// What [`Gig::validate_members`] finds, named as an invitation names it: the owner's share
    /// apart (`owner_share_bps`), the other members counted from 0.
    pub fn invitation_errors(&self) -> ValidationErrors {
        let mut errors = ValidationErrors::default();
        for error in self.validate_members().err().unwrap_or_default().0 {
            errors.0.push(crate::FieldError {
                field: invitation_field(&error.field),
                ..error
            });
        }
        errors
    }

    /// The gig with `member`'s answer to its invitation. Only members other than the owner
    /// answer, and only while the gig is a draft.
    pub fn answer(&self, member: &UserId, accept: bool) -> Result<Gig, GigRuleError> {
        let mut gig = self.clone();
        let entry = gig
            .members
            .iter_mut()
            .skip(1)
            .find(|m| m.user_id == *member)
            .ok_or(GigRuleError::NotInvited)?;
        if self.status != GigStatus::Draft {
            return Err(GigRuleError::InvitationClosed);
        }
        entry.state = if accept {
            MemberState::Accepted
        } else {
            MemberState::Declined
        };
        Ok(gig)
    }
}

/// What an influencer offers when creating a gig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GigDraft {
    pub title: String,
    pub description: String,
    pub deliverables: Vec<String>,
    pub platform: SocialPlatform,
    pub category: String,
    pub price: Money,
    pub terms: GigTerms,
    pub cancellation: CancellationPolicy,
}

/// The owner's change of a gig: the fields given replace the gig's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GigUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    pub deliverables: Option<Vec<String>>,
    pub platform: Option<SocialPlatform>,
    pub category: Option<String>,
    pub price: Option<Money>,
    pub terms: Option<GigTerms>,
    pub cancellation: Option<CancellationPolicy>,
}

/// Why a gig refuses a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GigRuleError {
    /// Archived gigs cannot be edited.
    #[error("archived gigs cannot change")]
    Archived,
    /// Archiving twice.
    #[error("the gig is archived")]
    AlreadyArchived,
    /// The edited gig breaks the rules.
    #[error("invalid gig: {0}")]
    Invalid(ValidationErrors),
    /// Not a draft, invalid, or a member has not accepted (each listed).
    #[error("not publishable: {0}")]
    NotPublishable(ValidationErrors),
    /// Members change only while the gig is a draft.
    #[error("members can change only while the gig is a draft")]
    MembersLocked,
    /// Invitations are answered only while the gig is a draft.
    #[error("the gig is no longer a draft")]
    InvitationClosed,
    /// The one answering is not a member other than the owner.
    #[error("not invited to this gig")]
    NotInvited,
}

/// The invitation's name for a field [`Gig::validate_members`] names by the gig's member list,
/// where the owner comes first.
pub(super) fn invitation_field(gig_field: &str) -> String {
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
