//! Sockets through the gateway and across realtime nodes.

use std::time::Duration;

use noillin_auth::Role;
use noillin_redis::Push;
use noillin_test_support::{Platform, SocketClient, SocketError};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(5);

async fn two_node_platform() -> Platform {
    Platform::builder()
        .realtime(2)
        .worker(0)
        .start()
        .await
        .expect("platform starts")
}

#[tokio::test]
async fn a_push_reaches_the_users_sockets_on_every_realtime_node() {
    let platform = two_node_platform().await;
    let token = platform.token_for("user-7", Role::Brand);
    let auth = json!({ "token": token });
    let mut via_gateway = SocketClient::connect(&platform.socket_url(), auth.clone(), None)
        .await
        .unwrap();
    let mut on_node_0 = SocketClient::connect(&platform.node_socket_url(0), auth.clone(), None)
        .await
        .unwrap();
    let mut on_node_1 = SocketClient::connect(&platform.node_socket_url(1), auth, None)
        .await
        .unwrap();
    let stranger_token = platform.token_for("user-8", Role::Brand);
    let mut stranger = SocketClient::connect(
        &platform.node_socket_url(1),
        json!({ "token": stranger_token }),
        None,
    )
    .await
    .unwrap();

    // What core-api and the worker do to notify a user.
    let receivers = platform
        .redis()
        .publish_push(&Push {
            room: "user:user-7".into(),
            event: "notification".into(),
            data: json!({ "kind": "hello" }),
        })
        .await
        .unwrap();

    assert_eq!(receivers, 2, "both realtime nodes subscribe to pushes");
    for (name, client) in [
        ("gateway", &mut via_gateway),
        ("node 0", &mut on_node_0),
        ("node 1", &mut on_node_1),
    ] {
        let data = client.expect_event("notification", WAIT).await;
        assert_eq!(data, Some(json!({ "kind": "hello" })), "socket via {name}");
    }
    assert_eq!(
        stranger
            .expect_event("notification", Duration::from_millis(500))
            .await,
        None,
        "another user's socket must not get the push"
    );
}

#[tokio::test]
async fn presence_crosses_nodes_through_the_cluster_adapter() {
    let platform = two_node_platform().await;
    // user-10 shares a conversation with user-9, so is told of user-9's presence.
    platform
        .redis()
        .record_conversation("conv-9-10", &["user-9".to_owned(), "user-10".to_owned()])
        .await
        .unwrap();
    let contact_auth = json!({ "token": platform.token_for("user-10", Role::Brand) });
    let mut contact = SocketClient::connect(&platform.node_socket_url(1), contact_auth, None)
        .await
        .unwrap();
    let auth = json!({ "token": platform.token_for("user-9", Role::Influencer) });
    let mut first = SocketClient::connect(&platform.node_socket_url(0), auth.clone(), None)
        .await
        .unwrap();
    assert_eq!(
        contact.expect_event("presence", WAIT).await,
        Some(json!({ "user_id": "user-9", "status": "online" }))
    );

    // Node 0 emitted that; the adapter carried it to node 1.
    // A second session of the same user opens on the other node and closes again; the user
    // stays online throughout, so nobody is told anything.
    let second = SocketClient::connect(&platform.node_socket_url(1), auth, None)
        .await
        .unwrap();
    drop(second);
    // `first` may hear that user-10 came online: user-10's announcement can still be on its way
    // when user-9 connects. What it must never hear is about user-9.
    let mut heard = Vec::new();
    while let Some(event) = first
        .expect_event("presence", Duration::from_millis(500))
        .await
    {
        heard.push(event);
    }
    assert!(
        heard.iter().all(|event| event["user_id"] != "user-9"),
        "a user is not told of their own presence: {heard:?}"
    );
    // The first session's close is the user's last.
    drop(first);
    assert_eq!(
        contact.expect_event("presence", WAIT).await,
        Some(json!({ "user_id": "user-9", "status": "offline" }))
    );
}

#[tokio::test]
async fn handshakes_without_a_valid_token_or_from_a_foreign_origin_are_refused() {
    let platform = Platform::builder().worker(0).start().await.unwrap();
    let expired = platform.expired_token_for("user-1", Role::Brand);
    let forged = noillin_auth::TokenKeys::new(b"not-the-platform-secret-not-the-platform")
        .issue("user-1", Role::Admin, 0, "forged", Duration::from_secs(60))
        .unwrap();
    let valid = platform.token_for("user-1", Role::Brand);

    let cases = [
        ("no auth payload", json!(null), None, "unauthorized"),
        ("empty token", json!({ "token": "" }), None, "unauthorized"),
        ("wrong type", json!({ "token": 42 }), None, "unauthorized"),
        ("forged", json!({ "token": forged }), None, "unauthorized"),
        (
            "expired",
            json!({ "token": expired }),
            None,
            "token expired",
        ),
        (
            "foreign origin",
            json!({ "token": valid }),
            Some("https://evil.example"),
            "origin not allowed",
        ),
    ];
    for (case, auth, origin, expected) in cases {
        match SocketClient::connect(&platform.socket_url(), auth, origin).await {
            Err(SocketError::Refused(message)) => assert_eq!(message, expected, "{case}"),
            Err(other) => panic!("{case}: expected a refusal, got {other}"),
            Ok(_) => panic!("{case}: connection was accepted"),
        }
    }

    let allowed = SocketClient::connect(
        &platform.socket_url(),
        json!({ "token": valid }),
        Some("http://app.noillin.test"),
    )
    .await;
    assert!(
        allowed.is_ok(),
        "an allowed origin with a valid token connects"
    );
}

#[tokio::test]
async fn a_handshake_with_two_origins_is_refused_through_the_gateway() {
    let platform = Platform::builder().worker(0).start().await.unwrap();
    // The Engine.IO handshake, the first request of every Socket.IO client (long-polling).
    let handshake = || reqwest::Client::new().get(platform.url("/socket/?EIO=4&transport=polling"));
    let allowed = "http://app.noillin.test";
    let evil = "https://evil.example";

    // NGINX forwards every Origin header a client sends; realtime sees both.
    for (case, first, second) in [
        ("allowed first", allowed, evil),
        ("evil first", evil, allowed),
        ("the allowed one twice", allowed, allowed),
    ] {
        let response = handshake()
            .header("origin", first)
            .header("origin", second)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            reqwest::StatusCode::BAD_REQUEST,
            "{case}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{case}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["type"], "/problems/bad-request", "{case}");
    }

    let one = handshake().header("origin", allowed).send().await.unwrap();
    assert_eq!(one.status(), reqwest::StatusCode::OK);
    let open = one.text().await.unwrap();
    assert!(
        open.starts_with("0{") && open.contains("\"sid\""),
        "an Engine.IO open packet: {open}"
    );
}

#[tokio::test]
async fn an_oversized_frame_closes_the_socket() {
    let platform = Platform::builder().worker(0).start().await.unwrap();
    let auth = json!({ "token": platform.token_for("user-1", Role::Brand) });
    let mut client = SocketClient::connect(&platform.socket_url(), auth, None)
        .await
        .unwrap();

    let huge = "x".repeat(1024 * 1024);
    client
        .send_raw(format!("42[\"message\",\"{huge}\"]"))
        .unwrap();

    assert!(
        client.closed_within(WAIT).await,
        "a 1 MiB frame must close the socket"
    );
}
