//! A platform for API contract testing (`scripts/api-contract`): starts core-api and a worker
//! the way the end-to-end tests do (own namespace, data directory and ports), gives it a brand
//! and an influencer with real data behind the ids, prints what a contract tester needs as
//! `KEY=value` lines, and stops everything, deleting its Redis keys and RabbitMQ names, once its
//! standard input closes or it is interrupted.

use std::time::Duration;

use noillin_test_support::Platform;
use serde_json::json;
use tokio::{
    io::AsyncReadExt,
    signal::unix::{SignalKind, signal},
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Taken over before anything starts, so an interrupt while starting still stops and cleans
    // up what was started instead of killing this process alone.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let platform = Platform::builder()
        .realtime(0)
        .worker(1)
        // Long enough for a whole contract run.
        .env("ACCESS_TOKEN_TTL_SECS", "3600")
        .start()
        .await?;
    let api = platform.api();
    let brand = api.register("brand").await;
    let influencer = api.register("influencer").await;

    let every_day = json!([{ "start": "09:00", "end": "17:00" }]);
    let weekly: serde_json::Map<String, serde_json::Value> = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .into_iter()
    .map(|day| (day.to_owned(), every_day.clone()))
    .collect();
    let response = api
        .put(
            "/availability/weekly",
            &weekly.into(),
            Some(&influencer.access),
        )
        .await;
    assert!(response.status.is_success(), "weekly: {:?}", response.body);
    let gig_id = api.create_gig(&influencer, "Launch-day stories").await;
    let response = api.publish_gig(&influencer, &gig_id).await;
    assert!(response.status.is_success(), "publish: {:?}", response.body);

    // Another influencer invites ours into a group gig: the worker turns that into a
    // notification for ours.
    let owner = api.register("influencer").await;
    let group_gig = api.create_gig(&owner, "Group launch").await;
    api.invite(&owner, &group_gig, &[&influencer]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let notification_id = loop {
        let page = api.get("/notifications", Some(&influencer.access)).await;
        if let Some(id) = page.body["items"][0]["id"].as_str() {
            break id.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notification within 30 s:\n{}",
            platform.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    println!("CORE_API_URL={}", platform.core_api[0].url);
    println!("BRAND_TOKEN={}", brand.access);
    println!("INFLUENCER_TOKEN={}", influencer.access);
    println!("INFLUENCER_ID={}", influencer.id);
    println!("GIG_ID={gig_id}");
    println!("NOTIFICATION_ID={notification_id}");
    println!("READY");

    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    tokio::select! {
        _ = async { while stdin.read(&mut buffer).await.is_ok_and(|n| n > 0) {} } => {}
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    // Dropping the platform stops its processes and deletes what it made on the shared servers.
    drop(platform);
    Ok(())
}
