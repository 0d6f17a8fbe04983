//! core-api configuration, read from the environment.

use std::path::PathBuf;

use noillin_service::config::{CommonConfig, ConfigError, EnvSource, Secret};
use noillin_store::StoreConfig;

/// Port core-api listens on unless `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 4000;

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`, `LOG_FORMAT`, `NAMESPACE`.
    pub common: CommonConfig,
    /// `REDIS_URL`: slot locks, rate limits, pushes.
    pub redis_url: String,
    /// `RABBITMQ_URL`: domain events and jobs.
    pub rabbitmq_url: String,
    /// `MONGO_URI` when set, otherwise the embedded SQLite file under `DATA_DIR`.
    pub store: StoreConfig,
    /// `JWT_SECRET`: signs access tokens (at least 32 bytes).
    pub jwt_secret: Secret,
}

impl Config {
    pub fn from_env(source: &EnvSource) -> Result<Self, ConfigError> {
        let mut env = source.reader();
        let common = CommonConfig::read(&mut env, DEFAULT_PORT);
        let redis_url = env.string_or("REDIS_URL", "redis://127.0.0.1:6379");
        let rabbitmq_url = env.string_or("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
        let store = match env.optional("MONGO_URI") {
            Some(uri) => StoreConfig::Mongo { uri },
            None => StoreConfig::Embedded {
                data_dir: PathBuf::from(env.string_or("DATA_DIR", "./data")),
            },
        };
        let jwt_secret = env.secret("JWT_SECRET", 32);
        env.finish(|| {
            Some(Self {
                common,
                redis_url,
                rabbitmq_url,
                store,
                jwt_secret: jwt_secret?,
            })
        })
    }
}
