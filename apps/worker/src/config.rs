//! worker configuration, read from the environment.

use std::time::Duration;

use noillin_messaging::RetryPolicy;
use noillin_service::{
    ServiceConfig,
    config::{CommonConfig, ConfigError, EnvSource},
};
use noillin_store::StoreConfig;

/// Port of the worker's operational endpoints unless `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 4002;

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT` (operational endpoints only), `LOG_FORMAT`, `NAMESPACE`.
    pub common: CommonConfig,
    /// `RABBITMQ_URL`: where the jobs and events come from.
    pub rabbitmq_url: String,
    /// `MONGO_URI` when set, otherwise the embedded SQLite file under `DATA_DIR` (the same
    /// store core-api writes).
    pub store: StoreConfig,
    /// `REDIS_URL`: pushes to the realtime nodes.
    pub redis_url: String,
    /// `SMTP_URL` (`smtp://`, `smtps://`, with credentials if needed); without it mails are
    /// written to the log.
    pub smtp_url: Option<String>,
    /// `SMTP_TIMEOUT_SECS`: how long a mail waits for the SMTP server before the attempt counts
    /// as failed (transiently).
    pub smtp_timeout: Duration,
    /// `MAIL_FROM`: the sender of every mail.
    pub mail_from: String,
    /// `APP_URL`: where the web apps are, for links in mails.
    pub app_url: String,
    /// `WORKER_PREFETCH`: unacknowledged messages the broker may hand this process per queue.
    pub prefetch: u16,
    /// `WORKER_CONCURRENCY`: messages handled at once per queue (at most the prefetch).
    pub concurrency: usize,
    /// `WORKER_RETRY_DELAYS_MS`: comma-separated waits before each retry of a failed message
    /// (default 1 s, 10 s, 1 min, 5 min, 30 min); after the last, it is parked.
    pub retry: RetryPolicy,
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn from_env(source: &EnvSource) -> Result<Self, ConfigError> {
        let mut env = source.reader();
        let common = CommonConfig::read(&mut env, DEFAULT_PORT);
        let rabbitmq_url = env.string_or("RABBITMQ_URL", noillin_messaging::DEFAULT_URL);
        if let Err(e) = noillin_messaging::check_url(&rabbitmq_url) {
            env.problem("RABBITMQ_URL", e);
        }
        let store = StoreConfig::from_vars(|name| env.optional(name));
        let redis_url = env.string_or("REDIS_URL", noillin_redis::DEFAULT_URL);
        let smtp_url = env.optional("SMTP_URL");
        let smtp_timeout = env.parse_or("SMTP_TIMEOUT_SECS", 10u64);
        if !(1..=300).contains(&smtp_timeout) {
            env.problem("SMTP_TIMEOUT_SECS", "must be between 1 and 300");
        }
        let mail_from = env.string_or("MAIL_FROM", "Noillin <no-reply@noillin.local>");
        let app_url = env
            .string_or("APP_URL", "http://localhost:8080")
            .trim_end_matches('/')
            .to_owned();
        if !(app_url.starts_with("http://") || app_url.starts_with("https://")) {
            env.problem("APP_URL", "must be an http:// or https:// URL");
        }
        let prefetch = env.parse_or("WORKER_PREFETCH", 32u16);
        if prefetch == 0 {
            env.problem("WORKER_PREFETCH", "must be at least 1");
        }
        let concurrency = env.parse_or("WORKER_CONCURRENCY", 8usize);
        if concurrency == 0 || concurrency > usize::from(prefetch.max(1)) {
            env.problem(
                "WORKER_CONCURRENCY",
                "must be between 1 and WORKER_PREFETCH",
            );
        }
        let retry = env.parse_or("WORKER_RETRY_DELAYS_MS", RetryPolicy::default());
        env.finish(|| {
            Some(Self {
                common,
                rabbitmq_url,
                store,
                redis_url,
                smtp_url,
                smtp_timeout: Duration::from_secs(smtp_timeout),
                mail_from,
                app_url,
                prefetch,
                concurrency,
                retry,
            })
        })
    }
}
