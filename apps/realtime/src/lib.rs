//! realtime: the Socket.IO server. Authenticates sockets with the platform's access tokens, puts
//! each in its user room, and fans events out across nodes through Redis: the cluster adapter
//! carries emits between nodes, and the push channel lets core-api and the worker emit too.

mod chat;
mod config;
mod limits;
mod presence;
mod pushes;
mod request_head;
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
    /// Token versions recorded by core-api (revocations), conversation parties and presence.
    pub redis: Redis,
    /// This process's id among the realtime nodes: random, so a restarted node is a new one.
    pub node_id: Arc<str>,
}

/// A built realtime node, bound to its port, not yet serving.
pub struct App {
    listener: TcpListener,
    router: Router,
    io: Io,
    redis: Redis,
    node_id: Arc<str>,
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
        let node_id: Arc<str> = uuid::Uuid::new_v4().to_string().into();
        let state = SocketState {
            tokens: TokenKeys::new(config.jwt_secret.expose().as_bytes()),
            allowed_origins: Arc::new(config.allowed_origins),
            redis: redis.clone(),
            node_id: node_id.clone(),
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
                .layer(axum::middleware::from_fn(request_head::own_request_head))
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
            node_id,
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
        // Registered before it serves, so its first sockets are counted.
        if let Err(e) = self
            .redis
            .node_heartbeat(&self.node_id, presence::LEASE)
            .await
        {
            tracing::warn!(error = %e, "first heartbeat failed; retrying with the next");
        }
        tracing::info!(node_id = %self.node_id, "realtime node registered");
        let maintainer = tokio::spawn(presence::maintain(
            self.io.clone(),
            self.redis.clone(),
            self.node_id.to_string(),
        ));
        let io = self.io.clone();
        let shutdown = self.shutdown.clone();
        // Long-lived sockets would hold graceful shutdown open forever: close them first.
        tokio::spawn(async move {
            shutdown.wait().await;
            let _ = io.local().disconnect().await;
        });
        let served = http::serve(self.listener, self.router, self.shutdown).await;
        forwarder.abort();
        maintainer.abort();
        // Its sockets' closes uncounted them already; this catches any that did not finish.
        presence::leave(&self.io, &self.redis, &self.node_id).await;
        served?;
        tracing::info!("realtime stopped");
        Ok(())
    }
}
