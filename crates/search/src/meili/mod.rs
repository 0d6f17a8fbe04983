//! The Meilisearch adapter (production): indexes `<prefix>influencers` and `<prefix>gigs`.
//!
//! Settings are applied at open and waited for (applying the same settings again is a no-op
//! task, so every process may open). Every write waits for its task, so a write is visible to
//! the next search once it returns.
//!
//! The version guard reads the stored versions of a batch, then writes the documents that
//! supersede them. Between the read and the write another process could write the same id, so
//! across processes the guard is not atomic. The search-sync handler closes that gap: it does
//! not index the event's payload but the store's current state, read when it handles the
//! event, so whichever write lands last carries the newest state. A reindex (built in
//! `<prefix><kind>_next`, then swapped with `swapIndexes`) mirrors the writes made through the
//! same handle meanwhile; writes from another process during a reindex are not mirrored, so
//! run reindexes from the worker, the one process that writes.
//!
//! The binaries install a rustls crypto provider before opening (see the dependency notes).

mod http;
mod reindex;
mod wire;
mod writes;

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use meilisearch_sdk::{
    client::Client,
    errors::{Error, ErrorCode},
    search::{MatchingStrategies, Selectors},
    task_info::TaskInfo,
    tasks::Task,
};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::Mutex;

use http::UncompressedClient;
use reindex::MeiliReindex;
use wire::{StoredGig, StoredInfluencer};
use writes::{GuardedWrite, check_id, gig_writes, influencer_writes, stored_versions};

use crate::{
    Documents, GigHit, GigQuery, IndexKind, InfluencerHit, InfluencerQuery, Reindex, SearchError,
    SearchIndex, SearchResults, embedded::SNIPPET_WORDS,
};

/// Settings and index creation may queue behind other tasks; writes are small.
const SETTINGS_TIMEOUT: Duration = Duration::from_secs(120);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The Meilisearch search engine.
#[derive(Clone)]
pub struct MeiliSearch {
    client: Arc<Client<UncompressedClient>>,
    prefix: String,
    /// Per index, the build under way in this process (its uid), if any. Also serializes this
    /// process's writes to an index, which keeps the read-then-write guard atomic within it.
    builds: Arc<HashMap<IndexKind, Mutex<Option<String>>>>,
}

impl MeiliSearch {
    /// Connects, creates the indexes when missing and applies their settings, waiting for both.
    pub async fn open(
        host: &str,
        api_key: Option<&str>,
        prefix: &str,
    ) -> Result<Self, SearchError> {
        let client = Client::new_with_client(host, api_key, UncompressedClient::new(api_key)?);
        let search = Self {
            client: Arc::new(client),
            prefix: prefix.to_owned(),
            builds: Arc::new(
                [IndexKind::Influencers, IndexKind::Gigs]
                    .into_iter()
                    .map(|k| (k, Mutex::new(None)))
                    .collect(),
            ),
        };
        for kind in [IndexKind::Influencers, IndexKind::Gigs] {
            search.prepare(&search.uid(kind), kind).await?;
        }
        Ok(search)
    }

    /// Deletes every index whose uid starts with `prefix` (for tests and teardown).
    pub async fn delete_indexes(
        host: &str,
        api_key: Option<&str>,
        prefix: &str,
    ) -> Result<(), SearchError> {
        let client = Client::new_with_client(host, api_key, UncompressedClient::new(api_key)?);
        for kind in [IndexKind::Influencers, IndexKind::Gigs] {
            for uid in [
                format!("{prefix}{}", kind.name()),
                format!("{prefix}{}_next", kind.name()),
            ] {
                let task = client.delete_index(&uid).await.map_err(unavailable)?;
                wait(&client, task, WRITE_TIMEOUT)
                    .await
                    .or_else(ignore(ErrorCode::IndexNotFound))?;
            }
        }
        Ok(())
    }

    fn uid(&self, kind: IndexKind) -> String {
        format!("{}{}", self.prefix, kind.name())
    }

    /// Creates the index (unless it exists) and applies its settings.
    async fn prepare(&self, uid: &str, kind: IndexKind) -> Result<(), SearchError> {
        let task = self
            .client
            .create_index(uid, Some("id"))
            .await
            .map_err(unavailable)?;
        wait(&self.client, task, SETTINGS_TIMEOUT)
            .await
            .or_else(ignore(ErrorCode::IndexAlreadyExists))?;
        let task = self
            .client
            .index(uid)
            .set_settings(&wire::settings(kind))
            .await
            .map_err(unavailable)?;
        wait(&self.client, task, SETTINGS_TIMEOUT).await
    }

    fn build_slot(&self, kind: IndexKind) -> Result<&Mutex<Option<String>>, SearchError> {
        self.builds
            .get(&kind)
            .ok_or_else(|| SearchError::Unavailable("unknown index".to_owned()))
    }

