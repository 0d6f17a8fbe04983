//! Chat over sockets across two realtime nodes: typing, presence, and the limits on what a
//! socket sends. Conversation parties are seeded in Redis directly, as core-api records them.

use std::time::{Duration, Instant};

use noillin_auth::Role;
use noillin_test_support::{Platform, SocketClient};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(5);

/// How long a test waits for an event that must not come.
const QUIET: Duration = Duration::from_millis(700);

/// A killed node's users are reported offline within its lease plus one sweep interval, 8 s
/// (docs/realtime.md); this allows for a busy test machine.
const DEAD_NODE_BOUND: Duration = Duration::from_secs(10);

async fn two_node_platform() -> Platform {
    Platform::builder()
        .realtime(2)
        .worker(0)
        .start()
        .await
        .expect("platform starts")
}

/// A socket of `user` on realtime node `node`.
async fn connect(platform: &Platform, user: &str, node: usize) -> SocketClient {
    let auth = json!({ "token": platform.token_for(user, Role::Brand) });
    SocketClient::connect(&platform.node_socket_url(node), auth, None)
        .await
        .expect("socket connects")
}

async fn record(platform: &Platform, conversation: &str, parties: &[&str]) {
    let parties: Vec<String> = parties.iter().map(|p| (*p).to_owned()).collect();
    platform
        .redis()
        .record_conversation(conversation, &parties)
        .await
        .expect("record conversation");
}

