//! Our realtime against a Node.js Socket.IO server with the official Redis adapter
//! (`bench/realtime-node/server.mjs`), driven by this one load generator (`scripts/bench-realtime`,
//! docs/benchmarks.md). For each kind, two server nodes share Redis under a namespace of their
//! own, and raw Engine.IO v4 / Socket.IO v5 websocket clients (the protocol of
//! crates/test-support/src/socket.rs, leaner: one task per socket) connect straight to them:
//!
//! - sockets held: RSS (`VmRSS`) of both nodes at idle, with `SOCKETS` sockets (default 2,000)
//!   in `USERS` user rooms (default 200, each user's sockets spread over both nodes), with
//!   `PEAK` sockets (default 5,000), after closing them all, and after `ROUNDS` more rounds
//!   (default 7) of opening and closing `PEAK`; memory per socket is the slope from `SOCKETS`
//!   to `PEAK`.
//! - pushes: with `SOCKETS` sockets, ~150-byte pushes published on the push channel
//!   (`{namespace}:push`, as core-api publishes them) to user rooms, paced at `RATE` deliveries
//!   per second (default 2,000) for `PUSH_SECS` (default 20); each carries its send time, each
//!   client notes the receive time: p50/p99 send → receive, and the servers' CPU time
//!   (utime + stime) per delivered message.
//! - chat fan-out (`CHAT=0` skips it): the whole platform (core-api, worker, NGINX) with two
//!   realtime nodes of the kind under test; `CONVERSATIONS` brands (default 20) each message
//!   one influencer whose socket is open through NGINX, paced at `CHAT_RATE` messages/s (default
//!   50) for `CHAT_SECS` (default 20): p50/p99 from sending `POST /conversations/{id}/messages`
//!   to the recipient's socket receiving `message`. The platform finds its binaries in
//!   `NOILLIN_BIN_DIR`, so this part runs in a child process of this example per kind, the
//!   Node one with a binary directory whose `realtime` starts the Node server.
//!
//! `KINDS` (default `ours,node`) picks the servers. Prints one table with the ratios ours/Node.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures::{SinkExt, StreamExt, stream};
use noillin_auth::{Role, TokenKeys};
use noillin_e2e::{percentiles, setting};
use noillin_redis::{Push, Redis};
use noillin_test_support::{Platform, binary_path, redis_url, repo_root, unique_namespace};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{sync::oneshot, task::JoinHandle};
use tokio_tungstenite::tungstenite::Message;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Handshakes in flight at once while opening sockets.
const CONNECTING: usize = 32;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Ours,
    Node,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::Node => "node",
        }
    }
}

fn node_script() -> PathBuf {
    repo_root().join("bench/realtime-node/server.mjs")
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// One server node started by this benchmark, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(kind: Kind, name: &str, dir: &Path, env: &[(&str, &str)]) -> Result<Self, BoxError> {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let mut command = match kind {
            Kind::Ours => Command::new(binary_path("realtime")?),
            Kind::Node => {
                let mut node = Command::new("node");
                node.arg(node_script());
                node
            }
        };
        let child = command
            .current_dir(dir)
            .envs(env.iter().copied())
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let mut server = Self {
            child,
            port: 0,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.port == 0 {
            if let Some(status) = server.child.try_wait()? {
                return Err(format!("{name} exited with {status}: {}", server.log_text()).into());
            }
            if Instant::now() > deadline {
                return Err(format!("{name} did not listen: {}", server.log_text()).into());
            }
            server.port = server
                .log_text()
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find(|entry| entry["message"] == "listening")
                .and_then(|entry| entry["addr"].as_str()?.rsplit(':').next()?.parse().ok())
                .unwrap_or(0);
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/socket/", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// CPU time (user + system) a process has used so far.
fn cpu_time(pid: u32, tick: Duration) -> Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which may itself hold spaces: state is field 3,
            // utime 14 and stime 15.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    tick * ticks as u32
}

fn clock_tick() -> Duration {
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<u64>().ok())
        .unwrap_or(100);
    Duration::from_nanos(1_000_000_000 / hz)
}

