//! What the Meilisearch indexes hold: documents flattened for filtering and sorting, their
//! settings, and the filter and sort expressions of a checked query.
//!
//! Every stored document has `live`; a tombstone is `{id, version, live: false, tiebreak}` and
//! every search filters `live = true`. Influencer prices are kept as
//! `prices.<CURRENCY>.{min,max}`, so one currency's range is two nested numbers.

use std::collections::BTreeMap;

use meilisearch_sdk::settings::{
    MinWordSizeForTypos, PaginationSetting, Settings, TypoToleranceSettings,
};
use serde::{Deserialize, Serialize};

use crate::{
    documents::{GigDocument, IndexKind, InfluencerDocument, tiebreak},
    query::{
        Facet, GigFilters, GigHit, GigSort, InfluencerFilters, InfluencerHit, InfluencerSort,
        MAX_REACHABLE_HITS,
    },
};

/// Marks Meilisearch puts around matched words; replaced by `<em>` after the text is escaped.
pub(super) const MATCH_START: &str = "\u{1}";
pub(super) const MATCH_END: &str = "\u{2}";

/// A stored influencer, or its tombstone (only `id`, `version`, `live`, `tiebreak`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredInfluencer {
    pub id: String,
    pub version: u64,
    pub live: bool,
    pub tiebreak: u64,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub body: Option<InfluencerBody>,
}

/// The searchable, filterable and displayed part of a live influencer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct InfluencerBody {
    pub document: InfluencerDocument,
    pub display_name: String,
    pub bio: String,
    pub niches: Vec<String>,
    pub location: String,
    pub location_key: String,
    pub platforms: Vec<String>,
    pub languages: Vec<String>,
    pub total_followers: u64,
    pub rating: f64,
    pub prices: BTreeMap<String, PriceBounds>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PriceBounds {
    pub min: u64,
    pub max: u64,
}

/// A stored gig, or its tombstone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredGig {
    pub id: String,
    pub version: u64,
    pub live: bool,
    pub tiebreak: u64,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub body: Option<GigBody>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct GigBody {
    pub document: GigDocument,
    pub title: String,
    pub owner_name: String,
    pub description: String,
    pub platforms: Vec<String>,
    pub category: String,
    pub currency: String,
    pub price: u64,
    pub group: bool,
    pub rating: f64,
}

/// What the version guard reads back.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct StoredVersion {
    pub id: String,
    pub version: u64,
    pub live: bool,
}

impl StoredInfluencer {
    /// The stored form of a normalized document.
    pub fn live(document: &InfluencerDocument) -> Self {
        let body = InfluencerBody {
            display_name: document.display_name.clone(),
            bio: document.bio.clone(),
            niches: document.niches.clone(),
            location: document.location.clone(),
            location_key: document.location_keyword(),
            platforms: document
                .platforms
                .iter()
                .map(|p| p.platform.clone())
                .collect(),
            languages: document.languages.clone(),
            total_followers: document.total_followers,
            rating: document.rating.average,
            prices: document
                .price_ranges
                .iter()
                .map(|r| {
                    (
                        r.currency.clone(),
                        PriceBounds {
                            min: r.min,
                            max: r.max,
                        },
                    )
                })
                .collect(),
            document: document.clone(),
        };
        Self {
            id: document.id.clone(),
            version: document.version,
            live: true,
            tiebreak: tiebreak(&document.id),
            body: Some(body),
        }
    }

    pub fn tombstone(id: &str, version: u64) -> Self {
        Self {
            id: id.to_owned(),
            version,
            live: false,
            tiebreak: tiebreak(id),
            body: None,
        }
    }
}

impl StoredGig {
    pub fn live(document: &GigDocument) -> Self {
        let body = GigBody {
            title: document.title.clone(),
            owner_name: document.owner_name.clone(),
            description: document.description.clone(),
            platforms: vec![document.platform.clone()],
            category: document.category.clone(),
            currency: document.price.currency.clone(),
            price: document.price.amount,
            group: document.group,
            rating: document.rating.average,
            document: document.clone(),
        };
        Self {
            id: document.id.clone(),
            version: document.version,
            live: true,
            tiebreak: tiebreak(&document.id),
            body: Some(body),
        }
    }

