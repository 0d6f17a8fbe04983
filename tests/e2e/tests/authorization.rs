//! Authorization across the whole API, driven by the OpenAPI document so that every route added
//! later is covered too: every operation that declares bearer security refuses missing, expired,
//! tampered and malformed tokens, and admin operations refuse every other role. (Revoked tokens:
//! see the suspension and password-reset tests.)

use noillin_auth::Role;
use noillin_test_support::Platform;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// `(method, path)` of every operation in the document, and whether it requires a bearer token.
async fn operations(platform: &Platform) -> Vec<(Method, String, bool)> {
    let spec: Value = reqwest::get(platform.url("/api/v1/openapi.json"))
        .await
        .expect("openapi document")
        .json()
        .await
        .expect("json");
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            // Path parameters get an id nobody has.
            let path = path
                .replace("{id}", "00000000-0000-7000-8000-000000000000")
                .replace("{date}", "2026-06-10");
            operations.push((method, path, secured));
        }
    }
    assert!(
        operations.len() >= 13,
        "the document lists the API: {operations:?}"
    );
    operations
}

#[tokio::test]
async fn every_secured_operation_refuses_bad_tokens() {
    let platform = Platform::start_api_only().await;
    let api = platform.api();
    let user = api.register("influencer").await;
    let expired = platform.expired_token_for(&user.id, Role::Influencer);
    let tampered = platform.tampered_token(&user.access, &user.id);

    let mut checked = 0;
    for (method, path, secured) in operations(&platform).await {
        if !secured {
            continue;
        }
        for (case, token) in [
            ("missing", None),
            ("expired", Some(expired.as_str())),
            ("tampered", Some(tampered.as_str())),
            ("garbage", Some("garbage")),
        ] {
            let response = api
                .send(method.clone(), &path, Some(&json!({})), token)
                .await;
            assert_eq!(
                response.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with a {case} token"
            );
            assert_eq!(
                response.content_type(),
                "application/problem+json",
                "{method} {path}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 22, "secured operations checked: {checked}");
}

#[tokio::test]
async fn admin_operations_refuse_every_other_role() {
    let platform = Platform::start_api_only().await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let influencer = api.register("influencer").await;

    let admin_operations: Vec<_> = operations(&platform)
        .await
        .into_iter()
        .filter(|(_, path, _)| path.starts_with("/admin/"))
        .collect();
    for expected in [
        "/admin/users/00000000-0000-7000-8000-000000000000",
        "/admin/audit-log",
    ] {
        assert!(
            admin_operations.iter().any(|(_, path, _)| path == expected),
            "{expected} is an admin operation: {admin_operations:?}"
        );
    }
    for (method, path, _) in admin_operations {
        for user in [&brand, &influencer] {
            let response = api
                .send(
                    method.clone(),
                    &path,
                    Some(&json!({ "status": "suspended" })),
                    Some(&user.access),
                )
                .await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
}
