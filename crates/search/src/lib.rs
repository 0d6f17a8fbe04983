//! The search port: influencer and gig discovery behind one trait, with two adapters —
//! Meilisearch in production (`MEILI_HOST`, `MEILI_API_KEY`) and an embedded tantivy index on
//! disk under `DATA_DIR/search` when no Meilisearch is configured (development, tests, the
//! one-command run). Both pass the same contract suite (`tests/contract/`).
//!
//! Writes are version-guarded: every document and every delete carries the version of the
//! stored state it comes from, a write older than what the index holds is ignored, and a delete
//! leaves a tombstone so a late older upsert cannot bring the document back. Writes are
//! idempotent, so the search-sync handler may apply an event twice. A reindex builds a fresh
//! index beside the live one and swaps it in at once; queries keep working throughout.
//!
//! Processes: the worker is the one writer (its sync handler and the operators' reindex
//! command); core-api only reads ([`SearchConfig::read_only`]).

pub mod cursor;
pub mod documents;
mod embedded;
#[cfg(feature = "fixture")]
pub mod fixture;
mod meili;
pub mod query;

pub use cursor::Cursor;
pub use documents::{
    Documents, GigDocument, IndexKind, InfluencerDocument, PlatformFollowers, Price, PriceRange,
    Rating,
};
pub use embedded::EmbeddedSearch;
pub use meili::MeiliSearch;
pub use query::{
    Facet, GigFilters, GigHit, GigQuery, GigSort, InfluencerFilters, InfluencerHit,
    InfluencerQuery, InfluencerSort, SearchResults,
};

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;

/// Which adapter to open.
#[derive(Clone)]
pub enum SearchConfig {
    /// Tantivy indexes in this directory (`DATA_DIR/search`). Only one process may write;
    /// `read_only` opens without taking tantivy's writer lock, for core-api.
    Embedded { dir: PathBuf, read_only: bool },
    /// A Meilisearch server; `index_prefix` namespaces the indexes (tests use a random one).
    Meili {
        host: String,
        api_key: Option<String>,
        index_prefix: String,
    },
}

impl std::fmt::Debug for SearchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key is a secret: configurations are logged at start.
        match self {
            SearchConfig::Embedded { dir, read_only } => f
                .debug_struct("Embedded")
                .field("dir", dir)
                .field("read_only", read_only)
                .finish(),
            SearchConfig::Meili {
                host,
                api_key,
                index_prefix,
            } => f
                .debug_struct("Meili")
                .field("host", host)
                .field("api_key", &api_key.as_ref().map(|_| ".."))
                .field("index_prefix", index_prefix)
                .finish(),
        }
    }
}

impl SearchConfig {
    /// Meilisearch when `MEILI_HOST` is set (key from `MEILI_API_KEY`, indexes prefixed with
    /// `MEILI_INDEX_PREFIX`, default `noillin_`), otherwise the embedded index under
    /// `DATA_DIR/search` (default `./data/search`); `var` reads a variable. `read_only` is for
    /// core-api, which never writes.
    pub fn from_vars(mut var: impl FnMut(&str) -> Option<String>, read_only: bool) -> Self {
        match var("MEILI_HOST") {
            Some(host) => SearchConfig::Meili {
                host,
                api_key: var("MEILI_API_KEY"),
                index_prefix: var("MEILI_INDEX_PREFIX").unwrap_or_else(|| "noillin_".to_owned()),
            },
            None => SearchConfig::Embedded {
                dir: PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "./data".to_owned()))
                    .join("search"),
                read_only,
            },
        }
    }
}

/// Errors from search.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The engine could not be reached or failed; the operation may be retried (the routes
    /// answer 503 with `Retry-After`, the sync handler leaves the event in the queue).
    #[error("search unavailable: {0}")]
    Unavailable(String),
    /// The query cannot be run as given (the routes answer 400); the text says why.
    #[error("invalid search query: {0}")]
    InvalidQuery(String),
    /// A document cannot be indexed as given (a bad currency code, an empty id); retrying the
    /// same document fails the same way.
    #[error("invalid document: {0}")]
    InvalidDocument(String),
    /// Another reindex of the same index is under way in this process.
    #[error("a reindex of this index is already running")]
    ReindexRunning,
}

