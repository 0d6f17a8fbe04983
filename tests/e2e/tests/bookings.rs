//! Bookings across processes: brands racing for slots through NGINX and two core-api
//! processes, with and without Redis's keys, and holds that lapse and are expired by the worker.
//! Outcomes are checked over the final store state, not only over the answers. The brands of
//! the races are written straight into the store ([`Platform::brand_tokens`]).

use std::{collections::HashMap, sync::Arc, time::Duration};

use jiff::{SignedDuration, Timestamp};
use noillin_domain::{UserId, availability::Interval, booking::BookingId};
use noillin_test_support::{ApiClient, Platform, TestUser, eventually, local_midnight};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ZONE: &str = "Europe/Lisbon";

/// Local midnight in Lisbon `days` from today.
fn midnight_in(days: i64) -> Timestamp {
    local_midnight(ZONE, days)
}

async fn published_gig(api: &ApiClient, owner: &TestUser, terms: Value) -> String {
    let gig = api
        .create_gig_with_terms(owner, "Story feature", terms)
        .await;
    let published = api.publish_gig(owner, &gig).await;
    assert_eq!(published.status, StatusCode::OK, "{:?}", published.body);
    gig
}

/// Every start `gig` lists on the day beginning at `midnight`.
async fn slots(api: &ApiClient, token: &str, gig: &str, midnight: Timestamp) -> Vec<String> {
    let to = midnight + SignedDuration::from_hours(24);
    api.slot_starts(token, gig, midnight, to)
        .await
        .iter()
        .map(Timestamp::to_string)
        .collect()
}

/// What a race's answers were: how many of each status, and one body of each for the
/// assertion messages.
#[derive(Debug, Default)]
struct Answers {
    counts: HashMap<u16, usize>,
    samples: HashMap<u16, Value>,
}

impl Answers {
    fn count(&self, status: u16) -> usize {
        self.counts.get(&status).copied().unwrap_or(0)
    }

    /// Statuses other than `expected`.
    fn others(&self, expected: &[u16]) -> Vec<u16> {
        self.counts
            .keys()
            .copied()
            .filter(|status| !expected.contains(status))
            .collect()
    }
}

/// Sends every `(token, gig, start)` booking at once.
async fn race(api: &ApiClient, attempts: Vec<(String, String, String)>) -> Answers {
    let barrier = Arc::new(tokio::sync::Barrier::new(attempts.len()));
    let tasks = attempts.into_iter().map(|(token, gig, start)| {
        let (api, barrier) = (api.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            api.post(
                "/bookings",
                &json!({ "gig_id": gig, "start": start }),
                Some(&token),
            )
            .await
        })
    });
    let mut answers = Answers::default();
    for answer in futures::future::join_all(tasks).await {
        let answer = answer.expect("an attempt ran");
        let status = answer.status.as_u16();
        *answers.counts.entry(status).or_default() += 1;
        answers.samples.entry(status).or_insert(answer.body);
    }
    answers
}

/// The busy spans of the influencer's bookings live now, from the store.
async fn live_spans(platform: &Platform, influencer: &str) -> Vec<Interval> {
    let store = platform.store().await;
    let mut spans: Vec<Interval> = store
        .bookings
        .busy(
            &[UserId::from_string(influencer)],
            Timestamp::now(),
            Timestamp::now() + SignedDuration::from_hours(24 * 90),
            Timestamp::now(),
        )
        .await
        .expect("busy spans")
        .into_iter()
        .map(|(_, span)| span)
        .collect();
    spans.sort();
    spans
}

fn assert_no_overlap(spans: &[Interval]) {
    for pair in spans.windows(2) {
        assert!(
            pair[0].end <= pair[1].start,
            "two live bookings overlap: {pair:?}"
        );
    }
}

struct Scene {
    platform: Platform,
    api: ApiClient,
    influencer: TestUser,
    hourly: String,
    /// 45 minutes every 15, with 15 minutes kept free after: a grid unlike the hourly one.
    quarterly: String,
}

async fn scene(platform: Platform) -> Scene {
    let api = platform.api();
    let influencer = api.register("influencer").await;
    api.make_available(&influencer, ZONE).await;
    let hourly = published_gig(
        &api,
        &influencer,
        json!({ "duration_minutes": 60, "horizon_days": 60 }),
    )
    .await;
    let quarterly = published_gig(
        &api,
        &influencer,
        json!({ "duration_minutes": 45, "interval_minutes": 15, "buffer_after_minutes": 15, "horizon_days": 60 }),
    )
    .await;
    Scene {
        platform,
        api,
        influencer,
        hourly,
        quarterly,
    }
}

