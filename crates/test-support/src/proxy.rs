//! A TCP proxy a test controls, put between a service and a shared backing server (Redis,
//! RabbitMQ, SMTP) so the test can cut that one service's connections, as a network failure
//! would, without stopping the server other tests use, and later let it reconnect.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::{JoinHandle, JoinSet},
};

/// Forwards every connection made to [`TcpProxy::addr`] to the upstream address; stops, closing
/// every forwarded connection, when dropped.
pub struct TcpProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

struct Shared {
    upstream: SocketAddr,
    /// `true` while cut: forwarding tasks end when they see it, new connections are closed.
    cut: watch::Sender<bool>,
    connections_total: AtomicUsize,
    connections_open: AtomicUsize,
}

impl TcpProxy {
    /// Binds 127.0.0.1 on a free port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy binds a loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let shared = Arc::new(Shared {
            upstream,
            cut: watch::Sender::new(false),
            connections_total: AtomicUsize::new(0),
            connections_open: AtomicUsize::new(0),
        });
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Self {
            addr,
            shared,
            accept_task,
        }
    }

    /// A proxy in front of the server `url` names (`redis://host:port`,
    /// `amqp://user:pass@host:port/vhost`, ...), and `url` pointed at the proxy instead: what
    /// to give the one process whose connection the test cuts.
    pub async fn in_front_of(url: &str) -> (Self, String) {
        let target = UrlTarget::parse(url);
        let upstream = tokio::net::lookup_host(&target.host_port)
            .await
            .unwrap_or_else(|e| panic!("proxy: cannot resolve {}: {e}", target.host_port))
            .next()
            .unwrap_or_else(|| panic!("proxy: {} has no address", target.host_port));
        let proxy = Self::start(upstream).await;
        let proxied = target.with_host_port(&proxy.addr().to_string());
        (proxy, proxied)
    }

    /// Where clients connect instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// Closes every forwarded connection and, until [`TcpProxy::restore`], closes each new one
    /// as soon as it is accepted (the client connects, then reads EOF). Returns once every
    /// forwarded connection is closed on both sides.
    pub async fn cut(&self) {
        self.shared.cut.send_replace(true);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.shared.connections_open.load(Ordering::SeqCst) > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "proxy: forwarded connections still open 5 s after the cut"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.shared.cut.send_replace(false);
    }

    pub fn is_cut(&self) -> bool {
        *self.shared.cut.borrow()
    }

    /// Connections accepted since the start, including those closed at once while cut.
    pub fn connections_total(&self) -> usize {
        self.shared.connections_total.load(Ordering::SeqCst)
    }

    /// Connections being forwarded now.
    pub fn connections_open(&self) -> usize {
        self.shared.connections_open.load(Ordering::SeqCst)
    }
}

/// A URL cut around its `host:port`.
struct UrlTarget {
    /// `scheme://` and the user info with its `@`, if any.
    head: String,
    /// The server, with the scheme's default port when the URL has none.
    host_port: String,
    /// Path, query and fragment.
    tail: String,
}

impl UrlTarget {
    fn parse(url: &str) -> Self {
        let (scheme, rest) = url
            .split_once("://")
            .unwrap_or_else(|| panic!("proxy: not a URL: {url}"));
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (user_info, host_port) = match authority.rsplit_once('@') {
            Some((user_info, host_port)) => (format!("{user_info}@"), host_port),
            None => (String::new(), authority),
        };
        let has_port = host_port
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
        let host_port = if has_port {
            host_port.to_owned()
        } else {
            let port = match scheme {
                "redis" => 6379,
                "amqp" => 5672,
                "smtp" => 25,
                other => panic!("proxy: no default port known for {other}://"),
            };
            format!("{host_port}:{port}")
        };
        Self {
            head: format!("{scheme}://{user_info}"),
            host_port,
            tail: tail.to_owned(),
        }
    }

    fn with_host_port(&self, host_port: &str) -> String {
        format!("{}{host_port}{}", self.head, self.tail)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        // The forwarding tasks live in a JoinSet owned by the accept task, so they go with it.
        self.accept_task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut forwarding = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                shared.connections_total.fetch_add(1, Ordering::SeqCst);
                if *shared.cut.borrow() {
                    drop(client);
                    continue;
                }
                // Counted before the task runs, so a `cut` right after an accept waits for it.
                let open = OpenConnection::count(&shared);
                forwarding.spawn(forward(client, Arc::clone(&shared), open));
            }
            Some(_) = forwarding.join_next(), if !forwarding.is_empty() => {}
        }
    }
}

