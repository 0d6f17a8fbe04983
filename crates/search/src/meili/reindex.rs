//! A reindex on Meilisearch: a fresh index `<prefix><kind>_next`, filled, then swapped with the
//! live one in one `swapIndexes` task.

use async_trait::async_trait;
use meilisearch_sdk::client::SwapIndexes;

use super::{
    MeiliSearch, SETTINGS_TIMEOUT, unavailable, wait,
    writes::{gig_writes, influencer_writes},
};
use crate::{Documents, IndexKind, Reindex, SearchError};

/// A build in `<prefix><kind>_next`; dropping it unfinished stops mirroring writes into it
/// (the next reindex deletes it).
pub(super) struct MeiliReindex {
    pub search: MeiliSearch,
    pub kind: IndexKind,
    pub uid: String,
    pub finished: bool,
}

#[async_trait]
impl Reindex for MeiliReindex {
    async fn add(&mut self, documents: Documents<'_>) -> Result<(), SearchError> {
        if documents.kind() != self.kind {
            return Err(SearchError::InvalidDocument(format!(
                "{} documents given to a reindex of {}",
                documents.kind().name(),
                self.kind.name()
            )));
        }
        let _serialized = self.search.build_slot(self.kind)?.lock().await;
        match documents {
            Documents::Influencers(documents) => {
                self.search
                    .guarded_write(&self.uid, influencer_writes(documents)?)
                    .await
            }
            Documents::Gigs(documents) => {
                self.search
                    .guarded_write(&self.uid, gig_writes(documents)?)
                    .await
            }
        }
    }

    async fn finish(mut self: Box<Self>) -> Result<(), SearchError> {
        let mut build = self.search.build_slot(self.kind)?.lock().await;
        let live = self.search.uid(self.kind);
        let swap = SwapIndexes {
            indexes: (live, self.uid.clone()),
            rename: None,
        };
        let task = self
            .search
            .client
            .swap_indexes([&swap])
            .await
            .map_err(unavailable)?;
        wait(&self.search.client, task, SETTINGS_TIMEOUT).await?;
        *build = None;
        self.finished = true;
        // After the swap `_next` holds the old documents.
        let task = self
            .search
            .client
            .delete_index(&self.uid)
            .await
            .map_err(unavailable)?;
        wait(&self.search.client, task, SETTINGS_TIMEOUT).await
    }
}

impl Drop for MeiliReindex {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (builds, kind, uid) = (self.search.builds.clone(), self.kind, self.uid.clone());
        let release = async move {
            if let Some(slot) = builds.get(&kind) {
                let mut build = slot.lock().await;
                if build.as_deref() == Some(uid.as_str()) {
                    *build = None;
                }
            }
        };
        // Without a runtime (the process is ending) there is nothing left to release.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(release);
        }
    }
}
