//! Presence across realtime nodes against the machine's Redis, each test in a namespace of its
//! own. Node ids are plain names here; the nodes use random UUIDs.

use std::{collections::HashMap, sync::Arc, time::Duration};

use noillin_redis::{Connected, Heartbeat};
use tokio::sync::Barrier;

mod common;

use common::TestRedis;

const LONG_LEASE: Duration = Duration::from_secs(60);
const SHORT_LEASE: Duration = Duration::from_millis(100);

/// Longer than [`SHORT_LEASE`]: nothing signals a lapse, so a test of one waits past it.
async fn let_short_leases_pass() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_user_goes_online_with_the_first_socket_anywhere_and_offline_with_the_last() {
    let redis = TestRedis::new();
    for node in ["a", "b"] {
        assert_eq!(
            redis
                .node_heartbeat(node, LONG_LEASE)
                .await
                .expect("heartbeat"),
            Heartbeat::Registered
        );
    }

    assert_eq!(
        redis.presence_connect("a", "ana").await.expect("connect"),
        Connected::WentOnline
    );
    assert_eq!(
        redis.presence_connect("a", "ana").await.expect("connect"),
        Connected::AlreadyOnline
    );
    assert_eq!(
        redis.presence_connect("b", "ana").await.expect("connect"),
        Connected::AlreadyOnline
    );

    assert!(
        !redis
            .presence_disconnect("a", "ana")
            .await
            .expect("disconnect")
    );
    assert!(
        !redis
            .presence_disconnect("b", "ana")
            .await
            .expect("disconnect")
    );
    assert!(redis.is_online("ana").await.expect("is_online"));
    assert!(
        redis
            .presence_disconnect("a", "ana")
            .await
            .expect("disconnect")
    );
    assert!(!redis.is_online("ana").await.expect("is_online"));

    // And again: the counts went back to nothing.
    assert_eq!(
        redis.presence_connect("b", "ana").await.expect("connect"),
        Connected::WentOnline
    );
}

#[tokio::test]
async fn a_heartbeat_renews_a_registered_node() {
    let redis = TestRedis::new();
    assert_eq!(
        redis
            .node_heartbeat("a", SHORT_LEASE)
            .await
            .expect("heartbeat"),
        Heartbeat::Registered
    );
    assert_eq!(
        redis
            .node_heartbeat("a", SHORT_LEASE)
            .await
            .expect("heartbeat"),
        Heartbeat::Renewed
    );
}

#[tokio::test]
async fn an_unregistered_node_counts_no_socket() {
    let redis = TestRedis::new();
    assert_eq!(
        redis
            .presence_connect("ghost", "ana")
            .await
            .expect("connect"),
        Connected::NodeUnknown
    );
    assert!(!redis.is_online("ana").await.expect("is_online"));
    // Its socket's close is harmless.
    assert!(
        !redis
            .presence_disconnect("ghost", "ana")
            .await
            .expect("disconnect")
    );
}

#[tokio::test]
async fn the_takeover_of_a_dead_node_reports_only_the_users_left_without_sockets() {
    let redis = TestRedis::new();
    redis
        .node_heartbeat("live", LONG_LEASE)
        .await
        .expect("heartbeat");
    redis
        .node_heartbeat("dead", SHORT_LEASE)
        .await
        .expect("heartbeat");
    for user in ["ana", "bea"] {
        redis.presence_connect("dead", user).await.expect("connect");
    }
    redis
        .presence_connect("dead", "ana")
        .await
        .expect("connect");
    redis
        .presence_connect("live", "bea")
        .await
        .expect("connect");
    redis
        .presence_connect("live", "cleo")
        .await
        .expect("connect");

    assert!(redis.sweep_dead_nodes().await.expect("sweep").is_empty());
    let_short_leases_pass().await;
    // Dead but not yet taken over: not online, and no transition reported yet.
    assert!(!redis.is_online("ana").await.expect("is_online"));
    assert_eq!(redis.sweep_dead_nodes().await.expect("sweep"), vec!["ana"]);
    assert!(redis.sweep_dead_nodes().await.expect("sweep").is_empty());
    assert!(redis.is_online("bea").await.expect("is_online"));
    assert!(redis.is_online("cleo").await.expect("is_online"));

    // The dead node's sockets were uncounted by the takeover: their late closes change nothing.
    assert!(
        !redis
            .presence_disconnect("dead", "ana")
            .await
            .expect("disconnect")
    );
    assert!(
        !redis
            .presence_disconnect("dead", "bea")
            .await
            .expect("disconnect")
    );
    assert!(redis.is_online("bea").await.expect("is_online"));
}