/// Waits until `user` has sockets counted on `nodes` realtime nodes: a socket's count lands in
/// Redis just after the client is told it is connected.
async fn until_counted_on(platform: &Platform, user: &str, nodes: usize) {
    let redis = platform.redis();
    let deadline = Instant::now() + WAIT;
    loop {
        let counted = redis.presence_nodes(user).await.expect("presence nodes");
        if counted.len() == nodes {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{user} counted on {counted:?}, expected {nodes} nodes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn presence(user: &str, status: &str) -> Option<Value> {
    Some(json!({ "user_id": user, "status": status }))
}

#[tokio::test]
async fn typing_reaches_the_other_members_on_any_node_and_nobody_else() {
    let platform = two_node_platform().await;
    record(&platform, "conv-1", &["ana", "bea", "cleo"]).await;
    let mut ana_0 = connect(&platform, "ana", 0).await;
    let mut ana_1 = connect(&platform, "ana", 1).await;
    let mut bea = connect(&platform, "bea", 1).await;
    let mut cleo = connect(&platform, "cleo", 0).await;
    let mut stranger = connect(&platform, "stranger", 1).await;

    ana_0
        .emit("typing", &json!({ "conversation_id": "conv-1" }))
        .expect("emit");

    let expected = Some(json!({ "conversation_id": "conv-1", "user_id": "ana" }));
    assert_eq!(
        bea.expect_event("typing", WAIT).await,
        expected,
        "bea on the other node"
    );
    assert_eq!(
        cleo.expect_event("typing", WAIT).await,
        expected,
        "cleo on the same node"
    );
    assert_eq!(
        stranger.expect_event("typing", QUIET).await,
        None,
        "stranger"
    );
    assert_eq!(
        ana_1.expect_event("typing", QUIET).await,
        None,
        "the sender's other socket"
    );
    assert_eq!(
        ana_0.expect_event("typing", QUIET).await,
        None,
        "the sender"
    );
}

#[tokio::test]
async fn typing_for_a_conversation_one_is_not_in_or_malformed_reaches_nobody() {
    let platform = two_node_platform().await;
    record(&platform, "conv-1", &["ana", "bea"]).await;
    let intruder = connect(&platform, "intruder", 0).await;
    let mut ana = connect(&platform, "ana", 0).await;
    let mut bea = connect(&platform, "bea", 1).await;

    for data in [
        json!({ "conversation_id": "conv-1" }),
        json!({ "conversation_id": "never-recorded" }),
        json!({ "conversation_id": "x".repeat(65) }),
        json!({ "conversation_id": 42 }),
        json!("conv-1"),
    ] {
        intruder.emit("typing", &data).expect("emit");
    }
    // A member's typing after them still goes through: the intruder's events were dropped, not
    // queued, and did not break anything.
    ana.emit("typing", &json!({ "conversation_id": "conv-1" }))
        .expect("emit");

    assert_eq!(
        bea.expect_event("typing", WAIT).await,
        Some(json!({ "conversation_id": "conv-1", "user_id": "ana" }))
    );
    assert_eq!(bea.expect_event("typing", QUIET).await, None);
    assert_eq!(ana.expect_event("typing", QUIET).await, None);
}

#[tokio::test]
async fn typing_is_throttled_to_one_per_conversation_every_two_seconds() {
    let platform = two_node_platform().await;
    record(&platform, "conv-1", &["ana", "bea"]).await;
    record(&platform, "conv-2", &["ana", "bea"]).await;
    let ana = connect(&platform, "ana", 0).await;
    let mut bea = connect(&platform, "bea", 1).await;

    for _ in 0..5 {
        ana.emit("typing", &json!({ "conversation_id": "conv-1" }))
            .expect("emit");
    }
    ana.emit("typing", &json!({ "conversation_id": "conv-2" }))
        .expect("emit");

    let mut received = Vec::new();
    while let Some(event) = bea.expect_event("typing", QUIET).await {
        received.push(event["conversation_id"].clone());
    }
    received.sort_by_key(|id| id.to_string());
    assert_eq!(received, vec![json!("conv-1"), json!("conv-2")]);
}

#[tokio::test]
async fn presence_goes_to_contacts_on_any_node_and_offline_only_with_the_last_socket() {
    let platform = two_node_platform().await;
    record(&platform, "conv-1", &["ana", "bea"]).await;
    let mut ana = connect(&platform, "ana", 0).await;
    let mut stranger = connect(&platform, "stranger", 0).await;

    let bea_1 = connect(&platform, "bea", 1).await;
    assert_eq!(
        ana.expect_event("presence", WAIT).await,
        presence("bea", "online")
    );
    let bea_0 = connect(&platform, "bea", 0).await;
    until_counted_on(&platform, "bea", 2).await;
    assert_eq!(
        ana.expect_event("presence", QUIET).await,
        None,
        "a second socket is no transition"
    );

    drop(bea_1);
    assert_eq!(
        ana.expect_event("presence", QUIET).await,
        None,
        "bea still has a socket"
    );
    drop(bea_0);
    assert_eq!(
        ana.expect_event("presence", WAIT).await,
        presence("bea", "offline")
    );

    assert_eq!(
        stranger.expect_event("presence", QUIET).await,
        None,
        "not a contact"
    );
    assert!(!platform.redis().is_online("bea").await.expect("is_online"));
}

#[tokio::test]
async fn the_users_of_a_killed_node_go_offline_for_their_contacts_within_the_bound() {
    let mut platform = two_node_platform().await;
    record(&platform, "conv-1", &["ana", "bea"]).await;
    let mut ana = connect(&platform, "ana", 0).await;
    let _bea = connect(&platform, "bea", 1).await;
    assert_eq!(
        ana.expect_event("presence", WAIT).await,
        presence("bea", "online")
    );

    platform.realtime[1].kill().expect("kill node 1");
    let killed_at = Instant::now();

    assert_eq!(
        ana.expect_event("presence", DEAD_NODE_BOUND + Duration::from_secs(2))
            .await,
        presence("bea", "offline")
    );
    let took = killed_at.elapsed();
    assert!(took <= DEAD_NODE_BOUND, "offline after {took:?}");
    assert!(!platform.redis().is_online("bea").await.expect("is_online"));
    assert!(platform.redis().is_online("ana").await.expect("is_online"));
}

#[tokio::test]
async fn a_presence_query_answers_for_contacts_only() {
    let platform = two_node_platform().await;
    record(&platform, "conv-1", &["ana", "bea"]).await;
    record(&platform, "conv-2", &["ana", "cleo"]).await;
    let mut ana = connect(&platform, "ana", 0).await;
    let _bea = connect(&platform, "bea", 1).await;
    let _stranger = connect(&platform, "stranger", 1).await;
    until_counted_on(&platform, "bea", 1).await;

    let ack = ana
        .emit_with_ack(
            "presence",
            &json!({ "user_ids": ["bea", "cleo", "stranger", "ana", "nobody"] }),
            WAIT,
        )
        .await;
    assert_eq!(
        ack,
        Some(json!({ "statuses": { "bea": "online", "cleo": "offline" } }))
    );

    let too_many: Vec<String> = (0..101).map(|i| format!("user-{i}")).collect();
    assert_eq!(
        ana.emit_with_ack("presence", &json!({ "user_ids": too_many }), QUIET)
            .await,
        None,
        "more than 100 ids is dropped"
    );
}

#[tokio::test]
async fn a_socket_flooding_events_is_disconnected() {
    let platform = two_node_platform().await;
    let mut calm = connect(&platform, "calm", 0).await;
    let mut flooder = connect(&platform, "flooder", 0).await;

    for _ in 0..60 {
        flooder
            .emit("presence", &json!({ "user_ids": [] }))
            .expect("emit");
    }

    assert!(flooder.closed_within(WAIT).await, "the flooder is closed");
    // Its limit is its own: a socket within the rate stays.
    assert!(
        calm.emit_with_ack("presence", &json!({ "user_ids": [] }), WAIT)
            .await
            .is_some()
    );
    assert!(!calm.closed_within(QUIET).await);
}
