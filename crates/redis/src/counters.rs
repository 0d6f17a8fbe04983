//! Fixed-window counters (login throttling), and what processes without the store (realtime)
//! check tokens against: each user's token version and the sign-ins that ended.

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

/// The admission step of a throttled attempt, for every counter at once: if any counter is at
/// its limit, nothing changes and the longest wait is returned; otherwise every counter takes
/// the attempt (starting its window on the first hit) and -1 is returned. One script, so
/// concurrent attempts cannot all pass a check that none of them has counted yet.
/// KEYS: the counters; ARGV[1]: the window in seconds; ARGV[1 + i]: the limit of KEYS[i].
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local window = tonumber(ARGV[1])
local wait = -1
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[i + 1]) then
    local ttl = redis.call('TTL', key)
    if ttl < 0 then redis.call('EXPIRE', key, window); ttl = window end
    if ttl > wait then wait = ttl end
  end
end
if wait >= 0 then return wait end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 or redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, window)
  end
end
return -1
",
    )
});

/// Takes one back from each counter that still holds one, keeping its window.
static GIVE_BACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 1
",
    )
});

/// What the throttle said to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Counted by every counter: the attempt may go ahead.
    Admitted,
    /// A counter is at its limit; nothing was counted.
    Refused { retry_after_secs: u64 },
}

/// What realtime needs to know about a token's sign-in, read in one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInState {
    /// The user's last recorded token version, if any was recorded.
    pub token_version: Option<u32>,
    /// Whether the sign-in ended (logout, refresh-token reuse).
    pub ended: bool,
}

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

    /// Admits an attempt counted by the counters `{namespace}:{name}`, each with its limit, in
    /// windows `window_secs` long: refused, counting nothing, when any counter is at its limit;
    /// otherwise counted by all of them, atomically.
    pub async fn admit(
        &self,
        counters: &[(&str, u64)],
        window_secs: u64,
    ) -> Result<Admission, Error> {
        let mut invocation = ADMIT.prepare_invoke();
        invocation.arg(window_secs);
        for (name, limit) in counters {
            invocation.key(self.key(name)).arg(*limit);
        }
        let mut conn = self.pool().get().await?;
        let wait: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(match u64::try_from(wait) {
            Ok(retry_after_secs) => Admission::Refused { retry_after_secs },
            Err(_) => Admission::Admitted,
        })
    }

    /// Takes back an attempt [`Redis::admit`] counted, from each named counter still holding
    /// one.
    pub async fn give_back(&self, names: &[&str]) -> Result<(), Error> {
        let mut invocation = GIVE_BACK.prepare_invoke();
        for name in names {
            invocation.key(self.key(name));
        }
        let mut conn = self.pool().get().await?;
        let _: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(())
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

    fn ended_sign_in_key(&self, session_id: &str) -> String {
        self.key(&format!("ended-session:{session_id}"))
    }

    /// Records that the sign-in `session_id` ended, for `ttl_secs`: as long as access tokens
    /// issued to it can still be presented.
    pub async fn end_sign_in(&self, session_id: &str, ttl_secs: u64) -> Result<(), Error> {
        let mut conn = self.pool().get().await?;
        let _: () = redis::cmd("SET")
            .arg(self.ended_sign_in_key(session_id))
            .arg(1)
            .arg("EX")
            .arg(ttl_secs.max(1))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Whether the sign-in `session_id` ended.
    pub async fn sign_in_ended(&self, session_id: &str) -> Result<bool, Error> {
        let mut conn = self.pool().get().await?;
        let ended: bool = redis::cmd("EXISTS")
            .arg(self.ended_sign_in_key(session_id))
            .query_async(&mut conn)
            .await?;
        Ok(ended)
    }

    /// A user's recorded token version and whether the sign-in `session_id` ended, in one
    /// round trip.
    pub async fn sign_in_state(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<SignInState, Error> {
        let mut conn = self.pool().get().await?;
        let (token_version, ended): (Option<u32>, bool) = redis::pipe()
            .get(self.token_version_key(user_id))
            .exists(self.ended_sign_in_key(session_id))
            .query_async(&mut conn)
            .await?;
        Ok(SignInState {
            token_version,
            ended,
        })
    }
}
