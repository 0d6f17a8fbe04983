//! Gigs: what an influencer (or a group of them) offers, at what price, on which slot terms.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{
    SocialPlatform, UserId, ValidationErrors, availability::SlotSettings, id::string_id,
    payment::CancellationPolicy,
};

mod changes;
mod transitions;

pub use changes::{GigChange, changes};
pub use transitions::{GigDraft, GigRuleError, GigUpdate};

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

impl std::fmt::Display for Money {
    /// `450.00 EUR`, `1200 JPY`: the amount with its currency's decimals.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let exponent = CURRENCIES
            .iter()
            .find(|(code, _)| *code == self.currency)
            .map_or(2, |(_, exponent)| u32::from(*exponent));
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let units = self.amount_minor.unsigned_abs();
        if exponent == 0 {
            return write!(f, "{sign}{units} {}", self.currency);
        }
        let scale = 10u64.pow(exponent);
        let width = exponent as usize;
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            units / scale,
            units % scale,
            self.currency
        )
    }
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
    /// What a brand that cancels after paying gets back; bookings keep the terms they were
    /// made under.
    #[serde(default)]
    pub cancellation: CancellationPolicy,
    pub status: GigStatus,
    pub members: Vec<GigMember>,
    /// Bumped by every change; updates are compare-and-swap on it.
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Most members a group gig may have.
pub const MAX_MEMBERS: usize = 10;
/// The highest price a gig may ask, in minor units.
pub const MAX_PRICE_MINOR: i64 = 100_000_000;
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
        if self.price.amount_minor <= 0 || self.price.amount_minor > MAX_PRICE_MINOR {
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
        self.cancellation.validate("cancellation", &mut errors);
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
mod tests;