    pub fn tombstone(id: &str, version: u64) -> Self {
        Self {
            id: id.to_owned(),
            version,
            live: false,
            tiebreak: tiebreak(id),
            body: None,
        }
    }
}

/// The settings of an index, applied at open and on every reindex build.
pub(super) fn settings(kind: IndexKind) -> Settings {
    let (searchable, filterable, sortable): (&[&str], &[&str], &[&str]) = match kind {
        IndexKind::Influencers => (
            &["display_name", "niches", "location", "bio"],
            &[
                "id",
                "live",
                "niches",
                "platforms",
                "languages",
                "location_key",
                "total_followers",
                "rating",
                "prices",
            ],
            &["total_followers", "rating", "prices", "tiebreak"],
        ),
        IndexKind::Gigs => (
            &["title", "owner_name", "category", "description"],
            &[
                "id",
                "live",
                "platforms",
                "category",
                "currency",
                "price",
                "group",
            ],
            &["rating", "price", "tiebreak"],
        ),
    };
    Settings::new()
        .with_searchable_attributes(searchable)
        .with_filterable_attributes(filterable)
        .with_sortable_attributes(sortable)
        // A requested sort is strict (as in the embedded engine); relevance rules order the
        // rest; the tiebreak makes every order total and the same in both adapters.
        .with_ranking_rules([
            "sort",
            "words",
            "typo",
            "proximity",
            "attribute",
            "exactness",
            "tiebreak:asc",
        ])
        .with_typo_tolerance(TypoToleranceSettings {
            enabled: Some(true),
            min_word_size_for_typos: Some(MinWordSizeForTypos {
                one_typo: Some(5),
                two_typos: Some(9),
            }),
            ..Default::default()
        })
        .with_pagination(PaginationSetting {
            max_total_hits: MAX_REACHABLE_HITS,
        })
}

/// A string literal of Meilisearch's filter language.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn any_of(clauses: &mut Vec<String>, attribute: &str, values: &[String]) {
    if !values.is_empty() {
        let list: Vec<String> = values.iter().map(|v| quoted(v)).collect();
        clauses.push(format!("{attribute} IN [{}]", list.join(", ")));
    }
}

/// The filter expression of checked (normalized) influencer filters.
pub(super) fn influencer_filter(f: &InfluencerFilters) -> String {
    let mut clauses = vec!["live = true".to_owned()];
    any_of(&mut clauses, "niches", &f.niches);
    any_of(&mut clauses, "platforms", &f.platforms);
    any_of(&mut clauses, "languages", &f.languages);
    if let Some(location) = &f.location {
        clauses.push(format!("location_key = {}", quoted(location)));
    }
    if let Some(min) = f.min_followers {
        clauses.push(format!("total_followers >= {min}"));
    }
    if let Some(max) = f.max_followers {
        clauses.push(format!("total_followers <= {max}"));
    }
    if let Some(min) = f.min_rating {
        clauses.push(format!("rating >= {min}"));
    }
    if let Some(currency) = &f.currency {
        // Checked currencies are three uppercase letters: safe as an attribute path.
        clauses.push(format!("prices.{currency}.min EXISTS"));
        if let Some(max) = f.price_max {
            clauses.push(format!("prices.{currency}.min <= {max}"));
        }
        if let Some(min) = f.price_min {
            clauses.push(format!("prices.{currency}.max >= {min}"));
        }
    }
    clauses.join(" AND ")
}

pub(super) fn gig_filter(f: &GigFilters) -> String {
    let mut clauses = vec!["live = true".to_owned()];
    any_of(&mut clauses, "platforms", &f.platforms);
    any_of(&mut clauses, "category", &f.categories);
    if let Some(currency) = &f.currency {
        clauses.push(format!("currency = {}", quoted(currency)));
        if let Some(min) = f.price_min {
            clauses.push(format!("price >= {min}"));
        }
        if let Some(max) = f.price_max {
            clauses.push(format!("price <= {max}"));
        }
    }
    if let Some(group) = f.group {
        clauses.push(format!("group = {group}"));
    }
    clauses.join(" AND ")
}

