//! An influencer's balance with a long ledger (`scripts/bench-ledger`, docs/benchmarks.md):
//! `ENTRIES` earnings (default 100,000; `PENDING` of them, default 100, not yet payable) are
//! written through the store's ledger port, as booking changes write them, into a running
//! platform's store; then the balance is read `READS` times (default 2,000) at the port
//! (`LedgerRepository::balances`) and through NGINX (`GET /api/v1/me/earnings`: balances and
//! the newest page of entries). p50/p99 of each. A balance must not sum the entries: the store
//! keeps a running balance and sums only the pending earnings over their own index.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use noillin_domain::{
    UserId,
    booking::BookingId,
    ledger::{Account, EntryKind, Posting},
};
use noillin_e2e::{percentiles, setting};
use noillin_test_support::{Platform, local_midnight};
use reqwest::StatusCode;
use serde_json::json;

/// Postings per booking change.
const BATCH: usize = 1_000;

fn report(what: &str, latencies: &mut [Duration]) {
    let (p50, p99) = percentiles(latencies);
    println!(
        "{what:<48} n={:<5} p50 {p50:>7.3} ms  p99 {p99:>7.3} ms",
        latencies.len()
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let entries = setting("ENTRIES", 100_000);
    let pending = setting("PENDING", 100).min(entries);
    let reads = setting("READS", 2_000);
    let platform = Platform::builder().realtime(0).start().await?;
    let api = platform.api();
    let influencer = api.register("influencer").await;
    let brand = api.register("brand").await;
    api.make_available(&influencer, "UTC").await;
    let gig = api
        .create_gig_with_terms(
            &influencer,
            "Ledger bench",
            json!({ "duration_minutes": 60, "horizon_days": 30 }),
        )
        .await;
    assert_eq!(
        api.publish_gig(&influencer, &gig).await.status,
        StatusCode::OK
    );
    let start = local_midnight("UTC", 3) + SignedDuration::from_hours(10);
    let held = api
        .post(
            "/bookings",
            &json!({ "gig_id": gig, "start": start.to_string() }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    let booking_id = BookingId::from_string(held.body["id"].as_str().expect("an id"));

    // The booking carries the postings, as a completion carries its earnings.
    let store = platform.store().await;
    let mut booking = store.bookings.find(&booking_id).await?.expect("stored");
    let account = Account::Influencer(UserId::from_string(influencer.id.clone()));
    let now = Timestamp::now();
    let writing = Instant::now();
    let mut written = 0;
    while written < entries {
        let postings: Vec<Posting> = (written..(written + BATCH).min(entries))
            .map(|i| {
                // The last `pending` are payable only tomorrow.
                let available_at = if i >= entries - pending {
                    now + SignedDuration::from_hours(24)
                } else {
                    now - SignedDuration::from_hours(1)
                };
                Posting {
                    key: format!("bench:{booking_id}:{i}"),
                    account: account.clone(),
                    booking_id: booking_id.clone(),
                    kind: EntryKind::Earning,
                    amount_minor: 100,
                    currency: "EUR".into(),
                    at: now,
                    available_at,
                }
            })
            .collect();
        booking.version += 1;
        store
            .bookings
            .update_with_ledger(&booking, &postings, &[])
            .await?;
        written += postings.len();
    }
    println!(
        "wrote {entries} entries in {:.1} s ({:.0} entries/s)",
        writing.elapsed().as_secs_f64(),
        entries as f64 / writing.elapsed().as_secs_f64()
    );

    let mut port = Vec::with_capacity(reads);
    for _ in 0..reads {
        let started = Instant::now();
        let balances = store.ledger.balances(&account, Timestamp::now()).await?;
        port.push(started.elapsed());
        assert_eq!(balances[0].balance_minor, entries as i64 * 100);
        assert_eq!(balances[0].pending_minor, pending as i64 * 100);
    }
    report("balance at the port", &mut port);

    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/me/earnings", platform.gateway);
    let mut through_api = Vec::with_capacity(reads);
    for _ in 0..reads {
        let started = Instant::now();
        let response = client
            .get(&url)
            .bearer_auth(&influencer.access)
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = response.json().await?;
        through_api.push(started.elapsed());
        assert_eq!(
            body["balances"][0]["available_minor"],
            (entries - pending) as i64 * 100
        );
    }
    report(
        "GET /me/earnings through NGINX (balance + page)",
        &mut through_api,
    );
    Ok(())
}