/// What every client reports: deliveries of the measured events and their latency.
#[derive(Default)]
struct Stats {
    recording: AtomicBool,
    delivered: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
}

impl Stats {
    /// `event` is a Socket.IO EVENT packet's JSON array. A push carries its send time in
    /// `sent_us`, a chat message in its text (`bench <sent_us>`).
    fn on_event(&self, event: &str) {
        let received = now_us();
        if !self.recording.load(Ordering::Relaxed)
            || !(event.starts_with("[\"bench\"") || event.starts_with("[\"message\""))
        {
            return;
        }
        let Ok(Value::Array(parts)) = serde_json::from_str::<Value>(event) else {
            return;
        };
        let Some(data) = parts.get(1) else { return };
        let sent = data["sent_us"].as_u64().or_else(|| {
            data["text"]
                .as_str()?
                .strip_prefix("bench ")?
                .parse::<u64>()
                .ok()
        });
        if let Some(sent) = sent {
            self.delivered.fetch_add(1, Ordering::Relaxed);
            self.latencies_us
                .lock()
                .expect("latencies lock")
                .push(received.saturating_sub(sent));
        }
    }

    fn start(&self) {
        self.delivered.store(0, Ordering::Relaxed);
        self.latencies_us.lock().expect("latencies lock").clear();
        self.recording.store(true, Ordering::Relaxed);
    }

    /// Stops recording; p50 and p99 in ms.
    fn stop(&self) -> (u64, f64, f64) {
        self.recording.store(false, Ordering::Relaxed);
        let mut latencies: Vec<Duration> = self
            .latencies_us
            .lock()
            .expect("latencies lock")
            .iter()
            .map(|us| Duration::from_micros(*us))
            .collect();
        let (p50, p99) = percentiles(&mut latencies);
        (self.delivered.load(Ordering::Relaxed), p50, p99)
    }
}

/// One open socket: its reader task answers pings and reports events until told to close.
struct Conn {
    close: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

async fn next_text<S>(source: &mut S) -> Result<String, BoxError>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), source.next())
            .await
            .map_err(|_| "no packet within 10 s")?
            .ok_or("connection closed")??;
        match frame {
            Message::Text(text) => return Ok(text.as_str().to_owned()),
            Message::Close(_) => return Err("connection closed".into()),
            _ => continue,
        }
    }
}

async fn open(url: String, token: String, stats: Arc<Stats>) -> Result<Conn, BoxError> {
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(format!("{url}?EIO=4&transport=websocket")),
    )
    .await
    .map_err(|_| "websocket not open within 10 s")??;
    let (mut sink, mut source) = ws.split();
    let open = next_text(&mut source).await?;
    if !open.starts_with('0') {
        return Err(format!("expected an open packet, got {open}").into());
    }
    sink.send(Message::Text(
        format!("40{}", json!({ "token": token })).into(),
    ))
    .await?;
    loop {
        let packet = next_text(&mut source).await?;
        if packet == "2" {
            sink.send(Message::Text("3".into())).await?;
        } else if packet.starts_with("40") {
            break;
        } else if packet.starts_with("44") {
            return Err(format!("refused: {packet}").into());
        }
    }
    let (close, mut closing) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = source.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        let text = text.as_str();
                        if text == "2" {
                            if sink.send(Message::Text("3".into())).await.is_err() {
                                break;
                            }
                        } else if let Some(event) = text.strip_prefix("42") {
                            stats.on_event(event);
                        } else if text.starts_with('1') || text.starts_with("41") {
                            break;
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
                _ = &mut closing => {
                    // Socket.IO DISCONNECT, then the websocket close handshake.
                    let _ = sink.send(Message::Text("41".into())).await;
                    let _ = sink.send(Message::Close(None)).await;
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while let Some(Ok(_)) = source.next().await {}
                    })
                    .await;
                    break;
                }
            }
        }
    });
    Ok(Conn { close, task })
}

