//! Chat end to end through NGINX, two core-api and two realtime nodes: messages cross nodes,
//! only parties reach a conversation, sends are idempotent, history pages, read receipts,
//! notifications and the unread-messages mail, and the rate limit on opening conversations.

use std::time::Duration;

use noillin_test_support::{
    Platform, PlatformBuilder, SmtpSink, SocketClient, TestUser, eventually,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

fn two_by_two() -> PlatformBuilder {
    Platform::builder().core_api(2).realtime(2)
}

async fn start(builder: PlatformBuilder) -> Platform {
    builder.start().await.expect("platform starts")
}

/// A socket of `user` opened straight on realtime node `node`.
async fn socket_on(platform: &Platform, node: usize, user: &TestUser) -> SocketClient {
    SocketClient::connect(
        &platform.node_socket_url(node),
        json!({ "token": user.access }),
        None,
    )
    .await
    .expect("socket connects")
}

/// `brand`'s direct conversation with `influencer`: its id.
async fn direct(platform: &Platform, brand: &TestUser, influencer: &TestUser) -> String {
    let view = platform.api().direct_conversation(brand, influencer).await;
    view["id"].as_str().expect("conversation id").to_owned()
}

/// The `message` event `socket` gets next, or a panic.
async fn next_message(socket: &mut SocketClient, who: &str) -> Value {
    socket
        .expect_event("message", WAIT)
        .await
        .unwrap_or_else(|| panic!("{who} got no message event"))
}

#[tokio::test]
async fn a_message_sent_beside_node_a_reaches_the_recipient_on_node_b_and_the_senders_sockets() {
    let platform = start(two_by_two().worker(0)).await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let influencer = api.register("influencer").await;
    let conversation = direct(&platform, &brand, &influencer).await;
    let mut brand_on_a = socket_on(&platform, 0, &brand).await;
    let mut influencer_on_b = socket_on(&platform, 1, &influencer).await;

    let sent = api.say(&brand, &conversation, "Hi from node A").await;

    assert_eq!(sent["id"], 1);
    assert_eq!(sent["conversation_id"], conversation.as_str());
    assert_eq!(sent["sender_id"], brand.id.as_str());
    assert_eq!(sent["text"], "Hi from node A");
    assert_eq!(
        next_message(&mut influencer_on_b, "the recipient").await,
        sent
    );
    assert_eq!(
        next_message(&mut brand_on_a, "the sender's own socket").await,
        sent
    );

    // And back, the other way round.
    let reply = api.say(&influencer, &conversation, "Hi from node B").await;
    assert_eq!(reply["id"], 2);
    assert_eq!(next_message(&mut brand_on_a, "the brand").await, reply);
}

#[tokio::test]
async fn only_parties_reach_a_conversation_and_influencers_cannot_open_one() {
    let platform = start(two_by_two().realtime(0).worker(0)).await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let influencer = api.register("influencer").await;
    let stranger_brand = api.register("brand").await;
    let stranger_influencer = api.register("influencer").await;
    let conversation = direct(&platform, &brand, &influencer).await;
    api.say(&brand, &conversation, "For your eyes only").await;
    let unknown = "0190a0b0-0000-7000-8000-000000000000";

    for (who, user, id) in [
        ("a stranger brand", &stranger_brand, conversation.as_str()),
        ("a stranger influencer", &stranger_influencer, &conversation),
        ("a party, on an unknown id", &brand, unknown),
    ] {
        let routes = [
            ("GET conversation", api.conversation(user, id).await),
            ("GET messages", api.messages(user, id, "").await),
            (
                "GET messages after",
                api.messages(user, id, "?after=0").await,
            ),
            (
                "POST message",
                api.send_message(user, id, "intruder-1", "hello?").await,
            ),
            ("POST read", api.mark_read(user, id, 1).await),
        ];
        for (route, response) in routes {
            assert_eq!(
                response.status,
                StatusCode::NOT_FOUND,
                "{who}: {route}: {:?}",
                response.body
            );
            assert_eq!(
                response.content_type(),
                "application/problem+json",
                "{who}: {route}"
            );
        }
    }
    assert!(api.conversations(&stranger_brand).await.is_empty());
    assert!(api.conversations(&stranger_influencer).await.is_empty());
    // The strangers' attempts changed nothing.
    assert_eq!(api.message_ids(&brand, &conversation, "").await, vec![1]);
    let seen = api.conversation(&influencer, &conversation).await;
    assert_eq!(seen.status, StatusCode::OK, "{:?}", seen.body);
    assert_eq!(seen.body["unread_count"], 1);

    // No cold messages from influencers, to a brand or to another influencer.
    for target in [&brand, &stranger_influencer] {
        let refused = api
            .open_conversation(&influencer, &json!({ "influencer_id": target.id }))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    }
}

#[tokio::test]
async fn a_gig_conversation_reaches_every_member() {
    let platform = start(two_by_two().worker(0)).await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let owner = api.register("influencer").await;
    let member = api.register("influencer").await;
    let gig = api.create_gig(&owner, "Duo unboxing").await;
    api.invite(&owner, &gig, &[&member]).await;
    let accepted = api.accept_invitation(&member, &gig).await;
    assert_eq!(accepted.status, StatusCode::OK, "{:?}", accepted.body);
    let published = api.publish_gig(&owner, &gig).await;
    assert_eq!(published.status, StatusCode::OK, "{:?}", published.body);
    let mut owner_socket = socket_on(&platform, 0, &owner).await;
    let mut member_socket = socket_on(&platform, 1, &member).await;

    let opened = api
        .open_conversation(&brand, &json!({ "gig_id": gig }))
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{:?}", opened.body);
    assert_eq!(
        opened.body["subject"],
        json!({ "kind": "gig", "gig_id": gig })
    );
    assert_eq!(opened.body["brand_id"], brand.id.as_str());
    assert_eq!(
        opened.body["member_ids"],
        json!([owner.id, member.id]),
        "the owner first"
    );
    let again = api
        .open_conversation(&brand, &json!({ "gig_id": gig }))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["id"], opened.body["id"]);
    let conversation = opened.body["id"].as_str().expect("id").to_owned();

    let sent = api.say(&brand, &conversation, "Hello both of you").await;
    assert_eq!(next_message(&mut owner_socket, "the owner").await, sent);
    assert_eq!(next_message(&mut member_socket, "the member").await, sent);
    let reply = api.say(&member, &conversation, "Hello!").await;
    assert_eq!(next_message(&mut owner_socket, "the owner").await, reply);
    for user in [&owner, &member] {
        assert_eq!(api.message_ids(user, &conversation, "").await, vec![1, 2]);
    }
}

