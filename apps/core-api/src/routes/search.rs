//! `/search`: anyone signed in finds active influencers and published gigs by text, filters and
//! a bookable day, with facet counts for the filters. The index follows the store within the
//! sync lag; while it cannot answer, these routes answer 503 with `Retry-After`.

use std::collections::BTreeMap;

use axum::extract::State;
use noillin_search::{Facet, GigHit, InfluencerHit, SearchResults};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{ApiQuery, AuthUser},
    routes::problems::{Authenticated, InvalidQuery},
    search::{self, GigSearchRequest, InfluencerSearchRequest, SearchError},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_influencers))
        .routes(routes!(search_gigs))
}

/// The problem document of each search outcome.
impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Invalid(errors) => ApiError::Validation(errors),
            SearchError::Unavailable(why) => ApiError::Unavailable(format!("search: {why}")),
            SearchError::Store(e) => e.into(),
            SearchError::Corrupt(why) => ApiError::Internal(anyhow::anyhow!(why)),
        }
    }
}

/// Influencer search parameters. Lists are comma-separated and match any of their values.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InfluencerSearchQuery {
    /// Free text over name, bio, niches and location; typos and a prefix of the last word match.
    #[param(max_length = 512)]
    pub q: Option<String>,
    /// Niches, e.g. `fashion,travel`.
    pub niche: Option<String>,
    /// Platforms, e.g. `instagram,tiktok`.
    pub platform: Option<String>,
    /// Fewest followers (all platforms together), inclusive.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 1e10)]
    pub min_followers: Option<String>,
    /// Most followers, inclusive.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 1e10)]
    pub max_followers: Option<String>,
    /// Language codes, e.g. `en,fr`.
    pub language: Option<String>,
    /// Exact location, case-insensitive.
    #[param(max_length = 100)]
    pub location: Option<String>,
    /// Lowest average rating, 0 to 5.
    #[param(value_type = Option<f64>, minimum = 0, maximum = 5)]
    pub min_rating: Option<String>,
    /// Lowest price in minor units of `currency` (required with it).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 100_000_000)]
    pub price_min: Option<String>,
    /// Highest price in minor units of `currency` (required with it).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 100_000_000)]
    pub price_max: Option<String>,
    /// ISO 4217 code: prices are compared in this currency only.
    #[param(pattern = "^[A-Za-z]{3}$")]
    pub currency: Option<String>,
    /// Keeps influencers with at least one bookable slot that day, in their time zone.
    #[param(value_type = Option<String>, format = Date)]
    pub available_on: Option<String>,
    /// Order: `relevance` (default), `followers_desc`, `followers_asc`, `rating_desc`,
    /// `rating_asc`, `price_asc`, `price_desc` (price sorts need `currency`).
    #[param(
        pattern = "^(relevance|followers_desc|followers_asc|rating_desc|rating_asc|price_asc|price_desc)$"
    )]
    pub sort: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_after` of the previous page of the same query.
    pub after: Option<String>,
}

/// Gig search parameters. Lists are comma-separated and match any of their values.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GigSearchQuery {
    /// Free text over title, description, category and the owner's name.
    #[param(max_length = 512)]
    pub q: Option<String>,
    /// Platforms, e.g. `instagram,youtube`.
    pub platform: Option<String>,
    /// Categories, e.g. `reel,review`.
    pub category: Option<String>,
    /// Lowest price in minor units of `currency` (required with it).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 100_000_000)]
    pub price_min: Option<String>,
    /// Highest price in minor units of `currency` (required with it).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 100_000_000)]
    pub price_max: Option<String>,
    /// ISO 4217 code: only gigs priced in it.
    #[param(pattern = "^[A-Za-z]{3}$")]
    pub currency: Option<String>,
    /// `true`: group gigs only; `false`: single gigs only.
    #[param(value_type = Option<bool>)]
    pub group: Option<String>,
    /// Keeps gigs with at least one bookable slot that day, in their owner's time zone.
    #[param(value_type = Option<String>, format = Date)]
    pub available_on: Option<String>,
    /// Order: `relevance` (default), `rating_desc`, `rating_asc`, `price_asc`, `price_desc`
    /// (price sorts need `currency`).
    #[param(pattern = "^(relevance|rating_desc|rating_asc|price_asc|price_desc)$")]
    pub sort: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_after` of the previous page of the same query.
    pub after: Option<String>,
}

/// Followers on one platform.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformFollowersView {
    pub platform: String,
    pub followers: u64,
}

/// Gig prices in one currency, minor units.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceRangeView {
    pub currency: String,
    pub min: u64,
    pub max: u64,
}

/// Average review rating (0 when there is none) and how many reviews.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingView {
    pub average: f64,
    pub count: u32,
}

/// What an influencer result card shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct InfluencerHitView {
    pub id: String,
    pub display_name: String,
    pub niches: Vec<String>,
    pub location: String,
    pub platforms: Vec<PlatformFollowersView>,
    pub total_followers: u64,
    pub rating: RatingView,
    /// Cheapest and dearest published gig per currency.
    pub price_ranges: Vec<PriceRangeView>,
    /// The matched text with matched words in `<em>…</em>` and the rest HTML-escaped; absent
    /// without free text.
    pub snippet: Option<String>,
}

/// A price in minor units.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceView {
    pub amount_minor: u64,
    pub currency: String,
}

