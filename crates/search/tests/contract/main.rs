//! The search contract: one set of cases, run against every adapter.
//!
//! Each case is an `async fn` over a search index; the `contract!` macro turns every case into
//! one `#[tokio::test]` per adapter (`embedded::<case>`, `meili::<case>`). The embedded engine
//! runs always, each test on a fresh temporary directory. Meilisearch runs on demand
//! (`--run-ignored`/`--ignored`) against `MEILI_HOST` (and `MEILI_API_KEY`), each test on its
//! own indexes `contract_<uuid>_*`, deleted afterwards. Same fixture for both: filters, facets,
//! sorts and paging must agree exactly; relevance is checked by the top hits of labeled queries.

// Test code throughout (the cases are plain async fns, so clippy's allow-unwrap-in-tests does
// not see them as tests): an unwrap is an assertion here.
#![allow(clippy::unwrap_used)]

mod queries;
mod support;
mod writes;

use std::{future::Future, panic::AssertUnwindSafe, sync::Arc};

use futures::FutureExt;
use noillin_search::{SearchConfig, SearchIndex};

/// An embedded index on a fresh temporary directory, deleted when dropped.
struct EmbeddedFixture {
    search: Arc<dyn SearchIndex>,
    _dir: tempfile::TempDir,
}

impl EmbeddedFixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let search = noillin_search::open(&SearchConfig::Embedded {
            dir: dir.path().join("search"),
            read_only: false,
        })
        .await
        .unwrap();
        assert_eq!(search.adapter(), "embedded");
        Self { search, _dir: dir }
    }
}

/// Fresh indexes on the Meilisearch at `MEILI_HOST`.
struct MeiliFixture {
    search: Arc<dyn SearchIndex>,
    host: String,
    api_key: Option<String>,
    prefix: String,
}

impl MeiliFixture {
    async fn new() -> Self {
        // reqwest's rustls needs one process-wide crypto provider (see the dependency notes).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let host = std::env::var("MEILI_HOST")
            .expect("MEILI_HOST must point at a Meilisearch to run the Meilisearch contract tests");
        let api_key = std::env::var("MEILI_API_KEY").ok();
        let prefix = format!("contract_{}_", uuid::Uuid::new_v4().simple());
        let search = noillin_search::open(&SearchConfig::Meili {
            host: host.clone(),
            api_key: api_key.clone(),
            index_prefix: prefix.clone(),
        })
        .await
        .unwrap();
        assert_eq!(search.adapter(), "meilisearch");
        Self {
            search,
            host,
            api_key,
            prefix,
        }
    }

    /// Runs a case, then deletes the test's indexes whether the case passed or panicked.
    async fn run<F: Future<Output = ()>>(self, case: impl FnOnce(Arc<dyn SearchIndex>) -> F) {
        let outcome = AssertUnwindSafe(case(self.search.clone()))
            .catch_unwind()
            .await;
        if let Err(e) = noillin_search::MeiliSearch::delete_indexes(
            &self.host,
            self.api_key.as_deref(),
            &self.prefix,
        )
        .await
        {
            eprintln!("could not delete the indexes {}*: {e}", self.prefix);
        }
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

macro_rules! contract {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fixture = super::EmbeddedFixture::new().await;
                    super::$module::$case(&fixture.search).await;
                }
            )*
        }

        mod meili {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[ignore = "needs MEILI_HOST; run the ignored tests when it is set"]
                async fn $case() {
                    super::MeiliFixture::new()
                        .await
                        .run(|search| async move { super::$module::$case(&search).await })
                        .await;
                }
            )*
        }
    };
}

contract! {
    queries::one_typo_in_a_word_of_five_letters_or_more_still_finds_it,
    queries::no_typo_is_allowed_in_words_under_five_letters,
    queries::the_last_word_matches_as_a_prefix,
    queries::labeled_queries_find_their_expected_top_hits,
    queries::every_word_must_match,
    queries::a_hit_carries_its_card_and_a_highlighted_snippet,
    queries::each_influencer_filter_keeps_exactly_the_matching_documents,
    queries::each_gig_filter_keeps_exactly_the_matching_documents,
    queries::facet_counts_cover_every_hit_not_only_the_page,
    queries::sorts_order_hits_exactly_with_ties_in_one_fixed_order,
    queries::paging_with_the_cursor_returns_every_hit_once_in_order,
    queries::bad_queries_are_refused_as_invalid,
    writes::a_write_is_searchable_as_soon_as_it_returns,
    writes::an_older_upsert_never_overwrites_a_newer_document,
    writes::within_one_batch_the_newest_version_of_an_id_wins,
    writes::a_delete_leaves_a_tombstone_that_older_upserts_cannot_pass,
    writes::an_older_delete_does_not_remove_a_newer_document,
    writes::racing_writers_of_one_id_converge_to_the_newest_version,
    writes::a_reindex_swaps_in_a_complete_index_while_queries_keep_answering,
    writes::a_second_reindex_of_one_index_waits_for_the_first,
}
