//! realtime: the Socket.IO server. Authenticates sockets with the platform's access tokens, puts
//! each in its user room, and fans events out across nodes through Redis: the cluster adapter
//! carries emits between nodes, and the push channel lets core-api and the worker emit too.

mod config;
mod pushes;
mod sockets;

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use noillin_auth::TokenKeys;
use noillin_redis::Redis;
use noillin_service::{http, ops, problem, shutdown::Shutdown};
use socketioxide::SocketIo;
use socketioxide_redis::RedisAdapter;
use tokio::net::TcpListener;

pub use config::{Config, DEFAULT_PORT};

const SERVICE: &str = "realtime";

/// Largest Socket.IO packet a client may send; larger frames close the connection.
const MAX_PAYLOAD_BYTES: u64 = 64 * 1024;

type Io = SocketIo<RedisAdapter<socketioxide::adapter::Emitter>>;

/// What the socket handlers can reach.
#[derive(Clone)]
pub struct SocketState {
    /// Verifies the access token of every handshake.
    pub tokens: TokenKeys,
    /// Browser origins allowed to connect.
    pub allowed_origins: Arc<Vec<String>>,
    /// Token versions recorded by core-api (revocations).
    pub redis: Redis,
}

/// A built realtime node, bound to its port, not yet serving.
pub struct App {
    listener: TcpListener,
    router: Router,
    io: Io,
    redis: Redis,
    shutdown: Shutdown,
}

impl App {
    /// Builds the app; `metrics` is the handle `/metrics` renders (the binary passes the
    /// process-wide recorder's).
    pub async fn build(config: Config, metrics: PrometheusHandle) -> anyhow::Result<Self> {
        let redis = Redis::new(&config.redis_url, &config.common.namespace).context("REDIS_URL")?;
        let adapter = redis
            .socketio_adapter()
            .await
            .context("connecting the Socket.IO cluster adapter to Redis")?;
        let state = SocketState {
            tokens: TokenKeys::new(config.jwt_secret.expose().as_bytes()),
            allowed_origins: Arc::new(config.allowed_origins),
            redis: redis.clone(),
        };
        let (layer, io) = SocketIo::builder()
            .req_path("/socket")
            .max_payload(MAX_PAYLOAD_BYTES)
            .ws_max_message_size(MAX_PAYLOAD_BYTES as usize)
            .ws_max_frame_size(MAX_PAYLOAD_BYTES as usize)
            .max_buffer_size(256)
            // Every websocket keeps a read buffer this size (tungstenite zero-fills it); client
            // packets are small, and a larger frame grows it as needed.
            .ws_read_buffer_size(1024)
            .with_state(state)
            .with_adapter::<RedisAdapter<_>>(adapter)
            .build_layer();
        sockets::register(&io).await?;

        let readiness =
            ops::Readiness::default().probe("redis", redis.clone(), |redis| async move {
                redis.ping().await
            });
        let router = http::instrument(
            Router::new()
                .merge(ops::router(SERVICE, readiness, metrics))
                .fallback(problem::not_found)
                .layer(layer)
                .layer(axum::middleware::from_fn(sockets::refuse_repeated_origin)),
        );
        let listener = http::bind(config.common.port)
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.common.port))?;
        Ok(Self {
            listener,
            router,
            io,
            redis,
            shutdown: Shutdown::default(),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until SIGTERM/SIGINT; then closes every socket (clients reconnect to another
    /// node) and stops.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        http::log_listening(SERVICE, &self.listener)?;
        self.shutdown.trigger_on_signal();
        let forwarder = tokio::spawn(pushes::forward(self.redis.clone(), self.io.clone()));
        let io = self.io.clone();
        let shutdown = self.shutdown.clone();
        // Long-lived sockets would hold graceful shutdown open forever: close them first.
        tokio::spawn(async move {
            shutdown.wait().await;
            let _ = io.local().disconnect().await;
        });
        http::serve(self.listener, self.router, self.shutdown).await?;
        forwarder.abort();
        tracing::info!("realtime stopped");
        Ok(())
    }
}