#[tokio::test]
async fn the_same_client_id_twice_stores_and_pushes_one_message() {
    let platform = start(two_by_two().worker(0)).await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let influencer = api.register("influencer").await;
    let conversation = direct(&platform, &brand, &influencer).await;
    let mut recipient = socket_on(&platform, 1, &influencer).await;

    let first = api
        .send_message(&brand, &conversation, "retry-me-1", "Only once")
        .await;
    let retry = api
        .send_message(&brand, &conversation, "retry-me-1", "Only once")
        .await;

    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    assert_eq!(
        retry.body, first.body,
        "the retry answers the stored message"
    );
    assert_eq!(first.body["client_id"], "retry-me-1");
    assert_eq!(api.message_ids(&brand, &conversation, "").await, vec![1]);
    // The same client id from another sender is another message.
    let theirs = api
        .send_message(&influencer, &conversation, "retry-me-1", "Mine")
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{:?}", theirs.body);
    assert_eq!(theirs.body["id"], 2);

    // Pushes leave in the order the sends were answered: had the retry pushed again, its
    // push would come between these two.
    assert_eq!(
        next_message(&mut recipient, "the recipient").await,
        first.body
    );
    assert_eq!(
        next_message(&mut recipient, "the recipient").await,
        theirs.body
    );
}

