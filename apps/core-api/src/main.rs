//! core-api: the HTTP API of the platform. This file only wires configuration to the app.

use std::process::ExitCode;

use core_api::{App, Config};
use noillin_service::config::EnvSource;

#[tokio::main]
async fn main() -> ExitCode {
    noillin_service::install_crypto_provider();
    let config = match EnvSource::from_process().and_then(|env| Config::from_env(&env)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("core-api: {e}");
            return ExitCode::FAILURE;
        }
    };
    noillin_service::telemetry::init(config.common.log_format);
    let result = match App::build(config).await {
        Ok(app) => app.run_until_stopped().await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "core-api stopped on an error");
            ExitCode::FAILURE
        }
    }
}