/// The search engine: two indexes, influencers and gigs.
#[async_trait]
pub trait SearchIndex: Send + Sync {
    /// `"embedded"` or `"meilisearch"`.
    fn adapter(&self) -> &'static str;

    /// Whether the engine answers.
    async fn ping(&self) -> Result<(), SearchError>;

    /// Stores each document unless the index holds its id at the same or a newer version
    /// (or a tombstone of one); visible to the next search once this returns.
    async fn upsert(&self, documents: Documents<'_>) -> Result<(), SearchError>;

    /// Removes a document and leaves a tombstone at `version`, unless the index holds the id
    /// at a newer version; deleting an unknown id still leaves the tombstone.
    async fn delete(&self, kind: IndexKind, id: &str, version: u64) -> Result<(), SearchError>;

    async fn search_influencers(
        &self,
        query: &InfluencerQuery,
    ) -> Result<SearchResults<InfluencerHit>, SearchError>;

    async fn search_gigs(&self, query: &GigQuery) -> Result<SearchResults<GigHit>, SearchError>;

    /// Starts building a fresh copy of one index beside the live one, which keeps answering;
    /// writes made meanwhile through this handle reach both. The build replaces the live index
    /// when [`Reindex::finish`] returns, and is thrown away if the handle is dropped unfinished.
    async fn begin_reindex(&self, kind: IndexKind) -> Result<Box<dyn Reindex>, SearchError>;
}

/// A reindex under way: feed it every document of the store, then finish.
#[async_trait]
pub trait Reindex: Send {
    /// Adds documents to the new index, with the same version guard as [`SearchIndex::upsert`]
    /// (a write made since the reindex began may be newer). `InvalidDocument` for documents of
    /// the other index.
    async fn add(&mut self, documents: Documents<'_>) -> Result<(), SearchError>;

    /// Swaps the new index in; searches see it, complete, from the next query on.
    async fn finish(self: Box<Self>) -> Result<(), SearchError>;
}

/// The configured adapter, opened at its first use and kept: a process starts while its search
/// engine is down (Meilisearch not up yet, the embedded index not yet created by the worker)
/// and reports it in readiness; every use retries the opening until it succeeds.
pub struct LazySearch {
    config: SearchConfig,
    opened: tokio::sync::OnceCell<Arc<dyn SearchIndex>>,
}

impl LazySearch {
    /// Nothing is opened yet.
    pub fn new(config: SearchConfig) -> Self {
        Self {
            config,
            opened: tokio::sync::OnceCell::new(),
        }
    }

    /// An index opened already, for tests that write it themselves.
    pub fn opened(config: SearchConfig, index: Arc<dyn SearchIndex>) -> Self {
        Self {
            config,
            opened: tokio::sync::OnceCell::new_with(Some(index)),
        }
    }

    /// The configuration this handle opens.
    pub fn config(&self) -> &SearchConfig {
        &self.config
    }

    /// The opened index; `Unavailable` while it cannot be opened.
    pub async fn get(&self) -> Result<Arc<dyn SearchIndex>, SearchError> {
        self.opened
            .get_or_try_init(|| open(&self.config))
            .await
            .cloned()
    }

    /// Whether the engine answers (opening it first if need be), for readiness.
    pub async fn ping(&self) -> Result<(), SearchError> {
        self.get().await?.ping().await
    }
}

/// The configured adapter. Meilisearch settings are applied and waited for before this
/// returns; the embedded indexes are created when missing.
pub async fn open(config: &SearchConfig) -> Result<Arc<dyn SearchIndex>, SearchError> {
    match config {
        SearchConfig::Embedded { dir, read_only } => {
            Ok(Arc::new(EmbeddedSearch::open(dir, *read_only).await?))
        }
        SearchConfig::Meili {
            host,
            api_key,
            index_prefix,
        } => Ok(Arc::new(
            MeiliSearch::open(host, api_key.as_deref(), index_prefix).await?,
        )),
    }
}