#[tokio::test]
async fn history_pages_before_and_after_a_message_id() {
    let platform = start(two_by_two().realtime(0).worker(0)).await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let influencer = api.register("influencer").await;
    let conversation = direct(&platform, &brand, &influencer).await;
    let empty = api.messages(&influencer, &conversation, "").await;
    assert_eq!(empty.status, StatusCode::OK, "{:?}", empty.body);
    assert_eq!(empty.body, json!({ "items": [], "has_more": false }));
    for i in 1..=7 {
        let sender = if i % 2 == 0 { &influencer } else { &brand };
        api.say(sender, &conversation, &format!("message {i}"))
            .await;
    }

    let page = |query: &'static str| {
        let api = api.clone();
        let (user, conversation) = (influencer.clone(), conversation.clone());
        async move {
            let response = api.messages(&user, &conversation, query).await;
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{query}: {:?}",
                response.body
            );
            let ids: Vec<u64> = response.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|m| m["id"].as_u64().expect("id"))
                .collect();
            (ids, response.body["has_more"].as_bool().expect("has_more"))
        }
    };
    let cases: [(&str, Vec<u64>, bool); 11] = [
        ("", vec![1, 2, 3, 4, 5, 6, 7], false),
        ("?limit=3", vec![5, 6, 7], true),
        ("?before=5&limit=3", vec![2, 3, 4], true),
        ("?before=2&limit=3", vec![1], false),
        ("?before=1", vec![], false),
        ("?after=0&limit=3", vec![1, 2, 3], true),
        ("?after=3&limit=3", vec![4, 5, 6], true),
        ("?after=4&limit=3", vec![5, 6, 7], false),
        ("?after=6", vec![7], false),
        ("?after=7", vec![], false),
        ("?after=100", vec![], false),
    ];
    for (query, ids, has_more) in cases {
        assert_eq!(page(query).await, (ids, has_more), "{query}");
    }

    let messages = api.messages(&influencer, &conversation, "?after=5").await;
    assert_eq!(messages.body["items"][0]["text"], "message 6");
    assert_eq!(
        messages.body["items"][0]["sender_id"],
        influencer.id.as_str()
    );

    for query in ["?limit=0", "?limit=101", "?after=-1", "?before=x"] {
        let refused = api.messages(&influencer, &conversation, query).await;
        assert!(
            refused.status.is_client_error() && refused.status != StatusCode::NOT_FOUND,
            "{query}: {} {:?}",
            refused.status,
            refused.body
        );
        assert_eq!(
            refused.content_type(),
            "application/problem+json",
            "{query}"
        );
    }
}

#[tokio::test]
async fn reading_pushes_a_receipt_and_moves_the_unread_counts() {
    let platform = start(two_by_two().worker(0)).await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let influencer = api.register("influencer").await;
    let conversation = direct(&platform, &brand, &influencer).await;
    let mut brand_socket = socket_on(&platform, 0, &brand).await;
    let mut influencer_socket = socket_on(&platform, 1, &influencer).await;
    for i in 1..=3 {
        api.say(&brand, &conversation, &format!("news {i}")).await;
    }

    let listed = |user: &TestUser| {
        let api = api.clone();
        let user = user.clone();
        let conversation = conversation.clone();
        async move {
            let items = api.conversations(&user).await;
            assert_eq!(items.len(), 1, "{items:?}");
            assert_eq!(items[0]["id"], conversation.as_str());
            items[0].clone()
        }
    };
    let theirs = listed(&influencer).await;
    assert_eq!(theirs["unread_count"], 3);
    assert_eq!(theirs["read_up_to"], 0);
    assert_eq!(theirs["last_message_id"], 3);
    assert_eq!(theirs["last_message"]["id"], 3);
    assert_eq!(theirs["last_message"]["text"], "news 3");
    assert_eq!(listed(&brand).await["unread_count"], 0, "sending reads");

    let read = api.mark_read(&influencer, &conversation, 2).await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    assert_eq!(read.body, json!({ "read_up_to": 2, "unread_count": 1 }));
    let receipt = brand_socket
        .expect_event("read", WAIT)
        .await
        .expect("the brand gets the read receipt");
    assert_eq!(
        receipt,
        json!({ "conversation_id": conversation, "user_id": influencer.id, "up_to": 2 })
    );
    let theirs = listed(&influencer).await;
    assert_eq!(
        (theirs["unread_count"].clone(), theirs["read_up_to"].clone()),
        (json!(1), json!(2))
    );

    // A mark never moves back, and never past the last message.
    let back = api.mark_read(&influencer, &conversation, 1).await;
    assert_eq!(back.body, json!({ "read_up_to": 2, "unread_count": 1 }));
    let past = api.mark_read(&influencer, &conversation, 99).await;
    assert_eq!(past.status, StatusCode::OK, "{:?}", past.body);
    assert_eq!(past.body, json!({ "read_up_to": 3, "unread_count": 0 }));
    assert_eq!(listed(&influencer).await["unread_count"], 0);

    // The receipts went to the other party, not back to the reader.
    assert_eq!(
        influencer_socket
            .expect_event("read", Duration::from_millis(500))
            .await,
        None
    );
}