/// Opens one socket per `(url, token)`, a few handshakes at a time.
async fn open_all(
    targets: Vec<(String, String)>,
    stats: &Arc<Stats>,
) -> Result<Vec<Conn>, BoxError> {
    let results: Vec<Result<Conn, BoxError>> = stream::iter(targets)
        .map(|(url, token)| open(url, token, stats.clone()))
        .buffer_unordered(CONNECTING)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn close_all(conns: Vec<Conn>) {
    let tasks: Vec<JoinHandle<()>> = conns
        .into_iter()
        .map(|conn| {
            let _ = conn.close.send(());
            conn.task
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// Two server nodes of one kind on a namespace of their own, and the users whose sockets
/// connect to them.
struct Cluster {
    servers: Vec<Server>,
    redis: Redis,
    /// `(user id, access token)`.
    users: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(kind: Kind, users: usize) -> Result<Self, BoxError> {
        let dir = tempfile::Builder::new()
            .prefix("noillin-bench-realtime-")
            .tempdir()?;
        let namespace = unique_namespace();
        let secret = format!("bench-secret-{}", uuid::Uuid::new_v4().simple());
        let redis_url = redis_url();
        let env = [
            ("NAMESPACE", namespace.as_str()),
            ("REDIS_URL", redis_url.as_str()),
            ("JWT_SECRET", secret.as_str()),
            ("ALLOWED_ORIGINS", "http://app.noillin.test"),
            ("RUST_LOG", "info"),
        ];
        let mut servers = Vec::new();
        for node in 0..2 {
            servers.push(Server::start(
                kind,
                &format!("{}-{node}", kind.name()),
                dir.path(),
                &env,
            )?);
        }
        let client = reqwest::Client::new();
        for server in &servers {
            let ready = noillin_test_support::eventually(Duration::from_secs(30), || {
                let request = client
                    .get(format!("http://127.0.0.1:{}/readyz", server.port))
                    .send();
                async move { request.await.is_ok_and(|r| r.status().is_success()) }
            })
            .await;
            if !ready {
                return Err(format!("{} not ready: {}", kind.name(), server.log_text()).into());
            }
        }
        let keys = TokenKeys::new(secret.as_bytes());
        let users = (0..users)
            .map(|_| {
                let id = uuid::Uuid::new_v4().simple().to_string();
                let sign_in = uuid::Uuid::new_v4().simple().to_string();
                let token = keys
                    .issue(
                        &id,
                        Role::Influencer,
                        0,
                        &sign_in,
                        Duration::from_secs(3600),
                    )
                    .expect("signing a token");
                (id, token)
            })
            .collect();
        Ok(Self {
            servers,
            redis: Redis::new(&redis_url, &namespace)?,
            users,
            _dir: dir,
        })
    }

    /// Both nodes' RSS.
    fn rss(&self) -> u64 {
        self.servers.iter().map(|s| rss(s.pid())).sum()
    }

    fn cpu(&self, tick: Duration) -> Duration {
        self.servers.iter().map(|s| cpu_time(s.pid(), tick)).sum()
    }

    /// Where sockets `from..to` go: socket `i` is user `i % users`' and each user's sockets
    /// alternate between the nodes.
    fn targets(&self, from: usize, to: usize) -> Vec<(String, String)> {
        let users = self.users.len();
        (from..to)
            .map(|i| {
                let node = (i / users) % self.servers.len();
                (self.servers[node].url(), self.users[i % users].1.clone())
            })
            .collect()
    }
}

/// Figures of one kind; `None` where a part did not run.
#[derive(Default)]
struct Figures {
    rows: BTreeMap<&'static str, f64>,
}

impl Figures {
    fn set(&mut self, key: &'static str, value: f64) {
        self.rows.insert(key, value);
    }
}

async fn settle(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

const MB: f64 = 1024.0 * 1024.0;

async fn bench_sockets_and_pushes(kind: Kind) -> Result<Figures, BoxError> {
    let sockets = setting("SOCKETS", 2_000);
    let peak = setting("PEAK", 5_000).max(sockets + 1);
    let users = setting("USERS", 200);
    let rounds = setting("ROUNDS", 7);
    let rate = setting("RATE", 2_000);
    let push_secs = setting("PUSH_SECS", 20);
    let settle_secs = setting("SETTLE_SECS", 15) as u64;
    let tick = clock_tick();
    let cluster = Cluster::start(kind, users).await?;
    let stats = Arc::new(Stats::default());
    let mut figures = Figures::default();
    let name = kind.name();
    println!(
        "[{name}] two nodes up (pids {:?})",
        cluster.servers.iter().map(Server::pid).collect::<Vec<_>>()
    );

    settle(2).await;
    let idle = cluster.rss();
    figures.set("rss_idle", idle as f64 / MB);

    let started = Instant::now();
    let mut conns = open_all(cluster.targets(0, sockets), &stats).await?;
    let connect_rate = sockets as f64 / started.elapsed().as_secs_f64();
    figures.set("connect_rate", connect_rate);
    settle(3).await;
    let at_sockets = cluster.rss();
    figures.set("rss_sockets", at_sockets as f64 / MB);
    conns.extend(open_all(cluster.targets(sockets, peak), &stats).await?);
    settle(3).await;
    let at_peak = cluster.rss();
    figures.set("rss_peak", at_peak as f64 / MB);
    let per_socket = (at_peak as f64 - at_sockets as f64) / (peak - sockets) as f64;
    figures.set("bytes_per_socket", per_socket);
    println!(
        "[{name}] RSS idle {:.1} MB, {sockets} sockets {:.1} MB, {peak} sockets {:.1} MB: {:.0} B/socket; {connect_rate:.0} connects/s",
        idle as f64 / MB,
        at_sockets as f64 / MB,
        at_peak as f64 / MB,
        per_socket
    );

    close_all(conns).await;
    settle(settle_secs).await;
    let closed = cluster.rss();
    figures.set("rss_closed", closed as f64 / MB);
    for _ in 0..rounds {
        let conns = open_all(cluster.targets(0, peak), &stats).await?;
        close_all(conns).await;
    }
    settle(settle_secs).await;
    let after_rounds = cluster.rss();
    figures.set("rss_rounds", after_rounds as f64 / MB);
    println!(
        "[{name}] RSS after closing all {:.1} MB ({:.0} % of idle), after {rounds} rounds of {peak} {:.1} MB ({:.0} % of idle)",
        closed as f64 / MB,
        closed as f64 * 100.0 / idle as f64,
        after_rounds as f64 / MB,
        after_rounds as f64 * 100.0 / idle as f64
    );

    // Pushes to the user rooms of `sockets` sockets.
    let conns = open_all(cluster.targets(0, sockets), &stats).await?;
    settle(2).await;
    let per_room = sockets / users;
    let pushes_per_sec = (rate / per_room.max(1)).max(1);
    let total = pushes_per_sec * push_secs;
    let period = Duration::from_secs(1) / pushes_per_sec as u32;
    let pad = "x".repeat(72);
    let cpu_before = cluster.cpu(tick);
    stats.start();
    let start = tokio::time::Instant::now();
    let mut published_late = 0usize;
    for i in 0..total {
        let at = start + period * i as u32;
        if tokio::time::Instant::now() > at + period {
            published_late += 1;
        }
        tokio::time::sleep_until(at).await;
        let room = format!("user:{}", cluster.users[i % users].0);
        let push = Push {
            room,
            event: "bench".into(),
            data: json!({ "sent_us": now_us(), "seq": i, "pad": pad }),
        };
        cluster.redis.publish_push(&push).await?;
    }
    let expected = (total * per_room) as u64;
    let drained = Instant::now() + Duration::from_secs(10);
    while stats.delivered.load(Ordering::Relaxed) < expected && Instant::now() < drained {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = start.elapsed();
    let cpu = cluster.cpu(tick).saturating_sub(cpu_before);
    let (delivered, p50, p99) = stats.stop();
    let cpu_per_message_us = cpu.as_secs_f64() * 1e6 / delivered.max(1) as f64;
    figures.set("push_delivered_ratio", delivered as f64 / expected as f64);
    figures.set("push_p50", p50);
    figures.set("push_p99", p99);
    figures.set("push_cpu_us", cpu_per_message_us);
    figures.set("push_cpu_share", cpu.as_secs_f64() / elapsed.as_secs_f64());
    println!(
        "[{name}] pushes: {delivered}/{expected} delivered at {} deliveries/s ({published_late} published late), p50 {p50:.2} ms p99 {p99:.2} ms, server CPU {:.1} µs per delivered message ({:.0} % of a core)",
        pushes_per_sec * per_room,
        cpu_per_message_us,
        cpu.as_secs_f64() * 100.0 / elapsed.as_secs_f64()
    );
    close_all(conns).await;
    let _ = cluster.redis.delete_namespace().await;
    Ok(figures)
}

/// The chat part for one kind, in this process: `NOILLIN_BIN_DIR` names the binaries, the
/// realtime one being the kind under test. Prints one `CHAT {json}` line.
async fn bench_chat() -> Result<(), BoxError> {
    let conversations = setting("CONVERSATIONS", 20);
    let rate = setting("CHAT_RATE", 50);
    let secs = setting("CHAT_SECS", 20);
    let platform = Platform::builder().realtime(2).start().await?;
    let api = platform.api();
    let stats = Arc::new(Stats::default());
    let mut pairs = Vec::new();
    let mut targets = Vec::new();
    for _ in 0..conversations {
        let brand = api.register("brand").await;
        let influencer = api.register("influencer").await;
        let opened = api
            .post(
                "/conversations",
                &json!({ "influencer_id": influencer.id }),
                Some(&brand.access),
            )
            .await;
        if !opened.status.is_success() {
            return Err(format!("POST /conversations: {} {:?}", opened.status, opened.body).into());
        }
        let id = opened.body["id"]
            .as_str()
            .ok_or("a conversation id")?
            .to_owned();
        targets.push((platform.socket_url(), influencer.access.clone()));
        pairs.push((id, brand.access));
    }
    let conns = open_all(targets, &stats).await?;
    settle(2).await;

    let client = reqwest::Client::new();
    let total = rate * secs;
    let period = Duration::from_secs(1) / rate as u32;
    stats.start();
    let start = tokio::time::Instant::now();
    let mut posts = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until(start + period * i as u32).await;
        let (conversation, token) = &pairs[i % pairs.len()];
        let request = client
            .post(platform.url(&format!(
                "/api/v1/conversations/{conversation}/messages"
            )))
            .bearer_auth(token)
            .json(&json!({ "client_id": format!("bench-{i}"), "text": format!("bench {}", now_us()) }))
            .send();
        posts.push(tokio::spawn(async move {
            request.await.map(|r| r.status()).ok()
        }));
    }
    let mut refused = BTreeMap::<String, usize>::new();
    for post in posts {
        let status = post.await.ok().flatten();
        if status != Some(StatusCode::CREATED) {
            *refused
                .entry(status.map_or("error".to_owned(), |s| s.to_string()))
                .or_default() += 1;
        }
    }
    let stored = total - refused.values().sum::<usize>();
    let drained = Instant::now() + Duration::from_secs(10);
    while (stats.delivered.load(Ordering::Relaxed) as usize) < stored && Instant::now() < drained {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (delivered, p50, p99) = stats.stop();
    println!(
        "CHAT {}",
        json!({ "posted": total, "stored": stored, "refused": refused, "delivered": delivered, "p50": p50, "p99": p99, "rate": rate })
    );
    close_all(conns).await;
    Ok(())
}

/// Runs [`bench_chat`] for `kind` in a child process whose `NOILLIN_BIN_DIR` holds the
/// binaries, with `realtime` being the kind under test.
fn chat_in_child(kind: Kind) -> Result<Value, BoxError> {
    let release = binary_path("core-api")?
        .parent()
        .ok_or("a binary directory")?
        .to_owned();
    let bins = tempfile::Builder::new()
        .prefix("noillin-bench-bins-")
        .tempdir()?;
    let bin_dir = match kind {
        Kind::Ours => release,
        Kind::Node => {
            for binary in ["core-api", "worker"] {
                std::os::unix::fs::symlink(release.join(binary), bins.path().join(binary))?;
            }
            let realtime = bins.path().join("realtime");
            std::fs::write(
                &realtime,
                format!("#!/bin/sh\nexec node '{}'\n", node_script().display()),
            )?;
            std::fs::set_permissions(
                &realtime,
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )?;
            bins.path().to_owned()
        }
    };
    let output = Command::new(std::env::current_exe()?)
        .env("NOILLIN_BIN_DIR", &bin_dir)
        .env("BENCH_PART", "chat")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("CHAT "))
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| format!("chat part failed ({}): {stdout}", output.status).into())
}

fn row(label: &str, unit: &str, ours: Option<f64>, node: Option<f64>) {
    let cell = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.2}"));
    let ratio = match (ours, node) {
        (Some(o), Some(n)) if n != 0.0 => format!("{:.2}", o / n),
        _ => "—".to_owned(),
    };
    println!(
        "| {label} | {unit} | {} | {} | {ratio} |",
        cell(ours),
        cell(node)
    );
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    if std::env::var("BENCH_PART").as_deref() == Ok("chat") {
        return bench_chat().await;
    }
    let kinds: Vec<Kind> = std::env::var("KINDS")
        .unwrap_or_else(|_| "ours,node".into())
        .split(',')
        .filter_map(|k| match k.trim() {
            "ours" => Some(Kind::Ours),
            "node" => Some(Kind::Node),
            _ => None,
        })
        .collect();
    let chat = setting("CHAT", 1) == 1;
    let mut results: Vec<(Kind, Figures)> = Vec::new();
    for kind in kinds {
        let mut figures = bench_sockets_and_pushes(kind).await?;
        if chat {
            match chat_in_child(kind) {
                Ok(result) => {
                    println!("[{}] chat: {result}", kind.name());
                    if let (Some(p50), Some(p99)) = (result["p50"].as_f64(), result["p99"].as_f64())
                    {
                        figures.set("chat_p50", p50);
                        figures.set("chat_p99", p99);
                    }
                    if let (Some(delivered), Some(stored)) =
                        (result["delivered"].as_f64(), result["stored"].as_f64())
                    {
                        figures.set("chat_delivered_ratio", delivered / stored.max(1.0));
                    }
                }
                Err(e) => println!("[{}] chat part not measured: {e}", kind.name()),
            }
        }
        results.push((kind, figures));
    }

    let get = |kind: Kind, key: &str| {
        results
            .iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, f)| f.rows.get(key).copied())
    };
    println!();
    println!("| figure (two nodes) | unit | ours | Node | ours/Node |");
    println!("|---|---|---|---|---|");
    for (key, label, unit) in [
        ("rss_idle", "RSS idle", "MB"),
        ("rss_sockets", "RSS with SOCKETS sockets", "MB"),
        ("rss_peak", "RSS with PEAK sockets", "MB"),
        ("bytes_per_socket", "memory per socket (slope)", "bytes"),
        ("rss_closed", "RSS after closing all", "MB"),
        ("rss_rounds", "RSS after the connect/close rounds", "MB"),
        ("connect_rate", "sockets opened", "per s"),
        ("push_cpu_us", "server CPU per delivered push", "µs"),
        ("push_cpu_share", "server CPU during pushes", "cores"),
        ("push_p50", "push send → receive p50", "ms"),
        ("push_p99", "push send → receive p99", "ms"),
        ("push_delivered_ratio", "pushes delivered", "share"),
        ("chat_p50", "POST message → recipient socket p50", "ms"),
        ("chat_p99", "POST message → recipient socket p99", "ms"),
        ("chat_delivered_ratio", "chat messages delivered", "share"),
    ] {
        row(label, unit, get(Kind::Ours, key), get(Kind::Node, key));
    }
    for kind in [Kind::Ours, Kind::Node] {
        if let (Some(idle), Some(closed), Some(rounds)) = (
            get(kind, "rss_idle"),
            get(kind, "rss_closed"),
            get(kind, "rss_rounds"),
        ) {
            println!(
                "{}: RSS after closing all = {:.0} % of idle, after the rounds {:.0} %",
                kind.name(),
                closed * 100.0 / idle,
                rounds * 100.0 / idle
            );
        }
    }
    Ok(())
}
