//! Turning documents into the stored form the version guard writes, and reading back what is
//! stored.

use meilisearch_sdk::{documents::DocumentsQuery, indexes::Index};

use super::{
    http::UncompressedClient,
    unavailable,
    wire::{StoredGig, StoredInfluencer, StoredVersion},
};
use crate::SearchError;

/// A write for the guard: the stored form, its id, its version, and whether it is live.
pub(super) type GuardedWrite<T> = (T, String, u64, bool);

pub(super) async fn stored_versions(
    index: &Index<UncompressedClient>,
    ids: &[&str],
) -> Result<Vec<StoredVersion>, SearchError> {
    let mut query = DocumentsQuery::new(index);
    query
        .with_ids(ids.iter().copied())
        .with_fields(["id", "version", "live"])
        .with_limit(ids.len().max(1));
    let stored = index
        .get_documents_with::<StoredVersion>(&query)
        .await
        .map_err(unavailable)?;
    Ok(stored.results)
}

pub(super) fn influencer_writes(
    documents: &[crate::InfluencerDocument],
) -> Result<Vec<GuardedWrite<StoredInfluencer>>, SearchError> {
    documents
        .iter()
        .map(|d| {
            let d = d.normalized()?;
            check_id(&d.id)?;
            Ok((StoredInfluencer::live(&d), d.id.clone(), d.version, true))
        })
        .collect()
}

pub(super) fn gig_writes(
    documents: &[crate::GigDocument],
) -> Result<Vec<GuardedWrite<StoredGig>>, SearchError> {
    documents
        .iter()
        .map(|d| {
            let d = d.normalized()?;
            check_id(&d.id)?;
            Ok((StoredGig::live(&d), d.id.clone(), d.version, true))
        })
        .collect()
}

/// Meilisearch document ids: ASCII letters, digits, `-` and `_`, at most 511 bytes.
pub(super) fn check_id(id: &str) -> Result<(), SearchError> {
    let valid = !id.is_empty()
        && id.len() <= 511
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(SearchError::InvalidDocument(format!(
            "{id:?} is not a valid document id"
        )))
    }
}
