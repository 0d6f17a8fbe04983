//! core-api: wires the command line and configuration to the app; everything else lives in the
//! library.

use std::process::ExitCode;

use core_api::{App, Config, cli};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(command) => command,
        Err(usage) => {
            eprintln!("core-api: {usage}");
            return ExitCode::from(2);
        }
    };
    noillin_service::main("core-api", |config: Config| async move {
        match command {
            cli::Command::Serve => {
                let metrics = noillin_service::http::install_metrics()?;
                App::build(config, metrics).await?.run_until_stopped().await
            }
            cli::Command::CreateAdmin { email, name } => {
                cli::create_admin(&config, &email, &name).await
            }
            cli::Command::ListParkedOutbox => cli::list_parked_outbox(&config).await,
            cli::Command::RetryParkedOutbox { id } => cli::retry_parked_outbox(&config, &id).await,
            cli::Command::Reindex { index } => cli::request_reindex(&config, &index).await,
        }
    })
    .await
}
