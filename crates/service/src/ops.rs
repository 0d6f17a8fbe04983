//! The operational endpoints every process serves on its own port: `/healthz` (the process
//! answers), `/readyz` (every backing service it needs answers) and `/metrics` (Prometheus).
//! They are not routed through the gateway except where the gateway config says so.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{Map, Value, json};

use crate::problem::Problem;

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type CheckFn = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// How long one dependency may take to answer a readiness probe.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The named checks behind `/readyz`.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, CheckFn)>,
}

impl Readiness {
    /// Adds a check; `Err(reason)` means the dependency is not usable now.
    pub fn check<F, Fut>(mut self, name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks
            .push((name, Arc::new(move || Box::pin(check()) as CheckFuture)));
        self
    }

    /// Adds a check that asks `target` (a cheaply cloned client: a store, a pool) to answer,
    /// e.g. `.probe("redis", redis, |r| async move { r.ping().await })`. Each run gets its own
    /// clone, because a check's future must own what it uses.
    pub fn probe<T, F, Fut, E>(self, name: &'static str, target: T, probe: F) -> Self
    where
        T: Clone + Send + Sync + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        self.check(name, move || {
            let answer = probe(target.clone());
            async move { answer.await.map_err(|e| e.to_string()) }
        })
    }

    /// Runs every check concurrently; the map holds `"ok"` or the reason per dependency.
    pub async fn run(&self) -> (bool, Map<String, Value>) {
        let results = futures::future::join_all(self.checks.iter().map(|(name, check)| {
            let check = check.clone();
            async move {
                let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(reason)) => Err(reason),
                    Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
                };
                (*name, outcome)
            }
        }))
        .await;
        let mut all_ok = true;
        let mut map = Map::new();
        for (name, outcome) in results {
            let value = match outcome {
                Ok(()) => Value::from("ok"),
                Err(reason) => {
                    all_ok = false;
                    Value::from(reason)
                }
            };
            map.insert(name.to_owned(), value);
        }
        (all_ok, map)
    }
}

#[derive(Clone)]
struct OpsState {
    service: &'static str,
    readiness: Readiness,
    metrics: PrometheusHandle,
}

/// The three operational routes of one process.
pub fn router(service: &'static str, readiness: Readiness, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(OpsState {
            service,
            readiness,
            metrics,
        })
}

async fn healthz(State(state): State<OpsState>) -> Json<Value> {
    Json(json!({ "status": "ok", "service": state.service }))
}

async fn readyz(State(state): State<OpsState>) -> Response {
    let (ready, checks) = state.readiness.run().await;
    if ready {
        Json(json!({ "status": "ready", "service": state.service, "checks": checks }))
            .into_response()
    } else {
        let failing: Vec<&str> = checks
            .iter()
            .filter(|(_, v)| v.as_str() != Some("ok"))
            .map(|(k, _)| k.as_str())
            .collect();
        tracing::warn!(?failing, "not ready");
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "A backing service is unavailable",
        )
        .with_detail(format!("failing: {}", failing.join(", ")))
        .with_extension("service", state.service)
        .with_extension("checks", Value::Object(checks))
        .into_response()
    }
}

async fn render_metrics(State(state): State<OpsState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_probe_reports_ok_or_its_reason_per_dependency() {
        let readiness = Readiness::default()
            .probe("up", 1u8, |_| async { Ok::<(), String>(()) })
            .probe("down", "refused", |reason: &'static str| async move {
                Err(reason)
            });
        let (ready, checks) = readiness.run().await;
        assert!(!ready);
        assert_eq!(checks["up"], "ok");
        assert_eq!(checks["down"], "refused");
    }
}