/// What a gig result card shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct GigHitView {
    pub id: String,
    pub owner_id: String,
    pub owner_name: String,
    pub title: String,
    pub platform: String,
    pub category: String,
    pub price: PriceView,
    /// Whether several influencers deliver it together.
    pub group: bool,
    /// The owner's rating.
    pub rating: RatingView,
    /// As for influencer hits.
    pub snippet: Option<String>,
}

/// One page of influencer hits.
#[derive(Debug, Serialize, ToSchema)]
pub struct InfluencerSearchPage {
    pub hits: Vec<InfluencerHitView>,
    /// Per facet (`niche`, `platform`, `language`), hits per value over every hit of the
    /// query (before `available_on`).
    pub facets: BTreeMap<String, BTreeMap<String, u64>>,
    /// How many influencers match the text and filters (before `available_on`, so an upper
    /// bound with it).
    pub total_estimate: u64,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<String>,
}

/// One page of gig hits.
#[derive(Debug, Serialize, ToSchema)]
pub struct GigSearchPage {
    pub hits: Vec<GigHitView>,
    /// Per facet (`platform`, `category`), hits per value, as for influencers.
    pub facets: BTreeMap<String, BTreeMap<String, u64>>,
    pub total_estimate: u64,
    pub next_after: Option<String>,
}

/// Searches active influencers.
#[utoipa::path(get, path = "/search/influencers", tag = "search", security(("bearer" = [])), params(InfluencerSearchQuery),
    responses((status = 200, description = "One page of influencers, with facet counts", body = InfluencerSearchPage), Authenticated, InvalidQuery))]
async fn search_influencers(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiQuery(query): ApiQuery<InfluencerSearchQuery>,
) -> ApiResult<axum::Json<InfluencerSearchPage>> {
    let request = InfluencerSearchRequest {
        q: query.q,
        niche: query.niche,
        platform: query.platform,
        min_followers: query.min_followers,
        max_followers: query.max_followers,
        language: query.language,
        location: query.location,
        min_rating: query.min_rating,
        price_min: query.price_min,
        price_max: query.price_max,
        currency: query.currency,
        available_on: query.available_on,
        sort: query.sort,
        limit: query.limit,
        after: query.after,
    };
    let page = search::influencers(&state, request).await?;
    let (hits, facets, total_estimate, next_after) = parts(page, influencer_view);
    Ok(axum::Json(InfluencerSearchPage {
        hits,
        facets,
        total_estimate,
        next_after,
    }))
}

/// Searches published gigs.
#[utoipa::path(get, path = "/search/gigs", tag = "search", security(("bearer" = [])), params(GigSearchQuery),
    responses((status = 200, description = "One page of gigs, with facet counts", body = GigSearchPage), Authenticated, InvalidQuery))]
async fn search_gigs(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiQuery(query): ApiQuery<GigSearchQuery>,
) -> ApiResult<axum::Json<GigSearchPage>> {
    let request = GigSearchRequest {
        q: query.q,
        platform: query.platform,
        category: query.category,
        price_min: query.price_min,
        price_max: query.price_max,
        currency: query.currency,
        group: query.group,
        available_on: query.available_on,
        sort: query.sort,
        limit: query.limit,
        after: query.after,
    };
    let page = search::gigs(&state, request).await?;
    let (hits, facets, total_estimate, next_after) = parts(page, gig_view);
    Ok(axum::Json(GigSearchPage {
        hits,
        facets,
        total_estimate,
        next_after,
    }))
}

type Facets = BTreeMap<String, BTreeMap<String, u64>>;

/// A page's views, facets by their parameter's name, estimate and cursor.
fn parts<H, V>(page: SearchResults<H>, view: fn(H) -> V) -> (Vec<V>, Facets, u64, Option<String>) {
    let facets = page
        .facets
        .into_iter()
        .map(|(facet, counts)| (facet_name(facet).to_owned(), counts))
        .collect();
    (
        page.hits.into_iter().map(view).collect(),
        facets,
        page.total_estimate,
        page.next_cursor,
    )
}

/// The facet as its filter parameter is named.
fn facet_name(facet: Facet) -> &'static str {
    match facet {
        Facet::Niche => "niche",
        Facet::Platform => "platform",
        Facet::Language => "language",
        Facet::Category => "category",
    }
}

fn influencer_view(hit: InfluencerHit) -> InfluencerHitView {
    InfluencerHitView {
        id: hit.id,
        display_name: hit.display_name,
        niches: hit.niches,
        location: hit.location,
        platforms: hit
            .platforms
            .into_iter()
            .map(|p| PlatformFollowersView {
                platform: p.platform,
                followers: p.followers,
            })
            .collect(),
        total_followers: hit.total_followers,
        rating: RatingView {
            average: hit.rating.average,
            count: hit.rating.count,
        },
        price_ranges: hit
            .price_ranges
            .into_iter()
            .map(|r| PriceRangeView {
                currency: r.currency,
                min: r.min,
                max: r.max,
            })
            .collect(),
        snippet: hit.snippet,
    }
}

fn gig_view(hit: GigHit) -> GigHitView {
    GigHitView {
        id: hit.id,
        owner_id: hit.owner_id,
        owner_name: hit.owner_name,
        title: hit.title,
        platform: hit.platform,
        category: hit.category,
        price: PriceView {
            amount_minor: hit.price.amount,
            currency: hit.price.currency,
        },
        group: hit.group,
        rating: RatingView {
            average: hit.rating.average,
            count: hit.rating.count,
        },
        snippet: hit.snippet,
    }
}
