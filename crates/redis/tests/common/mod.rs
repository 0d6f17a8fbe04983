//! What the tests of this crate share: a Redis handle of their own.

use noillin_redis::Redis;

/// A Redis handle in a fresh namespace, whose keys are deleted when it is dropped (also when
/// the test fails).
pub struct TestRedis {
    pub redis: Redis,
}

impl TestRedis {
    pub fn new() -> Self {
        let url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| noillin_redis::DEFAULT_URL.to_owned());
        let namespace = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        Self {
            redis: Redis::new(&url, &namespace).expect("redis url"),
        }
    }
}

impl std::ops::Deref for TestRedis {
    type Target = Redis;

    fn deref(&self) -> &Redis {
        &self.redis
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let redis = self.redis.clone();
        // Drop cannot await, and may run outside a runtime: clean up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(redis.delete_namespace())
        })
        .join();
    }
}
