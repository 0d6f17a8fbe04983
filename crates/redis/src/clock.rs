//! A clock shared by every process of a deployment that only moves forward: each reading is
//! above every earlier one, whichever process took it. The search-sync handler versions the
//! documents it writes with it (see `apps/worker/src/search.rs`).

use std::sync::LazyLock;

use redis::Script;

use crate::{Error, Redis};

/// One tick past the last reading, or the caller's time in microseconds if that is later. The
/// time floor makes the clock survive the loss of its key: the next reading starts from the
/// present, which is above every earlier reading as long as fewer than a million readings a
/// second were taken. KEYS[1]: the clock; ARGV[1]: the caller's time in microseconds.
static TICK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local reading = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if reading < floor then
  redis.call('SET', KEYS[1], ARGV[1])
  reading = floor
end
return reading
",
    )
});

impl Redis {
    /// The next reading of the clock `{namespace}:clock:{name}`: greater than every reading
    /// taken before it returned, in any process. Readings are microseconds since the Unix epoch
    /// or a little above, so they stay below 2^53 (exact in an `f64`) for centuries.
    pub async fn tick(&self, name: &str) -> Result<u64, Error> {
        let now_micros = u64::try_from(jiff::Timestamp::now().as_microsecond()).unwrap_or(0);
        let mut conn = self.pool().get().await?;
        let reading: u64 = TICK
            .key(self.key(&format!("clock:{name}")))
            .arg(now_micros)
            .invoke_async(&mut conn)
            .await?;
        Ok(reading)
    }
}
