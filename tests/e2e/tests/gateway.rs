//! The gateway: routing, problem responses, limits and the rendered configurations.

use noillin_test_support::{Platform, nginx_binary, render_gateway};
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn the_api_health_probe_answers_through_the_gateway_with_a_request_id() {
    let platform = Platform::start_api_only().await;

    let response = reqwest::get(platform.url("/api/healthz")).await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(request_id.len(), 32, "nginx request ids are 32 hex digits");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["service"], "core-api");
    assert_eq!(body["status"], "ok");

    let ready = reqwest::get(platform.url("/api/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.unwrap();
    for check in ["store", "redis", "rabbitmq"] {
        assert_eq!(body["checks"][check], "ok", "{body}");
    }
}

#[tokio::test]
async fn unknown_paths_answer_a_problem_document_404() {
    let platform = Platform::start_api_only().await;

    for path in ["/", "/nope", "/metrics", "/healthz", "/api/v1/nope"] {
        let response = reqwest::get(platform.url(path)).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], 404, "{path}");
        assert_eq!(body["type"], "/problems/not-found", "{path}");
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused_at_the_gateway_with_413() {
    let platform = Platform::start_api_only().await;

    let response = reqwest::Client::new()
        .post(platform.url("/api/v1/anything"))
        .header("content-type", "application/json")
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[test]
fn every_rendered_gateway_config_passes_nginx_t() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=noillin.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&made.stderr)
    );

    let local = dir.path().join("local/nginx.conf");
    let prod = dir.path().join("prod/nginx.conf");
    let upstreams = |s: &str| s.to_owned();
    render_gateway(&[
        ("OUT", local.display().to_string()),
        (
            "CORE_API_UPSTREAMS",
            upstreams("127.0.0.1:4000 127.0.0.1:4010"),
        ),
        (
            "REALTIME_UPSTREAMS",
            upstreams("127.0.0.1:4001 127.0.0.1:4011"),
        ),
        ("LISTEN", "18080".to_owned()),
    ])
    .unwrap();
    render_gateway(&[
        ("MODE", "prod".to_owned()),
        ("OUT", prod.display().to_string()),
        ("SERVER_NAME", "noillin.test".to_owned()),
        ("TLS_CERT", cert.display().to_string()),
        ("TLS_KEY", key.display().to_string()),
        ("CORE_API_UPSTREAMS", upstreams("127.0.0.1:4000")),
        ("REALTIME_UPSTREAMS", upstreams("127.0.0.1:4001")),
    ])
    .unwrap();

    for conf in [&local, &prod] {
        let output = std::process::Command::new(nginx_binary())
            .arg("-t")
            .arg("-c")
            .arg(conf)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "nginx -t {}: {}",
            conf.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let prod_text = std::fs::read_to_string(&prod).unwrap();
    assert!(prod_text.contains("return 301 https://noillin.test$request_uri"));
    assert!(prod_text.contains("listen 443 ssl http2"));
}

#[test]
fn the_renderer_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nginx.conf").display().to_string();
    let cases = [
        ("CORE_API_UPSTREAMS", "127.0.0.1:4000; evil"),
        ("RATE_API", "lots"),
        ("RATE_AUTH_SESSION", "60r/h"),
        ("BURST_AUTH_SESSION", "60; evil"),
        ("MODE", "staging"),
    ];
    for (var, value) in cases {
        let mut vars = vec![
            ("OUT", out.clone()),
            ("CORE_API_UPSTREAMS", "127.0.0.1:4000".to_owned()),
            ("REALTIME_UPSTREAMS", "127.0.0.1:4001".to_owned()),
        ];
        vars.retain(|(k, _)| *k != var);
        vars.push((var, value.to_owned()));
        assert!(render_gateway(&vars).is_err(), "{var}={value} was accepted");
    }
}

#[tokio::test]
async fn the_auth_routes_have_a_stricter_rate_limit_than_the_rest() {
    let platform = Platform::builder()
        .realtime(0)
        .worker(0)
        .auth_rate_limit("10r/m", 5)
        .start()
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let login = || {
        client
            .post(platform.url("/api/v1/auth/login"))
            .json(&serde_json::json!({ "email": "x@example.com", "password": "wrong password" }))
            .send()
    };

    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(login().await.unwrap().status());
    }

    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(limited >= 1, "{statuses:?}");
    assert!(
        statuses[..6].iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "the burst passes: {statuses:?}"
    );
    let last = login().await.unwrap();
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(last.headers()["content-type"], "application/problem+json");
    assert!(last.headers().contains_key("retry-after"));
    assert_eq!(last.headers()["retry-after"], "1");
    assert_eq!(
        last.headers()["x-content-type-options"],
        "nosniff",
        "gateway errors keep the security headers"
    );
    assert_eq!(last.headers().get_all("x-request-id").iter().count(), 1);
    for _ in 0..20 {
        let health = reqwest::get(platform.url("/api/healthz")).await.unwrap();
        assert_eq!(
            health.status(),
            StatusCode::OK,
            "other routes are not limited by the auth zone"
        );
    }
    let log = platform.gateway_error_log();
    assert!(!log.contains("uninitialized"), "{log}");
}

