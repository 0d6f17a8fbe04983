//! Chat with the official Socket.IO client (`socket.io-client` 4 under Node.js, the script
//! `tests/e2e/js/chat-client.mjs`) through NGINX, against two core-api and two realtime nodes:
//! long-polling first then the upgrade, a message and a typing indicator live, and after its
//! realtime node is killed, a reconnection to the other node that catches up on what it missed.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use noillin_test_support::{Platform, repo_root};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::mpsc,
};

const WAIT: Duration = Duration::from_secs(15);

/// The Node.js chat client, running; every line it printed is kept, in order.
struct NodeChatClient {
    lines: mpsc::UnboundedReceiver<Value>,
    seen: Vec<Value>,
    /// Where `expect` goes on from.
    cursor: usize,
    // Closing its standard input (on drop) makes the client disconnect and exit.
    _stdin: ChildStdin,
    _child: Child,
}

impl NodeChatClient {
    fn start(gateway: &str, token: &str) -> Self {
        let dir = repo_root().join("tests/e2e/js");
        assert!(
            dir.join("node_modules/socket.io-client").is_dir(),
            "socket.io-client is not installed: scripts/test installs it (npm ci --prefix tests/e2e/js)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("chat-client.mjs"))
            .env("GATEWAY_URL", gateway)
            .env("TOKEN", token)
            // Long enough that the messages sent while it is down are all stored before it
            // is back, short enough to keep the test quick.
            .env("RECONNECTION_DELAY_MS", "2000")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts (scripts/test installs Node.js)");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take().expect("piped stdin");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({ "event": "unparsed", "line": line }));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self {
            lines,
            seen: Vec::new(),
            cursor: 0,
            _stdin: stdin,
            _child: child,
        }
    }

    /// The first line after the one `expect` last returned that reports `event` and
    /// `matches`; panics with everything printed so far when none comes within `timeout`.
    async fn expect(
        &mut self,
        event: &str,
        matches: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Value {
        let (index, line) = self.find_from(self.cursor, event, matches, timeout).await;
        self.cursor = index + 1;
        line
    }

    /// The first line from position `from` on (as [`Self::mark`] tells) that reports `event`
    /// and `matches`, for what may come in either order with what `expect` waits for.
    async fn find_from(
        &mut self,
        from: usize,
        event: &str,
        matches: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> (usize, Value) {
        let is_it = |line: &Value| line["event"] == event && matches(line);
        if let Some(index) = (from..self.seen.len()).find(|&i| is_it(&self.seen[i])) {
            return (index, self.seen[index].clone());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if self.seen.len() > from && is_it(&line) {
                        return (self.seen.len() - 1, line);
                    }
                }
                Ok(None) | Err(_) => panic!(
                    "the Node.js client printed no {event} line as expected within {timeout:?}; it printed:\n{}",
                    self.transcript()
                ),
            }
        }
    }

    /// The position just after the line `expect` last returned.
    fn mark(&self) -> usize {
        self.cursor
    }

    fn transcript(&self) -> String {
        self.seen
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The ids of every message the client received live or fetched when catching up, in the
    /// order it printed them, for `conversation`.
    fn message_ids(&self, conversation: &str) -> Vec<u64> {
        let mut ids = Vec::new();
        for line in &self.seen {
            if line["event"] == "message" && line["data"]["conversation_id"] == conversation {
                ids.extend(line["data"]["id"].as_u64());
            }
            if line["event"] == "catch_up" && line["conversation_id"] == conversation {
                ids.extend(
                    line["ids"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_u64),
                );
            }
        }
        ids
    }
}

/// The index of the only realtime node holding a socket, by its `realtime_sockets_connected`.
async fn node_with_a_socket(platform: &Platform) -> usize {
    let mut counts = Vec::new();
    for node in &platform.realtime {
        counts.push(platform.metric(node, "realtime_sockets_connected").await);
    }
    let holding: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0.0).collect();
    assert_eq!(holding.len(), 1, "sockets per node: {counts:?}");
    holding[0]
}

