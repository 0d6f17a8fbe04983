//! `/notifications`: listing, paging and reading what a user was told about. The worker writes
//! notifications in production; here the test writes them into the app's store, so the API is
//! tested without the worker (how they arrive is tested in `tests/e2e`).

use jiff::Timestamp;
use noillin_domain::{
    UserId,
    gig::GigId,
    notification::{GigNotice, Notification, NotificationKind},
};
use noillin_test_support::TestUser;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Stores, for `user`, one notification about each gig, in order: each event a second after the
/// one before, so ids sort in the same order.
async fn notify(app: &TestApp, user: &TestUser, gigs: &[GigId]) -> Vec<String> {
    let store = app.store().await;
    let recipient = UserId::from_string(user.id.clone());
    let start = Timestamp::now().as_millisecond();
    let mut ids = Vec::new();
    for (n, gig) in (0_i64..).zip(gigs) {
        let millis = start + n * 1000;
        let event = uuid::Builder::from_unix_timestamp_millis(
            u64::try_from(millis).expect("after 1970"),
            uuid::Uuid::new_v4().as_bytes()[..10]
                .try_into()
                .expect("ten bytes"),
        )
        .into_uuid();
        let notification = Notification::about_gig(
            event,
            Timestamp::from_millisecond(millis).expect("a valid time"),
            &recipient,
            NotificationKind::GigInvitation,
            &GigNotice {
                gig_id: gig,
                gig_title: "Lisbon food week",
                actor_name: "Ana",
            },
        );
        let stored = store.notifications.insert(&notification).await;
        assert!(stored.expect("the store takes the notification"));
        ids.push(notification.id.to_string());
    }
    ids
}

async fn notifications(app: &TestApp, user: &TestUser, query: &str) -> Value {
    let response = app
        .api
        .get(&format!("/notifications{query}"), Some(&user.access))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body
}

#[tokio::test]
async fn notifications_page_newest_first_and_bad_queries_are_refused() {
    let app = spawn_app().await;
    let api = &app.api;
    let member = api.register("influencer").await;
    let gigs: Vec<GigId> = (0..5).map(|_| GigId::generate()).collect();
    notify(&app, &member, &gigs).await;
    assert_eq!(notifications(&app, &member, "").await["unread_count"], 5);

    let first = notifications(&app, &member, "?limit=2").await;
    let next = first["next_before"].as_str().expect("a next page");
    let second = notifications(&app, &member, &format!("?limit=2&before={next}")).await;
    let next = second["next_before"].as_str().expect("a last page");
    let third = notifications(&app, &member, &format!("?limit=2&before={next}")).await;
    assert_eq!(third["next_before"], Value::Null);
    let pages: Vec<String> = [first, second, third]
        .iter()
        .flat_map(|page| page["items"].as_array().cloned().unwrap_or_default())
        .map(|item| item["gig_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let newest_first: Vec<String> = gigs.iter().rev().map(ToString::to_string).collect();
    assert_eq!(pages, newest_first);

    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?unread=maybe", "query"),
        ("?colour=red", "query"),
        (&format!("?before={}", "x".repeat(65)), "before"),
    ] {
        let response = api
            .get(&format!("/notifications{query}"), Some(&member.access))
            .await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(
            response.content_type(),
            "application/problem+json",
            "{query}"
        );
        assert_eq!(response.error_fields(), vec![field.to_owned()], "{query}");
    }
    let unknown = api
        .post(
            "/notifications/0191c1d2-0000-8000-8000-000000000000/read",
            &json!({}),
            Some(&member.access),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_the_recipient_reads_a_notification_and_reading_again_keeps_the_first_time() {
    let app = spawn_app().await;
    let api = &app.api;
    let member = api.register("influencer").await;
    let other = api.register("influencer").await;
    let ids = notify(&app, &member, &[GigId::generate(), GigId::generate()]).await;
    let path = format!("/notifications/{}/read", ids[0]);

    assert_eq!(notifications(&app, &other, "").await["items"], json!([]));
    let foreign = api.post(&path, &json!({}), Some(&other.access)).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.content_type(), "application/problem+json");
    assert_eq!(
        notifications(&app, &member, "?unread=true").await["unread_count"],
        2,
        "another user's attempt changed nothing"
    );

    let read = api.post(&path, &json!({}), Some(&member.access)).await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    assert_eq!(read.body["id"], ids[0].as_str());
    let read_at = read.body["read_at"]
        .as_str()
        .expect("a read time")
        .to_owned();
    let again = api.post(&path, &json!({}), Some(&member.access)).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(
        again.body["read_at"],
        read_at.as_str(),
        "the first read time stays"
    );

    let unread = notifications(&app, &member, "?unread=true").await;
    assert_eq!(unread["unread_count"], 1);
    assert_eq!(unread["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(unread["items"][0]["id"], ids[1].as_str());

    let all_read = api
        .post("/notifications/read-all", &json!({}), Some(&member.access))
        .await;
    assert_eq!(all_read.status, StatusCode::OK, "{:?}", all_read.body);
    assert_eq!(all_read.body["marked"], 1, "only the unread one changed");
    let after = notifications(&app, &member, "?unread=true").await;
    assert_eq!(after["items"], json!([]));
    assert_eq!(after["unread_count"], 0);
}
