//! Fault tests of the messaging backbone: each proves that nothing is lost or done twice, and
//! prints its counts. Faults are made without touching the shared Redis and RabbitMQ: a process
//! reaches them through a TCP proxy the test cuts, or gets a message the test publishes itself.

use std::{collections::HashSet, time::Duration};

use noillin_domain::event::Event;
use noillin_domain::mail::{MailId, MailStatus};
use noillin_messaging::{Broker, Concern, Envelope};
use noillin_test_support::{
    Platform, SmtpSink, TcpProxy, TestUser, eventually, rabbitmq_url, redis_url,
};
use reqwest::StatusCode;

const WAIT: Duration = Duration::from_secs(30);
/// Short retry delays, so retried messages come back within a test.
const RETRY_DELAYS_MS: &str = "200,400,800,1600,3200";

/// The ids of a user's notifications (up to 100), as the API lists them.
async fn notification_ids(platform: &Platform, user: &TestUser) -> Vec<String> {
    let response = platform
        .api()
        .get("/notifications?limit=100", Some(&user.access))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    response.body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|n| n["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `user` has `count` notifications; returns them.
async fn await_notifications(platform: &Platform, user: &TestUser, count: usize) -> Vec<String> {
    let arrived = eventually(WAIT, || async {
        notification_ids(platform, user).await.len() >= count
    })
    .await;
    let ids = notification_ids(platform, user).await;
    assert!(
        arrived,
        "{} of {count} notifications arrived\n{}",
        ids.len(),
        platform.logs()
    );
    ids
}

/// Two influencers: one to own gigs, one to be invited.
async fn influencers(platform: &Platform) -> (TestUser, TestUser) {
    let api = platform.api();
    (
        api.register("influencer").await,
        api.register("influencer").await,
    )
}

/// Invites `member` into `count` new gigs of `owner`: `count` events, one notification each.
async fn invite_into_gigs(platform: &Platform, owner: &TestUser, member: &TestUser, count: usize) {
    let api = platform.api();
    for n in 0..count {
        let gig = api.create_gig(owner, &format!("Fault test gig {n}")).await;
        api.invite(owner, &gig, &[member]).await;
    }
}

/// How many messages of `queue` the platform's workers counted with `outcome`.
async fn worker_count(platform: &Platform, queue: &str, outcome: &str) -> f64 {
    let series = format!("worker_messages_total{{queue=\"{queue}\",outcome=\"{outcome}\"}}");
    let mut total = 0.0;
    for worker in &platform.worker {
        total += platform.metric(worker, &series).await;
    }
    total
}

fn distinct(ids: &[String]) -> usize {
    ids.iter().collect::<HashSet<_>>().len()
}

#[tokio::test]
async fn writes_made_while_the_broker_is_unreachable_are_delivered_once_it_is_back() {
    const WRITES: usize = 12;
    let (proxy, proxied_rabbitmq) = TcpProxy::in_front_of(&rabbitmq_url()).await;
    let sink = SmtpSink::start().await;
    let platform = Platform::builder()
        .realtime(0)
        .env("SMTP_URL", &sink.url())
        .env_for("core-api", "RABBITMQ_URL", &proxied_rabbitmq)
        .start()
        .await
        .expect("platform starts");
    let (owner, member) = influencers(&platform).await;

    proxy.cut().await;
    invite_into_gigs(&platform, &owner, &member, WRITES).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during_outage = notification_ids(&platform, &member).await.len();
    assert_eq!(during_outage, 0, "nothing can reach the worker yet");

    proxy.restore();
    let ids = await_notifications(&platform, &member, WRITES).await;
    let mails = sink.wait_for(WRITES, WAIT).await;
    // Anything extra would have had time to arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ids_after = notification_ids(&platform, &member).await;
    println!(
        "broker outage: {WRITES} writes accepted while cut, {during_outage} delivered during the outage; \
         after restore {} notifications ({} distinct), {} mails, {} invitation messages processed",
        ids_after.len(),
        distinct(&ids_after),
        sink.messages().len(),
        worker_count(&platform, "notifications", "processed").await
    );
    assert_eq!(ids.len(), WRITES);
    assert_eq!(ids_after.len(), WRITES, "no notification twice");
    assert_eq!(distinct(&ids_after), WRITES);
    assert_eq!(mails.len(), WRITES);
    assert_eq!(sink.messages().len(), WRITES, "no mail twice");
}

#[tokio::test]
async fn two_core_api_relays_publish_every_message_exactly_once() {
    const WRITES: usize = 30;
    let platform = Platform::builder()
        .core_api(2)
        .realtime(0)
        .start()
        .await
        .expect("platform starts");
    let (owner, member) = influencers(&platform).await;

    // Writes alternate between the two processes (the gateway balances them); both relays
    // poll the one outbox.
    invite_into_gigs(&platform, &owner, &member, WRITES).await;
    let ids = await_notifications(&platform, &member, WRITES).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let handled = worker_count(&platform, "notifications", "processed").await;
    println!(
        "two relays: {WRITES} invitations, {} notifications, {handled} messages handled by the worker",
        ids.len()
    );
    assert_eq!(distinct(&ids), WRITES);
    assert_eq!(
        handled, WRITES as f64,
        "each outbox message was published once"
    );
    assert_eq!(platform.store().await.outbox.pending().await.unwrap(), 0);
}

#[tokio::test]
async fn a_worker_killed_mid_batch_leaves_every_effect_done_exactly_once() {
    const WRITES: usize = 24;
    let sink = SmtpSink::start().await;
    // Every mail takes a while, so the worker is killed with messages in hand.
    sink.set_delay(Duration::from_millis(250));
    let mut platform = Platform::builder()
        .realtime(0)
        .env("SMTP_URL", &sink.url())
        .env("WORKER_CONCURRENCY", "4")
        // A killed sender's hold on its mail (three times this) ends within the retries.
        .env("SMTP_TIMEOUT_SECS", "1")
        .env("WORKER_RETRY_DELAYS_MS", RETRY_DELAYS_MS)
        .start()
        .await
        .expect("platform starts");
    let (owner, member) = influencers(&platform).await;

    invite_into_gigs(&platform, &owner, &member, WRITES).await;
    let started = eventually(WAIT, || async { sink.messages().len() >= 3 }).await;
    assert!(started, "the worker started sending\n{}", platform.logs());
    let mut killed = platform.worker.remove(0);
    killed.kill().expect("SIGKILL");
    let before_kill = sink.messages().len();
    assert!(
        before_kill < WRITES,
        "the worker was killed mid-batch ({before_kill} of {WRITES} mails sent)"
    );

    platform.start_worker().await.expect("a new worker");
    let ids = await_notifications(&platform, &member, WRITES).await;
    let store = platform.store().await;
    let sent_records = || async {
        let mut sent = 0;
        for id in &ids {
            let mail = store
                .mails
                .find(&MailId::from_string(id.clone()))
                .await
                .unwrap();
            if mail.is_some_and(|m| m.status == MailStatus::Sent) {
                sent += 1;
            }
        }
        sent
    };
    let all_sent = eventually(WAIT, || async { sent_records().await == WRITES }).await;
    let sent = sent_records().await;
    assert!(
        all_sent,
        "{sent} of {WRITES} mails recorded sent\n{}",
        platform.logs()
    );
    let mails = sink.messages();
    let message_ids: HashSet<_> = mails.iter().filter_map(|m| m.message_id()).collect();
    println!(
        "worker SIGKILL: {before_kill} of {WRITES} mails sent before the kill; afterwards {} notifications \
         ({} distinct), {sent} mail records sent, {} mails received ({} distinct)",
        ids.len(),
        distinct(&ids),
        mails.len(),
        message_ids.len()
    );
    assert_eq!(distinct(&ids), WRITES);
    assert_eq!(ids.len(), WRITES);
    assert_eq!(sent, WRITES);
    assert_eq!(message_ids.len(), WRITES);
    // SMTP has no transaction with our store: a mail the server accepted just before the kill,
    // whose record had not yet said so, is sent again. Only the mails in hand can be.
    assert!(
        mails.len() <= WRITES + 4,
        "{} mails for {WRITES} invitations",
        mails.len()
    );
}

// Multi-threaded: `terminate` blocks its thread while it waits, and the SMTP sink must go on
// answering meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_with_sigterm_finishes_the_message_in_hand() {
    let sink = SmtpSink::start().await;
    // The mail is still being sent when the worker is asked to stop.
    sink.set_delay(Duration::from_millis(1500));
    let mut platform = Platform::builder()
        .realtime(0)
        .env("SMTP_URL", &sink.url())
        .start()
        .await
        .expect("platform starts");
    let (owner, member) = influencers(&platform).await;
    invite_into_gigs(&platform, &owner, &member, 1).await;
    let in_hand = eventually(WAIT, || async { sink.attempts() >= 1 }).await;
    assert!(in_hand, "the worker is sending\n{}", platform.logs());

    let status = platform.worker[0]
        .terminate(Duration::from_secs(20))
        .expect("the worker stops");
    assert!(status.success(), "{status}");
    let ids = notification_ids(&platform, &member).await;
    let mail = platform
        .store()
        .await
        .mails
        .find(&MailId::from_string(ids[0].clone()))
        .await
        .unwrap()
        .expect("a mail record");
    // Its message was acknowledged: a new worker gets nothing to do again.
    platform.worker.clear();
    platform.start_worker().await.expect("a new worker");
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "SIGTERM: the mail in hand was {} after {} attempt(s); {} mail(s) received, {} handled by the new worker",
        mail.status.as_str(),
        mail.attempts,
        sink.messages().len(),
        worker_count(&platform, "notifications", "processed").await
    );
    assert_eq!(mail.status, MailStatus::Sent);
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(
        worker_count(&platform, "notifications", "processed").await,
        0.0
    );
}