/// The sort expressions: the requested order, then the tiebreak; none for relevance, which the
/// ranking rules order (ending with the same tiebreak).
pub(super) fn influencer_sort(sort: InfluencerSort, currency: Option<&str>) -> Vec<String> {
    let currency = currency.unwrap_or("XXX");
    let primary = match sort {
        InfluencerSort::Relevance => None,
        InfluencerSort::FollowersDesc => Some("total_followers:desc".to_owned()),
        InfluencerSort::FollowersAsc => Some("total_followers:asc".to_owned()),
        InfluencerSort::RatingDesc => Some("rating:desc".to_owned()),
        InfluencerSort::RatingAsc => Some("rating:asc".to_owned()),
        InfluencerSort::PriceAsc => Some(format!("prices.{currency}.min:asc")),
        InfluencerSort::PriceDesc => Some(format!("prices.{currency}.min:desc")),
    };
    with_tiebreak(primary)
}

pub(super) fn gig_sort(sort: GigSort) -> Vec<String> {
    let primary = match sort {
        GigSort::Relevance => None,
        GigSort::RatingDesc => Some("rating:desc"),
        GigSort::RatingAsc => Some("rating:asc"),
        GigSort::PriceAsc => Some("price:asc"),
        GigSort::PriceDesc => Some("price:desc"),
    };
    with_tiebreak(primary.map(str::to_owned))
}

fn with_tiebreak(primary: Option<String>) -> Vec<String> {
    match primary {
        Some(primary) => vec![primary, "tiebreak:asc".to_owned()],
        None => Vec::new(),
    }
}

/// The attribute names of the facets, as stored here.
pub(super) fn facet_attribute(facet: Facet) -> &'static str {
    facet.attribute()
}

/// A snippet from Meilisearch's formatted (cropped, marked) text: escaped, marks as `<em>`.
pub(super) fn snippet(
    formatted: Option<&serde_json::Map<String, serde_json::Value>>,
    attribute: &str,
) -> Option<String> {
    let text = formatted?.get(attribute)?.as_str()?;
    let escaped = crate::embedded::escape(text);
    Some(
        escaped
            .replace(MATCH_START, "<em>")
            .replace(MATCH_END, "</em>"),
    )
}

pub(super) fn influencer_hit(
    document: InfluencerDocument,
    snippet: Option<String>,
) -> InfluencerHit {
    InfluencerHit {
        id: document.id,
        display_name: document.display_name,
        niches: document.niches,
        location: document.location,
        platforms: document.platforms,
        total_followers: document.total_followers,
        rating: document.rating,
        price_ranges: document.price_ranges,
        snippet,
    }
}

pub(super) fn gig_hit(document: GigDocument, snippet: Option<String>) -> GigHit {
    GigHit {
        id: document.id,
        owner_id: document.owner_id,
        owner_name: document.owner_name,
        title: document.title,
        platform: document.platform,
        category: document.category,
        price: document.price,
        group: document.group,
        rating: document.rating,
        snippet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_quote_values_and_name_the_currency_path() {
        let filters = InfluencerFilters {
            niches: vec!["a\"b".into()],
            currency: Some("EUR".into()),
            price_max: Some(100),
            ..Default::default()
        };
        assert_eq!(
            influencer_filter(&filters),
            r#"live = true AND niches IN ["a\"b"] AND prices.EUR.min EXISTS AND prices.EUR.min <= 100"#
        );
    }

    #[test]
    fn relevance_is_left_to_the_ranking_rules_and_sorts_end_with_the_tiebreak() {
        assert!(influencer_sort(InfluencerSort::Relevance, None).is_empty());
        assert_eq!(
            gig_sort(GigSort::PriceAsc),
            vec!["price:asc", "tiebreak:asc"]
        );
        assert_eq!(
            influencer_sort(InfluencerSort::PriceDesc, Some("EUR")),
            vec!["prices.EUR.min:desc", "tiebreak:asc"]
        );
    }

    #[test]
    fn a_tombstone_holds_no_body() {
        let json = serde_json::to_value(StoredGig::tombstone("g1", 3)).unwrap();
        assert_eq!(json.as_object().map(|o| o.len()), Some(4));
    }
}
