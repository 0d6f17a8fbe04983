//! Gigs: what an influencer (or a group of them) offers, at what price, on which slot terms.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{SocialPlatform, UserId, ValidationErrors, availability::SlotSettings, id::string_id};

string_id! {
    /// An opaque gig id (UUIDv7).
    GigId
}

impl GigId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
}

/// Where a gig is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GigStatus {
    /// Being written; visible to its owner and members only.
    Draft,
    /// Bookable and visible to everyone signed in.
    Published,
    /// No longer offered; kept for the bookings that reference it.
    Archived,
}

/// ISO 4217 currencies the platform charges in, with their minor-unit exponent.
const CURRENCIES: &[(&str, u8)] = &[
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PLN", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("USD", 2),
    ("ZAR", 2),
];

/// A price: integer minor units (cents, or yen) of one currency. Never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

impl Money {
    /// Whether the currency is one the platform charges in.
    pub fn currency_is_supported(&self) -> bool {
        CURRENCIES.iter().any(|(code, _)| *code == self.currency)
    }
}

/// A member's part in a gig: who, what share of the payout, and whether they agreed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GigMember {
    pub user_id: UserId,
    /// Share of the payout in basis points (1/100 of a percent); a gig's shares sum to 10,000.
    pub share_bps: u32,
    pub state: MemberState,
}

/// A member's answer to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberState {
    Invited,
    Accepted,
    Declined,
}

/// Slot terms of a gig, in whole minutes and days as influencers write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GigTerms {
    pub duration_minutes: u32,
    /// Minutes between slot starts; the duration when absent.
    pub interval_minutes: Option<u32>,
    pub buffer_before_minutes: u32,
    pub buffer_after_minutes: u32,
    /// How long before its start a slot can still be booked.
    pub min_notice_minutes: u32,
    /// How far ahead slots are offered.
    pub horizon_days: u32,
    /// Bookings per local day of the owner, at most.
    pub max_per_day: Option<u32>,
}

impl GigTerms {
    /// The engine's view of these terms.
    pub fn slot_settings(&self) -> SlotSettings {
        let minutes = |m: u32| SignedDuration::from_mins(i64::from(m));
        let mut settings = SlotSettings::new(minutes(self.duration_minutes));
        settings.interval = self.interval_minutes.map(minutes);
        settings.buffer_before = minutes(self.buffer_before_minutes);
        settings.buffer_after = minutes(self.buffer_after_minutes);
        settings.min_notice = minutes(self.min_notice_minutes);
        settings.horizon = SignedDuration::from_hours(i64::from(self.horizon_days) * 24);
        settings.max_per_day = self.max_per_day;
        settings
    }
}

/// A gig as stored. `members` always holds the owner first; a single gig has the owner alone
/// with the whole share, a group gig has several members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gig {
    pub id: GigId,
    pub owner_id: UserId,
    pub title: String,
    pub description: String,
    pub deliverables: Vec<String>,
    pub platform: SocialPlatform,
    pub category: String,
    pub price: Money,
    pub terms: GigTerms,
    pub status: GigStatus,
    pub members: Vec<GigMember>,
    /// Bumped by every change; updates are compare-and-swap on it.
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Most members a group gig may have.
pub const MAX_MEMBERS: usize = 10;
/// The whole payout, in basis points.
pub const FULL_SHARE_BPS: u32 = 10_000;

impl Gig {
    /// Whether `user` may see this gig. Its owner and members always may. Anyone else only once
    /// it is published or archived, and only while `members_active` (no member's account is
    /// suspended): a suspended influencer's gigs, and every group gig with a suspended member,
    /// leave the platform until the account is reinstated. Listings apply the same rule in the
    /// store's query ([`GigStatus::Published`] gigs without a suspended member).
    pub fn visible_to(&self, user: &UserId, members_active: bool) -> bool {
        self.is_member(user) || (self.status != GigStatus::Draft && members_active)
    }

    /// Whether the gig offers slots: not archived, and no member suspended (nobody can be
    /// booked with a suspended influencer). Drafts offer them as a preview to their members,
    /// the only ones who see drafts; booking will take this rule and require publication.
    pub fn offers_slots(&self, members_active: bool) -> bool {
        self.status != GigStatus::Archived && members_active
    }

