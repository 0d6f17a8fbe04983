//! Notifications end to end through NGINX: an action in core-api goes through the outbox, the
//! broker and the worker, and arrives as a live push on a socket connected through `/socket/`,
//! in `GET /notifications`, and (for invitations) as a mail. Paging, refused queries and
//! reading are tested in-process, in core-api's `tests/api/notifications.rs`.

use std::time::Duration;

use noillin_test_support::{Platform, SmtpSink, SocketClient, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);
const APP_URL: &str = "https://app.noillin.test";

async fn platform(sink: &SmtpSink) -> Platform {
    Platform::builder()
        .env("SMTP_URL", &sink.url())
        .env("APP_URL", APP_URL)
        .start()
        .await
        .expect("platform starts")
}

async fn socket_of(platform: &Platform, user: &TestUser) -> SocketClient {
    platform
        .connect_socket(&user.access)
        .await
        .expect("socket connects through the gateway")
}

async fn notifications(platform: &Platform, user: &TestUser, query: &str) -> Value {
    let response = platform
        .api()
        .get(&format!("/notifications{query}"), Some(&user.access))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body
}

#[tokio::test]
async fn an_invitation_is_pushed_live_listed_and_mailed_and_only_its_recipient_sees_it() {
    let sink = SmtpSink::start().await;
    let platform = platform(&sink).await;
    let api = platform.api();
    let owner = api.register("influencer").await;
    let member = api.register("influencer").await;
    let mut member_socket = socket_of(&platform, &member).await;
    let mut owner_socket = socket_of(&platform, &owner).await;

    let gig = api.create_gig(&owner, "Lisbon food week").await;
    api.invite(&owner, &gig, &[&member]).await;

    let pushed = member_socket
        .expect_event("notification", WAIT)
        .await
        .expect("the invitation is pushed to the member's socket");
    assert_eq!(pushed["kind"], "gig_invitation");
    assert_eq!(pushed["gig_id"], gig.as_str());
    assert!(
        pushed["body"]
            .as_str()
            .is_some_and(|b| b.contains("Lisbon food week")),
        "{pushed}"
    );

    let listed = notifications(&platform, &member, "").await;
    assert_eq!(listed["unread_count"], 1);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["items"][0]["id"], pushed["id"]);
    assert_eq!(listed["items"][0]["read_at"], Value::Null);

    let mail = sink.wait_for(1, WAIT).await.remove(0);
    assert_eq!(mail.to, vec![member.email.clone()]);
    assert_eq!(
        mail.subject().as_deref(),
        Some("You are invited to \u{201c}Lisbon food week\u{201d}")
    );
    let link = format!("{APP_URL}/gigs/{gig}");
    assert!(mail.text_body().is_some_and(|t| t.contains(&link)));
    assert!(mail.html_body().is_some_and(|h| h.contains(&link)));

    // Only the recipient sees or changes it.
    let id = pushed["id"].as_str().expect("id").to_owned();
    let owners = notifications(&platform, &owner, "").await;
    assert_eq!(owners["items"], json!([]));
    let foreign = api
        .post(
            &format!("/notifications/{id}/read"),
            &json!({}),
            Some(&owner.access),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(
        notifications(&platform, &member, "?unread=true").await["items"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "another user's attempt changed nothing"
    );

    let read = api
        .post(
            &format!("/notifications/{id}/read"),
            &json!({}),
            Some(&member.access),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    assert!(read.body["read_at"].is_string());
    let unread = notifications(&platform, &member, "?unread=true").await;
    assert_eq!(unread["items"], json!([]));
    assert_eq!(unread["unread_count"], 0);

    // The answer goes back to the owner, live, without a mail.
    let accepted = api.accept_invitation(&member, &gig).await;
    assert_eq!(accepted.status, StatusCode::OK);
    let answer = owner_socket
        .expect_event("notification", WAIT)
        .await
        .expect("the owner hears of the answer");
    assert_eq!(answer["kind"], "gig_invitation_accepted");
    let all_read = api
        .post("/notifications/read-all", &json!({}), Some(&owner.access))
        .await;
    assert_eq!(all_read.status, StatusCode::OK);
    assert_eq!(all_read.body["marked"], 1);
    assert_eq!(sink.messages().len(), 1, "answers are not mailed");
}

#[tokio::test]
async fn notifications_and_mails_name_people_by_the_names_their_profiles_have_now() {
    let sink = SmtpSink::start().await;
    let platform = platform(&sink).await;
    let api = platform.api();
    let owner = api.register("influencer").await;
    let member = api.register("influencer").await;
    for (user, name) in [(&owner, "Ana Renamed"), (&member, "Rui Renamed")] {
        let renamed = api
            .patch(
                "/influencers/me",
                &json!({ "display_name": name }),
                Some(&user.access),
            )
            .await;
        assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    }
    let mut member_socket = socket_of(&platform, &member).await;
    let mut owner_socket = socket_of(&platform, &owner).await;

    let gig = api.create_gig(&owner, "Lisbon food week").await;
    api.invite(&owner, &gig, &[&member]).await;
    let invitation = member_socket
        .expect_event("notification", WAIT)
        .await
        .expect("the invitation is pushed");
    assert!(
        invitation["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("Ana Renamed invited you")),
        "{invitation}"
    );
    let mail = sink.wait_for(1, WAIT).await.remove(0);
    let text = mail.text_body().unwrap_or_default();
    assert!(text.contains("Hello Rui Renamed,"), "{text}");
    assert!(text.contains("Ana Renamed invited you"), "{text}");

    let accepted = api.accept_invitation(&member, &gig).await;
    assert_eq!(accepted.status, StatusCode::OK, "{:?}", accepted.body);
    let answer = owner_socket
        .expect_event("notification", WAIT)
        .await
        .expect("the answer is pushed");
    assert!(
        answer["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("Rui Renamed accepted")),
        "{answer}"
    );
}
