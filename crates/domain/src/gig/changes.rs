//! What a change of a gig announces: derived from the two versions, so no use case can
//! forget an event.

use super::{Gig, GigStatus, MemberState};
use crate::UserId;

/// Something a change of a gig tells people other than whoever made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GigChange {
    /// This influencer is newly invited (or invited again after the members were reset).
    MemberInvited(UserId),
    /// An invited member answered.
    MemberAnswered { member: UserId, accepted: bool },
    /// The gig went live; `members` are its members other than the owner.
    Published { members: Vec<UserId> },
    /// The gig was archived; `members` are its accepted members other than the owner.
    Archived { members: Vec<UserId> },
}

/// What changed between two versions of one gig, in a stable order (invitations and answers
/// in member order, then publication or archiving).
pub fn changes(before: &Gig, after: &Gig) -> Vec<GigChange> {
    let state_before = |user: &UserId| {
        before
            .members
            .iter()
            .find(|m| m.user_id == *user)
            .map(|m| m.state)
    };
    let mut changes = Vec::new();
    for member in after.members.iter().filter(|m| m.user_id != after.owner_id) {
        let was = state_before(&member.user_id);
        match member.state {
            MemberState::Invited if was != Some(MemberState::Invited) => {
                changes.push(GigChange::MemberInvited(member.user_id.clone()));
            }
            MemberState::Accepted | MemberState::Declined if was == Some(MemberState::Invited) => {
                changes.push(GigChange::MemberAnswered {
                    member: member.user_id.clone(),
                    accepted: member.state == MemberState::Accepted,
                });
            }
            _ => {}
        }
    }
    let others = |gig: &Gig| -> Vec<UserId> {
        gig.members
            .iter()
            .filter(|m| m.user_id != gig.owner_id && m.state == MemberState::Accepted)
            .map(|m| m.user_id.clone())
            .collect()
    };
    if before.status != after.status {
        match after.status {
            GigStatus::Published => changes.push(GigChange::Published {
                members: others(after),
            }),
            GigStatus::Archived => changes.push(GigChange::Archived {
                members: others(after),
            }),
            GigStatus::Draft => {}
        }
    }
    changes
}
