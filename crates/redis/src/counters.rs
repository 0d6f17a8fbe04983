//! Fixed-window counters (login throttling) and the token-version cache that realtime checks
//! socket tokens against.

use std::sync::LazyLock;

use redis::Script;

use crate::{Error, Redis};

/// A counter's state after an increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub count: u64,
    /// Seconds until the window ends and the counter resets.
    pub resets_in_secs: u64,
}

/// Increments and starts the window on the first hit, atomically. Built once: a script's
/// SHA-1 is computed when it is made, and sign-ins run this on every failure.
static INCREMENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
",
    )
});

/// Sets a token version unless a higher one is recorded, atomically.
static RAISE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
",
    )
});

impl Redis {
    /// Adds one to the counter `{namespace}:{name}` whose window is `window_secs` long.
    pub async fn increment_window(
        &self,
        name: &str,
        window_secs: u64,
    ) -> Result<WindowCount, Error> {
        let mut conn = self.pool().get().await?;
        let (count, ttl): (u64, i64) = INCREMENT
            .key(self.key(name))
            .arg(window_secs)
            .invoke_async(&mut conn)
            .await?;
        Ok(WindowCount {
            count,
            resets_in_secs: ttl.max(0).unsigned_abs(),
        })
    }

    /// The counter's current state (zero when absent).
    pub async fn window(&self, name: &str) -> Result<WindowCount, Error> {
        let mut conn = self.pool().get().await?;
        let key = self.key(name);
        let (count, ttl): (Option<u64>, i64) = redis::pipe()
            .get(&key)
            .ttl(&key)
            .query_async(&mut conn)
            .await?;
        Ok(WindowCount {
            count: count.unwrap_or(0),
            resets_in_secs: ttl.max(0).unsigned_abs(),
        })
    }

    /// Deletes a counter.
    pub async fn reset_window(&self, name: &str) -> Result<(), Error> {
        let mut conn = self.pool().get().await?;
        let _: u64 = redis::cmd("DEL")
            .arg(self.key(name))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    fn token_version_key(&self, user_id: &str) -> String {
        self.key(&format!("token-version:{user_id}"))
    }

    /// Records a user's current token version, so processes without the store (realtime) can
    /// refuse tokens issued before a revocation. Only ever raised.
    pub async fn publish_token_version(&self, user_id: &str, version: u32) -> Result<(), Error> {
        let mut conn = self.pool().get().await?;
        let _: i64 = RAISE
            .key(self.token_version_key(user_id))
            .arg(version)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// The last recorded token version of a user, if any was recorded.
    pub async fn token_version(&self, user_id: &str) -> Result<Option<u32>, Error> {
        let mut conn = self.pool().get().await?;
        let version: Option<u32> = redis::cmd("GET")
            .arg(self.token_version_key(user_id))
            .query_async(&mut conn)
            .await?;
        Ok(version)
    }
}
