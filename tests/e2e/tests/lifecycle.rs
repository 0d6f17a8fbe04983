//! Processes: configuration errors, readiness, messaging between them, graceful shutdown.

use std::time::Duration;

use noillin_test_support::{Platform, eventually, rabbitmq_url, run_to_exit};
use reqwest::StatusCode;

const GOOD_SECRET: &str = "0123456789abcdef0123456789abcdef";

/// A binary, the environment it gets, and what its error output must say.
type ConfigCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn a_binary_with_bad_configuration_exits_non_zero_naming_the_variable() {
    let cases: [ConfigCase; 8] = [
        ("core-api", &[], "JWT_SECRET: is required"),
        (
            "core-api",
            &[("JWT_SECRET", "short")],
            "JWT_SECRET: must be at least 32 bytes",
        ),
        (
            "core-api",
            &[("JWT_SECRET", GOOD_SECRET), ("PORT", "http")],
            "PORT:",
        ),
        (
            "realtime",
            &[("JWT_SECRET", GOOD_SECRET), ("LOG_FORMAT", "xml")],
            "LOG_FORMAT:",
        ),
        (
            "worker",
            &[("WORKER_PREFETCH", "0")],
            "WORKER_PREFETCH: must be at least 1",
        ),
        ("worker", &[("NAMESPACE", "Has Spaces")], "NAMESPACE:"),
        (
            "worker",
            &[("WORKER_PREFETCH", "4"), ("WORKER_CONCURRENCY", "16")],
            "WORKER_CONCURRENCY: must be between 1 and WORKER_PREFETCH",
        ),
        (
            "worker",
            &[("WORKER_RETRY_DELAYS_MS", "1000,soon")],
            "WORKER_RETRY_DELAYS_MS:",
        ),
    ];
    for (binary, env, expected) in cases {
        let (status, output) = run_to_exit(binary, env, Duration::from_secs(10)).unwrap();
        assert!(!status.success(), "{binary} {env:?} started");
        assert!(output.contains(expected), "{binary} {env:?}: {output}");
        assert!(
            !output.contains("short\""),
            "secrets are never echoed: {output}"
        );
    }
}

#[tokio::test]
async fn readiness_names_the_backing_service_that_is_down() {
    let platform = Platform::start_api_only().await;
    // A second core-api pointed at a Redis that is not there: it starts, but is not ready.
    let dead_redis = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut env = noillin_test_support::stripe_env(&platform.stripe);
    env.extend([
        ("NAMESPACE".to_owned(), platform.namespace.clone()),
        ("JWT_SECRET".to_owned(), GOOD_SECRET.to_owned()),
        (
            "REDIS_URL".to_owned(),
            format!("redis://127.0.0.1:{dead_redis}"),
        ),
        ("RABBITMQ_URL".to_owned(), rabbitmq_url()),
        // A store of its own: a file beside the platform's, or (with MONGO_URI set, as in CI)
        // a database of its own.
        (
            "DATA_DIR".to_owned(),
            platform.dir().join("data2").display().to_string(),
        ),
        (
            "MONGO_DATABASE".to_owned(),
            format!("noillin_e2e_{}_lonely", platform.namespace),
        ),
    ]);
    let lonely = noillin_test_support::ServiceProcess::start(
        "core-api",
        "core-api-no-redis",
        platform.dir(),
        &env,
    )
    .unwrap();

    let response = reqwest::get(format!("{}/readyz", lonely.url))
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_ne!(body["checks"]["redis"], "ok", "{body}");
    assert_eq!(body["checks"]["store"], "ok", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("redis"), "{body}");
    let health = reqwest::get(format!("{}/healthz", lonely.url))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK, "alive even when not ready");
}

#[tokio::test]
async fn the_worker_consumes_exactly_what_core_api_publishes() {
    let platform = Platform::builder()
        .core_api(2)
        .realtime(0)
        .start()
        .await
        .unwrap();
    let worker = &platform.worker[0];
    let series = "worker_messages_total{queue=\"system\",outcome=\"processed\"}";

    // Each core-api announces its start once on the events exchange.
    let consumed = eventually(Duration::from_secs(15), || async {
        platform.metric(worker, series).await >= 2.0
    })
    .await;
    assert!(
        consumed,
        "worker did not consume both announcements\n{}",
        platform.logs()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        platform.metric(worker, series).await,
        2.0,
        "each message once"
    );
    let log = worker.log_text();
    assert_eq!(log.matches("platform instance started").count(), 2, "{log}");
}

#[tokio::test]
async fn sigterm_stops_every_process_cleanly() {
    let mut platform = Platform::builder().start().await.unwrap();
    let processes = platform
        .core_api
        .iter_mut()
        .chain(platform.realtime.iter_mut())
        .chain(platform.worker.iter_mut());
    for process in processes {
        let status = match process.terminate(Duration::from_secs(15)) {
            Ok(status) => status,
            Err(e) => panic!("{e}\n{}", process.log_text()),
        };
        assert!(status.success(), "{} exited with {status}", process.name);
        assert!(
            process.log_text().contains("stopped\""),
            "{}",
            process.log_text()
        );
    }
}