#[tokio::test]
async fn a_user_reconnecting_elsewhere_before_the_takeover_stays_online_throughout() {
    let redis = TestRedis::new();
    redis
        .node_heartbeat("live", LONG_LEASE)
        .await
        .expect("heartbeat");
    redis
        .node_heartbeat("dead", SHORT_LEASE)
        .await
        .expect("heartbeat");
    assert_eq!(
        redis
            .presence_connect("dead", "ana")
            .await
            .expect("connect"),
        Connected::WentOnline
    );
    let_short_leases_pass().await;

    // Contacts were never told ana went offline, so they are not told she is online again.
    assert_eq!(
        redis
            .presence_connect("live", "ana")
            .await
            .expect("connect"),
        Connected::AlreadyOnline
    );
    assert!(redis.sweep_dead_nodes().await.expect("sweep").is_empty());
    assert!(redis.is_online("ana").await.expect("is_online"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_sweepers_exactly_one_takes_each_dead_node_over() {
    const SWEEPERS: usize = 16;
    const USERS: usize = 50;
    let redis = TestRedis::new();
    for node in ["dead-1", "dead-2"] {
        redis
            .node_heartbeat(node, SHORT_LEASE)
            .await
            .expect("heartbeat");
    }
    for i in 0..USERS {
        // Every user on one dead node, every third one on both.
        let user = format!("user-{i}");
        redis
            .presence_connect("dead-1", &user)
            .await
            .expect("connect");
        if i % 3 == 0 {
            redis
                .presence_connect("dead-2", &user)
                .await
                .expect("connect");
        }
    }
    let_short_leases_pass().await;

    let barrier = Arc::new(Barrier::new(SWEEPERS));
    let sweepers: Vec<_> = (0..SWEEPERS)
        .map(|_| {
            let (redis, barrier) = (redis.redis.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                redis.sweep_dead_nodes().await
            })
        })
        .collect();
    let mut reports: HashMap<String, usize> = HashMap::new();
    let mut sweepers_that_found_any = 0;
    for sweeper in sweepers {
        let offline = sweeper.await.expect("sweeper").expect("sweep");
        if !offline.is_empty() {
            sweepers_that_found_any += 1;
        }
        for user in offline {
            *reports.entry(user).or_default() += 1;
        }
    }
    assert_eq!(sweepers_that_found_any, 1);
    assert_eq!(reports.len(), USERS);
    assert!(reports.values().all(|count| *count == 1), "{reports:?}");
}

#[tokio::test]
async fn a_node_taken_over_while_alive_learns_it_from_its_next_heartbeat() {
    let redis = TestRedis::new();
    redis
        .node_heartbeat("stalled", SHORT_LEASE)
        .await
        .expect("heartbeat");
    redis
        .presence_connect("stalled", "ana")
        .await
        .expect("connect");
    let_short_leases_pass().await;
    assert_eq!(redis.sweep_dead_nodes().await.expect("sweep"), vec!["ana"]);

    assert_eq!(
        redis
            .presence_connect("stalled", "bea")
            .await
            .expect("connect"),
        Connected::NodeUnknown
    );
    assert_eq!(
        redis
            .node_heartbeat("stalled", LONG_LEASE)
            .await
            .expect("heartbeat"),
        Heartbeat::Registered
    );
}

#[tokio::test]
async fn a_leaving_node_reports_its_users_that_went_offline() {
    let redis = TestRedis::new();
    for node in ["a", "b"] {
        redis
            .node_heartbeat(node, LONG_LEASE)
            .await
            .expect("heartbeat");
    }
    redis.presence_connect("a", "ana").await.expect("connect");
    redis.presence_connect("a", "bea").await.expect("connect");
    redis.presence_connect("b", "bea").await.expect("connect");

    assert_eq!(redis.leave_node("a").await.expect("leave"), vec!["ana"]);
    assert!(!redis.is_online("ana").await.expect("is_online"));
    assert!(redis.is_online("bea").await.expect("is_online"));
    // Its sockets' closes that come after change nothing.
    assert!(
        !redis
            .presence_disconnect("a", "ana")
            .await
            .expect("disconnect")
    );
    assert_eq!(
        redis.presence_connect("a", "cleo").await.expect("connect"),
        Connected::NodeUnknown
    );
}
