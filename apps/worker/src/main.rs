//! worker: wires configuration to the app; everything else lives in the library.

use std::process::ExitCode;

use worker::{App, Config};

#[tokio::main]
async fn main() -> ExitCode {
    noillin_service::main("worker", |config: Config| async move {
        App::build(config, noillin_service::http::install_metrics()?)
            .await?
            .run_until_stopped()
            .await
    })
    .await
}
