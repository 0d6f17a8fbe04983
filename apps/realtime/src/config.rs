//! realtime configuration, read from the environment.

use noillin_service::{
    ServiceConfig,
    config::{CommonConfig, ConfigError, EnvSource, Secret},
};

/// Port realtime listens on unless `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 4001;

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`, `LOG_FORMAT`, `NAMESPACE`.
    pub common: CommonConfig,
    /// `REDIS_URL`: the cluster adapter and the push channel (Redis 7 or later).
    pub redis_url: String,
    /// `JWT_SECRET`: checks the access tokens sockets present (the same secret as core-api).
    pub jwt_secret: Secret,
    /// `ALLOWED_ORIGINS`: browser origins allowed to open a socket (comma-separated). A
    /// handshake with any other `Origin` header is refused; clients that send no `Origin`
    /// (native apps, servers) are not subject to it.
    pub allowed_origins: Vec<String>,
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn from_env(source: &EnvSource) -> Result<Self, ConfigError> {
        let mut env = source.reader();
        let common = CommonConfig::read(&mut env, DEFAULT_PORT);
        let redis_url = env.string_or("REDIS_URL", noillin_redis::DEFAULT_URL);
        let jwt_secret = env.secret("JWT_SECRET", 32);
        let allowed_origins = env.list("ALLOWED_ORIGINS");
        env.finish(|| {
            Some(Self {
                common,
                redis_url,
                jwt_secret: jwt_secret?,
                allowed_origins,
            })
        })
    }
}
