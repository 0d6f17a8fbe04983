//! The end-to-end test harness: starts the real binaries behind a real NGINX, against the
//! machine's Redis and RabbitMQ, with state isolated per test (own namespace for Redis keys and
//! RabbitMQ names, own temporary data directory), and tears everything down when dropped —
//! also when the test fails.

mod api;
pub mod chat;
mod platform;
mod process;
mod proxy;
mod smtp;
mod socket;
mod stripe;

pub use api::{ApiClient, ApiResponse, TestUser};
pub use platform::{Platform, PlatformBuilder, nginx_binary, render_gateway};
pub use process::{ServiceProcess, binary_path, repo_root, run_to_exit};
pub use proxy::TcpProxy;
pub use smtp::{ReceivedMail, SmtpSink};
pub use socket::{SocketClient, SocketError};
pub use stripe::{start_stripe, stripe_env};

/// Redis the tests use (`REDIS_URL`, default the local server).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| noillin_redis::DEFAULT_URL.to_owned())
}

/// RabbitMQ the tests use (`RABBITMQ_URL`, default the local server).
pub fn rabbitmq_url() -> String {
    std::env::var("RABBITMQ_URL").unwrap_or_else(|_| noillin_messaging::DEFAULT_URL.to_owned())
}

/// A fresh namespace: short, unique, valid as a Redis prefix and in RabbitMQ names.
pub fn unique_namespace() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t{}", &id[..12])
}

/// Deletes what a test with `namespace` left on the shared servers: its Redis keys, and its
/// RabbitMQ exchanges and queues (the retry queues of `retry`'s delays among them). Runs on a
/// thread with its own runtime, so it can be called from `Drop`, inside a runtime or not.
pub fn delete_shared_state(namespace: &str, retry: noillin_messaging::RetryPolicy) {
    let namespace = namespace.to_owned();
    on_own_runtime(async move {
        if let Ok(redis) = noillin_redis::Redis::new(&redis_url(), &namespace) {
            let _ = redis.delete_namespace().await;
        }
        if let Ok(broker) =
            noillin_messaging::Broker::connect(&rabbitmq_url(), &namespace, "test-cleanup").await
        {
            let _ = broker.delete_topology(&retry).await;
            broker.close().await;
        }
    });
}

/// Deletes the holding queues and exchanges of `delays` (delayed messages such as hold
/// expiries) that a test with `namespace` made the broker declare. Like
/// [`delete_shared_state`], callable from `Drop`.
pub fn delete_delay_tiers(namespace: &str, delays: &[std::time::Duration]) {
    let namespace = namespace.to_owned();
    let delays = delays.to_vec();
    on_own_runtime(async move {
        if let Ok(broker) =
            noillin_messaging::Broker::connect(&rabbitmq_url(), &namespace, "test-cleanup").await
        {
            for delay in delays {
                let _ = broker.delete_delay_tier(delay).await;
            }
            broker.close().await;
        }
    });
}

/// Runs `work` to its end on a thread with a runtime of its own, so that cleanup can run from
/// `Drop`, inside a runtime or not.
fn on_own_runtime(work: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            runtime.block_on(work);
        }
    })
    .join();
}

/// Local midnight in `zone` (an IANA name) `days` from today there.
pub fn local_midnight(zone: &str, days: i64) -> jiff::Timestamp {
    let zone = jiff::tz::TimeZone::get(zone).expect("a known zone");
    let day = jiff::Zoned::now().with_time_zone(zone.clone()).date() + jiff::Span::new().days(days);
    day.to_zoned(zone).expect("a local midnight").timestamp()
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: std::time::Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_some(timeout, || {
        let holds = condition();
        async move { holds.await.then_some(()) }
    })
    .await
    .is_some()
}

/// Polls `probe` every 50 ms until it finds something, and returns it; `None` once `timeout`
/// passed without.
pub async fn eventually_some<T, F, Fut>(timeout: std::time::Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(found) = probe().await {
            return Some(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
