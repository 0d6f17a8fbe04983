//! Conversation membership and contacts against the machine's Redis, each test in a namespace
//! of its own.

use std::{collections::HashMap, time::Duration};

mod common;

use common::TestRedis;

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn recording_a_conversation_makes_its_parties_members_and_contacts_of_each_other() {
    let redis = TestRedis::new();
    redis
        .record_conversation("c1", &ids(&["brand", "ana", "bea"]))
        .await
        .expect("record");
    redis
        .record_conversation("c2", &ids(&["brand", "cleo"]))
        .await
        .expect("record");

    assert_eq!(
        sorted(redis.conversation_members("c1").await.expect("members")),
        ids(&["ana", "bea", "brand"])
    );
    for member in ["brand", "ana", "bea"] {
        assert!(
            redis
                .is_conversation_member("c1", member)
                .await
                .expect("sismember")
        );
    }
    assert!(
        !redis
            .is_conversation_member("c1", "cleo")
            .await
            .expect("sismember")
    );
    assert!(
        !redis
            .is_conversation_member("unknown", "ana")
            .await
            .expect("sismember")
    );
    assert!(
        redis
            .conversation_members("unknown")
            .await
            .expect("members")
            .is_empty()
    );

    assert_eq!(
        sorted(redis.contacts("brand").await.expect("contacts")),
        ids(&["ana", "bea", "cleo"])
    );
    assert_eq!(
        sorted(redis.contacts("ana").await.expect("contacts")),
        ids(&["bea", "brand"])
    );
    assert_eq!(
        redis.contacts("cleo").await.expect("contacts"),
        ids(&["brand"])
    );
    assert!(
        redis
            .contacts("stranger")
            .await
            .expect("contacts")
            .is_empty()
    );
}

#[tokio::test]
async fn recording_again_changes_nothing() {
    let redis = TestRedis::new();
    for _ in 0..3 {
        redis
            .record_conversation("c1", &ids(&["brand", "ana"]))
            .await
            .expect("record");
    }
    assert_eq!(
        sorted(redis.conversation_members("c1").await.expect("members")),
        ids(&["ana", "brand"])
    );
    assert_eq!(
        redis.contacts("ana").await.expect("contacts"),
        ids(&["brand"])
    );
    redis
        .record_conversation("c1", &[])
        .await
        .expect("no parties");
}

#[tokio::test]
async fn a_user_is_online_while_a_live_node_has_one_of_their_sockets() {
    let redis = TestRedis::new();
    assert!(!redis.is_online("ana").await.expect("is_online"));
    redis
        .node_heartbeat("node-a", Duration::from_secs(60))
        .await
        .expect("heartbeat");
    redis
        .presence_connect("node-a", "ana")
        .await
        .expect("connect");
    assert!(redis.is_online("ana").await.expect("is_online"));
    assert!(!redis.is_online("bea").await.expect("is_online"));
    redis
        .presence_disconnect("node-a", "ana")
        .await
        .expect("disconnect");
    assert!(!redis.is_online("ana").await.expect("is_online"));
}

#[tokio::test]
async fn a_user_on_a_node_whose_lease_passed_is_not_online_even_before_the_takeover() {
    let redis = TestRedis::new();
    redis
        .node_heartbeat("doomed", Duration::from_millis(100))
        .await
        .expect("heartbeat");
    redis
        .presence_connect("doomed", "ana")
        .await
        .expect("connect");
    assert!(redis.is_online("ana").await.expect("is_online"));
    // Nothing signals a lapse: waiting past the lease is the point of this test.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!redis.is_online("ana").await.expect("is_online"));
}

#[tokio::test]
async fn statuses_are_given_for_contacts_only() {
    let redis = TestRedis::new();
    redis
        .record_conversation("c1", &ids(&["brand", "ana", "bea"]))
        .await
        .expect("record");
    redis
        .record_conversation("c2", &ids(&["cleo", "dan"]))
        .await
        .expect("record");
    redis
        .node_heartbeat("node-a", Duration::from_secs(60))
        .await
        .expect("heartbeat");
    for user in ["ana", "cleo"] {
        redis
            .presence_connect("node-a", user)
            .await
            .expect("connect");
    }

    let statuses = redis
        .contact_statuses("brand", &ids(&["ana", "bea", "cleo", "dan", "brand"]))
        .await
        .expect("statuses");
    assert_eq!(
        statuses,
        HashMap::from([("ana".to_owned(), true), ("bea".to_owned(), false)])
    );
    assert!(
        redis
            .contact_statuses("brand", &[])
            .await
            .expect("statuses")
            .is_empty()
    );
}
