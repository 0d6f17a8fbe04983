//! After the booking, in-process: what delivery, revision, review and earnings requests refuse
//! before anything is looked up, what a new influencer's earnings and payout account read, and
//! that a payout account is made once. The flows themselves cross the worker and run in
//! `tests/e2e/tests/after_booking.rs`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn bad_deliveries_revisions_and_reviews_are_refused_field_by_field() {
    let app = spawn_app().await;
    let influencer = app.api.register("influencer").await;
    let brand = app.api.register("brand").await;
    let booking = "/bookings/00000000-0000-7000-8000-000000000000";
    let long_link = format!("https://example.com/{}", "a".repeat(2_100));
    for (path, body, token, expected) in [
        (
            "deliver",
            json!({ "links": [] }),
            &influencer,
            vec!["links"],
        ),
        (
            "deliver",
            json!({ "links": ["ftp://example.com/a", "https://"] }),
            &influencer,
            vec!["links[0]", "links[1]"],
        ),
        (
            "deliver",
            json!({ "links": [long_link], "note": "x".repeat(4_001) }),
            &influencer,
            vec!["links[0]", "note"],
        ),
        (
            "revisions",
            json!({ "reason": "   " }),
            &brand,
            vec!["reason"],
        ),
        (
            "review",
            json!({ "rating": 6, "text": " " }),
            &brand,
            vec!["rating", "text"],
        ),
        (
            "review/reply",
            json!({ "text": "" }),
            &influencer,
            vec!["text"],
        ),
    ] {
        let response = app
            .api
            .post(&format!("{booking}/{path}"), &body, Some(&token.access))
            .await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {:?}",
            response.body
        );
        assert_eq!(response.error_fields(), expected, "{path}");
    }
    // Well-formed, but the booking does not exist.
    let unknown = app
        .api
        .post(
            &format!("{booking}/deliver"),
            &json!({ "links": ["http://x"] }),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{:?}", unknown.body);
    let unknown_approve = app
        .api
        .post(
            &format!("{booking}/approve"),
            &json!({}),
            Some(&brand.access),
        )
        .await;
    assert_eq!(unknown_approve.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_new_influencer_has_no_earnings_and_one_payout_account_however_often_asked() {
    let app = spawn_app().await;
    let influencer = app.api.register("influencer").await;
    let brand = app.api.register("brand").await;

    let earnings = app.api.get("/me/earnings", Some(&influencer.access)).await;
    assert_eq!(earnings.status, StatusCode::OK, "{:?}", earnings.body);
    assert_eq!(earnings.body["balances"], json!([]));
    assert_eq!(earnings.body["items"], json!([]));
    let bad_cursor = app
        .api
        .get("/me/earnings?before=abc", Some(&influencer.access))
        .await;
    assert_eq!(bad_cursor.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.api
            .get("/me/earnings", Some(&brand.access))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.api
            .get("/me/spending", Some(&influencer.access))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let spending = app.api.get("/me/spending", Some(&brand.access)).await;
    assert_eq!(spending.status, StatusCode::OK, "{:?}", spending.body);

    let none = app
        .api
        .get("/me/payout-account", Some(&influencer.access))
        .await;
    assert_eq!(none.body["connected"], false, "{:?}", none.body);
    let empty = json!({});
    let (first, second) = tokio::join!(
        app.api
            .post("/me/payout-account", &empty, Some(&influencer.access)),
        app.api
            .post("/me/payout-account", &empty, Some(&influencer.access)),
    );
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    assert_eq!(first.body["account_id"], second.body["account_id"]);
    assert_eq!(first.body["payouts_enabled"], false);
    let link = first.body["onboarding_url"].as_str().expect("a link");
    let back = app.stripe.controls().open_account_link(link).await.unwrap();
    assert!(back.ends_with("payouts?onboarding=done"), "{back}");
    let connected = app
        .api
        .get("/me/payout-account", Some(&influencer.access))
        .await;
    assert_eq!(connected.body["connected"], true);
    assert_eq!(
        connected.body["payouts_enabled"], true,
        "{:?}",
        connected.body
    );
    assert_eq!(connected.body["account_id"], first.body["account_id"]);
    assert_eq!(
        app.api
            .post("/me/payout-account", &json!({}), Some(&brand.access))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}
