//! core-api: the HTTP API of the platform. This file only wires configuration to the app.

use std::process::ExitCode;

use core_api::{App, Config, cli};
use noillin_service::config::EnvSource;

#[tokio::main]
async fn main() -> ExitCode {
    noillin_service::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(command) => command,
        Err(usage) => {
            eprintln!("core-api: {usage}");
            return ExitCode::from(2);
        }
    };
    let config = match EnvSource::from_process().and_then(|env| Config::from_env(&env)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("core-api: {e}");
            return ExitCode::FAILURE;
        }
    };
    noillin_service::telemetry::init(config.common.log_format);
    let result = match command {
        cli::Command::Serve => match App::build(config).await {
            Ok(app) => app.run_until_stopped().await,
            Err(e) => Err(e),
        },
        cli::Command::CreateAdmin { email, name } => {
            cli::create_admin(&config, &email, &name).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "core-api stopped on an error");
            eprintln!("core-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}