#[tokio::test]
async fn a_thousand_brands_racing_through_two_core_apis_hold_one_slot_and_no_overlap() {
    let platform = Platform::builder().core_api(2).start().await.unwrap();
    let Scene {
        platform,
        api,
        influencer,
        hourly,
        quarterly,
    } = scene(platform).await;
    let tokens = platform.brand_tokens(1000).await;
    let midnight = midnight_in(7);
    let ten = (midnight + SignedDuration::from_hours(10)).to_string();

    let attempts = tokens
        .iter()
        .map(|token| (token.clone(), hourly.clone(), ten.clone()))
        .collect();
    let answers = race(&api, attempts).await;
    assert_eq!(answers.count(201), 1, "{answers:?}");
    assert_eq!(answers.count(409), 999, "{answers:?}");
    let spans = live_spans(&platform, &influencer.id).await;
    assert_eq!(spans.len(), 1, "one live booking in the store: {spans:?}");

    // Overlapping starts of two gigs with different grids, each brand at most five at once.
    let next_day = midnight_in(8);
    let mut starts: Vec<(String, String)> = Vec::new();
    for gig in [&hourly, &quarterly] {
        for start in slots(&api, &tokens[0], gig, next_day).await {
            starts.push((gig.clone(), start));
        }
    }
    let attempts = tokens
        .iter()
        .take(500)
        .enumerate()
        .map(|(i, token)| {
            let (gig, start) = starts[i % starts.len()].clone();
            (token.clone(), gig, start)
        })
        .collect();
    let answers = race(&api, attempts).await;
    let created = answers.count(201);
    assert!(
        created >= 2,
        "several non-overlapping bookings fit the day: {answers:?}"
    );
    assert!(
        answers.others(&[201, 409]).is_empty(),
        "only holds and conflicts: {answers:?}"
    );
    let spans = live_spans(&platform, &influencer.id).await;
    assert_eq!(spans.len(), created + 1, "{spans:?}");
    assert_no_overlap(&spans);
}

#[tokio::test]
async fn the_stores_guard_holds_when_redis_loses_the_holds_mid_race() {
    let platform = Platform::builder().core_api(2).start().await.unwrap();
    let Scene {
        platform,
        api,
        influencer,
        hourly,
        quarterly,
    } = scene(platform).await;
    let tokens = platform.brand_tokens(300).await;
    let midnight = midnight_in(9);
    let mut starts: Vec<(String, String)> = Vec::new();
    for gig in [&hourly, &quarterly] {
        for start in slots(&api, &tokens[0], gig, midnight).await {
            starts.push((gig.clone(), start));
        }
    }
    let redis = platform.redis();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let wiper = {
        let (redis, stop) = (redis.clone(), stop.clone());
        tokio::spawn(async move {
            let mut wiped = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                wiped += redis.delete_holds().await.unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            wiped
        })
    };
    let attempts = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let (gig, start) = starts[i % starts.len()].clone();
            (token.clone(), gig, start)
        })
        .collect();
    let answers = race(&api, attempts).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let wiped = wiper.await.unwrap();
    assert!(wiped > 0, "the race ran without Redis's holds");
    assert!(answers.others(&[201, 409]).is_empty(), "{answers:?}");
    let spans = live_spans(&platform, &influencer.id).await;
    assert_eq!(spans.len(), answers.count(201), "{answers:?}");
    assert_no_overlap(&spans);
}

#[tokio::test]
async fn the_worker_expires_a_lapsed_hold_and_releases_its_keys() {
    let platform = Platform::builder()
        .worker(1)
        .env("HOLD_TTL_SECS", "2")
        .start()
        .await
        .unwrap();
    let Scene {
        platform,
        api,
        hourly,
        ..
    } = scene(platform).await;
    let brand = api.register("brand").await;
    let midnight = midnight_in(7);
    let ten = (midnight + SignedDuration::from_hours(10)).to_string();
    let held = api
        .post(
            "/bookings",
            &json!({ "gig_id": hourly, "start": ten }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    let id = held.body["id"].as_str().unwrap().to_owned();
    assert!(platform.redis().count_holds().await.unwrap() > 0);

    let expired = eventually(Duration::from_secs(30), || async {
        let booking = api
            .get(&format!("/bookings/{id}"), Some(&brand.access))
            .await;
        booking.body["state"] == "expired"
    })
    .await;
    assert!(expired, "the worker expired the lapsed hold");
    let booking = platform
        .store()
        .await
        .bookings
        .find(&BookingId::from_string(id.as_str()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(booking.history.last().unwrap().by, None);
    assert_eq!(
        platform.redis().count_holds().await.unwrap(),
        0,
        "keys gone"
    );
    assert!(
        slots(&api, &brand.access, &hourly, midnight)
            .await
            .contains(&ten)
    );
    let again = api
        .post(
            "/bookings",
            &json!({ "gig_id": hourly, "start": ten }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
}
