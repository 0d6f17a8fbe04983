//! Everything Noillin does with Redis goes through this crate: the connection pool, the
//! deployment's key namespace, slot holds, idempotency keys, the push channel that makes
//! realtime nodes emit to a room, and (feature `socketio`) the Socket.IO cluster adapter of the
//! realtime nodes.

/// Where Redis is unless `REDIS_URL` says otherwise: the local server.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

mod counters;
mod holds;
mod idempotency;
mod marks;
mod push;

pub use counters::{Admission, SignInState, WindowCount};
pub use deadpool_redis::Pool;
pub use holds::{HoldOutcome, SlotHold};
pub use idempotency::{Attempt, Begun, Idempotency, StoredResponse};
pub use push::{Push, PushSubscription, RealtimeCommand, sign_in_room, user_room};
pub use redis::RedisError;

use std::time::Duration;

use deadpool_redis::{Config, PoolConfig, Runtime, Timeouts};

/// Longest wait for a pooled connection, a new one, or a health check of an idle one.
const POOL_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest TTL this crate sets: far beyond any hold or replay window, and small enough that
/// an expiry in milliseconds stays exact in a Lua script's floating-point numbers.
const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

/// A TTL in whole milliseconds, from one to [`MAX_TTL`]: `PEXPIRE 0` would delete the key
/// outright, and too long a TTL is refused by Redis.
fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.min(MAX_TTL).as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Errors from Redis.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis pool: {0}")]
    Pool(#[from] deadpool_redis::PoolError),
    #[error("redis pool setup: {0}")]
    CreatePool(#[from] deadpool_redis::CreatePoolError),
    #[error("push message: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A handle on one Redis deployment, scoped to a namespace: every key and channel this
/// process touches starts with `{namespace}:`.
#[derive(Clone)]
pub struct Redis {
    pool: Pool,
    client: redis::Client,
    namespace: String,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Prepares a pool for `url`. Connections are opened lazily, so a Redis that is down at
    /// start shows up in readiness rather than preventing the process from starting.
    pub fn new(url: &str, namespace: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url)?;
        let mut config = Config::from_url(url);
        // An unreachable Redis fails a command in seconds instead of leaving it waiting.
        config.pool = Some(PoolConfig {
            timeouts: Timeouts {
                wait: Some(POOL_TIMEOUT),
                create: Some(POOL_TIMEOUT),
                recycle: Some(POOL_TIMEOUT),
            },
            ..PoolConfig::default()
        });
        let pool = config.create_pool(Some(Runtime::Tokio1))?;
        Ok(Self {
            pool,
            client,
            namespace: namespace.to_owned(),
        })
    }

    /// The pool, for commands of this process.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// `{namespace}:{suffix}`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.namespace)
    }

    /// Answers when Redis answers PING.
    pub async fn ping(&self) -> Result<(), Error> {
        let mut conn = self.pool.get().await?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    /// Deletes every key of this namespace. For tests and teardown of throwaway deployments.
    pub async fn delete_namespace(&self) -> Result<u64, Error> {
        let mut conn = self.pool.get().await?;
        let pattern = format!("{}:*", self.namespace);
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                deleted += redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async::<u64>(&mut conn)
                    .await?;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// The Socket.IO cluster adapter: lets an emit on one realtime node reach sockets on every
    /// node. Its channels live under this namespace too.
    #[cfg(feature = "socketio")]
    pub async fn socketio_adapter(
        &self,
    ) -> Result<
        socketioxide_redis::RedisAdapterCtr<socketioxide_redis::drivers::redis::RedisDriver>,
        Error,
    > {
        // The adapter needs RESP3 push messages.
        let info = self.client.get_connection_info().clone();
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        let info = info.set_redis_settings(settings);
        let client = redis::Client::open(info)?;
        let config = socketioxide_redis::RedisAdapterConfig::new()
            .with_prefix(format!("{}:socket.io", self.namespace));
        Ok(socketioxide_redis::RedisAdapterCtr::new_with_redis_config(&client, config).await?)
    }
}
