//! realtime: wires configuration to the app; everything else lives in the library.

use std::process::ExitCode;

use realtime::{App, Config};

// jemalloc with its background threads purges the pages that closed sockets freed (after ten
// seconds of disuse); glibc's malloc kept them, and the node's RSS never came back down
// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    noillin_service::main("realtime", |config: Config| async move {
        App::build(config, noillin_service::http::install_metrics()?)
            .await?
            .run_until_stopped()
            .await
    })
    .await
}
