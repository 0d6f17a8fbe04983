//! Discovery: anyone signed in searches active influencers and published gigs. The index is
//! the worker's (core-api only reads it); this module reads and checks the query as the client
//! wrote it, asks the index, and for `available_on` keeps only the hits the slot engine finds
//! bookable that day, paging on until the page is full.
//!
//! Who may search: every signed-in role. Brands find influencers and gigs to book, influencers
//! find others to invite into group gigs, administrators look people up. Hits show only what a
//! public profile or a published gig shows already.

mod available;
mod request;

use std::future::Future;

use jiff::civil::Date;
use noillin_domain::ValidationErrors;
use noillin_search::{
    Cursor, GigHit, GigQuery, InfluencerHit, InfluencerQuery, SearchError as IndexError,
    SearchResults,
    query::{Checked, MAX_PAGE_SIZE, MAX_REACHABLE_HITS},
};
use noillin_store::StoreError;

use crate::AppState;

pub use request::{GigSearchRequest, InfluencerSearchRequest};

/// What the search use cases answer when they do not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query breaks the rules; every field error is listed.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The index cannot answer now (not built yet, the engine down); retry later.
    #[error("search unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored data the slot engine refuses (a time zone it does not know).
    #[error("{0}")]
    Corrupt(String),
}

impl From<IndexError> for SearchError {
    fn from(e: IndexError) -> Self {
        match e {
            // The request was checked before it reached the index; what the index still
            // refuses is the cursor (another query's, or not one it wrote).
            IndexError::InvalidQuery(why) => {
                let mut errors = ValidationErrors::default();
                errors.add("after", "invalid_cursor", why);
                SearchError::Invalid(errors)
            }
            IndexError::Unavailable(why) => SearchError::Unavailable(why),
            IndexError::InvalidDocument(why) => SearchError::Corrupt(why),
            IndexError::ReindexRunning => SearchError::Unavailable(e.to_string()),
        }
    }
}

/// One page of hits, the facet counts and where the next page starts.
pub type SearchPage<H> = SearchResults<H>;

/// Influencers matching the request.
pub async fn influencers(
    state: &AppState,
    request: InfluencerSearchRequest,
) -> Result<SearchPage<InfluencerHit>, SearchError> {
    let (query, available_on) = request.read()?;
    let checked = query.check()?;
    let index = state.search.get().await?;
    match available_on {
        None => Ok(index.search_influencers(&query).await?),
        Some(day) => {
            let search = |q: InfluencerQuery| {
                let index = index.clone();
                async move { index.search_influencers(&q).await }
            };
            let keep = |hit: &InfluencerHit| available::influencer(state, hit.id.clone(), day);
            page_available(&query, &checked, search, keep).await
        }
    }
}

/// Gigs matching the request.
pub async fn gigs(
    state: &AppState,
    request: GigSearchRequest,
) -> Result<SearchPage<GigHit>, SearchError> {
    let (query, available_on) = request.read()?;
    let checked = query.check()?;
    let index = state.search.get().await?;
    match available_on {
        None => Ok(index.search_gigs(&query).await?),
        Some(day) => {
            let search = |q: GigQuery| {
                let index = index.clone();
                async move { index.search_gigs(&q).await }
            };
            let keep = |hit: &GigHit| available::gig(state, hit.id.clone(), day);
            page_available(&query, &checked, search, keep).await
        }
    }
}

/// A query the index can be asked from any position.
trait Positioned: Clone {
    /// This query from the hit at `after` (`None`: the first), `limit` hits at a time.
    fn at(&self, after: Option<String>, limit: usize) -> Self;
}

impl Positioned for InfluencerQuery {
    fn at(&self, after: Option<String>, limit: usize) -> Self {
        Self {
            after,
            limit: Some(limit),
            ..self.clone()
        }
    }
}

impl Positioned for GigQuery {
    fn at(&self, after: Option<String>, limit: usize) -> Self {
        Self {
            after,
            limit: Some(limit),
            ..self.clone()
        }
    }
}

/// Hits checked for availability at once: each check reads the store a few times.
const CHECKS_AT_ONCE: usize = 8;

/// One page of the hits `keep` accepts, reading the index a full page at a time from the
/// query's cursor until the page is full or the reachable hits ([`MAX_REACHABLE_HITS`]) are
/// exhausted, so a page is short only when no later reachable hit would match. The next cursor
/// is the index offset just after the last hit returned, so the next page neither skips nor
/// repeats a hit. Facets and the total estimate are the index's (before the availability
/// filter): the estimate is an upper bound.
async fn page_available<Q, F, S, Fut, H, K, KFut>(
    query: &Q,
    checked: &Checked<F, S>,
    search: impl Fn(Q) -> Fut,
    keep: K,
) -> Result<SearchPage<H>, SearchError>
where
    Q: Positioned,
    Fut: Future<Output = Result<SearchResults<H>, IndexError>>,
    K: Fn(&H) -> KFut,
    KFut: Future<Output = Result<bool, SearchError>>,
{
    use futures::{StreamExt, TryStreamExt};

    let wanted = checked.limit;
    let mut offset = checked.offset;
    let mut kept: Vec<H> = Vec::with_capacity(wanted);
    let mut facets = Default::default();
    let mut total_estimate = 0;
    let mut first = true;
    while kept.len() < wanted && offset < MAX_REACHABLE_HITS {
        let after = (offset > 0).then(|| Cursor::new(offset, checked.fingerprint).encode());
        let results = search(query.at(after, MAX_PAGE_SIZE)).await?;
        if first {
            facets = results.facets.clone();
            total_estimate = results.total_estimate;
            first = false;
        }
        let exhausted = results.next_cursor.is_none();
        let verdicts: Vec<bool> = futures::stream::iter(results.hits.iter().map(&keep))
            .buffered(CHECKS_AT_ONCE)
            .try_collect()
            .await?;
        let scanned = results.hits.len();
        for (i, (hit, verdict)) in results.hits.into_iter().zip(verdicts).enumerate() {
            if verdict {
                kept.push(hit);
                if kept.len() == wanted {
                    let end = offset + i + 1;
                    let more = end < MAX_REACHABLE_HITS && (i + 1 < scanned || !exhausted);
                    return Ok(SearchResults {
                        hits: kept,
                        facets,
                        total_estimate,
                        next_cursor: more.then(|| Cursor::new(end, checked.fingerprint).encode()),
                    });
                }
            }
        }
        offset += scanned;
        if exhausted || scanned == 0 {
            break;
        }
    }
    Ok(SearchResults {
        hits: kept,
        facets,
        total_estimate,
        next_cursor: None,
    })
}

/// The local day `date` as the instants `[start, end)` in `zone`; `None` for a day too far
/// out for the calendar (which has no slot then).
fn day_bounds(date: Date, zone: &jiff::tz::TimeZone) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
    let start = date.to_zoned(zone.clone()).ok()?;
    let end = date.tomorrow().ok()?.to_zoned(zone.clone()).ok()?;
    Some((start.timestamp(), end.timestamp()))
}
