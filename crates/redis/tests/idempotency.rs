//! Idempotency records against the machine's Redis, each test in a namespace of its own.

use std::{sync::Arc, time::Duration};

use noillin_redis::{Attempt, Begun, StoredResponse};
use tokio::sync::Barrier;

mod common;

use common::TestRedis;

const RUNNING: Duration = Duration::from_secs(60);
const REPLAY: Duration = Duration::from_secs(600);

fn created() -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("location".to_owned(), "/api/v1/bookings/b1".to_owned()),
        ],
        body: r#"{"id":"b1"}"#.to_owned(),
    }
}

fn started(begun: Begun) -> Attempt {
    match begun {
        Begun::Started(attempt) => attempt,
        other => panic!("expected a start, got {other:?}"),
    }
}

#[tokio::test]
async fn a_key_runs_once_then_replays_its_response_to_the_same_request_only() {
    let redis = TestRedis::new();
    let records = redis.idempotency();
    let attempt = started(
        records
            .begin("u1", "k", b"POST /x {}", RUNNING)
            .await
            .unwrap(),
    );

    let again = records
        .begin("u1", "k", b"POST /x {}", RUNNING)
        .await
        .unwrap();
    assert_eq!(again, Begun::Running);
    let other_request = records
        .begin("u1", "k", b"POST /y {}", RUNNING)
        .await
        .unwrap();
    assert_eq!(other_request, Begun::Mismatch);

    assert!(
        records
            .complete(&attempt, &created(), REPLAY)
            .await
            .unwrap()
    );
    let replay = records
        .begin("u1", "k", b"POST /x {}", RUNNING)
        .await
        .unwrap();
    assert_eq!(replay, Begun::Completed(created()));
    let other_request = records
        .begin("u1", "k", b"POST /y {}", RUNNING)
        .await
        .unwrap();
    assert_eq!(other_request, Begun::Mismatch);
}

#[tokio::test]
async fn the_same_key_of_another_scope_is_another_record() {
    let redis = TestRedis::new();
    let records = redis.idempotency();
    started(records.begin("u1", "k", b"req", RUNNING).await.unwrap());
    started(records.begin("u2", "k", b"req", RUNNING).await.unwrap());
}

#[tokio::test]
async fn an_abandoned_attempt_frees_its_key() {
    let redis = TestRedis::new();
    let records = redis.idempotency();
    let attempt = started(records.begin("u1", "k", b"req", RUNNING).await.unwrap());
    records.abandon(&attempt).await.unwrap();
    started(records.begin("u1", "k", b"req", RUNNING).await.unwrap());
}

#[tokio::test]
async fn an_attempt_whose_marker_lapsed_cannot_complete_or_abandon_its_successor() {
    let redis = TestRedis::new();
    let records = redis.idempotency();
    let short = Duration::from_millis(200);
    let stale = started(records.begin("u1", "k", b"req", short).await.unwrap());
    // Nothing signals a lapse: waiting well past the marker's TTL is the point of this test.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let current = started(records.begin("u1", "k", b"req", RUNNING).await.unwrap());

    assert!(!records.complete(&stale, &created(), REPLAY).await.unwrap());
    records.abandon(&stale).await.unwrap();
    let meanwhile = records.begin("u1", "k", b"req", RUNNING).await.unwrap();
    assert_eq!(meanwhile, Begun::Running);

    assert!(
        records
            .complete(&current, &created(), REPLAY)
            .await
            .unwrap()
    );
    let replay = records.begin("u1", "k", b"req", RUNNING).await.unwrap();
    assert_eq!(replay, Begun::Completed(created()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_first_requests_at_once_exactly_one_starts() {
    const RACERS: usize = 32;
    let redis = TestRedis::new();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let redis = redis.redis.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                redis.idempotency().begin("u1", "k", b"req", RUNNING).await
            })
        })
        .collect();

    let mut starts = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Begun::Started(_) => starts += 1,
            Begun::Running => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(starts, 1);
}