/// One forwarded connection in `connections_open`, uncounted however its task ends (aborted
/// before it first ran included, since the task owns it from the spawn).
struct OpenConnection(Arc<Shared>);

impl OpenConnection {
    fn count(shared: &Arc<Shared>) -> Self {
        shared.connections_open.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(shared))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn forward(mut client: TcpStream, shared: Arc<Shared>, _open: OpenConnection) {
    let mut cut = shared.cut.subscribe();
    tokio::select! {
        _ = async {
            let Ok(mut upstream) = TcpStream::connect(shared.upstream).await else { return };
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        } => {}
        // `wait_for` looks at the current value first, so a cut before this point counts.
        _ = cut.wait_for(|is_cut| *is_cut) => {}
    }
    // Both sockets are dropped here, closing the connection towards each side.
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An upstream that echoes every byte back.
    async fn echo_server() -> (SocketAddr, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let (mut read, mut write) = socket.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        (addr, task)
    }

    async fn round_trip(stream: &mut TcpStream, text: &[u8]) -> Vec<u8> {
        stream.write_all(text).await.unwrap();
        let mut buffer = vec![0; text.len()];
        stream.read_exact(&mut buffer).await.unwrap();
        buffer
    }

    /// Whether the peer closed: a read gives EOF or an error (a reset) within a second.
    async fn is_closed(stream: &mut TcpStream) -> bool {
        let mut buffer = [0u8; 8];
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => true,
            Ok(Ok(_)) | Err(_) => false,
        }
    }

    #[tokio::test]
    async fn bytes_flow_both_ways_through_the_proxy() {
        let (upstream, _echo) = echo_server().await;
        let proxy = TcpProxy::start(upstream).await;
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut stream, b"hello").await, b"hello");
        assert_eq!(proxy.connections_total(), 1);
        assert_eq!(proxy.upstream(), upstream);
        assert!(!proxy.is_cut());
    }

    #[tokio::test]
    async fn cut_closes_open_connections_and_new_ones_until_restored() {
        let (upstream, _echo) = echo_server().await;
        let proxy = TcpProxy::start(upstream).await;
        let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut open, b"before").await, b"before");

        proxy.cut().await;
        assert!(proxy.is_cut());
        assert_eq!(proxy.connections_open(), 0);
        assert!(is_closed(&mut open).await, "the open connection is closed");
        let mut during = TcpStream::connect(proxy.addr()).await.unwrap();
        let _ = during.write_all(b"lost").await;
        assert!(is_closed(&mut during).await, "a new connection is closed");

        proxy.restore();
        let mut after = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut after, b"after").await, b"after");
        assert_eq!(proxy.connections_total(), 3);
    }

    #[test]
    fn a_url_is_pointed_at_the_proxy_keeping_credentials_and_path() {
        let amqp = UrlTarget::parse("amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(amqp.host_port, "127.0.0.1:5672");
        assert_eq!(
            amqp.with_host_port("127.0.0.1:40000"),
            "amqp://guest:guest@127.0.0.1:40000/%2f"
        );
        let redis = UrlTarget::parse("redis://localhost");
        assert_eq!(redis.host_port, "localhost:6379");
        assert_eq!(redis.with_host_port("127.0.0.1:1"), "redis://127.0.0.1:1");
        let ipv6 = UrlTarget::parse("redis://[::1]?protocol=resp3");
        assert_eq!(ipv6.host_port, "[::1]:6379");
        assert_eq!(
            ipv6.with_host_port("127.0.0.1:2"),
            "redis://127.0.0.1:2?protocol=resp3"
        );
    }

    #[tokio::test]
    async fn in_front_of_forwards_to_the_server_the_url_names() {
        let (upstream, _echo) = echo_server().await;
        let (proxy, url) = TcpProxy::in_front_of(&format!("redis://u:p@{upstream}/0")).await;
        assert_eq!(proxy.upstream(), upstream);
        assert_eq!(url, format!("redis://u:p@{}/0", proxy.addr()));
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut stream, b"ping").await, b"ping");
    }

    #[tokio::test]
    async fn dropping_the_proxy_closes_forwarded_connections() {
        let (upstream, _echo) = echo_server().await;
        let proxy = TcpProxy::start(upstream).await;
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut stream, b"x").await, b"x");
        drop(proxy);
        assert!(is_closed(&mut stream).await);
    }
}
