//! Chat, in-process: who may open which conversation, parties-only on every route, idempotent
//! sends, history pages and their edges, read marks, list order and the opening limit. Pushes,
//! notifications and mails cross realtime and the worker: `tests/e2e/tests/chat.rs`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use noillin_test_support::TestUser;

async fn open(app: &TestApp, brand: &TestUser, influencer: &TestUser) -> String {
    let response = app
        .api
        .post(
            "/conversations",
            &json!({ "influencer_id": influencer.id }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body["id"].as_str().expect("an id").to_owned()
}

async fn send(app: &TestApp, user: &TestUser, conversation: &str, client_id: &str) -> Value {
    let response = app
        .api
        .post(
            &format!("/conversations/{conversation}/messages"),
            &json!({ "client_id": client_id, "text": format!("message {client_id}") }),
            Some(&user.access),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body
}

fn ids(page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["id"].as_u64().expect("a message id"))
        .collect()
}

#[tokio::test]
async fn only_brands_start_conversations_and_only_with_what_exists() {
    let app = spawn_app().await;
    let brand = app.api.register("brand").await;
    let influencer = app.api.register("influencer").await;
    let other_brand = app.api.register("brand").await;

    let cold = app
        .api
        .post(
            "/conversations",
            &json!({ "influencer_id": other_brand.id }),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(cold.status, StatusCode::FORBIDDEN, "{:?}", cold.body);
    // A brand is not an influencer to write to; an unknown id is nobody.
    for target in [
        other_brand.id.as_str(),
        "00000000-0000-7000-8000-000000000000",
    ] {
        let response = app
            .api
            .post(
                "/conversations",
                &json!({ "influencer_id": target }),
                Some(&brand.access),
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::NOT_FOUND,
            "{:?}",
            response.body
        );
    }
    for body in [
        json!({ "gig_id": "00000000-0000-7000-8000-000000000000" }),
        json!({ "booking_id": "00000000-0000-7000-8000-000000000000" }),
    ] {
        let response = app
            .api
            .post("/conversations", &body, Some(&brand.access))
            .await;
        assert_eq!(
            response.status,
            StatusCode::NOT_FOUND,
            "{body}: {:?}",
            response.body
        );
    }
    for body in [
        json!({}),
        json!({ "influencer_id": influencer.id, "gig_id": "g" }),
        json!({ "influencer_id": 7 }),
    ] {
        let response = app
            .api
            .post("/conversations", &body, Some(&brand.access))
            .await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            response.body
        );
    }

    let first = app
        .api
        .post(
            "/conversations",
            &json!({ "influencer_id": influencer.id }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.body["subject"]["kind"], "direct");
    assert_eq!(first.body["brand_id"], brand.id.as_str());
    assert_eq!(first.body["member_ids"], json!([influencer.id]));
    assert_eq!(first.body["last_message_id"], 0);
    assert_eq!(first.body["last_message"], Value::Null);
    let again = app
        .api
        .post(
            "/conversations",
            &json!({ "influencer_id": influencer.id }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
}

#[tokio::test]
async fn every_route_of_a_conversation_answers_its_parties_only() {
    let app = spawn_app().await;
    let brand = app.api.register("brand").await;
    let influencer = app.api.register("influencer").await;
    let conversation = open(&app, &brand, &influencer).await;
    send(&app, &brand, &conversation, "hello").await;
    let stranger_brand = app.api.register("brand").await;
    let stranger_influencer = app.api.register("influencer").await;

    for stranger in [&stranger_brand, &stranger_influencer] {
        let base = format!("/conversations/{conversation}");
        let answers = [
            app.api.get(&base, Some(&stranger.access)).await,
            app.api
                .get(&format!("{base}/messages"), Some(&stranger.access))
                .await,
            app.api
                .get(&format!("{base}/messages?after=0"), Some(&stranger.access))
                .await,
            app.api
                .post(
                    &format!("{base}/messages"),
                    &json!({ "client_id": "x", "text": "let me in" }),
                    Some(&stranger.access),
                )
                .await,
            app.api
                .post(
                    &format!("{base}/read"),
                    &json!({ "up_to": 1 }),
                    Some(&stranger.access),
                )
                .await,
        ];
        for answer in answers {
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{:?}", answer.body);
        }
        let listed = app.api.get("/conversations", Some(&stranger.access)).await;
        assert_eq!(listed.body["items"], json!([]));
    }
    // Nothing the strangers tried was stored.
    let history = app
        .api
        .get(
            &format!("/conversations/{conversation}/messages"),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(ids(&history.body), vec![1]);
    let unauthenticated = app
        .api
        .get(&format!("/conversations/{conversation}"), None)
        .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_retried_send_is_stored_once_and_racing_sends_are_numbered_without_gaps() {
    let app = spawn_app().await;
    let brand = app.api.register("brand").await;
    let influencer = app.api.register("influencer").await;
    let conversation = open(&app, &brand, &influencer).await;
    let path = format!("/conversations/{conversation}/messages");

    let first = send(&app, &brand, &conversation, "retry-1").await;
    let retry = app
        .api
        .post(
            &path,
            &json!({ "client_id": "retry-1", "text": "a different text" }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    assert_eq!(retry.body, first);
    // The same client id from the other party is its own message.
    let theirs = send(&app, &influencer, &conversation, "retry-1").await;
    assert_eq!(theirs["id"], 2);

    let sends = (0..10).map(|i| {
        let (api, path, token) = (app.api.clone(), path.clone(), brand.access.clone());
        async move {
            api.post(
                &path,
                &json!({ "client_id": format!("race-{i}"), "text": "at once" }),
                Some(&token),
            )
            .await
        }
    });
    let mut numbers: Vec<u64> = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            r.body["id"].as_u64().expect("an id")
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (3..=12).collect::<Vec<_>>());

    for (body, fields) in [
        (json!({ "client_id": "", "text": "hi" }), vec!["client_id"]),
        (
            json!({ "client_id": "a b", "text": "  \n " }),
            vec!["client_id", "text"],
        ),
        (
            json!({ "client_id": "long", "text": "é".repeat(4_001) }),
            vec!["text"],
        ),
    ] {
        let response = app.api.post(&path, &body, Some(&brand.access)).await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{:?}",
            response.body
        );
        assert_eq!(response.error_fields(), fields);
    }
    let longest = app
        .api
        .post(
            &path,
            &json!({ "client_id": "x".repeat(64), "text": "é".repeat(4_000) }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(longest.status, StatusCode::CREATED, "{:?}", longest.body);
}

#[tokio::test]
async fn history_pages_back_and_catches_up_at_every_edge() {
    let app = spawn_app().await;
    let brand = app.api.register("brand").await;
    let influencer = app.api.register("influencer").await;
    let conversation = open(&app, &brand, &influencer).await;
    let page = |query: &str| {
        let (api, token) = (app.api.clone(), influencer.access.clone());
        let path = format!("/conversations/{conversation}/messages{query}");
        async move { api.get(&path, Some(&token)).await }
    };
    let empty = page("").await;
    assert_eq!(empty.status, StatusCode::OK, "{:?}", empty.body);
    assert_eq!(
        (ids(&empty.body), &empty.body["has_more"]),
        (vec![], &json!(false))
    );
    for i in 1..=5 {
        send(&app, &brand, &conversation, &format!("m{i}")).await;
    }

    for (query, expected, more) in [
        ("", vec![1, 2, 3, 4, 5], false),
        ("?limit=2", vec![4, 5], true),
        ("?before=4&limit=2", vec![2, 3], true),
        ("?before=2&limit=2", vec![1], false),
        ("?before=1", vec![], false),
        ("?before=0", vec![], false),
        ("?after=0&limit=5", vec![1, 2, 3, 4, 5], false),
        ("?after=0&limit=4", vec![1, 2, 3, 4], true),
        ("?after=3", vec![4, 5], false),
        ("?after=5", vec![], false),
        ("?after=99", vec![], false),
        ("?after=1&before=4", vec![2, 3], false),
        ("?after=1&before=5&limit=2", vec![2, 3], true),
        ("?after=4&before=2", vec![], false),
    ] {
        let response = page(query).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{query}: {:?}",
            response.body
        );
        assert_eq!(ids(&response.body), expected, "{query}");
        assert_eq!(response.body["has_more"], more, "{query}");
    }
    let first = page("?after=0&limit=1").await;
    assert_eq!(first.body["items"][0]["text"], "message m1");
    assert_eq!(first.body["items"][0]["sender_id"], brand.id.as_str());
    assert_eq!(
        first.body["items"][0]["conversation_id"],
        conversation.as_str()
    );
    for query in ["?limit=0", "?limit=101", "?after=-1", "?after=x", "?page=2"] {
        let response = page(query).await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {:?}",
            response.body
        );
    }
}

#[tokio::test]
async fn read_marks_move_forward_only_and_unread_counts_follow_them() {
    let app = spawn_app().await;
    let brand = app.api.register("brand").await;
    let influencer = app.api.register("influencer").await;
    let older = open(&app, &brand, &influencer).await;
    let second_influencer = app.api.register("influencer").await;
    let newer = open(&app, &brand, &second_influencer).await;
    for i in 1..=5 {
        send(&app, &brand, &older, &format!("m{i}")).await;
    }
    let read = |up_to: u64| {
        let (api, token) = (app.api.clone(), influencer.access.clone());
        let path = format!("/conversations/{older}/read");
        async move {
            api.post(&path, &json!({ "up_to": up_to }), Some(&token))
                .await
        }
    };

    let listed = app
        .api
        .get("/conversations", Some(&influencer.access))
        .await;
    assert_eq!(listed.body["items"][0]["unread_count"], 5);
    assert_eq!(listed.body["items"][0]["last_message"]["id"], 5);
    assert_eq!(
        listed.body["items"][0]["last_message"]["text"],
        "message m5"
    );
    for (up_to, mark, unread) in [(3, 3, 2), (1, 3, 2), (99, 5, 0)] {
        let response = read(up_to).await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
        assert_eq!(
            (&response.body["read_up_to"], &response.body["unread_count"]),
            (&json!(mark), &json!(unread)),
            "up_to {up_to}"
        );
    }
    // Writing reads everything up to one's own message.
    send(&app, &brand, &older, "m6").await;
    send(&app, &influencer, &older, "reply").await;
    let mine = app
        .api
        .get(&format!("/conversations/{older}"), Some(&influencer.access))
        .await;
    assert_eq!(
        (&mine.body["read_up_to"], &mine.body["unread_count"]),
        (&json!(7), &json!(0))
    );
    let theirs = app
        .api
        .get(&format!("/conversations/{older}"), Some(&brand.access))
        .await;
    assert_eq!(
        (&theirs.body["read_up_to"], &theirs.body["unread_count"]),
        (&json!(6), &json!(1))
    );

    // The brand's list: the conversation written to last comes first, one per page.
    let first_page = app
        .api
        .get("/conversations?limit=1", Some(&brand.access))
        .await;
    assert_eq!(first_page.body["items"][0]["id"], older.as_str());
    let cursor = first_page.body["next_cursor"]
        .as_str()
        .expect("a next page");
    let second_page = app
        .api
        .get(
            &format!("/conversations?limit=1&cursor={cursor}"),
            Some(&brand.access),
        )
        .await;
    assert_eq!(second_page.status, StatusCode::OK, "{:?}", second_page.body);
    assert_eq!(second_page.body["items"][0]["id"], newer.as_str());
    let bad_cursor = app
        .api
        .get("/conversations?cursor=notacursor", Some(&brand.access))
        .await;
    assert_eq!(bad_cursor.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_brand_opens_only_so_many_new_conversations_an_hour_and_reopening_is_free() {
    let app = spawn_app_with(&[("CHAT_OPENS_PER_HOUR", "2")]).await;
    let brand = app.api.register("brand").await;
    let mut influencers = Vec::new();
    for _ in 0..3 {
        influencers.push(app.api.register("influencer").await);
    }
    open(&app, &brand, &influencers[0]).await;
    open(&app, &brand, &influencers[1]).await;
    let refused = app
        .api
        .post(
            "/conversations",
            &json!({ "influencer_id": influencers[2].id }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        refused.body
    );
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("a header")
        .parse()
        .expect("seconds");
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let reopened = app
        .api
        .post(
            "/conversations",
            &json!({ "influencer_id": influencers[0].id }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(reopened.status, StatusCode::OK, "{:?}", reopened.body);
    // Another brand has its own allowance.
    let other = app.api.register("brand").await;
    open(&app, &other, &influencers[2]).await;
}
