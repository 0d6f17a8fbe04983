//! worker configuration, read from the environment.

use noillin_service::{
    ServiceConfig,
    config::{CommonConfig, ConfigError, EnvSource},
};

/// Port of the worker's operational endpoints unless `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 4002;

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT` (operational endpoints only), `LOG_FORMAT`, `NAMESPACE`.
    pub common: CommonConfig,
    /// `RABBITMQ_URL`: where the jobs and events come from.
    pub rabbitmq_url: String,
    /// `WORKER_PREFETCH`: unacknowledged messages the broker may hand this process per queue.
    pub prefetch: u16,
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn from_env(source: &EnvSource) -> Result<Self, ConfigError> {
        let mut env = source.reader();
        let common = CommonConfig::read(&mut env, DEFAULT_PORT);
        let rabbitmq_url = env.string_or("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
        let prefetch = env.parse_or("WORKER_PREFETCH", 32u16);
        if prefetch == 0 {
            env.problem("WORKER_PREFETCH", "must be at least 1");
        }
        env.finish(|| {
            Some(Self {
                common,
                rabbitmq_url,
                prefetch,
            })
        })
    }
}
