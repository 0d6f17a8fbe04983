//! The routes table: operational endpoints at the root, the public API under `/api/v1`.

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use noillin_service::{http, ops, problem};

use crate::AppState;

pub fn router(state: AppState, readiness: ops::Readiness, metrics: PrometheusHandle) -> Router {
    let api = Router::new().with_state(state);
    http::instrument(
        Router::new()
            .merge(ops::router("core-api", readiness, metrics))
            .nest("/api/v1", api)
            .fallback(problem::not_found),
    )
}
