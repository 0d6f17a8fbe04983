//! Search through NGINX and core-api on the generated fixture (`scripts/bench-search-api`,
//! docs/benchmarks.md). The embedded index is built in the platform's data directory with the
//! 100,000-influencer and 300,000-gig fixture (as the port benchmark builds it), then brands
//! query `GET /api/v1/search/influencers`: free text (a third with a typo), text with three
//! filters, a sort and two facets, a 3–5 letter name prefix (one client, keep-alive), free text
//! from 8 concurrent clients, and `available_on` over real influencers made through the API
//! (half of them blocked that day) and synced by the worker.
//!   BENCH_INFLUENCERS (default 100000), QUERIES (default 500 per kind), AVAILABLE (default 60)

use noillin_e2e::{percentiles, setting};
use std::time::{Duration, Instant};

use jiff::civil::Date;
use noillin_search::{Documents, EmbeddedSearch, IndexKind, SearchIndex, fixture};
use noillin_test_support::{Platform, local_midnight};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

fn report(what: &str, latencies: &mut [Duration], wall: Duration) {
    let (p50, p99) = percentiles(latencies);
    println!(
        "{what:<46} n={:<5} p50 {:>7.2} ms  p99 {:>7.2} ms  {:>6.0} queries/s",
        latencies.len(),
        p50,
        p99,
        latencies.len() as f64 / wall.as_secs_f64()
    );
}

/// `url?k=v&…`, each value percent-encoded.
fn with_query(url: &str, pairs: &[(&str, String)]) -> String {
    let encode = |value: &str| {
        value
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    format!("{url}?{}", query.join("&"))
}

/// Runs `queries` one after another (after a warm-up); latencies and the wall time.
async fn one_client(
    client: &Client,
    url: &str,
    token: &str,
    queries: &[Vec<(&str, String)>],
) -> Result<(Vec<Duration>, Duration), Box<dyn std::error::Error>> {
    for query in queries.iter().take(20) {
        client
            .get(with_query(url, query))
            .bearer_auth(token)
            .send()
            .await?;
    }
    let mut latencies = Vec::with_capacity(queries.len());
    let started = Instant::now();
    for query in queries {
        let sent = Instant::now();
        let response = client
            .get(with_query(url, query))
            .bearer_auth(token)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if status != StatusCode::OK {
            return Err(format!("{query:?}: {status} {body}").into());
        }
        latencies.push(sent.elapsed());
    }
    Ok((latencies, started.elapsed()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let influencers = setting("BENCH_INFLUENCERS", 100_000);
    let queries = setting("QUERIES", 500);
    let available = setting("AVAILABLE", 60);
    let mut platform = Platform::builder().realtime(0).worker(0).start().await?;

    // The fixture, indexed where the worker keeps the embedded index; the worker starts after.
    let fixture = fixture::generate(influencers, 42);
    let dir = platform.dir().join("data").join("search");
    {
        let search = EmbeddedSearch::open(&dir, false).await?;
        let started = Instant::now();
        let mut reindex = search.begin_reindex(IndexKind::Influencers).await?;
        for chunk in fixture.influencers.chunks(10_000) {
            reindex.add(Documents::Influencers(chunk)).await?;
        }
        reindex.finish().await?;
        let mut reindex = search.begin_reindex(IndexKind::Gigs).await?;
        for chunk in fixture.gigs.chunks(10_000) {
            reindex.add(Documents::Gigs(chunk)).await?;
        }
        reindex.finish().await?;
        println!(
            "fixture: {influencers} influencers, {} gigs, indexed in {:.1} s",
            influencers * 3,
            started.elapsed().as_secs_f64()
        );
    }
    platform.start_worker().await?;

    let api = platform.api();
    let brand = api.register("brand").await;
    let client = Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .build()?;
    let url = format!("{}/api/v1/search/influencers", platform.gateway);
    let token = brand.access.clone();

    let texts = fixture::texts(&fixture, queries);
    let text: Vec<Vec<(&str, String)>> = texts.iter().map(|t| vec![("q", t.clone())]).collect();
    let (mut latencies, wall) = one_client(&client, &url, &token, &text).await?;
    report("free text (a third with a typo)", &mut latencies, wall);
    let filtered: Vec<Vec<(&str, String)>> = texts
        .iter()
        .enumerate()
        .map(|(n, t)| {
            vec![
                ("q", t.clone()),
                ("language", ["en", "fr", "de", "es"][n % 4].to_owned()),
                (
                    "platform",
                    ["instagram", "tiktok", "youtube"][n % 3].to_owned(),
                ),
                ("min_followers", "5000".to_owned()),
                ("sort", "followers_desc".to_owned()),
            ]
        })
        .collect();
    let (mut latencies, wall) = one_client(&client, &url, &token, &filtered).await?;
    report("text + 3 filters + sort + facets", &mut latencies, wall);
    let prefixes: Vec<Vec<(&str, String)>> = fixture::prefixes(&fixture, queries)
        .into_iter()
        .map(|p| vec![("q", p)])
        .collect();
    let (mut latencies, wall) = one_client(&client, &url, &token, &prefixes).await?;
    report("prefix (3-5 letters of a name)", &mut latencies, wall);

    let started = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|c| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            let mine: Vec<Vec<(&'static str, String)>> = texts
                .iter()
                .skip(c)
                .step_by(8)
                .map(|t| vec![("q", t.clone())])
                .collect();
            tokio::spawn(async move { one_client(&client, &url, &token, &mine).await.ok() })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?.ok_or("a concurrent client failed")?.0);
    }
    report(
        "free text, 8 concurrent clients",
        &mut latencies,
        started.elapsed(),
    );

    // available_on over real influencers: each with a published gig, half blocked on the day.
    let marker = format!("bench{}", uuid::Uuid::new_v4().simple());
    let day: Date = (local_midnight("Europe/Lisbon", 10))
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let zones = [
        "Europe/Lisbon",
        "America/New_York",
        "Asia/Tokyo",
        "Australia/Sydney",
    ];
    for n in 0..available {
        let influencer = api.register("influencer").await;
        api.make_available(&influencer, zones[n % zones.len()])
            .await;
        api.patch(
            "/influencers/me",
            &json!({ "bio": format!("Coffee and {marker}") }),
            Some(&influencer.access),
        )
        .await;
        let gig = api
            .create_gig_with_terms(
                &influencer,
                "Story feature",
                json!({ "duration_minutes": 60, "horizon_days": 60 }),
            )
            .await;
        api.publish_gig(&influencer, &gig).await;
        if n % 2 == 1 {
            api.put(
                &format!("/availability/overrides/{day}"),
                &json!({ "kind": "blocked" }),
                Some(&influencer.access),
            )
            .await;
        }
    }
    // Wait until the worker indexed them all.
    let synced = Instant::now();
    loop {
        let found: Value = client
            .get(with_query(
                &url,
                &[("q", marker.clone()), ("limit", "100".to_owned())],
            ))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        if found["hits"].as_array().map_or(0, Vec::len) >= available {
            break;
        }
        if synced.elapsed() > Duration::from_secs(120) {
            return Err(format!("only {found} synced").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_day: Vec<Vec<(&str, String)>> = (0..queries.min(200))
        .map(|_| {
            vec![
                ("q", marker.clone()),
                ("available_on", day.to_string()),
                ("limit", "20".to_owned()),
            ]
        })
        .collect();
    let (mut latencies, wall) = one_client(&client, &url, &token, &on_day).await?;
    report(
        &format!("available_on ({available} real, half free)"),
        &mut latencies,
        wall,
    );
    Ok(())
}
