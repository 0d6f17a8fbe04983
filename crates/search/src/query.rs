//! What a search asks and what it answers: free text, filters, a sort, the facets to count, a
//! page size and a cursor; hits for result cards, facet counts, a total estimate and the cursor
//! of the next page. Validation lives here, so both adapters refuse the same inputs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    SearchError,
    cursor::Cursor,
    documents::{PlatformFollowers, Price, PriceRange, Rating, currency_code, keyword},
};

/// Hits per page when the query names no size.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// The largest page; larger requests get this many.
pub const MAX_PAGE_SIZE: usize = 100;
/// How deep paging goes: hits past this many are not reachable, as in Meilisearch
/// (`pagination.maxTotalHits`), so both adapters stop at the same place.
pub const MAX_REACHABLE_HITS: usize = 1000;
/// The longest free text accepted, in bytes.
pub const MAX_TEXT_LEN: usize = 512;

/// A search over influencers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InfluencerQuery {
    /// Free text; empty matches every document.
    pub text: String,
    pub filters: InfluencerFilters,
    pub sort: InfluencerSort,
    /// The facets to count over every hit (not only this page).
    pub facets: Vec<Facet>,
    /// Hits per page: `None` is [`DEFAULT_PAGE_SIZE`], larger than [`MAX_PAGE_SIZE`] is capped.
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page, `None` for the first.
    pub after: Option<String>,
}

/// Filters over influencers; every one set must hold. Lists match any of their values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InfluencerFilters {
    pub niches: Vec<String>,
    /// Influencers present on any of these platforms.
    pub platforms: Vec<String>,
    pub languages: Vec<String>,
    /// Exact location, case-insensitive.
    pub location: Option<String>,
    /// Bounds on total followers, inclusive.
    pub min_followers: Option<u64>,
    pub max_followers: Option<u64>,
    /// Lowest rating average, inclusive.
    pub min_rating: Option<f64>,
    /// Keeps influencers with gigs in this currency; required by a price bound or price sort,
    /// because prices are compared in one currency only.
    pub currency: Option<String>,
    /// Keeps influencers whose price range in `currency` meets `[price_min, price_max]`
    /// (minor units, inclusive): some gig of theirs may cost an amount in it.
    pub price_min: Option<u64>,
    pub price_max: Option<u64>,
}

/// The order of influencer hits; ties always fall back to a fixed per-document order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfluencerSort {
    /// Best match first (with no text: the fixed per-document order).
    #[default]
    Relevance,
    FollowersDesc,
    FollowersAsc,
    RatingDesc,
    RatingAsc,
    /// By the cheapest gig in the filter's currency (required).
    PriceAsc,
    PriceDesc,
}

/// A search over gigs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GigQuery {
    pub text: String,
    pub filters: GigFilters,
    pub sort: GigSort,
    pub facets: Vec<Facet>,
    pub limit: Option<usize>,
    pub after: Option<String>,
}

/// Filters over gigs; every one set must hold. Lists match any of their values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GigFilters {
    pub platforms: Vec<String>,
    pub categories: Vec<String>,
    /// Keeps gigs priced in this currency; required by a price bound.
    pub currency: Option<String>,
    /// Price bounds in minor units of `currency`, inclusive.
    pub price_min: Option<u64>,
    pub price_max: Option<u64>,
    /// `Some(true)` keeps group gigs only, `Some(false)` single gigs only.
    pub group: Option<bool>,
}

/// The order of gig hits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GigSort {
    #[default]
    Relevance,
    RatingDesc,
    RatingAsc,
    PriceAsc,
    PriceDesc,
}

/// A keyword field whose values are counted over the hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Facet {
    /// Influencers only.
    Niche,
    /// Both indexes.
    Platform,
    /// Influencers only.
    Language,
    /// Gigs only.
    Category,
}

impl Facet {
    /// The attribute's name in both adapters.
    pub fn attribute(self) -> &'static str {
        match self {
            Facet::Niche => "niches",
            Facet::Platform => "platforms",
            Facet::Language => "languages",
            Facet::Category => "category",
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults<H> {
    pub hits: Vec<H>,
    /// Per requested facet, the hits per value (values with no hit are left out).
    pub facets: BTreeMap<Facet, BTreeMap<String, u64>>,
    /// How many documents match; exact for the embedded engine, an estimate for Meilisearch.
    pub total_estimate: u64,
    /// Where the next page starts; `None` on the last reachable page.
    pub next_cursor: Option<String>,
}

/// What an influencer result card shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfluencerHit {
    pub id: String,
    pub display_name: String,
    pub niches: Vec<String>,
    pub location: String,
    pub platforms: Vec<PlatformFollowers>,
    pub total_followers: u64,
    pub rating: Rating,
    pub price_ranges: Vec<PriceRange>,
    /// A short extract of the matched text with each matched word in `<em>…</em>` (the rest of
    /// the text escaped as HTML); `None` when no text was searched or no text field matched.
    pub snippet: Option<String>,
}

/// What a gig result card shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GigHit {
    pub id: String,
    pub owner_id: String,
    pub owner_name: String,
    pub title: String,
    pub platform: String,
    pub category: String,
    pub price: Price,
    pub group: bool,
    pub rating: Rating,
    /// As for [`InfluencerHit::snippet`].
    pub snippet: Option<String>,
}