#[tokio::test]
async fn refreshes_and_logouts_from_one_address_are_not_held_to_the_sign_in_limit() {
    let platform = Platform::builder()
        .realtime(0)
        .worker(0)
        .auth_rate_limit("10r/m", 5)
        .start()
        .await
        .unwrap();
    let api = platform.api();
    // The first of the six requests the strict zone lets through at once.
    let user = api.register("brand").await;

    // Three times what the strict zone lets through at once: an office's users refreshing.
    let (mut access, mut refresh) = (user.access.clone(), user.refresh.clone());
    for attempt in 1..=18 {
        let response = api.refresh(&refresh).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "refresh {attempt}: {:?}",
            response.body
        );
        access = response.body["access_token"].as_str().unwrap().to_owned();
        refresh = response.body["refresh_token"].as_str().unwrap().to_owned();
    }
    let logout = api
        .post(
            "/auth/logout",
            &serde_json::json!({ "refresh_token": refresh }),
            Some(&access),
        )
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT, "{:?}", logout.body);

    // Sign-ins stay strict. Unknown emails, each its own: core-api's per-account throttle
    // must not be what answers 429 here.
    let mut statuses = Vec::new();
    for attempt in 0..12 {
        let login = api
            .login(&format!("nobody-{attempt}@example.com"), "wrong password")
            .await;
        statuses.push(login.status);
    }
    assert!(
        statuses[..5].iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "the rest of the burst passes: {statuses:?}"
    );
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn errors_nginx_answers_itself_are_problem_documents_with_the_gateway_headers() {
    let platform = Platform::start_api_only().await;
    let client = reqwest::Client::new();
    let long_path = format!("/api/v1/{}", "a".repeat(20 * 1024));

    let cases = [
        (
            "TRACE",
            client.request(Method::TRACE, platform.url("/api/v1/auth/me")),
            StatusCode::METHOD_NOT_ALLOWED,
            "/problems/method-not-allowed",
        ),
        (
            "a NUL byte in the path",
            client.get(platform.url("/api/v1/gigs/a%00b")),
            StatusCode::BAD_REQUEST,
            "/problems/bad-request",
        ),
        (
            "a header larger than NGINX's buffers",
            client
                .get(platform.url("/api/healthz"))
                .header("x-filler", "a".repeat(20 * 1024)),
            StatusCode::BAD_REQUEST,
            "/problems/bad-request",
        ),
        (
            "a path longer than NGINX's buffers",
            client.get(platform.url(&long_path)),
            StatusCode::URI_TOO_LONG,
            "/problems/uri-too-long",
        ),
    ];
    for (case, request, status, kind) in cases {
        let response = request.send().await.unwrap();

        assert_eq!(response.status(), status, "{case}");
        let headers = response.headers().clone();
        assert_eq!(
            headers["content-type"], "application/problem+json",
            "{case}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{case}");
        assert_eq!(headers["x-frame-options"], "DENY", "{case}");
        assert_eq!(
            headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{case}"
        );
        let request_ids: Vec<_> = headers.get_all("x-request-id").iter().collect();
        assert_eq!(request_ids.len(), 1, "{case}");
        assert_eq!(request_ids[0].len(), 32, "{case}");
        assert!(headers.get("retry-after").is_none(), "{case}");
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert_eq!(
                headers["allow"], "GET, HEAD, POST, PUT, PATCH, DELETE",
                "{case}"
            );
        } else {
            assert!(headers.get("allow").is_none(), "{case}");
        }
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["type"], kind, "{case}");
        assert_eq!(body["status"], status.as_u16(), "{case}");
    }

    let log = platform.gateway_error_log();
    assert!(!log.contains("uninitialized"), "{log}");
}

#[tokio::test]
async fn an_unreachable_core_api_is_a_503_problem_with_retry_after() {
    let mut platform = Platform::start_api_only().await;
    // Dropping the process kills it: the gateway's upstream now refuses connections.
    platform.core_api.clear();

    let response = reqwest::get(platform.url("/api/healthz")).await.unwrap();

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.headers()["retry-after"], "5");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["type"], "/problems/unavailable");
    assert_eq!(body["status"], 503);
    let log = platform.gateway_error_log();
    assert!(!log.contains("uninitialized"), "{log}");
}

#[tokio::test]
async fn the_openapi_document_and_interactive_docs_are_served_through_the_gateway() {
    let platform = Platform::start_api_only().await;

    let spec = reqwest::get(platform.url("/api/v1/openapi.json"))
        .await
        .unwrap();
    assert_eq!(spec.status(), StatusCode::OK);
    let spec: serde_json::Value = spec.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with('3'));
    assert!(spec["paths"]["/auth/login"]["post"].is_object());

    let docs = reqwest::get(platform.url("/api/docs")).await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src"),
        "the docs page may load its script: {csp}"
    );
    assert_eq!(
        docs.headers()
            .get_all("content-security-policy")
            .iter()
            .count(),
        1
    );
    assert_eq!(docs.headers()["x-frame-options"], "DENY");
    let api = reqwest::get(platform.url("/api/healthz")).await.unwrap();
    assert_eq!(
        api.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert!(
        api.headers().get("retry-after").is_none(),
        "no empty Retry-After"
    );
}
