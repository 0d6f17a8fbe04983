//! Serving an axum router the Noillin way: bound to 127.0.0.1 only, every request traced with
//! its request id, counted in metrics, and drained gracefully on shutdown.

use std::{net::SocketAddr, time::Duration, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request},
    http::HeaderName,
    middleware::{self, Next},
    response::Response,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};

use crate::shutdown::Shutdown;

/// The header carrying the request id, set by NGINX and echoed back to the client.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the process-wide Prometheus recorder and keeps its histograms trimmed.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new().install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// A metrics handle of its own, not the process's recorder: for an app built in-process by a
/// test, where the process-wide recorder belongs to nobody (its `/metrics` stays empty).
pub fn unregistered_metrics() -> PrometheusHandle {
    PrometheusBuilder::new().build_recorder().handle()
}

/// Binds 127.0.0.1:`port`. Backend processes are never reachable from outside the machine;
/// only the gateway is.
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
}

/// Wraps a router with request ids (taken from the gateway or made here), one tracing span per
/// request and HTTP metrics.
pub fn instrument(router: Router) -> Router {
    router
        .layer(middleware::from_fn(record_metrics))
        .layer(
            TraceLayer::new_for_http()
                // One line per request at the default level; failures (5xx) log as errors.
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                .make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        request_id = %request_id,
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Label by route template, never by raw path: ids in paths would explode the series count.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Serves `router` on `listener` until `shutdown` fires, then stops accepting and lets
/// in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.wait().await })
    .await
}

/// Logs the bound address in the one form operators and the test harness look for.
pub fn log_listening(service: &str, listener: &TcpListener) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    tracing::info!(service, addr = %addr, "listening");
    Ok(addr)
}
