//! Search sync lag through the platform (`scripts/bench-search-sync`, docs/benchmarks.md): the
//! time from a `PATCH /influencers/me` answered to the first `GET /search/influencers` that
//! finds the new text, through NGINX, core-api's outbox relay, RabbitMQ, the worker's
//! search-sync handler and the embedded index, polling every millisecond. Prints p50/p99.
//!   EDITS (default 100)

use std::time::{Duration, Instant};

use noillin_test_support::Platform;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let edits: usize = std::env::var("EDITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let platform = Platform::builder().realtime(0).worker(1).start().await?;
    let api = platform.api();
    let brand = api.register("brand").await;
    let influencer = api.register("influencer").await;
    let mut lags = Vec::with_capacity(edits);
    for i in 0..edits {
        // A random word, far (in edits) from every earlier one: typo tolerance cannot let the
        // previous edit's document match it.
        let word = uuid::Uuid::new_v4().simple().to_string();
        let edited = api
            .patch(
                "/influencers/me",
                &json!({ "bio": format!("Trail running and {word}") }),
                Some(&influencer.access),
            )
            .await;
        assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
        let start = Instant::now();
        let path = format!("/search/influencers?q={word}");
        loop {
            let found = api.get(&path, Some(&brand.access)).await;
            let hits = found.body["hits"].as_array().map_or(0, Vec::len);
            if found.status == StatusCode::OK && hits > 0 {
                break;
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!("edit {i} not searchable after 30 s").into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        lags.push(start.elapsed());
    }
    lags.sort();
    let at = |q: f64| lags[((lags.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "search sync lag, PATCH answered -> searchable through the API: n={} p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        lags.len(),
        at(0.50),
        at(0.99),
        at(1.0)
    );
    Ok(())
}