#[tokio::test]
async fn the_official_client_upgrades_receives_and_catches_up_after_its_node_dies() {
    let mut platform = Platform::builder()
        .core_api(2)
        .realtime(2)
        .worker(0)
        .start()
        .await
        .expect("platform starts");
    let api = platform.api();
    let brand = api.register("brand").await;
    let influencer = api.register("influencer").await;
    let conversation = api.direct_conversation(&brand, &influencer).await;
    let conversation = conversation["id"]
        .as_str()
        .expect("conversation id")
        .to_owned();

    let mut client = NodeChatClient::start(&platform.gateway, &influencer.access);
    let open = client.expect("open", |_| true, WAIT).await;
    let opened_at = client.mark();
    assert_eq!(open["transport"], "polling", "the client starts on polling");
    client.expect("connect", |_| true, WAIT).await;
    // The upgrade may finish before or after the Socket.IO connection.
    client
        .find_from(
            opened_at,
            "upgrade",
            |line| line["transport"] == "websocket",
            WAIT,
        )
        .await;
    // Only the Node.js client's socket is open yet: its node is the one that counts a socket.
    let node = node_with_a_socket(&platform).await;

    let first = api.say(&brand, &conversation, "Hello from the brand").await;
    let live = client
        .expect(
            "message",
            |line| line["data"]["conversation_id"] == conversation.as_str(),
            WAIT,
        )
        .await;
    assert_eq!(live["data"], first, "the pushed message is the stored one");
    assert_eq!(live["data"]["id"], 1);

    let brand_socket = platform
        .connect_socket(&brand.access)
        .await
        .expect("the brand's socket connects");
    brand_socket
        .send_raw(format!(
            "42{}",
            json!(["typing", { "conversation_id": conversation }])
        ))
        .expect("typing sent");
    let typing = client.expect("typing", |_| true, WAIT).await;
    assert_eq!(
        typing["data"],
        json!({ "conversation_id": conversation, "user_id": brand.id })
    );

    platform.realtime[node]
        .kill()
        .expect("the client's realtime node is killed");
    let killed = Instant::now();
    // Sent while the client has no socket: their pushes reach nobody, the history has them.
    const MISSED: u64 = 5;
    for i in 0..MISSED {
        api.say(&brand, &conversation, &format!("While you were away {i}"))
            .await;
    }
    let sent_within = killed.elapsed();
    client.expect("disconnect", |_| true, WAIT).await;
    let reopened = client.expect("open", |_| true, WAIT).await;
    let reopened_at = client.mark();
    assert_eq!(reopened["transport"], "polling");
    client.expect("reconnect", |_| true, WAIT).await;
    let caught_up = client
        .expect(
            "catch_up",
            |line| line["conversation_id"] == conversation.as_str(),
            WAIT,
        )
        .await;
    let back_after = killed.elapsed();
    assert_eq!(
        caught_up["ids"],
        json!((2..=MISSED + 1).collect::<Vec<_>>()),
        "catch-up fetches what was sent while the client was away"
    );
    client
        .find_from(
            reopened_at,
            "upgrade",
            |line| line["transport"] == "websocket",
            WAIT,
        )
        .await;
    let survivor = 1 - node;
    assert!(
        platform
            .metric(&platform.realtime[survivor], "realtime_sockets_connected")
            .await
            >= 1.0,
        "the client is on the surviving node"
    );

    // Live again, on the other node.
    let last = api.say(&brand, &conversation, "Welcome back").await;
    let live = client
        .expect("message", |line| line["data"]["id"] == last["id"], WAIT)
        .await;
    assert_eq!(live["data"], last);

    let total = MISSED + 2;
    let ids = client.message_ids(&conversation);
    println!(
        "official client: {} messages sent while down within {sent_within:?}, reconnected and caught up {back_after:?} after the kill; ids seen {ids:?}",
        MISSED
    );
    assert_eq!(
        ids,
        (1..=total).collect::<Vec<_>>(),
        "every message seen exactly once, in order\n{}",
        client.transcript()
    );
}
