//! Everything Noillin does with Redis goes through this crate: the connection pool, the
//! deployment's key namespace, slot holds, idempotency keys, the push channel that makes
//! realtime nodes emit to a room, the parties of each conversation, the presence of users on the
//! realtime nodes, and (feature `socketio`) the Socket.IO cluster adapter of the realtime nodes.

/// Where Redis is unless `REDIS_URL` says otherwise: the local server.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

mod chat;
mod clock;
mod counters;
mod holds;
mod idempotency;
mod marks;
mod presence;
mod push;

pub use counters::{Admission, SignInState, WindowCount};
pub use deadpool_redis::Pool;
pub use holds::{HoldOutcome, SlotHold};
pub use idempotency::{Attempt, Begun, Idempotency, StoredResponse};
pub use presence::{Connected, Heartbeat};
pub use push::{Push, PushSubscription, RealtimeCommand, sign_in_room, user_room};
pub use redis::RedisError;

use std::time::Duration;

use deadpool_redis::Runtime;

/// Connections per process. Commands take well under a millisecond, but a request holds its
/// connection until its task is polled again: under a burst on a busy machine (a thousand
/// booking attempts at once) a small pool makes requests queue for a connection past
/// [`POOL_TIMEOUT`]. Redis serves ten thousand clients by default; a few processes of this many
/// are far from it.
const POOL_SIZE: usize = 64;

/// Longest wait for a pooled connection, a new one, a health check of an idle one, or a
/// command's answer. A Redis that refuses connections fails at once; this bounds the wait for
/// one that does not answer.
/// It is several seconds because on a saturated process (a burst of a thousand requests on two
/// cores) even a healthy connect completes late, and a request must not fail closed for that.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

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
    BuildPool(#[from] deadpool_redis::BuildError),
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
        // redis-rs gives each connection a 500 ms response timeout by default: a healthy Redis
        // answers in well under that, but a saturated process polls the answer late, and a
        // request must not fail closed for its own slowness. An unreachable Redis still fails a
        // command in seconds instead of leaving it waiting.
        let connection = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(POOL_TIMEOUT))
            .set_response_timeout(Some(POOL_TIMEOUT));
        let manager = deadpool_redis::Manager::new_with_config(url, connection)?;
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()?;
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
        self.delete_matching("*").await
    }

    /// Deletes the namespace's keys whose rest matches the glob `pattern`; returns how many.
    async fn delete_matching(&self, pattern: &str) -> Result<u64, Error> {
        let keys = self.keys_matching(pattern).await?;
        let mut conn = self.pool.get().await?;
        let mut deleted = 0;
        for batch in keys.chunks(500) {
            deleted += redis::cmd("UNLINK")
                .arg(batch)
                .query_async::<u64>(&mut conn)
                .await?;
        }
        Ok(deleted)
    }

    /// The namespace's keys whose rest matches the glob `pattern` (a SCAN: for tests and
    /// operators, never on a request's path).
    async fn keys_matching(&self, pattern: &str) -> Result<Vec<String>, Error> {
        let mut conn = self.pool.get().await?;
        let pattern = format!("{}:{pattern}", self.namespace);
        let mut cursor: u64 = 0;
        let mut found = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await?;
            found.extend(keys);
            if next == 0 {
                return Ok(found);
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