    /// Everyone who must be active for the gig to be offered: the owner and every member, each
    /// once.
    pub fn people(&self) -> Vec<UserId> {
        let mut people = vec![self.owner_id.clone()];
        for member in &self.members {
            if !people.contains(&member.user_id) {
                people.push(member.user_id.clone());
            }
        }
        people
    }

    /// Whether `user` is the owner or a member (in any state).
    pub fn is_member(&self, user: &UserId) -> bool {
        self.owner_id == *user || self.members.iter().any(|m| m.user_id == *user)
    }

    /// Checks the owner-editable fields.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        errors.text("title", &self.title, 3, 120);
        errors.text("description", &self.description, 0, 5000);
        errors.text("category", &self.category, 1, 60);
        if self.deliverables.len() > 20 {
            errors.add("deliverables", "too_many", "at most 20 deliverables");
        }
        for (i, deliverable) in self.deliverables.iter().enumerate() {
            errors.text(&format!("deliverables[{i}]"), deliverable, 1, 200);
        }
        if self.price.amount_minor <= 0 || self.price.amount_minor > 100_000_000 {
            errors.add(
                "price.amount_minor",
                "out_of_range",
                "must be between 1 and 100,000,000 minor units",
            );
        }
        if !self.price.currency_is_supported() {
            errors.add(
                "price.currency",
                "unsupported_currency",
                "must be a supported ISO 4217 code such as EUR or USD",
            );
        }
        if let Err(slot_errors) = self.terms.slot_settings().validate() {
            for error in slot_errors.0 {
                errors.0.push(crate::FieldError {
                    field: format!("terms.{}", terms_field(&error.field)),
                    ..error
                });
            }
        }
        errors.into_result(())
    }

    /// Checks the membership: the owner first, no one twice, at most [`MAX_MEMBERS`], shares
    /// positive and summing to the whole payout.
    pub fn validate_members(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.members.first().map(|m| &m.user_id) != Some(&self.owner_id) {
            errors.add(
                "members",
                "owner_missing",
                "the owner must be the first member",
            );
        }
        if self.members.len() > MAX_MEMBERS {
            errors.add(
                "members",
                "too_many",
                format!("at most {MAX_MEMBERS} members"),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, member) in self.members.iter().enumerate() {
            if !seen.insert(&member.user_id) {
                errors.add(
                    format!("members[{i}].user_id"),
                    "duplicate_member",
                    "appears twice",
                );
            }
            if member.share_bps == 0 {
                errors.add(
                    format!("members[{i}].share_bps"),
                    "out_of_range",
                    "must be more than 0",
                );
            }
        }
        let total: u64 = self.members.iter().map(|m| u64::from(m.share_bps)).sum();
        if total != u64::from(FULL_SHARE_BPS) {
            errors.add(
                "members",
                "shares_do_not_sum",
                "shares must sum to 10000 basis points (100%)",
            );
        }
        errors.into_result(())
    }

    /// Whether the gig can be published now: a draft, valid, and every member accepted.
    pub fn check_publishable(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.status != GigStatus::Draft {
            errors.add("status", "not_a_draft", "only drafts can be published");
        }
        if let Err(e) = self.validate() {
            errors.0.extend(e.0);
        }
        if let Err(e) = self.validate_members() {
            errors.0.extend(e.0);
        }
        for (i, member) in self.members.iter().enumerate() {
            if member.state != MemberState::Accepted {
                errors.add(
                    format!("members[{i}].state"),
                    "not_accepted",
                    "every member must accept before publishing",
                );
            }
        }
        errors.into_result(())
    }

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
fn invitation_field(gig_field: &str) -> String {
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

/// The engine names its fields after [`SlotSettings`]; the API speaks in [`GigTerms`] names.
fn terms_field(engine_field: &str) -> &str {
    match engine_field {
        "duration" => "duration_minutes",
        "interval" => "interval_minutes",
        "buffer_before" => "buffer_before_minutes",
        "buffer_after" => "buffer_after_minutes",
        "min_notice" => "min_notice_minutes",
        "horizon" => "horizon_days",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gig() -> Gig {
        let owner = UserId::generate();
        Gig {
            id: GigId::generate(),
            owner_id: owner.clone(),
            title: "Story feature".into(),
            description: String::new(),
            deliverables: vec!["3 stories".into()],
            platform: SocialPlatform::Instagram,
            category: "sportswear".into(),
            price: Money {
                amount_minor: 45_000,
                currency: "EUR".into(),
            },
            terms: GigTerms {
                duration_minutes: 60,
                interval_minutes: None,
                buffer_before_minutes: 0,
                buffer_after_minutes: 15,
                min_notice_minutes: 120,
                horizon_days: 60,
                max_per_day: Some(3),
            },
            status: GigStatus::Draft,
            members: vec![GigMember {
                user_id: owner,
                share_bps: FULL_SHARE_BPS,
                state: MemberState::Accepted,
            }],
            version: 1,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn with_members(mut gig: Gig, members: &[(&UserId, MemberState)]) -> Gig {
        gig.members.truncate(1);
        for (user, state) in members {
            gig.members.push(GigMember {
                user_id: (*user).clone(),
                share_bps: 1000,
                state: *state,
            });
        }
        gig
    }

    #[test]
    fn an_unchanged_gig_or_an_edit_of_its_text_tells_nobody() {
        let before = gig();
        let mut after = before.clone();
        after.title = "Another title".into();
        after.version += 1;
        assert_eq!(changes(&before, &before), vec![]);
        assert_eq!(changes(&before, &after), vec![]);
    }

    #[test]
    fn new_invitations_are_told_once_and_reinvited_members_again() {
        let (a, b) = (UserId::generate(), UserId::generate());
        let before = with_members(
            gig(),
            &[(&a, MemberState::Invited), (&b, MemberState::Accepted)],
        );
        let c = UserId::generate();
        let after = with_members(
            before.clone(),
            &[
                (&a, MemberState::Invited),
                (&b, MemberState::Invited),
                (&c, MemberState::Invited),
            ],
        );
        assert_eq!(
            changes(&before, &after),
            vec![GigChange::MemberInvited(b), GigChange::MemberInvited(c)]
        );
    }

    #[test]
    fn answers_name_the_member_and_whether_they_accepted() {
        let (a, b) = (UserId::generate(), UserId::generate());
        let before = with_members(
            gig(),
            &[(&a, MemberState::Invited), (&b, MemberState::Invited)],
        );
        let after = with_members(
            before.clone(),
            &[(&a, MemberState::Declined), (&b, MemberState::Accepted)],
        );
        assert_eq!(
            changes(&before, &after),
            vec![
                GigChange::MemberAnswered {
                    member: a,
                    accepted: false
                },
                GigChange::MemberAnswered {
                    member: b,
                    accepted: true
                },
            ]
        );
    }

    #[test]
    fn publishing_and_archiving_tell_the_accepted_members_but_not_the_owner() {
        let (a, b) = (UserId::generate(), UserId::generate());
        let draft = with_members(
            gig(),
            &[(&a, MemberState::Accepted), (&b, MemberState::Declined)],
        );
        let mut published = draft.clone();
        published.status = GigStatus::Published;
        let mut archived = published.clone();
        archived.status = GigStatus::Archived;
        assert_eq!(
            changes(&draft, &published),
            vec![GigChange::Published {
                members: vec![a.clone()]
            }]
        );
        assert_eq!(
            changes(&published, &archived),
            vec![GigChange::Archived { members: vec![a] }]
        );
        assert_eq!(changes(&archived, &archived), vec![]);
    }

    fn fields(result: Result<(), ValidationErrors>) -> Vec<String> {
        result
            .err()
            .map(|e| e.0.into_iter().map(|f| f.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_complete_single_gig_is_valid_and_publishable() {
        assert_eq!(fields(gig().validate()), Vec::<String>::new());
        assert_eq!(fields(gig().check_publishable()), Vec::<String>::new());
    }

    #[test]
    fn prices_are_positive_minor_units_of_a_supported_currency() {
        let mut g = gig();
        g.price = Money {
            amount_minor: 0,
            currency: "eur".into(),
        };
        assert_eq!(
            fields(g.validate()),
            vec!["price.amount_minor", "price.currency"]
        );
        g.price = Money {
            amount_minor: 500,
            currency: "JPY".into(),
        };
        assert!(g.validate().is_ok());
    }

    #[test]
    fn gig_text_refuses_bidi_overrides_and_invisible_only_values_but_not_other_scripts() {
        let mut g = gig();
        g.title = "Promo \u{202D}video".into();
        g.description = "\u{200B}\u{200C}".into();
        g.category = "\u{FEFF}".into();
        g.deliverables = vec!["Reel \u{2067}x\u{2069}".into()];
        assert_eq!(
            fields(g.validate()),
            vec!["title", "description", "category", "deliverables[0]"]
        );

        let mut g = gig();
        g.title = "جلسة تصوير 📸".into();
        g.description = "צילום מקצועי\n👩\u{200D}🎤 live".into();
        g.category = "תוכן".into();
        assert_eq!(fields(g.validate()), Vec::<String>::new());
    }

    #[test]
    fn terms_errors_are_named_as_the_api_names_them() {
        let mut g = gig();
        g.terms.duration_minutes = 1;
        let errors = fields(g.validate());
        assert!(errors.iter().all(|f| f.starts_with("terms.")), "{errors:?}");
        assert!(
            errors.contains(&"terms.duration_minutes".to_owned()),
            "{errors:?}"
        );
    }

    #[test]
    fn group_shares_must_sum_to_the_whole_and_the_owner_comes_first() {
        let mut g = gig();
        let other = UserId::generate();
        g.members[0].share_bps = 6_000;
        g.members.push(GigMember {
            user_id: other.clone(),
            share_bps: 3_000,
            state: MemberState::Accepted,
        });
        assert_eq!(fields(g.validate_members()), vec!["members"]);
        g.members[1].share_bps = 4_000;
        assert!(g.validate_members().is_ok());
        g.members.swap(0, 1);
        assert_eq!(fields(g.validate_members()), vec!["members"]);
        g.members.swap(0, 1);
        g.members.push(GigMember {
            user_id: other,
            share_bps: 1,
            state: MemberState::Invited,
        });
        assert!(fields(g.validate_members()).contains(&"members[2].user_id".to_owned()));
    }

    #[test]
    fn a_group_gig_publishes_only_once_every_member_accepted() {
        let mut g = gig();
        g.members[0].share_bps = 5_000;
        g.members.push(GigMember {
            user_id: UserId::generate(),
            share_bps: 5_000,
            state: MemberState::Invited,
        });
        assert_eq!(fields(g.check_publishable()), vec!["members[1].state"]);
        g.members[1].state = MemberState::Declined;
        assert_eq!(fields(g.check_publishable()), vec!["members[1].state"]);
        g.members[1].state = MemberState::Accepted;
        assert!(g.check_publishable().is_ok());
        g.status = GigStatus::Published;
        assert_eq!(fields(g.check_publishable()), vec!["status"]);
    }

    #[test]
    fn drafts_are_visible_to_members_only() {
        let mut g = gig();
        let member = UserId::generate();
        let stranger = UserId::generate();
        g.members.push(GigMember {
            user_id: member.clone(),
            share_bps: 0,
            state: MemberState::Invited,
        });
        assert!(g.visible_to(&g.owner_id.clone(), true));
        assert!(g.visible_to(&member, true));
        assert!(!g.visible_to(&stranger, true));
        g.status = GigStatus::Published;
        assert!(g.visible_to(&stranger, true));
    }

    #[test]
    fn a_gig_with_a_suspended_member_is_hidden_from_everyone_but_its_members() {
        let mut g = gig();
        let member = UserId::generate();
        let stranger = UserId::generate();
        g.members.push(GigMember {
            user_id: member.clone(),
            share_bps: 0,
            state: MemberState::Accepted,
        });
        for status in [GigStatus::Published, GigStatus::Archived] {
            g.status = status;
            assert!(!g.visible_to(&stranger, false), "{status:?}");
            assert!(g.visible_to(&member, false), "{status:?}");
            assert!(g.visible_to(&g.owner_id.clone(), false), "{status:?}");
        }
    }

    #[test]
    fn slots_are_offered_only_while_every_member_is_active_and_not_once_archived() {
        let mut g = gig();
        for (status, active, offered) in [
            (GigStatus::Draft, true, true),
            (GigStatus::Published, true, true),
            (GigStatus::Published, false, false),
            (GigStatus::Draft, false, false),
            (GigStatus::Archived, true, false),
        ] {
            g.status = status;
            assert_eq!(g.offers_slots(active), offered, "{status:?} {active}");
        }
    }

    #[test]
    fn the_people_behind_a_gig_are_the_owner_and_each_member_once() {
        let mut g = gig();
        let other = UserId::generate();
        g.members.push(GigMember {
            user_id: other.clone(),
            share_bps: 0,
            state: MemberState::Invited,
        });
        g.members.push(GigMember {
            user_id: other.clone(),
            share_bps: 0,
            state: MemberState::Invited,
        });
        assert_eq!(g.people(), vec![g.owner_id.clone(), other]);
    }

    fn offer() -> GigDraft {
        let g = gig();
        GigDraft {
            title: g.title,
            description: g.description,
            deliverables: g.deliverables,
            platform: g.platform,
            category: g.category,
            price: g.price,
            terms: g.terms,
        }
    }

    #[test]
    fn a_new_draft_belongs_to_its_owner_alone_with_its_one_line_texts_trimmed() {
        let owner = UserId::generate();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let mut offer = offer();
        offer.title = "  Story feature \n".into();
        offer.category = "\tsportswear ".into();
        offer.deliverables = vec![" 3 stories ".into()];
        offer.description = "  Keeps\n its layout  ".into();

        let draft = Gig::draft(GigId::generate(), owner.clone(), offer, now).unwrap();

        assert_eq!(draft.status, GigStatus::Draft);
        assert_eq!(
            (draft.version, draft.created_at, draft.updated_at),
            (1, now, now)
        );
        assert_eq!(
            draft.members,
            vec![GigMember {
                user_id: owner,
                share_bps: FULL_SHARE_BPS,
                state: MemberState::Accepted
            }]
        );
        assert_eq!(
            (draft.title.as_str(), draft.category.as_str()),
            ("Story feature", "sportswear")
        );
        assert_eq!(draft.deliverables, vec!["3 stories"]);
        assert_eq!(draft.description, "  Keeps\n its layout  ");
    }

    #[test]
    fn a_draft_with_invalid_fields_is_refused_with_every_field_named() {
        let mut offer = offer();
        offer.title = "   ".into();
        offer.price.amount_minor = 0;
        let refused = Gig::draft(
            GigId::generate(),
            UserId::generate(),
            offer,
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(
            fields(refused.map(|_| ())),
            vec!["title", "price.amount_minor"]
        );
    }

    #[test]
    fn an_update_replaces_the_given_fields_trimmed_and_keeps_the_others() {
        let before = gig();
        let after = before
            .apply(GigUpdate {
                title: Some(" Launch-day stories ".into()),
                price: Some(Money {
                    amount_minor: 50_000,
                    currency: "USD".into(),
                }),
                ..GigUpdate::default()
            })
            .unwrap();
        assert_eq!(after.title, "Launch-day stories");
        assert_eq!(after.price.currency, "USD");
        assert_eq!(after.category, before.category);
        assert_eq!(after.version, before.version, "the store bumps the version");
    }

    #[test]
    fn an_invalid_update_is_refused_with_its_fields() {
        let refused = gig().apply(GigUpdate {
            title: Some("ab".into()),
            category: Some(" ".into()),
            ..GigUpdate::default()
        });
        match refused {
            Err(GigRuleError::Invalid(errors)) => {
                assert_eq!(fields(Err(errors)), vec!["title", "category"]);
            }
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn an_archived_gig_refuses_every_update() {
        let archived = gig().archive().unwrap();
        assert_eq!(
            archived.apply(GigUpdate::default()),
            Err(GigRuleError::Archived)
        );
    }

    #[test]
    fn publishing_a_valid_draft_makes_it_published_and_a_second_publication_is_refused() {
        let published = gig().publish().unwrap();
        assert_eq!(published.status, GigStatus::Published);
        match published.publish() {
            Err(GigRuleError::NotPublishable(errors)) => {
                assert_eq!(fields(Err(errors)), vec!["status"]);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_group_draft_with_a_member_still_invited_is_not_publishable() {
        let member = UserId::generate();
        let draft = gig().invite(5_000, vec![(member, 5_000)]).unwrap();
        match draft.publish() {
            Err(GigRuleError::NotPublishable(errors)) => {
                assert_eq!(fields(Err(errors)), vec!["members[1].state"]);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn any_gig_but_an_archived_one_can_be_archived() {
        let draft = gig();
        assert_eq!(draft.archive().unwrap().status, GigStatus::Archived);
        let published = draft.publish().unwrap();
        let archived = published.archive().unwrap();
        assert_eq!(archived.status, GigStatus::Archived);
        assert_eq!(archived.archive(), Err(GigRuleError::AlreadyArchived));
    }

    #[test]
    fn inviting_puts_the_owner_first_accepted_and_every_other_member_invited_anew() {
        let (a, b) = (UserId::generate(), UserId::generate());
        let before = with_members(gig(), &[(&a, MemberState::Accepted)]);
        let after = before
            .invite(4_000, vec![(a.clone(), 3_000), (b.clone(), 3_000)])
            .unwrap();
        assert_eq!(
            after.members,
            vec![
                GigMember {
                    user_id: before.owner_id.clone(),
                    share_bps: 4_000,
                    state: MemberState::Accepted
                },
                GigMember {
                    user_id: a,
                    share_bps: 3_000,
                    state: MemberState::Invited
                },
                GigMember {
                    user_id: b,
                    share_bps: 3_000,
                    state: MemberState::Invited
                },
            ]
        );
        assert!(after.invitation_errors().is_empty());
    }

    #[test]
    fn invitation_errors_are_named_as_the_invitation_names_them() {
        let member = UserId::generate();
        let invited = gig()
            .invite(0, vec![(member.clone(), 0), (member, 4_000)])
            .unwrap();
        let named: Vec<String> = invited
            .invitation_errors()
            .0
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(
            named,
            vec![
                "owner_share_bps",
                "members[0].share_bps",
                "members[1].user_id",
                "members"
            ]
        );
        assert_eq!(invitation_field("members"), "members");
    }

    #[test]
    fn members_change_only_while_the_gig_is_a_draft() {
        let published = gig().publish().unwrap();
        assert_eq!(
            published.invite(5_000, vec![(UserId::generate(), 5_000)]),
            Err(GigRuleError::MembersLocked)
        );
    }

    #[test]
    fn an_invited_member_accepts_or_declines_while_the_gig_is_a_draft() {
        let member = UserId::generate();
        let draft = gig().invite(5_000, vec![(member.clone(), 5_000)]).unwrap();
        assert_eq!(
            draft.answer(&member, true).unwrap().members[1].state,
            MemberState::Accepted
        );
        assert_eq!(
            draft.answer(&member, false).unwrap().members[1].state,
            MemberState::Declined
        );
        let mut archived = draft.clone();
        archived.status = GigStatus::Archived;
        assert_eq!(
            archived.answer(&member, true),
            Err(GigRuleError::InvitationClosed)
        );
    }

    #[test]
    fn neither_the_owner_nor_an_outsider_can_answer_an_invitation() {
        let draft = gig()
            .invite(5_000, vec![(UserId::generate(), 5_000)])
            .unwrap();
        assert_eq!(
            draft.answer(&draft.owner_id.clone(), true),
            Err(GigRuleError::NotInvited)
        );
        assert_eq!(
            draft.answer(&UserId::generate(), true),
            Err(GigRuleError::NotInvited)
        );
    }
}