#[tokio::test]
async fn the_same_message_delivered_twice_has_one_effect() {
    let sink = SmtpSink::start().await;
    let platform = Platform::builder()
        .realtime(0)
        .env("SMTP_URL", &sink.url())
        .start()
        .await
        .expect("platform starts");
    let (owner, member) = influencers(&platform).await;
    let gig = platform.api().create_gig(&owner, "Twice told").await;

    let envelope = Envelope::new(
        Event::GigMemberInvited {
            gig_id: gig,
            title: "Twice told".into(),
            owner_id: owner.id.clone(),
            member_id: member.id.clone(),
        },
        Some("duplicate-test".into()),
    );
    let broker = Broker::connect(&rabbitmq_url(), &platform.namespace, "duplicate-test")
        .await
        .expect("broker");
    broker.publish(&envelope).await.expect("first copy");
    broker.publish(&envelope).await.expect("second copy");
    broker.close().await;

    let both_handled = eventually(WAIT, || async {
        worker_count(&platform, "notifications", "processed").await >= 2.0
    })
    .await;
    assert!(both_handled, "both copies handled\n{}", platform.logs());
    let ids = notification_ids(&platform, &member).await;
    let mails = sink.wait_for(1, WAIT).await;
    println!(
        "duplicate delivery: 2 copies handled, {} notifications, {} mails",
        ids.len(),
        mails.len()
    );
    assert_eq!(ids.len(), 1);
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_poison_message_is_parked_with_its_reason_while_the_queue_keeps_flowing() {
    let platform = Platform::builder()
        .realtime(0)
        .env("WORKER_RETRY_DELAYS_MS", RETRY_DELAYS_MS)
        .start()
        .await
        .expect("platform starts");
    let (owner, member) = influencers(&platform).await;
    let broker = Broker::connect(&rabbitmq_url(), &platform.namespace, "poison-test")
        .await
        .expect("broker");
    // A message with the right routing key that no handler can read.
    let mut poison = Envelope::new(
        Event::GigPublished {
            gig_id: "g".into(),
            title: "t".into(),
            owner_id: owner.id.clone(),
            member_ids: vec![],
        },
        None,
    )
    .outgoing()
    .expect("encodes");
    poison.payload = b"{\"version\":1,\"id\":\"not-a-uuid\"}".to_vec();
    let published = broker.publish_batch(&[poison.clone()]).await;
    assert!(published[0].is_ok(), "{published:?}");

    invite_into_gigs(&platform, &owner, &member, 3).await;
    await_notifications(&platform, &member, 3).await;
    let parked = eventually(WAIT, || async {
        worker_count(&platform, "notifications", "parked").await >= 1.0
    })
    .await;
    assert!(parked, "the poison message is parked");
    let parked = broker
        .drain_parked(Concern::Notifications)
        .await
        .expect("parking queue");
    broker.close().await;
    println!(
        "poison: 3 healthy invitations notified, {} message parked: {:?}",
        parked.len(),
        parked.iter().map(|p| &p.error).collect::<Vec<_>>()
    );
    assert_eq!(parked.len(), 1);
    assert_eq!(
        parked[0].message_id.as_deref(),
        Some(poison.message_id.as_str())
    );
    assert!(
        parked[0]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("malformed message")),
        "{:?}",
        parked[0].error
    );
}