/// A query checked and put in the one spelling both adapters use: keywords lowercase, currency
/// uppercase, the page resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<F, S> {
    pub text: String,
    pub filters: F,
    pub sort: S,
    pub facets: Vec<Facet>,
    /// Hits to skip.
    pub offset: usize,
    /// Hits on this page (0 when the cursor is at the end of the reachable hits).
    pub limit: usize,
    /// Ties the next cursor to this query.
    pub fingerprint: u64,
}

impl<F, S> Checked<F, S> {
    /// The cursor of the page after this one, given how many documents match.
    pub fn next_cursor(&self, hits_on_page: usize, total: u64) -> Option<String> {
        let end = self.offset + hits_on_page;
        let reachable = usize::try_from(total)
            .unwrap_or(usize::MAX)
            .min(MAX_REACHABLE_HITS);
        (hits_on_page > 0 && end < reachable).then(|| Cursor::new(end, self.fingerprint).encode())
    }
}

impl InfluencerQuery {
    /// `InvalidQuery` for a bad currency, a price bound or price sort without a currency,
    /// inverted bounds, a rating outside 0–5, a facet of gigs, over-long text or a cursor of
    /// another query.
    pub fn check(&self) -> Result<Checked<InfluencerFilters, InfluencerSort>, SearchError> {
        let f = &self.filters;
        let currency = checked_currency(f.currency.as_deref())?;
        if (f.price_min.is_some() || f.price_max.is_some()) && currency.is_none() {
            return Err(invalid("a price bound needs a currency"));
        }
        if matches!(
            self.sort,
            InfluencerSort::PriceAsc | InfluencerSort::PriceDesc
        ) && currency.is_none()
        {
            return Err(invalid("sorting by price needs a currency"));
        }
        check_bounds(f.min_followers, f.max_followers, "followers")?;
        check_bounds(f.price_min, f.price_max, "price")?;
        if let Some(rating) = f.min_rating
            && !(0.0..=5.0).contains(&rating)
        {
            return Err(invalid("min_rating must be between 0 and 5"));
        }
        if let Some(facet) = self.facets.iter().find(|f| **f == Facet::Category) {
            return Err(invalid(&format!(
                "influencers have no {} facet",
                facet.attribute()
            )));
        }
        let filters = InfluencerFilters {
            niches: keywords(&f.niches),
            platforms: keywords(&f.platforms),
            languages: keywords(&f.languages),
            location: f.location.as_deref().map(keyword),
            currency,
            ..f.clone()
        };
        let fingerprint =
            fingerprint(&("influencers", &self.text, &filters, self.sort, &self.facets));
        let filters_for_page = filters.clone();
        page(&self.text, self.limit, self.after.as_deref(), fingerprint).map(|(offset, limit)| {
            Checked {
                text: self.text.clone(),
                filters: filters_for_page,
                sort: self.sort,
                facets: distinct(&self.facets),
                offset,
                limit,
                fingerprint,
            }
        })
    }
}

impl GigQuery {
    /// `InvalidQuery` for a bad currency, a price bound or price sort without a currency,
    /// inverted bounds, a facet of influencers, over-long text or a cursor of another query.
    pub fn check(&self) -> Result<Checked<GigFilters, GigSort>, SearchError> {
        let f = &self.filters;
        let currency = checked_currency(f.currency.as_deref())?;
        if (f.price_min.is_some() || f.price_max.is_some()) && currency.is_none() {
            return Err(invalid("a price bound needs a currency"));
        }
        if matches!(self.sort, GigSort::PriceAsc | GigSort::PriceDesc) && currency.is_none() {
            return Err(invalid("sorting by price needs a currency"));
        }
        check_bounds(f.price_min, f.price_max, "price")?;
        if let Some(facet) = self
            .facets
            .iter()
            .find(|f| matches!(f, Facet::Niche | Facet::Language))
        {
            return Err(invalid(&format!(
                "gigs have no {} facet",
                facet.attribute()
            )));
        }
        let filters = GigFilters {
            platforms: keywords(&f.platforms),
            categories: keywords(&f.categories),
            currency,
            ..f.clone()
        };
        let fingerprint = fingerprint(&("gigs", &self.text, &filters, self.sort, &self.facets));
        let filters_for_page = filters.clone();
        page(&self.text, self.limit, self.after.as_deref(), fingerprint).map(|(offset, limit)| {
            Checked {
                text: self.text.clone(),
                filters: filters_for_page,
                sort: self.sort,
                facets: distinct(&self.facets),
                offset,
                limit,
                fingerprint,
            }
        })
    }
}

