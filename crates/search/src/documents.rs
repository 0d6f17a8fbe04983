//! The documents the two indexes hold: one per active influencer, one per published gig. The
//! search-sync handler builds them from the store; every document carries the `version` of the
//! state it was built from, so an older event never overwrites a newer document.

use serde::{Deserialize, Serialize};

use crate::SearchError;

/// Which of the two indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexKind {
    Influencers,
    Gigs,
}

impl IndexKind {
    /// The index's name on disk and in Meilisearch.
    pub fn name(self) -> &'static str {
        match self {
            IndexKind::Influencers => "influencers",
            IndexKind::Gigs => "gigs",
        }
    }

    /// The index named `name` ([`IndexKind::name`]).
    pub fn parse(name: &str) -> Option<IndexKind> {
        [IndexKind::Influencers, IndexKind::Gigs]
            .into_iter()
            .find(|kind| kind.name() == name)
    }
}

/// A batch of documents for one index.
#[derive(Debug, Clone, Copy)]
pub enum Documents<'a> {
    Influencers(&'a [InfluencerDocument]),
    Gigs(&'a [GigDocument]),
}

impl Documents<'_> {
    /// The index these documents belong in.
    pub fn kind(&self) -> IndexKind {
        match self {
            Documents::Influencers(_) => IndexKind::Influencers,
            Documents::Gigs(_) => IndexKind::Gigs,
        }
    }

    /// How many documents the batch holds.
    pub fn len(&self) -> usize {
        match self {
            Documents::Influencers(documents) => documents.len(),
            Documents::Gigs(documents) => documents.len(),
        }
    }

    /// Whether the batch holds no document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An influencer as brands find them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfluencerDocument {
    /// The influencer's user id.
    pub id: String,
    pub display_name: String,
    pub bio: String,
    /// Keywords (`fashion`, `travel`); matched and counted case-insensitively.
    pub niches: Vec<String>,
    /// Language codes (`en`, `fr`); matched and counted case-insensitively.
    pub languages: Vec<String>,
    /// Free text (`Lyon, France`); searchable, and filterable by exact (case-insensitive) value.
    pub location: String,
    pub platforms: Vec<PlatformFollowers>,
    /// The sum over `platforms`, kept as its own field because filters and sorts use it.
    pub total_followers: u64,
    pub rating: Rating,
    /// The cheapest and dearest published gig per currency; at most one entry per currency.
    pub price_ranges: Vec<PriceRange>,
    /// The version of the stored state this document was built from.
    pub version: u64,
}

/// Followers on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformFollowers {
    /// `instagram`, `tiktok`, `youtube`…; matched case-insensitively.
    pub platform: String,
    pub followers: u64,
}

/// The range of gig prices in one currency, in minor units (cents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRange {
    /// ISO 4217 code, three letters.
    pub currency: String,
    pub min: u64,
    pub max: u64,
}

/// An average of reviews and how many there are.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rating {
    /// Between 0 and 5; 0 when there is no review.
    pub average: f64,
    pub count: u32,
}

/// A published gig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GigDocument {
    pub id: String,
    pub owner_id: String,
    pub owner_name: String,
    pub title: String,
    pub description: String,
    /// Matched and counted case-insensitively.
    pub platform: String,
    /// Matched and counted case-insensitively.
    pub category: String,
    pub price: Price,
    /// Whether several influencers deliver the gig together.
    pub group: bool,
    /// The influencers of a group gig (the owner included); empty for a single gig.
    pub member_ids: Vec<String>,
    /// The owner's rating.
    pub rating: Rating,
    pub version: u64,
}

/// An amount in minor units of one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    pub amount: u64,
    /// ISO 4217 code, three letters.
    pub currency: String,
}

/// The one spelling of a keyword (niche, language, platform, category, location) that both
/// adapters store, filter on and count: trimmed, lowercase, and with `/` as `-` (the embedded
/// engine's facets are paths, in which a slash would split one value in two).
pub fn keyword(value: &str) -> String {
    value.trim().to_lowercase().replace(['/', '\\'], "-")
}

