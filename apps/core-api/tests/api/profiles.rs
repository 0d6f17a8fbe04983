//! Profiles: influencers and brands edit their own; anyone signed in reads an influencer's public
//! profile, as long as the influencer is active.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{sign_in_new_admin, spawn_app};

#[tokio::test]
async fn an_influencer_edits_its_profile_and_brands_read_it() {
    let app = spawn_app().await;
    let api = &app.api;
    let influencer = api.register("influencer").await;
    let brand = api.register("brand").await;

    let updated = api
        .patch(
            "/influencers/me",
            &json!({
                "bio": "Trail running and gear reviews",
                "niches": ["running", "outdoors"],
                "languages": ["en", "pt-BR"],
                "location": "Lisbon",
                "time_zone": "Europe/Lisbon",
                "social_accounts": [{ "platform": "instagram", "handle": "@ana.runs", "followers": 48000 }]
            }),
            Some(&influencer.access),
        )
        .await;

    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(updated.body["time_zone"], "Europe/Lisbon");
    assert_eq!(updated.body["social_accounts"][0]["handle"], "ana.runs");
    let public = api
        .get(
            &format!("/influencers/{}", influencer.id),
            Some(&brand.access),
        )
        .await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(
        public.body, updated.body,
        "brands see what the influencer saved"
    );
    assert!(
        public.body.get("email").is_none(),
        "no private data in the public profile"
    );
    let own = api.get("/influencers/me", Some(&influencer.access)).await;
    assert_eq!(own.body, updated.body);

    let cleared = api
        .patch(
            "/influencers/me",
            &json!({ "location": "" }),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(cleared.body["location"], serde_json::Value::Null);
    assert_eq!(
        cleared.body["bio"], "Trail running and gear reviews",
        "absent fields are kept"
    );
}

#[tokio::test]
async fn invalid_profile_updates_list_each_field_and_change_nothing() {
    let app = spawn_app().await;
    let api = &app.api;
    let influencer = api.register("influencer").await;
    let before = api
        .get("/influencers/me", Some(&influencer.access))
        .await
        .body;

    let cases = [
        (json!({ "time_zone": "Mars/Olympus" }), vec!["time_zone"]),
        (
            json!({ "time_zone": "Europe/Lisbon", "languages": ["english!"] }),
            vec!["languages[0]"],
        ),
        (json!({ "display_name": "" }), vec!["display_name"]),
        (
            json!({ "social_accounts": [{ "platform": "myspace", "handle": "x", "followers": 1 }] }),
            vec!["social_accounts[0].platform"],
        ),
        (
            json!({ "social_accounts": [{ "platform": "tiktok", "handle": "a b", "followers": 1 }] }),
            vec!["social_accounts[0].handle"],
        ),
        (json!({ "rating": 5.0 }), vec!["rating"]),
        (json!({ "user_id": "someone-else" }), vec!["user_id"]),
        (json!({ "niches": "running" }), vec!["niches"]),
    ];
    for (body, fields) in cases {
        let response = api
            .patch("/influencers/me", &body, Some(&influencer.access))
            .await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            response.body
        );
        assert_eq!(response.error_fields(), fields, "{body}");
    }
    let after = api
        .get("/influencers/me", Some(&influencer.access))
        .await
        .body;
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_brand_edits_its_own_profile_only() {
    let app = spawn_app().await;
    let api = &app.api;
    let brand = api.register("brand").await;

    let updated = api
        .patch(
            "/brands/me",
            &json!({ "company_name": "Acme Outdoor", "industry": "Sportswear", "website": "https://acme.example" }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(updated.body["website"], "https://acme.example");

    let bad = api
        .patch(
            "/brands/me",
            &json!({ "website": "javascript:alert(1)" }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), vec!["website"]);
    assert_eq!(
        api.get("/brands/me", Some(&brand.access)).await.body,
        updated.body
    );
}

#[tokio::test]
async fn roles_and_ownership_are_enforced_on_every_profile_route() {
    let app = spawn_app().await;
    let api = &app.api;
    let influencer = api.register("influencer").await;
    let other_influencer = api.register("influencer").await;
    let brand = api.register("brand").await;

    // Wrong role: 403.
    for (path, token) in [
        ("/influencers/me", &brand.access),
        ("/brands/me", &influencer.access),
    ] {
        assert_eq!(
            api.get(path, Some(token)).await.status,
            StatusCode::FORBIDDEN,
            "GET {path}"
        );
        assert_eq!(
            api.patch(path, &json!({}), Some(token)).await.status,
            StatusCode::FORBIDDEN,
            "PATCH {path}"
        );
    }
    // No token: 401.
    for path in [
        "/influencers/me",
        "/brands/me",
        &format!("/influencers/{}", influencer.id),
    ] {
        assert_eq!(
            api.get(path, None).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    // Not an influencer, or no such user: the same 404.
    for id in [brand.id.as_str(), "no-such-user", &"x".repeat(500)] {
        let response = api
            .get(&format!("/influencers/{id}"), Some(&influencer.access))
            .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{id}");
    }
    // Editing "me" never touches another influencer.
    api.patch(
        "/influencers/me",
        &json!({ "bio": "mine" }),
        Some(&influencer.access),
    )
    .await;
    let other = api
        .get(
            &format!("/influencers/{}", other_influencer.id),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(other.body["bio"], "");
}

#[tokio::test]
async fn a_suspended_influencer_disappears_from_public_view() {
    let app = spawn_app().await;
    let api = &app.api;
    let admin = sign_in_new_admin(&app).await;
    let influencer = api.register("influencer").await;
    let brand = api.register("brand").await;

    let suspended = api
        .set_user_status(&influencer.id, "suspended", Some(&admin.access))
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{:?}", suspended.body);

    let response = api
        .get(
            &format!("/influencers/{}", influencer.id),
            Some(&brand.access),
        )
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_new_profile_name_is_the_name_the_account_shows_everywhere() {
    let app = spawn_app().await;
    let api = &app.api;
    let influencer = api.register("influencer").await;
    let brand = api.register("brand").await;

    let renamed = api
        .patch(
            "/influencers/me",
            &json!({ "display_name": "  Ana Runs  " }),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    assert_eq!(renamed.body["display_name"], "Ana Runs");
    let me = api.get("/auth/me", Some(&influencer.access)).await;
    assert_eq!(me.body["display_name"], "Ana Runs");
    let public = api
        .get(
            &format!("/influencers/{}", influencer.id),
            Some(&brand.access),
        )
        .await;
    assert_eq!(public.body["display_name"], "Ana Runs");
    let own = api.get("/influencers/me", Some(&influencer.access)).await;
    assert_eq!(own.body["display_name"], "Ana Runs");

    // A brand's company name is its account's name.
    let rebranded = api
        .patch(
            "/brands/me",
            &json!({ "company_name": "Acme Journeys" }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(rebranded.status, StatusCode::OK, "{:?}", rebranded.body);
    let me = api.get("/auth/me", Some(&brand.access)).await;
    assert_eq!(me.body["display_name"], "Acme Journeys");
    let own = api.get("/brands/me", Some(&brand.access)).await;
    assert_eq!(own.body["company_name"], "Acme Journeys");

    // A refused update renames nobody.
    let refused = api
        .patch(
            "/influencers/me",
            &json!({ "display_name": "Ana Again", "time_zone": "Mars/Base" }),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let me = api.get("/auth/me", Some(&influencer.access)).await;
    assert_eq!(me.body["display_name"], "Ana Runs");
}
