//! After the booking took place: a member delivers, the brand approves or asks for a revision,
//! and with no answer in time the booking completes by itself.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Booking, BookingState, BookingTransitionError, MarketTerms};
use crate::{UserId, ValidationErrors, availability::shifted};

/// The most links one delivery may carry.
pub const MAX_DELIVERY_LINKS: usize = 10;
/// The longest link, in characters.
pub const MAX_LINK_LEN: usize = 2_048;
/// The longest note or revision reason, in characters.
pub const MAX_DELIVERY_NOTE_LEN: usize = 4_000;

/// What a member handed in: links to the published content and a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub links: Vec<String>,
    pub note: String,
    pub by: UserId,
    pub at: Timestamp,
    /// The brand's request for a revision of this delivery, if it asked for one.
    #[serde(default)]
    pub revision: Option<RevisionRequest>,
}

/// The brand asked for another version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionRequest {
    pub reason: String,
    pub at: Timestamp,
}

/// The links and note of a delivery, checked: 1 to [`MAX_DELIVERY_LINKS`] `http(s)` links and a
/// note of at most [`MAX_DELIVERY_NOTE_LEN`] characters.
pub fn validate_delivery(links: &[String], note: &str, errors: &mut ValidationErrors) {
    if links.is_empty() || links.len() > MAX_DELIVERY_LINKS {
        errors.add(
            "links",
            "length",
            format!("must list 1 to {MAX_DELIVERY_LINKS} links"),
        );
    }
    for (index, link) in links.iter().enumerate() {
        let rest = link
            .strip_prefix("https://")
            .or_else(|| link.strip_prefix("http://"));
        // Printable ASCII only: what a URL is on the wire (IRIs arrive percent-encoded).
        let well_formed = rest
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_graphic()))
            && link.len() <= MAX_LINK_LEN;
        if !well_formed {
            errors.add(
                format!("links[{index}]"),
                "invalid",
                format!(
                    "must be an http(s) URL of at most {MAX_LINK_LEN} printable ASCII characters"
                ),
            );
        }
    }
    if note.chars().count() > MAX_DELIVERY_NOTE_LEN {
        errors.add(
            "note",
            "length",
            format!("must be at most {MAX_DELIVERY_NOTE_LEN} characters"),
        );
    }
}

impl Booking {
    /// A member hands in the content: `confirmed → delivered`, once the booking has started.
    /// Without an answer by `now + approval_window` the booking completes by itself.
    pub fn deliver(
        &mut self,
        by: &UserId,
        links: Vec<String>,
        note: String,
        approval_window: SignedDuration,
        now: Timestamp,
    ) -> Result<(), BookingTransitionError> {
        if self.state != BookingState::Confirmed {
            return Err(BookingTransitionError::NotConfirmed { state: self.state });
        }
        if now < self.start {
            return Err(BookingTransitionError::NotStarted);
        }
        self.deliveries.push(Delivery {
            links,
            note,
            by: by.clone(),
            at: now,
            revision: None,
        });
        self.auto_complete_at = Some(shifted(now, approval_window));
        self.enter(
            BookingState::Delivered,
            "the content was delivered",
            Some(by.clone()),
            now,
        );
        Ok(())
    }

    /// How many revisions the brand asked for so far.
    pub fn revisions(&self) -> usize {
        self.deliveries
            .iter()
            .filter(|delivery| delivery.revision.is_some())
            .count()
    }

    /// The brand asks for another version: `delivered → confirmed`, at most `max_revisions`
    /// times per booking. The delivery stays in the history with the reason.
    pub fn request_revision(
        &mut self,
        by: &UserId,
        reason: &str,
        max_revisions: u32,
        now: Timestamp,
    ) -> Result<(), BookingTransitionError> {
        self.require_delivered()?;
        if self.revisions() >= usize::try_from(max_revisions).unwrap_or(usize::MAX) {
            return Err(BookingTransitionError::RevisionLimit { max: max_revisions });
        }
        if let Some(last) = self.deliveries.last_mut() {
            last.revision = Some(RevisionRequest {
                reason: reason.to_owned(),
                at: now,
            });
        }
        self.auto_complete_at = None;
        self.enter(BookingState::Confirmed, reason, Some(by.clone()), now);
        Ok(())
    }

    /// The brand approves the delivery: `delivered → completed`.
    pub fn approve(
        &mut self,
        by: &UserId,
        terms: &MarketTerms,
        now: Timestamp,
    ) -> Result<(), BookingTransitionError> {
        self.require_delivered()?;
        self.complete(
            "the brand approved the delivery",
            Some(by.clone()),
            terms,
            now,
        );
        Ok(())
    }

    /// The approval window passed without an answer: `delivered → completed`. Refused before
    /// [`Booking::auto_complete_at`], so an early or stale timer changes nothing.
    pub fn auto_complete(
        &mut self,
        terms: &MarketTerms,
        now: Timestamp,
    ) -> Result<(), BookingTransitionError> {
        self.require_delivered()?;
        match self.auto_complete_at {
            Some(due) if now >= due => {}
            _ => return Err(BookingTransitionError::ApprovalWindowOpen),
        }
        self.complete("no answer within the approval window", None, terms, now);
        Ok(())
    }

    /// `→ completed`, settling the payment to the members.
    fn complete(&mut self, reason: &str, by: Option<UserId>, terms: &MarketTerms, now: Timestamp) {
        self.auto_complete_at = None;
        self.settle(terms, now);
        self.enter(BookingState::Completed, reason, by, now);
    }

    fn require_delivered(&self) -> Result<(), BookingTransitionError> {
        match self.state {
            BookingState::Delivered => Ok(()),
            state => Err(BookingTransitionError::NotDelivered { state }),
        }
    }
}
