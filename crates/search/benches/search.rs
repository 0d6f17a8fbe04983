//! The embedded engine at the port, on the generated fixture: indexing throughput and query
//! latencies for free text (a third with a typo), free text with three filters, a sort and two
//! facets, and a 3–5 letter prefix. One client, queries one after another.
//!
//! `cargo bench -p noillin-search --features fixture --bench search` (release). Environment:
//! `BENCH_INFLUENCERS` (default 100000; gigs are three times as many), `BENCH_QUERIES` (default
//! 1000 per kind), `BENCH_DIR` (default a temporary directory).

// A benchmark binary: a failure should stop it loudly.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use noillin_search::{
    Documents, EmbeddedSearch, Facet, IndexKind, InfluencerFilters, InfluencerQuery,
    InfluencerSort, SearchIndex, fixture,
};

const CHUNK: usize = 10_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let influencers = env_usize("BENCH_INFLUENCERS", 100_000);
    let queries = env_usize("BENCH_QUERIES", 1_000);
    let temporary = tempfile::tempdir().unwrap();
    let dir = std::env::var("BENCH_DIR")
        .map(Into::into)
        .unwrap_or_else(|_| temporary.path().join("search"));
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "machine: {threads} cores; {influencers} influencers, {} gigs; {queries} queries per kind",
        influencers * 3
    );

    let generated = Instant::now();
    let fixture = fixture::generate(influencers, 42);
    println!(
        "fixture generated in {:.1} s",
        generated.elapsed().as_secs_f64()
    );

    let search = EmbeddedSearch::open(&dir, false).await.unwrap();
    let started = Instant::now();
    let mut reindex = search.begin_reindex(IndexKind::Influencers).await.unwrap();
    for chunk in fixture.influencers.chunks(CHUNK) {
        reindex.add(Documents::Influencers(chunk)).await.unwrap();
    }
    reindex.finish().await.unwrap();
    let influencer_time = started.elapsed();
    let started = Instant::now();
    let mut reindex = search.begin_reindex(IndexKind::Gigs).await.unwrap();
    for chunk in fixture.gigs.chunks(CHUNK) {
        reindex.add(Documents::Gigs(chunk)).await.unwrap();
    }
    reindex.finish().await.unwrap();
    let gig_time = started.elapsed();
    let total = influencers * 4;
    println!(
        "indexing (reindex build): influencers {:.0} docs/s, gigs {:.0} docs/s, all {:.0} docs/s ({total} docs in {:.1} s)",
        influencers as f64 / influencer_time.as_secs_f64(),
        (influencers * 3) as f64 / gig_time.as_secs_f64(),
        total as f64 / (influencer_time + gig_time).as_secs_f64(),
        (influencer_time + gig_time).as_secs_f64(),
    );
    let live = &fixture.influencers[..1_000.min(influencers)];
    let bumped: Vec<_> = live
        .iter()
        .cloned()
        .map(|mut d| {
            d.version = 2;
            d
        })
        .collect();
    let started = Instant::now();
    for batch in bumped.chunks(100) {
        search.upsert(Documents::Influencers(batch)).await.unwrap();
    }
    println!(
        "live guarded upserts (batches of 100, commit each): {:.0} docs/s",
        bumped.len() as f64 / started.elapsed().as_secs_f64()
    );
    println!(
        "on disk: {:.0} MiB",
        disk_usage(&dir) as f64 / (1024.0 * 1024.0)
    );

    let texts = fixture::texts(&fixture, queries);
    let text_queries: Vec<InfluencerQuery> = texts
        .iter()
        .map(|t| InfluencerQuery {
            text: t.clone(),
            ..Default::default()
        })
        .collect();
    report("free text", &search, &text_queries).await;
    let filtered: Vec<InfluencerQuery> = texts
        .iter()
        .enumerate()
        .map(|(n, t)| InfluencerQuery {
            text: t.clone(),
            filters: InfluencerFilters {
                languages: vec![["en", "fr", "de", "es"][n % 4].to_owned()],
                platforms: vec![["instagram", "tiktok", "youtube"][n % 3].to_owned()],
                min_followers: Some(5_000),
                ..Default::default()
            },
            sort: InfluencerSort::FollowersDesc,
            facets: vec![Facet::Niche, Facet::Platform],
            ..Default::default()
        })
        .collect();
    report("text + 3 filters + sort + 2 facets", &search, &filtered).await;
    let prefixes: Vec<InfluencerQuery> = fixture::prefixes(&fixture, queries)
        .into_iter()
        .map(|text| InfluencerQuery {
            text,
            ..Default::default()
        })
        .collect();
    report("prefix (3-5 letters of a name)", &search, &prefixes).await;
}

async fn report(label: &str, search: &EmbeddedSearch, queries: &[InfluencerQuery]) {
    for query in queries.iter().take(50) {
        search.search_influencers(query).await.unwrap();
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(queries.len());
    let mut hits = 0u64;
    for query in queries {
        let started = Instant::now();
        let results = search.search_influencers(query).await.unwrap();
        latencies.push(started.elapsed());
        hits += results.total_estimate;
    }
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} queries, {:.0} hits on average)",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        latencies.len(),
        hits as f64 / latencies.len().max(1) as f64,
    );
}

fn disk_usage(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
