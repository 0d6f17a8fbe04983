//! Marks that a one-off effect is done (a command sent for one message), so a redelivery of the
//! message does not repeat it. They expire: past the expiry, a redelivery is not expected.

use crate::{Error, Redis};

impl Redis {
    /// Whether the mark `{namespace}:{name}` is set.
    pub async fn is_marked(&self, name: &str) -> Result<bool, Error> {
        let mut conn = self.pool().get().await?;
        let exists: u64 = redis::cmd("EXISTS")
            .arg(self.key(name))
            .query_async(&mut conn)
            .await?;
        Ok(exists > 0)
    }

    /// Sets the mark `{namespace}:{name}` for `ttl_secs`.
    pub async fn mark(&self, name: &str, ttl_secs: u64) -> Result<(), Error> {
        let mut conn = self.pool().get().await?;
        let _: () = redis::cmd("SET")
            .arg(self.key(name))
            .arg(1)
            .arg("EX")
            .arg(ttl_secs.max(1))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }
}