fn invalid(why: &str) -> SearchError {
    SearchError::InvalidQuery(why.to_owned())
}

fn checked_currency(currency: Option<&str>) -> Result<Option<String>, SearchError> {
    currency
        .map(|c| currency_code(c).ok_or_else(|| invalid("currency must be a three-letter code")))
        .transpose()
}

fn check_bounds(min: Option<u64>, max: Option<u64>, what: &str) -> Result<(), SearchError> {
    match (min, max) {
        (Some(min), Some(max)) if min > max => {
            Err(invalid(&format!("the {what} minimum is above its maximum")))
        }
        _ => Ok(()),
    }
}

fn keywords(values: &[String]) -> Vec<String> {
    let mut keywords: Vec<String> = values
        .iter()
        .map(|v| keyword(v))
        .filter(|v| !v.is_empty())
        .collect();
    keywords.sort();
    keywords.dedup();
    keywords
}

fn distinct(facets: &[Facet]) -> Vec<Facet> {
    let mut facets = facets.to_vec();
    facets.sort();
    facets.dedup();
    facets
}

/// The offset and size of the page, from the cursor and the requested size.
fn page(
    text: &str,
    limit: Option<usize>,
    after: Option<&str>,
    fingerprint: u64,
) -> Result<(usize, usize), SearchError> {
    if text.len() > MAX_TEXT_LEN {
        return Err(invalid(&format!(
            "the text is longer than {MAX_TEXT_LEN} bytes"
        )));
    }
    let offset = match after {
        None => 0,
        Some(encoded) => {
            let cursor = Cursor::decode(encoded).ok_or_else(|| invalid("unreadable cursor"))?;
            if cursor.fingerprint != fingerprint {
                return Err(invalid("the cursor belongs to another query"));
            }
            cursor.offset
        }
    };
    let wanted = limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    Ok((
        offset,
        wanted.min(MAX_REACHABLE_HITS.saturating_sub(offset)),
    ))
}

/// A hash of the query's meaning (its JSON), so a cursor only continues the query it came from.
fn fingerprint(parts: &impl Serialize) -> u64 {
    let json = serde_json::to_string(parts).unwrap_or_default();
    crate::documents::tiebreak(&json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_price_bound_without_a_currency_is_refused() {
        let query = InfluencerQuery {
            filters: InfluencerFilters {
                price_max: Some(10_000),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(matches!(query.check(), Err(SearchError::InvalidQuery(_))));
    }

    #[test]
    fn page_sizes_are_capped_and_default() {
        let checked = GigQuery {
            limit: Some(10_000),
            ..Default::default()
        }
        .check()
        .unwrap();
        assert_eq!(checked.limit, MAX_PAGE_SIZE);
        let checked = GigQuery::default().check().unwrap();
        assert_eq!(checked.limit, DEFAULT_PAGE_SIZE);
    }

    #[test]
    fn a_cursor_only_continues_its_own_query() {
        let first = GigQuery {
            text: "yoga".into(),
            ..Default::default()
        };
        let cursor = first.check().unwrap().next_cursor(20, 100).unwrap();
        let same = GigQuery {
            after: Some(cursor.clone()),
            ..first.clone()
        };
        assert_eq!(same.check().unwrap().offset, 20);
        let other = GigQuery {
            text: "surf".into(),
            after: Some(cursor),
            ..Default::default()
        };
        assert!(matches!(other.check(), Err(SearchError::InvalidQuery(_))));
    }

    #[test]
    fn paging_stops_at_the_reachable_hits() {
        let checked = GigQuery::default().check().unwrap();
        assert_eq!(checked.next_cursor(20, 20), None);
        assert!(checked.next_cursor(20, 21).is_some());
        let deep = Checked {
            offset: MAX_REACHABLE_HITS - 20,
            ..checked
        };
        assert_eq!(deep.next_cursor(20, 5000), None);
    }
}