/// The kinds of `user`'s notifications, newest first.
async fn notification_kinds(platform: &Platform, user: &TestUser) -> Vec<String> {
    let response = platform
        .api()
        .get("/notifications", Some(&user.access))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["kind"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_recipient_without_a_socket_is_notified_one_with_a_socket_is_not() {
    let platform = start(two_by_two()).await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let online = api.register("influencer").await;
    let offline = api.register("influencer").await;
    let with_online = direct(&platform, &brand, &online).await;
    let with_offline = direct(&platform, &brand, &offline).await;
    let mut online_socket = socket_on(&platform, 1, &online).await;
    // core-api asks the presence realtime records in Redis; the socket counts once it is there.
    let redis = platform.redis();
    assert!(
        eventually(WAIT, || async {
            redis.is_online(&online.id).await.unwrap_or(false)
        })
        .await,
        "realtime records the socket's user online"
    );

    api.say(&brand, &with_online, "You are here").await;
    next_message(&mut online_socket, "the online influencer").await;
    api.say(&brand, &with_offline, "You are away").await;

    let notified = eventually(WAIT, || async {
        notification_kinds(&platform, &offline).await == ["message_received"]
    })
    .await;
    assert!(
        notified,
        "the offline recipient is notified: {:?}",
        notification_kinds(&platform, &offline).await
    );
    // It names the conversation, so the client can open it.
    let listed = api.get("/notifications", Some(&offline.access)).await;
    assert_eq!(listed.body["items"][0]["conversation_id"], with_offline);
    // Sent before the offline one's, through the same outbox and worker.
    assert_eq!(
        notification_kinds(&platform, &online).await,
        Vec::<String>::new()
    );
    assert_eq!(
        notification_kinds(&platform, &brand).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn unread_messages_are_mailed_once_after_the_delay_and_not_when_read_in_time() {
    let sink = SmtpSink::start().await;
    let platform = start(
        two_by_two()
            .realtime(0)
            .env("SMTP_URL", &sink.url())
            .env("CHAT_MAIL_DELAY_SECS", "2"),
    )
    .await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let unread = api.register("influencer").await;
    let reader = api.register("influencer").await;
    let to_unread = direct(&platform, &brand, &unread).await;
    let to_reader = direct(&platform, &brand, &reader).await;

    for i in 1..=3 {
        api.say(&brand, &to_unread, &format!("are you there? {i}"))
            .await;
    }
    api.say(&brand, &to_reader, "quick question").await;
    let read = api.mark_read(&reader, &to_reader, 1).await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);

    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(mails[0].to, vec![unread.email.clone()], "{:?}", mails[0]);
    // Well past the delay of every message sent: whatever else was due has been sent.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mails = sink.messages();
    let recipients: Vec<_> = mails.iter().map(|m| m.to.clone()).collect();
    assert_eq!(
        recipients,
        vec![vec![unread.email.clone()]],
        "one mail for the three unread messages, none for what was read in time"
    );
    let subject = mails[0].subject().unwrap_or_default();
    assert!(
        subject.to_lowercase().contains("unread"),
        "the subject speaks of unread messages: {subject:?}"
    );
}

#[tokio::test]
async fn opening_conversations_is_rate_limited_per_brand() {
    const LIMIT: usize = 3;
    let platform = start(
        two_by_two()
            .realtime(0)
            .worker(0)
            .env("CHAT_OPENS_PER_HOUR", &LIMIT.to_string()),
    )
    .await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let other_brand = api.register("brand").await;
    let mut influencers = Vec::new();
    for _ in 0..=LIMIT {
        influencers.push(api.register("influencer").await);
    }

    for influencer in &influencers[..LIMIT] {
        direct(&platform, &brand, influencer).await;
    }
    let limited = api
        .open_conversation(&brand, &json!({ "influencer_id": influencers[LIMIT].id }))
        .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        limited.body
    );
    assert_eq!(limited.content_type(), "application/problem+json");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(
        api.conversations(&influencers[LIMIT]).await,
        Vec::<Value>::new(),
        "the refused conversation was not opened"
    );

    // Per brand: another brand still opens hers.
    direct(&platform, &other_brand, &influencers[LIMIT]).await;
}
