//! The in-process app serves the same API as the binary: health, accounts, problem documents.

use std::time::Duration;

use noillin_test_support::eventually;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_app_is_alive_at_once_and_ready_once_its_backing_services_answer() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();

    let alive = client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
    let ready = eventually(Duration::from_secs(20), || {
        let request = client.get(format!("{}/readyz", app.address)).send();
        async move { request.await.is_ok_and(|r| r.status() == StatusCode::OK) }
    })
    .await;
    assert!(
        ready,
        "store, Redis and RabbitMQ answer, so /readyz turns 200"
    );
}

#[tokio::test]
async fn a_registered_user_reads_itself_with_its_access_token() {
    let app = spawn_app().await;

    let user = app.api.register("brand").await;
    let me = app.api.get("/auth/me", Some(&user.access)).await;

    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["id"], user.id.as_str());
    assert_eq!(me.body["role"], "brand");
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_a_422_problem_naming_it() {
    let app = spawn_app().await;

    let refused = app
        .api
        .post(
            "/auth/register",
            &json!({ "email": 42, "password": "long enough passphrase", "role": "brand", "display_name": "X" }),
            None,
        )
        .await;

    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.content_type(), "application/problem+json");
    assert_eq!(refused.error_fields(), vec!["email".to_owned()]);
}
