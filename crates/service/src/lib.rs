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