/// The one spelling of a currency code (uppercase), or `None` when it is not three ASCII
/// letters.
pub fn currency_code(value: &str) -> Option<String> {
    let value = value.trim();
    (value.len() == 3 && value.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| value.to_ascii_uppercase())
}

/// A fixed pseudo-random number per id that both adapters sort on after the requested order,
/// so that ties (equal followers, equal prices) come back in the same order everywhere and
/// paging is stable. FNV-1a, cut to 52 bits so it survives Meilisearch's `f64` numbers.
pub fn tiebreak(id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash >> 12
}

impl InfluencerDocument {
    /// The document as both adapters store it: keywords and currencies in their one spelling.
    /// `InvalidDocument` for an empty id, an unknown currency code, a range whose minimum is
    /// above its maximum, a currency listed twice or a rating outside 0–5.
    pub fn normalized(&self) -> Result<InfluencerDocument, SearchError> {
        let invalid =
            |why: &str| SearchError::InvalidDocument(format!("influencer {}: {why}", self.id));
        if self.id.is_empty() {
            return Err(invalid("empty id"));
        }
        check_rating(&self.rating).map_err(invalid)?;
        let mut price_ranges: Vec<PriceRange> = Vec::with_capacity(self.price_ranges.len());
        for range in &self.price_ranges {
            let currency = currency_code(&range.currency).ok_or_else(|| invalid("bad currency"))?;
            if range.min > range.max {
                return Err(invalid("price range minimum above its maximum"));
            }
            if price_ranges.iter().any(|seen| seen.currency == currency) {
                return Err(invalid("two price ranges in one currency"));
            }
            price_ranges.push(PriceRange {
                currency,
                ..range.clone()
            });
        }
        Ok(InfluencerDocument {
            niches: self.niches.iter().map(|n| keyword(n)).collect(),
            languages: self.languages.iter().map(|l| keyword(l)).collect(),
            platforms: self
                .platforms
                .iter()
                .map(|p| PlatformFollowers {
                    platform: keyword(&p.platform),
                    followers: p.followers,
                })
                .collect(),
            price_ranges,
            ..self.clone()
        })
    }

    /// The normalized location keyword (the stored `location` keeps its spelling for display).
    pub fn location_keyword(&self) -> String {
        keyword(&self.location)
    }
}

impl GigDocument {
    /// The document as both adapters store it; `InvalidDocument` for an empty id, an unknown
    /// currency code or a rating outside 0–5.
    pub fn normalized(&self) -> Result<GigDocument, SearchError> {
        let invalid = |why: &str| SearchError::InvalidDocument(format!("gig {}: {why}", self.id));
        if self.id.is_empty() {
            return Err(invalid("empty id"));
        }
        check_rating(&self.rating).map_err(invalid)?;
        let currency =
            currency_code(&self.price.currency).ok_or_else(|| invalid("bad currency"))?;
        Ok(GigDocument {
            platform: keyword(&self.platform),
            category: keyword(&self.category),
            price: Price {
                amount: self.price.amount,
                currency,
            },
            ..self.clone()
        })
    }
}

fn check_rating(rating: &Rating) -> Result<(), &'static str> {
    if (0.0..=5.0).contains(&rating.average) {
        Ok(())
    } else {
        Err("rating outside 0-5")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_letters_in_uppercase() {
        assert_eq!(currency_code(" eur ").as_deref(), Some("EUR"));
        assert_eq!(currency_code("EURO"), None);
        assert_eq!(currency_code("E1R"), None);
    }

    #[test]
    fn the_tiebreak_fits_in_an_exact_f64_and_differs_between_ids() {
        let a = tiebreak("a");
        assert!(a < (1 << 52));
        assert_ne!(a, tiebreak("b"));
        assert_eq!(a, tiebreak("a"));
    }
}
