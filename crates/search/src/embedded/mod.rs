//! The embedded adapter: two tantivy indexes on disk (`<dir>/influencers`, `<dir>/gigs`).
//!
//! Tantivy allows one writer per index across processes (it holds a lock file), so exactly one
//! process opens it for writing: the worker, whose search-sync handler and reindex command are
//! the only writers. core-api opens it read-only; its readers pick up the worker's commits
//! within tantivy's reload delay and a reindex swap within a second. In the writing process a
//! write is visible to the next search as soon as it returns (the reader reloads after each
//! commit). All tantivy work runs on tokio's blocking pool.

mod engine;
mod highlight;
mod schema;
mod search;

use std::{path::Path, sync::Arc};

use async_trait::async_trait;

use engine::{Engine, Write};
pub(crate) use highlight::{SNIPPET_WORDS, escape};

use crate::{
    Documents, GigDocument, GigHit, GigQuery, IndexKind, InfluencerDocument, InfluencerHit,
    InfluencerQuery, Reindex, SearchError, SearchIndex, SearchResults,
};

/// The embedded search engine.
#[derive(Clone)]
pub struct EmbeddedSearch {
    influencers: Arc<Engine>,
    gigs: Arc<Engine>,
}

impl EmbeddedSearch {
    /// Opens the indexes under `dir`, creating them when missing (unless `read_only`, in which
    /// case searches answer `Unavailable` until the writing process has created them).
    pub async fn open(dir: &Path, read_only: bool) -> Result<Self, SearchError> {
        let dir = dir.to_owned();
        blocking(move || {
            Ok(Self {
                influencers: Arc::new(Engine::open(&dir, IndexKind::Influencers, read_only)?),
                gigs: Arc::new(Engine::open(&dir, IndexKind::Gigs, read_only)?),
            })
        })
        .await
    }

    fn engine(&self, kind: IndexKind) -> Arc<Engine> {
        match kind {
            IndexKind::Influencers => self.influencers.clone(),
            IndexKind::Gigs => self.gigs.clone(),
        }
    }
}

/// Runs blocking tantivy work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SearchError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SearchError::Unavailable(format!("search task failed: {e}")))?
}

/// The guarded writes of a batch of documents, normalized and mapped to tantivy documents.
fn upserts(engine: &Engine, documents: Documents<'_>) -> Result<Vec<Write>, SearchError> {
    match documents {
        Documents::Influencers(documents) => documents
            .iter()
            .map(|d| {
                let d: InfluencerDocument = d.normalized()?;
                Ok(Write {
                    doc: Some(engine.fields.influencer(&d)?),
                    id: d.id,
                    version: d.version,
                })
            })
            .collect(),
        Documents::Gigs(documents) => documents
            .iter()
            .map(|d| {
                let d: GigDocument = d.normalized()?;
                Ok(Write {
                    doc: Some(engine.fields.gig(&d)?),
                    id: d.id,
                    version: d.version,
                })
            })
            .collect(),
    }
}

#[async_trait]
impl SearchIndex for EmbeddedSearch {
    fn adapter(&self) -> &'static str {
        "embedded"
    }

    async fn ping(&self) -> Result<(), SearchError> {
        let engines = [self.influencers.clone(), self.gigs.clone()];
        blocking(move || engines.iter().try_for_each(|e| e.generation().map(drop))).await
    }

    async fn upsert(&self, documents: Documents<'_>) -> Result<(), SearchError> {
        let engine = self.engine(documents.kind());
        let writes = upserts(&engine, documents)?;
        if writes.is_empty() {
            return Ok(());
        }
        blocking(move || engine.apply(writes)).await
    }

    async fn delete(&self, kind: IndexKind, id: &str, version: u64) -> Result<(), SearchError> {
        if id.is_empty() {
            return Err(SearchError::InvalidDocument("empty id".to_owned()));
        }
        let engine = self.engine(kind);
        let write = Write {
            id: id.to_owned(),
            version,
            doc: None,
        };
        blocking(move || engine.apply(vec![write])).await
    }

    async fn search_influencers(
        &self,
        query: &InfluencerQuery,
    ) -> Result<SearchResults<InfluencerHit>, SearchError> {
        let checked = query.check()?;
        let engine = self.influencers.clone();
        blocking(move || search::influencers(&*engine.generation()?, &engine.fields, &checked))
            .await
    }

    async fn search_gigs(&self, query: &GigQuery) -> Result<SearchResults<GigHit>, SearchError> {
        let checked = query.check()?;
        let engine = self.gigs.clone();
        blocking(move || search::gigs(&*engine.generation()?, &engine.fields, &checked)).await
    }

    async fn begin_reindex(&self, kind: IndexKind) -> Result<Box<dyn Reindex>, SearchError> {
        let engine = self.engine(kind);
        let build_engine = engine.clone();
        let ticket = blocking(move || build_engine.begin_build()).await?;
        Ok(Box::new(EmbeddedReindex {
            engine,
            kind,
            ticket,
            finished: false,
        }))
    }
}

/// A build of a new generation; dropping it unfinished throws the build away.
struct EmbeddedReindex {
    engine: Arc<Engine>,
    kind: IndexKind,
    ticket: u64,
    finished: bool,
}

#[async_trait]
impl Reindex for EmbeddedReindex {
    async fn add(&mut self, documents: Documents<'_>) -> Result<(), SearchError> {
        if documents.kind() != self.kind {
            return Err(SearchError::InvalidDocument(format!(
                "{} documents given to a reindex of {}",
                documents.kind().name(),
                self.kind.name()
            )));
        }
        let writes = upserts(&self.engine, documents)?;
        let (engine, ticket) = (self.engine.clone(), self.ticket);
        blocking(move || engine.add_to_build(ticket, writes)).await
    }

    async fn finish(mut self: Box<Self>) -> Result<(), SearchError> {
        let (engine, ticket) = (self.engine.clone(), self.ticket);
        blocking(move || engine.finish_build(ticket)).await?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for EmbeddedReindex {
    fn drop(&mut self) {
        if !self.finished {
            self.engine.abandon_build(self.ticket);
        }
    }
}
