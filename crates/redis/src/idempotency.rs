//! Idempotency keys: a client that sends a key with a request may repeat the request, and only
//! the first runs; a repeat gets the first response back (IETF idempotency-key draft, as Stripe
//! does it).
//!
//! One record per (scope, key) at `{namespace}:idem:<scope>:<sha256 hex of the key>`: the client
//! key is hashed, so any text the caller allowed makes a fixed-length, colon-free key. The record
//! is a hash with the request's fingerprint and either the attempt running it (a short TTL, so a
//! process that dies mid-request frees the key) or the stored response (kept for the replay
//! TTL). [`Idempotency::begin`] decides what a request with a key does, atomically, so of two
//! concurrent first requests exactly one runs. Completing and abandoning are compare-and-set on
//! the attempt: an attempt whose marker lapsed and whose key another attempt took since changes
//! nothing.

use std::{sync::LazyLock, time::Duration};

use redis::Script;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Redis, ttl_millis};

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The headers a replay repeats (names lower-case), in order.
    pub headers: Vec<(String, String)>,
    /// The body. Every body of this API is JSON, so it is kept as text.
    pub body: String,
}

/// What a request carrying an idempotency key is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// First of its key: run it, then [`Idempotency::complete`] or [`Idempotency::abandon`].
    Started(Attempt),
    /// A request with this key and fingerprint is still running.
    Running,
    /// The key was used for a different request.
    Mismatch,
    /// The key's request ran; answer with its response.
    Completed(StoredResponse),
}

/// The right to run the request of one key, held by the first request that presented it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    key: String,
    id: String,
}

/// Creates the record with its running attempt, or reads the existing one. KEYS[1]: the
/// record; ARGV: fingerprint, attempt id, marker TTL ms. Returns `{}` when started, else
/// `{fingerprint, response or false}`.
static BEGIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'attempt', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {}
end
return redis.call('HMGET', KEYS[1], 'fingerprint', 'response')
",
    )
});

/// Stores the response if the attempt still holds the record. KEYS[1]: the record; ARGV:
/// attempt id, response JSON, replay TTL ms. Returns 1 when stored.
static COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'response', ARGV[2])
redis.call('HDEL', KEYS[1], 'attempt')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
",
    )
});

/// Deletes the record if the attempt still holds it. KEYS[1]: the record; ARGV[1]: attempt id.
static ABANDON: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
",
    )
});

/// The idempotency records of one [`Redis`] namespace.
#[derive(Debug, Clone, Copy)]
pub struct Idempotency<'a> {
    redis: &'a Redis,
}

impl Redis {
    /// The idempotency records of this namespace.
    pub fn idempotency(&self) -> Idempotency<'_> {
        Idempotency { redis: self }
    }
}

impl Idempotency<'_> {
    /// Decides what the request `fingerprint` carrying `key` does for the caller `scope`. When
    /// it is the first, it is marked running for `running_ttl`: longer than any request runs,
    /// short enough that a process that died mid-request does not block the key for long.
    pub async fn begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &[u8],
        running_ttl: Duration,
    ) -> Result<Begun, Error> {
        let record = self.record_key(scope, key);
        let fingerprint = hex::encode(Sha256::digest(fingerprint));
        let attempt = uuid::Uuid::new_v4().simple().to_string();
        let mut conn = self.redis.pool().get().await?;
        let found: Vec<Option<String>> = BEGIN
            .key(&record)
            .arg(&fingerprint)
            .arg(&attempt)
            .arg(ttl_millis(running_ttl))
            .invoke_async(&mut conn)
            .await?;
        let (stored_fingerprint, response) = match found.as_slice() {
            [] => {
                return Ok(Begun::Started(Attempt {
                    key: record,
                    id: attempt,
                }));
            }
            [stored_fingerprint, response] => (stored_fingerprint, response),
            _ => return Err(unreadable("unexpected reply to begin")),
        };
        if stored_fingerprint.as_deref() != Some(fingerprint.as_str()) {
            return Ok(Begun::Mismatch);
        }
        match response {
            None => Ok(Begun::Running),
            Some(json) => Ok(Begun::Completed(serde_json::from_str(json)?)),
        }
    }

    /// Stores the response of `attempt` for `replay_ttl`. Returns whether it was stored: not
    /// when the attempt's marker lapsed and the key moved on.
    pub async fn complete(
        &self,
        attempt: &Attempt,
        response: &StoredResponse,
        replay_ttl: Duration,
    ) -> Result<bool, Error> {
        let json = serde_json::to_string(response)?;
        let mut conn = self.redis.pool().get().await?;
        let stored: i64 = COMPLETE
            .key(&attempt.key)
            .arg(&attempt.id)
            .arg(json)
            .arg(ttl_millis(replay_ttl))
            .invoke_async(&mut conn)
            .await?;
        Ok(stored == 1)
    }

    /// Frees the key of `attempt` without a response, so the client may retry: for requests
    /// that failed on the server's side or never finished.
    pub async fn abandon(&self, attempt: &Attempt) -> Result<(), Error> {
        let mut conn = self.redis.pool().get().await?;
        let _: i64 = ABANDON
            .key(&attempt.key)
            .arg(&attempt.id)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    fn record_key(&self, scope: &str, key: &str) -> String {
        let digest = hex::encode(Sha256::digest(key.as_bytes()));
        self.redis.key(&format!("idem:{scope}:{digest}"))
    }
}

fn unreadable(what: &'static str) -> Error {
    Error::Redis(redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        what,
    )))
}
