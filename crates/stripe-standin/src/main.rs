//! `stripe-standin`: the Stripe stand-in on its own, for the one-command run.
//!
//! Environment: `STANDIN_ADDR` (default `127.0.0.1:12111`), `STRIPE_SECRET_KEY` (default
//! `sk_test_standin`), `STANDIN_WEBHOOK_SECRET` (default `whsec_standin`),
//! `STANDIN_WEBHOOK_URL` (optional), `RUST_LOG` (default `info`). Stops on SIGINT or SIGTERM.

use std::io::IsTerminal as _;

use noillin_stripe_standin::{Settings, StandIn};
use tracing_subscriber::EnvFilter;

/// A variable that is set and not empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        // Colours only for a person: scripts read the `addr=` field.
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let defaults = Settings::default();
    let settings = Settings {
        api_key: var("STRIPE_SECRET_KEY").unwrap_or(defaults.api_key),
        webhook_secret: var("STANDIN_WEBHOOK_SECRET").unwrap_or(defaults.webhook_secret),
        webhook_url: var("STANDIN_WEBHOOK_URL"),
        ..defaults
    };
    let addr = var("STANDIN_ADDR").unwrap_or_else(|| "127.0.0.1:12111".to_owned());
    let standin = StandIn::start(&addr, settings).await?;
    tracing::info!(addr = %standin.local_addr(), "stripe stand-in listening");
    shutdown().await?;
    drop(standin);
    tracing::info!("stripe stand-in stopped");
    Ok(())
}

async fn shutdown() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