    /// Writes the documents that supersede what `uid` holds, and waits.
    async fn guarded_write<T: Serialize + Send + Sync>(
        &self,
        uid: &str,
        writes: Vec<GuardedWrite<T>>,
    ) -> Result<(), SearchError> {
        let index = self.client.index(uid);
        let ids: Vec<&str> = writes.iter().map(|(_, id, _, _)| id.as_str()).collect();
        let stored = stored_versions(&index, &ids).await?;
        let mut newest: HashMap<String, (u64, bool)> = stored
            .into_iter()
            .map(|s| (s.id, (s.version, s.live)))
            .collect();
        let mut accepted: HashMap<String, T> = HashMap::new();
        for (document, id, version, live) in writes {
            let supersedes = match newest.get(&id) {
                None => true,
                Some(&(stored, _)) if live => version > stored,
                Some(&(stored, stored_live)) => {
                    version > stored || (version == stored && stored_live)
                }
            };
            if supersedes {
                newest.insert(id.clone(), (version, live));
                accepted.insert(id, document);
            }
        }
        if accepted.is_empty() {
            return Ok(());
        }
        let documents: Vec<T> = accepted.into_values().collect();
        let task = index
            .add_or_replace(&documents, Some("id"))
            .await
            .map_err(unavailable)?;
        wait(&self.client, task, WRITE_TIMEOUT).await
    }

    /// Applies writes to the live index and to this process's build of it, if one is under way.
    async fn write<T: Serialize + Send + Sync + Clone>(
        &self,
        kind: IndexKind,
        writes: Vec<GuardedWrite<T>>,
    ) -> Result<(), SearchError> {
        let build = self.build_slot(kind)?.lock().await;
        if let Some(build_uid) = build.as_ref() {
            self.guarded_write(build_uid, writes.clone()).await?;
        }
        self.guarded_write(&self.uid(kind), writes).await
    }

    async fn search<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        kind: IndexKind,
        text: &str,
        request: SearchRequest<'_>,
    ) -> Result<meilisearch_sdk::search::SearchResults<T>, SearchError> {
        let index = self.client.index(self.uid(kind));
        let sort: Vec<&str> = request.sort.iter().map(String::as_str).collect();
        let facets: Vec<&str> = request.facets.to_vec();
        let crop = [(request.snippet_attribute, None)];
        let highlight = [request.snippet_attribute];
        let mut query = index.search();
        query
            .with_query(text)
            .with_filter(&request.filter)
            .with_offset(request.offset)
            .with_limit(request.limit)
            .with_matching_strategy(MatchingStrategies::ALL);
        if !sort.is_empty() {
            query.with_sort(&sort);
        }
        if !facets.is_empty() {
            query.with_facets(Selectors::Some(&facets));
        }
        if !text.trim().is_empty() {
            query
                .with_attributes_to_crop(Selectors::Some(&crop))
                .with_crop_length(SNIPPET_WORDS)
                .with_attributes_to_highlight(Selectors::Some(&highlight))
                .with_highlight_pre_tag(wire::MATCH_START)
                .with_highlight_post_tag(wire::MATCH_END);
        }
        query.execute::<T>().await.map_err(|e| match e {
            Error::Meilisearch(e)
                if e.error_type == meilisearch_sdk::errors::ErrorType::InvalidRequest =>
            {
                SearchError::InvalidQuery(e.error_message)
            }
            e => unavailable(e),
        })
    }
}

/// The parts of a search request besides the text.
struct SearchRequest<'a> {
    filter: String,
    sort: Vec<String>,
    facets: &'a [&'static str],
    offset: usize,
    limit: usize,
    snippet_attribute: &'static str,
}

/// Waits for a task; a failed task is `Unavailable` with Meilisearch's message.
async fn wait(
    client: &Client<UncompressedClient>,
    task: TaskInfo,
    timeout: Duration,
) -> Result<(), SearchError> {
    match task
        .wait_for_completion(client, Some(POLL_INTERVAL), Some(timeout))
        .await
        .map_err(unavailable)?
    {
        Task::Succeeded { .. } => Ok(()),
        Task::Failed { content } => Err(SearchError::Unavailable(format!(
            "{:?}: {}",
            content.error.error_code, content.error.error_message
        ))),
        _ => Err(SearchError::Unavailable("a task did not finish".to_owned())),
    }
}

/// Treats a failed task with `code` as success (index exists, index missing).
fn ignore(code: ErrorCode) -> impl Fn(SearchError) -> Result<(), SearchError> {
    let expected = format!("{code:?}: ");
    move |error| match &error {
        SearchError::Unavailable(message) if message.starts_with(&expected) => Ok(()),
        _ => Err(error),
    }
}

fn unavailable(error: impl std::fmt::Display) -> SearchError {
    SearchError::Unavailable(error.to_string())
}

