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

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let influencer = app.api.register("influencer").await;
    let token = Some(influencer.access.as_str());
    let set = app
        .api
        .put(
            "/availability/weekly",
            &json!({ "monday": [{ "start": "09:00", "end": "17:00" }] }),
            token,
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    let before = app.api.get("/availability", token).await;

    // serde would read `[]` as an object with every field left out: an empty week.
    for body in [json!([]), json!("monday"), json!(7), json!(null)] {
        let refused = app.api.put("/availability/weekly", &body, token).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            refused.body
        );
        assert_eq!(refused.content_type(), "application/problem+json");
        assert_eq!(refused.error_fields(), vec!["body".to_owned()], "{body}");
    }
    let profile = app.api.patch("/influencers/me", &json!([]), token).await;
    assert_eq!(profile.status, StatusCode::UNPROCESSABLE_ENTITY);

    let after = app.api.get("/availability", token).await;
    assert_eq!(after.body, before.body, "the week is as it was");
}

#[tokio::test]
async fn malformed_json_is_a_400_and_a_wrong_content_type_a_415() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/auth/login", app.address);
    let send = |content_type: &'static str, body: &'static str| {
        client
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    for body in ["nope", "[", "  {\"email\": "] {
        let response = send("application/json", body).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let text = send("text/plain", "{}").await.unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let charset = send("application/json; charset=utf-8", "[]").await.unwrap();
    assert_eq!(
        charset.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a JSON media type with parameters is JSON"
    );
}
