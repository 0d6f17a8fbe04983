//! What every Noillin process needs before it does its own work: configuration from the
//! environment, telemetry, the TLS crypto provider, the operational HTTP endpoints
//! (`/healthz`, `/readyz`, `/metrics`), RFC 9457 problem responses and graceful shutdown.

pub mod config;
pub mod http;
pub mod ops;
pub mod problem;
pub mod shutdown;
pub mod telemetry;

/// Installs the process-wide rustls crypto provider.
///
/// Both `ring` (MongoDB, SMTP) and `aws-lc-rs` (HTTP clients) end up enabled in the dependency
/// graph, and rustls refuses to guess between them: without this call the first TLS client
/// panics. Call it first thing in every binary and test; repeated calls are harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

use std::{future::Future, process::ExitCode};

use config::{CommonConfig, ConfigError, EnvSource};

/// A binary's configuration, read from the environment.
pub trait ServiceConfig: Sized {
    fn from_env(source: &EnvSource) -> Result<Self, ConfigError>;
    fn common(&self) -> &CommonConfig;
}

/// The body of every binary's `main`: installs the crypto provider, reads and validates the
/// configuration (exiting 1 with one line per problem), starts telemetry, runs `run`, and
/// turns its outcome into the exit code.
pub async fn main<C, F, Fut>(service: &'static str, run: F) -> ExitCode
where
    C: ServiceConfig,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    install_crypto_provider();
    let config = match EnvSource::from_process().and_then(|env| C::from_env(&env)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{service}: {e}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(config.common().log_format);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "{service} stopped on an error");
            eprintln!("{service}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
