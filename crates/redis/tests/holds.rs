//! Slot holds against the machine's Redis, each test in a namespace of its own.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use noillin_domain::{availability::Interval, booking::hold_cells};
use noillin_redis::{HoldOutcome, Redis, SlotHold};
use tokio::sync::Barrier;

mod common;

use common::TestRedis;

/// 2030-01-07 (a Monday) at `hh:mm` UTC.
fn at(hh_mm: &str) -> Timestamp {
    format!("2030-01-07T{hh_mm}:00Z")
        .parse()
        .expect("timestamp")
}

fn hold(members: &[&str], from: &str, to: &str, token: &str) -> SlotHold {
    SlotHold {
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        start: at(from),
        end: at(to),
        token: token.to_owned(),
        ttl: Duration::from_secs(60),
    }
}

async fn take(redis: &Redis, hold: &SlotHold) -> HoldOutcome {
    redis.take_hold(hold).await.expect("take hold")
}

#[tokio::test]
async fn spans_that_only_touch_are_both_taken() {
    let redis = TestRedis::new();
    let first = hold(&["ana"], "10:00", "10:20", "first");
    let second = hold(&["ana"], "10:20", "10:40", "second");
    // They meet in the 10:15 cell, so the exact comparison is what lets both in.
    let first_cells = hold_cells(Interval::new(first.start, first.end));
    let second_cells = hold_cells(Interval::new(second.start, second.end));
    assert_eq!(first_cells.end(), second_cells.start());

    assert_eq!(take(&redis, &first).await, HoldOutcome::Taken);
    assert_eq!(take(&redis, &second).await, HoldOutcome::Taken);
}

#[tokio::test]
async fn an_overlapping_hold_of_another_grid_and_duration_is_refused() {
    let redis = TestRedis::new();
    assert_eq!(
        take(&redis, &hold(&["ana"], "10:00", "11:00", "hour")).await,
        HoldOutcome::Taken
    );

    // A 25-minute gig on a 5-minute grid, with a buffer that reaches back into the hour.
    let late = hold(&["ana"], "10:55", "11:20", "late");
    assert_eq!(take(&redis, &late).await, HoldOutcome::Conflict);
    // The same time of another influencer is free.
    let elsewhere = hold(&["bea"], "10:55", "11:20", "elsewhere");
    assert_eq!(take(&redis, &elsewhere).await, HoldOutcome::Taken);
}

#[tokio::test]
async fn a_partial_overlap_inside_one_cell_is_refused_and_the_rest_of_the_cell_is_free() {
    let redis = TestRedis::new();
    assert_eq!(
        take(&redis, &hold(&["ana"], "10:00", "10:05", "early")).await,
        HoldOutcome::Taken
    );

    let overlapping = hold(&["ana"], "10:04", "10:10", "overlapping");
    assert_eq!(take(&redis, &overlapping).await, HoldOutcome::Conflict);
    let after = hold(&["ana"], "10:05", "10:10", "after");
    assert_eq!(take(&redis, &after).await, HoldOutcome::Taken);
}

#[tokio::test]
async fn a_group_hold_with_one_busy_member_leaves_nothing_of_the_others_behind() {
    let redis = TestRedis::new();
    assert_eq!(
        take(&redis, &hold(&["bea"], "10:30", "11:00", "bea-busy")).await,
        HoldOutcome::Taken
    );

    let group = hold(&["ana", "bea", "cleo"], "10:00", "11:30", "group");
    assert_eq!(take(&redis, &group).await, HoldOutcome::Conflict);

    // Had the group taken ana's or cleo's cells, these would conflict with it.
    for member in ["ana", "cleo"] {
        let alone = hold(&[member], "10:00", "11:30", &format!("{member}-alone"));
        assert_eq!(take(&redis, &alone).await, HoldOutcome::Taken, "{member}");
    }
}

#[tokio::test]
async fn a_group_hold_takes_and_releases_every_member() {
    let redis = TestRedis::new();
    let group = hold(&["ana", "bea"], "10:00", "10:45", "group");
    assert_eq!(take(&redis, &group).await, HoldOutcome::Taken);
    for member in ["ana", "bea"] {
        let other = hold(&[member], "10:30", "10:40", &format!("{member}-other"));
        assert_eq!(
            take(&redis, &other).await,
            HoldOutcome::Conflict,
            "{member}"
        );
    }

    redis.release_hold(&group).await.expect("release");
    for member in ["ana", "bea"] {
        let other = hold(&[member], "10:30", "10:40", &format!("{member}-other"));
        assert_eq!(take(&redis, &other).await, HoldOutcome::Taken, "{member}");
    }
}