#[tokio::test]
async fn a_notification_pushed_while_redis_is_unreachable_is_kept_and_pushed_later() {
    let (proxy, proxied_redis) = TcpProxy::in_front_of(&redis_url()).await;
    let platform = Platform::builder()
        .env("WORKER_RETRY_DELAYS_MS", RETRY_DELAYS_MS)
        .env_for("worker", "REDIS_URL", &proxied_redis)
        .start()
        .await
        .expect("platform starts");
    let (owner, member) = influencers(&platform).await;
    let mut socket = platform
        .connect_socket(&member.access)
        .await
        .expect("socket");

    proxy.cut().await;
    invite_into_gigs(&platform, &owner, &member, 1).await;
    let stored = await_notifications(&platform, &member, 1).await;
    let retried = eventually(WAIT, || async {
        worker_count(&platform, "notifications", "retried").await >= 1.0
    })
    .await;
    assert!(retried, "the push failed and the message waits for a retry");
    assert_eq!(
        socket
            .expect_event("notification", Duration::from_millis(300))
            .await,
        None,
        "nothing can be pushed while Redis is unreachable"
    );

    proxy.restore();
    let pushed = socket
        .expect_event("notification", WAIT)
        .await
        .expect("pushed once Redis is back");
    assert_eq!(pushed["id"].as_str(), stored.first().map(String::as_str));
    let again = socket
        .expect_event("notification", Duration::from_secs(2))
        .await;
    let retries = worker_count(&platform, "notifications", "retried").await;
    println!(
        "redis outage: 1 notification stored during the outage, {retries} retries, pushed once after restore (second push: {})",
        again.is_some()
    );
    assert_eq!(again, None, "pushed once");
    assert_eq!(notification_ids(&platform, &member).await.len(), 1);
}
