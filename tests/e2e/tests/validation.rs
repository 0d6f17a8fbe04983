//! Input the API must refuse with a 422 naming the field, changing nothing (follower counts past
//! the bound, invisible or direction-overriding text), text in any script it must keep
//! accepting, and stored data it cannot decode. (Misspelt weekdays and override dates that are
//! not `YYYY-MM-DD` are tested in-process, in core-api's `tests/api/availability.rs`.)

use std::time::Duration;

use noillin_test_support::Platform;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn assert_refused(response: &noillin_test_support::ApiResponse, fields: &[&str]) {
    assert_eq!(
        response.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        response.body
    );
    assert_eq!(response.content_type(), "application/problem+json");
    assert_eq!(response.error_fields(), fields, "{:?}", response.body);
}

#[tokio::test]
async fn follower_counts_past_ten_billion_are_refused_and_change_nothing() {
    let platform = Platform::start_api_only().await;
    let api = platform.api();
    let influencer = api.register("influencer").await;
    let account = |followers: Value| {
        json!({ "social_accounts": [
            { "platform": "youtube", "handle": "ana", "followers": 1200 },
            { "platform": "instagram", "handle": "ana.runs", "followers": followers },
        ] })
    };
    let most = api
        .patch(
            "/influencers/me",
            &account(json!(10_000_000_000_u64)),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(most.status, StatusCode::OK, "{:?}", most.body);
    assert_eq!(
        most.body["social_accounts"][1]["followers"],
        10_000_000_000_u64
    );

    for too_many in [
        json!(10_000_000_001_u64),
        json!(i64::MAX),
        json!(i64::MAX as u64 + 1),
        json!(u64::MAX),
    ] {
        let refused = api
            .patch(
                "/influencers/me",
                &account(too_many),
                Some(&influencer.access),
            )
            .await;
        assert_refused(&refused, &["social_accounts[1].followers"]);
    }
    let stored = api.get("/influencers/me", Some(&influencer.access)).await;
    assert_eq!(stored.body, most.body);
}

#[tokio::test]
async fn names_and_titles_refuse_bidi_overrides_and_invisible_only_text_but_keep_any_script() {
    let platform = Platform::start_api_only().await;
    let api = platform.api();
    let influencer = api.register("influencer").await;
    let brand = api.register("brand").await;
    let profile_before = api
        .get("/influencers/me", Some(&influencer.access))
        .await
        .body;

    let registration = |name: &str, n: usize| {
        json!({
            "email": format!("named-{n}-{}@example.com", influencer.id),
            "password": "correct horse battery staple",
            "role": "influencer",
            "display_name": name,
        })
    };
    for (n, name) in ["\u{200B}", "\u{FEFF}\u{2060}", "\u{202E}anA"]
        .into_iter()
        .enumerate()
    {
        let refused = api
            .post("/auth/register", &registration(name, n), None)
            .await;
        assert_refused(&refused, &["display_name"]);
    }

    for (update, fields) in [
        (
            json!({ "display_name": "Ana \u{202E}evil" }),
            vec!["display_name"],
        ),
        (
            json!({ "display_name": "\u{200C}\u{200D}" }),
            vec!["display_name"],
        ),
        (
            json!({ "location": "\u{2066}Lisbon\u{2069}", "niches": ["\u{200B}"] }),
            vec!["niches[0]", "location"],
        ),
    ] {
        let refused = api
            .patch("/influencers/me", &update, Some(&influencer.access))
            .await;
        assert_refused(&refused, &fields);
    }
    assert_eq!(
        api.get("/influencers/me", Some(&influencer.access))
            .await
            .body,
        profile_before
    );
    let refused = api
        .patch(
            "/brands/me",
            &json!({ "company_name": "\u{FEFF}", "contact_name": "Bo\u{202A}b" }),
            Some(&brand.access),
        )
        .await;
    assert_refused(&refused, &["company_name", "contact_name"]);

    let gig = |title: &str| {
        json!({
            "title": title,
            "description": "Three stories on launch day.",
            "deliverables": ["3 stories"],
            "platform": "instagram",
            "category": "sportswear",
            "price": { "amount_minor": 45000, "currency": "EUR" },
            "terms": { "duration_minutes": 60, "horizon_days": 60 }
        })
    };
    for title in ["Story \u{2067}feature\u{2069}", "\u{200B}\u{200B}\u{200B}"] {
        let refused = api
            .post("/gigs", &gig(title), Some(&influencer.access))
            .await;
        assert_refused(&refused, &["title"]);
    }
    let mine = api.get("/gigs?mine=true", Some(&influencer.access)).await;
    assert_eq!(mine.body["items"], json!([]), "{:?}", mine.body);

    // Right-to-left scripts and emoji joined by zero-width joiners are ordinary text.
    let arabic = api
        .patch(
            "/influencers/me",
            &json!({ "display_name": "ليلى 👩\u{200D}🍳", "location": "תל אביב" }),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(arabic.status, StatusCode::OK, "{:?}", arabic.body);
    assert_eq!(arabic.body["display_name"], "ليلى 👩\u{200D}🍳");
    let company = api
        .patch(
            "/brands/me",
            &json!({ "company_name": "شركة النور 🏳\u{FE0F}\u{200D}🌈" }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(company.status, StatusCode::OK, "{:?}", company.body);
    let hebrew = api
        .post(
            "/gigs",
            &gig("סטורי באינסטגרם 📸"),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(hebrew.status, StatusCode::CREATED, "{:?}", hebrew.body);
    assert_eq!(hebrew.body["title"], "סטורי באינסטגרם 📸");
    let registered = api
        .post(
            "/auth/register",
            &registration("محمد 👨\u{200D}💻", 9),
            None,
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{:?}",
        registered.body
    );
}

/// Overwrites `user_id`'s weekly windows in the platform's store with a value no code of ours
/// writes: in its SQLite file, or in its MongoDB database when `MONGO_URI` is set.
async fn plant_unreadable_weekly_windows(platform: &Platform, user_id: &str) {
    if let Ok(uri) = std::env::var("MONGO_URI") {
        use mongodb::bson::{Document, doc};
        let client = mongodb::Client::with_uri_str(&uri)
            .await
            .expect("MONGO_URI connects");
        // The database the platform's processes pick: the URI's own, else MONGO_DATABASE.
        let name = client.default_database().map_or_else(
            || format!("noillin_e2e_{}", platform.namespace),
            |db| db.name().to_owned(),
        );
        let options = mongodb::options::DatabaseOptions::builder()
            .write_concern(mongodb::options::WriteConcern::majority())
            .build();
        let planted = client
            .database_with_options(&name, options)
            .collection::<Document>("availability")
            .update_one(
                doc! { "_id": user_id },
                doc! { "$set": { "weekly": { "monday": "whenever" } } },
            )
            .await
            .expect("planting in MongoDB");
        assert_eq!(planted.matched_count, 1);
    } else {
        let connection =
            rusqlite::Connection::open(platform.dir().join("data").join("noillin.sqlite3"))
                .expect("the platform's SQLite file opens");
        let planted = connection
            .execute(
                "UPDATE availability_weekly SET weekly = '{\"monday\": \"whenever\"}' \
                 WHERE user_id = ?1",
                [user_id],
            )
            .expect("planting in SQLite");
        assert_eq!(planted, 1);
    }
}

#[tokio::test]
async fn a_stored_record_that_cannot_be_decoded_is_a_500_without_retry_after() {
    let platform = Platform::start_api_only().await;
    let api = platform.api();
    let influencer = api.register("influencer").await;
    let set = api
        .put(
            "/availability/weekly",
            &json!({ "monday": [{ "start": "09:00", "end": "17:00" }] }),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK);
    plant_unreadable_weekly_windows(&platform, &influencer.id).await;

    let response = api.get("/availability", Some(&influencer.access)).await;
    assert_eq!(
        response.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{:?}",
        response.body
    );
    assert_eq!(response.content_type(), "application/problem+json");
    assert!(response.headers.get("retry-after").is_none());
    let body = response.body.to_string();
    assert!(
        !body.contains("whenever") && !body.contains("unreadable") && !body.contains("store"),
        "the cause stays in the logs: {body}"
    );
    let logged = noillin_test_support::eventually(Duration::from_secs(10), || async {
        platform.logs().contains("corrupt stored data")
    })
    .await;
    assert!(logged, "the cause is logged: {}", platform.logs());
}