#[async_trait]
impl SearchIndex for MeiliSearch {
    fn adapter(&self) -> &'static str {
        "meilisearch"
    }

    async fn ping(&self) -> Result<(), SearchError> {
        self.client.health().await.map(drop).map_err(unavailable)
    }

    async fn upsert(&self, documents: Documents<'_>) -> Result<(), SearchError> {
        match documents {
            Documents::Influencers(documents) => {
                self.write(IndexKind::Influencers, influencer_writes(documents)?)
                    .await
            }
            Documents::Gigs(documents) => self.write(IndexKind::Gigs, gig_writes(documents)?).await,
        }
    }

    async fn delete(&self, kind: IndexKind, id: &str, version: u64) -> Result<(), SearchError> {
        check_id(id)?;
        match kind {
            IndexKind::Influencers => {
                self.write(
                    kind,
                    vec![(
                        StoredInfluencer::tombstone(id, version),
                        id.to_owned(),
                        version,
                        false,
                    )],
                )
                .await
            }
            IndexKind::Gigs => {
                self.write(
                    kind,
                    vec![(
                        StoredGig::tombstone(id, version),
                        id.to_owned(),
                        version,
                        false,
                    )],
                )
                .await
            }
        }
    }

    async fn search_influencers(
        &self,
        query: &InfluencerQuery,
    ) -> Result<SearchResults<InfluencerHit>, SearchError> {
        let checked = query.check()?;
        let facets: Vec<&'static str> = checked
            .facets
            .iter()
            .map(|f| wire::facet_attribute(*f))
            .collect();
        let request = SearchRequest {
            filter: wire::influencer_filter(&checked.filters),
            sort: wire::influencer_sort(checked.sort, checked.filters.currency.as_deref()),
            facets: &facets,
            offset: checked.offset,
            limit: checked.limit,
            snippet_attribute: "bio",
        };
        let found = self
            .search::<StoredInfluencer>(IndexKind::Influencers, &checked.text, request)
            .await?;
        let searched = !checked.text.trim().is_empty();
        let hits: Vec<InfluencerHit> = found
            .hits
            .into_iter()
            .filter_map(|hit| {
                let snippet = if searched {
                    wire::snippet(hit.formatted_result.as_ref(), "bio")
                } else {
                    None
                };
                hit.result
                    .body
                    .map(|body| wire::influencer_hit(body.document, snippet))
            })
            .collect();
        Ok(results(
            &checked,
            hits,
            found.estimated_total_hits,
            found.facet_distribution,
        ))
    }

    async fn search_gigs(&self, query: &GigQuery) -> Result<SearchResults<GigHit>, SearchError> {
        let checked = query.check()?;
        let facets: Vec<&'static str> = checked
            .facets
            .iter()
            .map(|f| wire::facet_attribute(*f))
            .collect();
        let request = SearchRequest {
            filter: wire::gig_filter(&checked.filters),
            sort: wire::gig_sort(checked.sort),
            facets: &facets,
            offset: checked.offset,
            limit: checked.limit,
            snippet_attribute: "description",
        };
        let found = self
            .search::<StoredGig>(IndexKind::Gigs, &checked.text, request)
            .await?;
        let searched = !checked.text.trim().is_empty();
        let hits: Vec<GigHit> = found
            .hits
            .into_iter()
            .filter_map(|hit| {
                let snippet = if searched {
                    wire::snippet(hit.formatted_result.as_ref(), "description")
                } else {
                    None
                };
                hit.result
                    .body
                    .map(|body| wire::gig_hit(body.document, snippet))
            })
            .collect();
        Ok(results(
            &checked,
            hits,
            found.estimated_total_hits,
            found.facet_distribution,
        ))
    }

    async fn begin_reindex(&self, kind: IndexKind) -> Result<Box<dyn Reindex>, SearchError> {
        let mut build = self.build_slot(kind)?.lock().await;
        if build.is_some() {
            return Err(SearchError::ReindexRunning);
        }
        let uid = format!("{}_next", self.uid(kind));
        let task = self.client.delete_index(&uid).await.map_err(unavailable)?;
        wait(&self.client, task, SETTINGS_TIMEOUT)
            .await
            .or_else(ignore(ErrorCode::IndexNotFound))?;
        self.prepare(&uid, kind).await?;
        *build = Some(uid.clone());
        Ok(Box::new(MeiliReindex {
            search: self.clone(),
            kind,
            uid,
            finished: false,
        }))
    }
}

fn results<F, S, H>(
    checked: &crate::query::Checked<F, S>,
    hits: Vec<H>,
    estimated: Option<usize>,
    distribution: Option<HashMap<String, HashMap<String, usize>>>,
) -> SearchResults<H> {
    let total = estimated.unwrap_or(hits.len()) as u64;
    let mut facets = std::collections::BTreeMap::new();
    let distribution = distribution.unwrap_or_default();
    for facet in &checked.facets {
        let counts = distribution
            .get(facet.attribute())
            .map(|values| {
                values
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(v, n)| (v.clone(), *n as u64))
                    .collect()
            })
            .unwrap_or_default();
        facets.insert(*facet, counts);
    }
    SearchResults {
        next_cursor: checked.next_cursor(hits.len(), total),
        hits,
        facets,
        total_estimate: total,
    }
}
