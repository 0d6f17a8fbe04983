//! Payments through NGINX (`scripts/bench-payments`, docs/benchmarks.md), in one run:
//!
//! - the webhook endpoint, which only verifies a delivery, stores its event id with its outbox
//!   message and answers: signed `payment_intent.canceled` events (Stripe's full object shape)
//!   sent one at a time, then by `CLIENTS` concurrent clients, each event new; p50/p99 and
//!   throughput;
//! - payment to confirmation: for each of `PAYMENTS` held bookings, one after the other, the
//!   stand-in pays (as a browser confirming with a card would) and the clock runs until the
//!   booking reads `confirmed` through the API: the stand-in's signed webhook, NGINX, core-api,
//!   the outbox relay, RabbitMQ, the worker, the store. p50/p99.
//!
//!   WEBHOOKS (default 2000), CLIENTS (default 16), PAYMENTS (default 200)

use noillin_e2e::{percentiles, setting};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use noillin_test_support::{Platform, local_midnight};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use stripe_webhook::Webhook;

fn report(what: &str, latencies: &mut [Duration], wall: Duration) {
    let (p50, p99) = percentiles(latencies);
    println!(
        "{what:<52} n={:<5} p50 {:>7.2} ms  p99 {:>7.2} ms  {:>7.0}/s",
        latencies.len(),
        p50,
        p99,
        latencies.len() as f64 / wall.as_secs_f64()
    );
}

/// Stripe's event shape (the port's sample), made into event `i` about an unknown booking.
fn event(template: &str, i: usize) -> String {
    template
        .replace(
            "\"payment_intent.succeeded\"",
            "\"payment_intent.canceled\"",
        )
        .replace("evt_3QpPaymentIntentOk01", &format!("evt_bench_{i:08}"))
        .replace(
            "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            &uuid::Uuid::now_v7().to_string(),
        )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let webhooks = setting("WEBHOOKS", 2000);
    let clients = setting("CLIENTS", 16);
    let payments = setting("PAYMENTS", 200);
    let template = std::fs::read_to_string(
        noillin_test_support::repo_root()
            .join("crates/payments/tests/fixtures/payment_intent_succeeded.json"),
    )?;
    let platform = Platform::builder().realtime(0).start().await?;
    let secret = platform.stripe.settings().webhook_secret.clone();
    let url = format!("{}/api/v1/payments/webhook", platform.gateway);
    let client = Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .build()?;
    let deliver = {
        let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
        move |body: String| {
            let signature = Webhook::generate_test_header(&body, &secret, None);
            let request = client
                .post(&url)
                .header("content-type", "application/json")
                .header("stripe-signature", signature)
                .body(body);
            async move {
                let start = Instant::now();
                let status = request
                    .send()
                    .await
                    .map(|r| r.status())
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                (start.elapsed(), status)
            }
        }
    };

    // Warm up connections and caches.
    for i in 0..50 {
        deliver(event(&template, 10_000_000 + i)).await;
    }
    let mut latencies = Vec::with_capacity(webhooks);
    let started = Instant::now();
    for i in 0..webhooks {
        let (latency, status) = deliver(event(&template, i)).await;
        assert_eq!(status, StatusCode::OK);
        latencies.push(latency);
    }
    report("webhook, one at a time", &mut latencies, started.elapsed());

    let per_client = webhooks / clients;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let bodies: Vec<String> = (0..per_client)
                .map(|i| event(&template, 1_000_000 + c * per_client + i))
                .collect();
            let deliver = deliver.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(bodies.len());
                for body in bodies {
                    let (latency, status) = deliver(body).await;
                    assert_eq!(status, StatusCode::OK);
                    latencies.push(latency);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(webhooks);
    for task in tasks {
        latencies.extend(task.await?);
    }
    report(
        &format!("webhook, {clients} concurrent clients"),
        &mut latencies,
        started.elapsed(),
    );

    // Payment to confirmation, paced: one payment at a time.
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
    let tokens = platform.brand_tokens(payments).await;
    let stripe = platform.stripe.controls();
    let mut latencies = Vec::with_capacity(payments);
    let started = Instant::now();
    for (i, token) in tokens.iter().enumerate() {
        let day = 2 + i as i64 / 8;
        let hour = 9 + i as i64 % 8;
        let start = local_midnight("Europe/Lisbon", day) + SignedDuration::from_hours(hour);
        let held: Value = client
            .post(format!("{}/api/v1/bookings", platform.gateway))
            .bearer_auth(token)
            .json(&json!({ "gig_id": gig, "start": start.to_string() }))
            .send()
            .await?
            .json()
            .await?;
        let id = held["id"].as_str().ok_or("no booking id")?.to_owned();
        let intent = held["payment"]["intent_id"]
            .as_str()
            .ok_or("no intent")?
            .to_owned();
        let paid = Instant::now();
        stripe.pay(&intent).await?;
        loop {
            let booking: Value = client
                .get(format!("{}/api/v1/bookings/{id}", platform.gateway))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            if booking["state"] == "confirmed" {
                break;
            }
            if paid.elapsed() > Duration::from_secs(30) {
                return Err(format!("booking {id} not confirmed: {booking}").into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        latencies.push(paid.elapsed());
    }
    report(
        "payment to confirmed (paced)",
        &mut latencies,
        started.elapsed(),
    );
    Ok(())
}