#[tokio::test]
async fn only_the_holders_token_releases_a_hold() {
    let redis = TestRedis::new();
    let held = hold(&["ana"], "10:00", "10:30", "holder");
    assert_eq!(take(&redis, &held).await, HoldOutcome::Taken);
    let rival = hold(&["ana"], "10:10", "10:20", "rival");

    let impostor = SlotHold {
        token: "impostor".to_owned(),
        ..held.clone()
    };
    redis.release_hold(&impostor).await.expect("release");
    assert_eq!(take(&redis, &rival).await, HoldOutcome::Conflict);

    redis.release_hold(&held).await.expect("release");
    assert_eq!(take(&redis, &rival).await, HoldOutcome::Taken);
}

#[tokio::test]
async fn a_lapsed_hold_frees_its_time_while_its_key_lives_on_for_a_longer_hold() {
    let redis = TestRedis::new();
    let short = SlotHold {
        ttl: Duration::from_millis(300),
        ..hold(&["ana"], "10:00", "10:05", "short")
    };
    let long = hold(&["ana"], "10:10", "10:14", "long");
    assert_eq!(take(&redis, &short).await, HoldOutcome::Taken);
    assert_eq!(take(&redis, &long).await, HoldOutcome::Taken);
    let successor = hold(&["ana"], "10:00", "10:05", "successor");
    assert_eq!(take(&redis, &successor).await, HoldOutcome::Conflict);

    // Nothing signals a lapse: waiting well past the TTL is the point of this test.
    tokio::time::sleep(Duration::from_millis(900)).await;

    let cells = hold_cells(Interval::new(short.start, short.end));
    let key = redis.key(&format!("hold:{{ana}}:{}", cells.start()));
    let mut conn = redis.pool().get().await.expect("connection");
    let key_ttl_ms: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("pttl");
    assert!(
        key_ttl_ms > 1_000,
        "the shared key must outlive the short hold"
    );
    assert_eq!(take(&redis, &successor).await, HoldOutcome::Taken);
    assert_eq!(
        take(&redis, &hold(&["ana"], "10:12", "10:13", "inside-long")).await,
        HoldOutcome::Conflict
    );
}

#[tokio::test]
async fn taking_again_with_the_same_token_is_a_harmless_success() {
    let redis = TestRedis::new();
    let held = hold(&["ana", "bea"], "10:00", "10:30", "holder");
    assert_eq!(take(&redis, &held).await, HoldOutcome::Taken);
    assert_eq!(take(&redis, &held).await, HoldOutcome::Taken);

    let rival = hold(&["bea"], "10:20", "10:50", "rival");
    assert_eq!(take(&redis, &rival).await, HoldOutcome::Conflict);
    redis.release_hold(&held).await.expect("release");
    assert_eq!(take(&redis, &rival).await, HoldOutcome::Taken);
}

#[tokio::test]
async fn a_hold_without_time_or_members_holds_nothing() {
    let redis = TestRedis::new();
    let empty_span = hold(&["ana"], "10:00", "10:00", "empty");
    assert_eq!(take(&redis, &empty_span).await, HoldOutcome::Taken);
    let nobody = hold(&[], "10:00", "11:00", "nobody");
    assert_eq!(take(&redis, &nobody).await, HoldOutcome::Taken);
    assert_eq!(
        take(&redis, &hold(&["ana"], "09:00", "11:00", "real")).await,
        HoldOutcome::Taken
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_overlapping_holds_taken_at_once_exactly_one_wins() {
    const RACERS: usize = 64;
    let redis = TestRedis::new();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let redis = redis.redis.clone();
            let barrier = barrier.clone();
            // Different starts, ends and cells; every span contains [10:07, 11:00).
            let start = at("10:00") + jiff::SignedDuration::from_mins((i % 8) as i64);
            let end = at("11:00") + jiff::SignedDuration::from_mins((i % 5) as i64 * 7);
            let contender = SlotHold {
                members: vec!["ana".to_owned()],
                start,
                end,
                token: format!("racer-{i}"),
                ttl: Duration::from_secs(60),
            };
            tokio::spawn(async move {
                barrier.wait().await;
                redis.take_hold(&contender).await
            })
        })
        .collect();

    let mut winners = 0;
    for task in tasks {
        if task.await.expect("task").expect("take hold") == HoldOutcome::Taken {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}
