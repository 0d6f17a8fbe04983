//! Booking latency through NGINX (`scripts/bench-bookings`, docs/benchmarks.md): in one run,
//! beside the floor — `GET /auth/me`, an authenticated request that writes nothing — it
//! measures booking creation one request at a time (each a different slot) and a burst of
//! concurrent attempts by different brands at one slot, and the floor under the same burst.
//! Prints p50/p99 of each. Connections are opened before each burst, so the figures are the
//! platform's, not TCP handshakes'.
//!   BURST (default 1000), SEQUENTIAL (default 400), CORE_APIS (default 2)

use noillin_e2e::{percentiles, setting};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use jiff::SignedDuration;
use noillin_test_support::{Platform, local_midnight};
use reqwest::{Client, StatusCode};
use serde_json::json;

fn report(what: &str, latencies: &mut [Duration], wall: Duration) {
    let (p50, p99) = percentiles(latencies);
    println!(
        "{what:<58} n={:<5} p50 {p50:>8.2} ms  p99 {p99:>8.2} ms  wall {:>8.1} ms",
        latencies.len(),
        wall.as_secs_f64() * 1000.0
    );
}

/// Opens `n` keep-alive connections to the gateway (a burst of health checks), so a burst after
/// it measures requests rather than handshakes.
async fn warm(client: &Client, base: &str, n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (client, url) = (client.clone(), format!("{base}/api/healthz"));
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// Sends one request per item at once, after a barrier; returns each latency and status.
async fn burst<F, Fut>(n: usize, send: F) -> (Vec<Duration>, Vec<StatusCode>, Duration)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = StatusCode> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (request, barrier) = (send(i), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let start = Instant::now();
                let status = request.await;
                (start.elapsed(), status)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    for task in tasks {
        let (latency, status) = task.await.expect("a request task");
        latencies.push(latency);
        statuses.push(status);
    }
    (latencies, statuses, started.elapsed())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let burst_size = setting("BURST", 1000);
    let sequential = setting("SEQUENTIAL", 400);
    let platform = Platform::builder()
        .core_api(setting("CORE_APIS", 2))
        .realtime(0)
        .start()
        .await?;
    let api = platform.api();
    let influencer = api.register("influencer").await;
    api.make_available(&influencer, "Europe/Lisbon").await;
    let gig = api
        .create_gig_with_terms(
            &influencer,
            "Story feature",
            json!({ "duration_minutes": 60, "horizon_days": 90 }),
        )
        .await;
    api.publish_gig(&influencer, &gig).await;
    let tokens = platform.brand_tokens(burst_size.max(sequential)).await;
    let client = Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .build()?;
    let base = platform.gateway.clone();
    let book = |token: &str, start: String| {
        let request = client
            .post(format!("{base}/api/v1/bookings"))
            .bearer_auth(token)
            .json(&json!({ "gig_id": gig, "start": start }));
        async move {
            request
                .send()
                .await
                .map(|r| r.status())
                .unwrap_or(StatusCode::BAD_GATEWAY)
        }
    };
    let me = |token: &str| {
        let request = client
            .get(format!("{base}/api/v1/auth/me"))
            .bearer_auth(token);
        async move {
            request
                .send()
                .await
                .map(|r| r.status())
                .unwrap_or(StatusCode::BAD_GATEWAY)
        }
    };

    // The slots of the coming days, 09:00 to 16:00 in Lisbon, one per sequential booking.
    let starts: Vec<String> = (2..90)
        .flat_map(|day| (9..17).map(move |hour| (day, hour)))
        .map(|(day, hour)| {
            (local_midnight("Europe/Lisbon", day) + SignedDuration::from_hours(hour)).to_string()
        })
        .take(sequential)
        .collect();

    println!(
        "booking benchmark: {} core-api behind NGINX, release build",
        setting("CORE_APIS", 2)
    );
    warm(&client, &base, 8).await;
    let mut floor = Vec::new();
    let started = Instant::now();
    for token in tokens.iter().take(sequential) {
        let start = Instant::now();
        assert_eq!(me(token).await, StatusCode::OK);
        floor.push(start.elapsed());
    }
    report(
        "GET /auth/me, one at a time (the floor)",
        &mut floor,
        started.elapsed(),
    );

    let mut creations = Vec::new();
    let started = Instant::now();
    for (token, start_at) in tokens.iter().zip(&starts) {
        let start = Instant::now();
        let status = book(token, start_at.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{start_at}");
        creations.push(start.elapsed());
    }
    report(
        "POST /bookings, one at a time, free slots",
        &mut creations,
        started.elapsed(),
    );

    warm(&client, &base, burst_size).await;
    let (mut latencies, statuses, wall) = burst(burst_size, |i| me(&tokens[i])).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    report(
        &format!("GET /auth/me, {burst_size} at once (the floor)"),
        &mut latencies,
        wall,
    );

    // A slot nobody holds yet: a day far after the sequential bookings, inside the horizon.
    let contested =
        (local_midnight("Europe/Lisbon", 89) + SignedDuration::from_hours(10)).to_string();
    warm(&client, &base, burst_size).await;
    let (mut latencies, statuses, wall) =
        burst(burst_size, |i| book(&tokens[i], contested.clone())).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    report(
        &format!("POST /bookings, {burst_size} brands at one slot"),
        &mut latencies,
        wall,
    );
    println!(
        "  answers: {created} created, {conflicts} conflicts, {} other",
        burst_size - created - conflicts
    );
    Ok(())
}
