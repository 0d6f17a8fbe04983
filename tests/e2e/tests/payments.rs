//! Payment-first confirmation end to end: the Stripe stand-in pays and sends real signed
//! webhooks to NGINX, core-api records them once, the worker applies them from RabbitMQ. Every
//! outcome is checked over the final state (the booking's history, Stripe's events), not only
//! over answers: duplicated, replayed, reordered and lost webhooks, late payments, a worker
//! killed and a gateway cut while webhooks arrive, and the cancellation policy.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use noillin_messaging::{Broker, Concern};
use noillin_stripe_standin::{EventRecord, FlushOrder, WebhookSettings};
use noillin_test_support::{
    ApiClient, Platform, SmtpSink, TcpProxy, TestUser, eventually, eventually_some, local_midnight,
    rabbitmq_url,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ZONE: &str = "Europe/Lisbon";
const WAIT: Duration = Duration::from_secs(30);

struct Scene {
    platform: Platform,
    api: ApiClient,
    influencer: TestUser,
    brand: TestUser,
    gig: String,
}

/// A platform with one published hourly gig (45,000 EUR minor units) of an influencer
/// available 09–17 in Lisbon, and a brand.
async fn scene(platform: Platform, cancellation: Option<Value>) -> Scene {
    let api = platform.api();
    let influencer = api.register("influencer").await;
    let brand = api.register("brand").await;
    api.make_available(&influencer, ZONE).await;
    let gig = gig(&api, &influencer, cancellation).await;
    Scene {
        platform,
        api,
        influencer,
        brand,
        gig,
    }
}

async fn gig(api: &ApiClient, owner: &TestUser, cancellation: Option<Value>) -> String {
    let gig = api
        .create_gig_with_terms(
            owner,
            "Story feature",
            json!({ "duration_minutes": 60, "horizon_days": 60 }),
        )
        .await;
    if let Some(policy) = cancellation {
        let patched = api
            .patch(
                &format!("/gigs/{gig}"),
                &json!({ "cancellation": policy }),
                Some(&owner.access),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    }
    let published = api.publish_gig(owner, &gig).await;
    assert_eq!(published.status, StatusCode::OK, "{:?}", published.body);
    gig
}

/// `hour`:00 in Lisbon, `days` from today.
fn start_at(days: i64, hour: i64) -> String {
    (local_midnight(ZONE, days) + SignedDuration::from_hours(hour)).to_string()
}

/// Holds the slot at `start`; answers the booking.
async fn book(api: &ApiClient, brand: &TestUser, gig: &str, start: &str) -> Value {
    let held = api
        .post(
            "/bookings",
            &json!({ "gig_id": gig, "start": start }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    held.body
}

fn ids(booking: &Value) -> (String, String) {
    (
        booking["id"].as_str().expect("an id").to_owned(),
        booking["payment"]["intent_id"]
            .as_str()
            .expect("an intent")
            .to_owned(),
    )
}

/// How many times the booking's history entered `state`.
fn times_entered(booking: &Value, state: &str) -> usize {
    booking["history"]
        .as_array()
        .map_or(0, |h| h.iter().filter(|c| c["state"] == state).count())
}

fn of_type<'a>(events: &'a [EventRecord], kind: &str) -> Vec<&'a EventRecord> {
    events.iter().filter(|e| e.r#type == kind).collect()
}

#[tokio::test]
async fn a_paid_hold_is_confirmed_and_every_party_is_told_live_and_by_mail() {
    let sink = SmtpSink::start().await;
    let platform = Platform::builder()
        .worker(1)
        .env("SMTP_URL", &sink.url())
        .start()
        .await
        .unwrap();
    let s = scene(platform, None).await;
    let mut brand_socket = s.platform.connect_socket(&s.brand.access).await.unwrap();
    let mut member_socket = s
        .platform
        .connect_socket(&s.influencer.access)
        .await
        .unwrap();
    let held = book(&s.api, &s.brand, &s.gig, &start_at(7, 10)).await;
    let (id, intent) = ids(&held);
    assert_eq!(held["state"], "pending_payment");

    s.platform.stripe.controls().pay(&intent).await.unwrap();
    let confirmed = s
        .api
        .booking_in_state(&s.brand, &id, "confirmed", WAIT)
        .await;
    assert!(confirmed["payment"]["paid_at"].is_string(), "{confirmed}");
    assert_eq!(confirmed["payment"]["client_secret"], Value::Null);

    for socket in [&mut brand_socket, &mut member_socket] {
        let pushed = socket
            .expect_event("notification", WAIT)
            .await
            .expect("the confirmation is pushed");
        assert_eq!(pushed["kind"], "booking_confirmed");
        assert_eq!(pushed["booking_id"], id.as_str());
        assert!(
            pushed["body"]
                .as_str()
                .is_some_and(|b| b.contains("(Europe/Lisbon)") && b.contains("450.00 EUR")),
            "{pushed}"
        );
    }
    let mails = sink.wait_for(2, WAIT).await;
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    let mut expected = vec![s.brand.email.clone(), s.influencer.email.clone()];
    expected.sort();
    assert_eq!(to, expected);
    assert!(mails.iter().all(|m| {
        m.subject().as_deref() == Some("Booking confirmed")
            && m.text_body()
                .is_some_and(|t| t.contains(&format!("/bookings/{id}")))
    }));
}

#[tokio::test]
async fn duplicated_replayed_reordered_and_stale_webhooks_change_nothing_twice() {
    let platform = Platform::builder().worker(1).start().await.unwrap();
    let s = scene(platform, None).await;
    let stripe = s.platform.stripe.controls();
    // Every event three times, and held until flushed backwards.
    stripe
        .set_webhooks(WebhookSettings {
            duplicates: Some(2),
            paused: Some(true),
            ..WebhookSettings::default()
        })
        .await
        .unwrap();
    let (id, intent) = ids(&book(&s.api, &s.brand, &s.gig, &start_at(7, 10)).await);
    stripe.pay(&intent).await.unwrap();
    stripe.flush(FlushOrder::Reverse).await.unwrap();
    let confirmed = s
        .api
        .booking_in_state(&s.brand, &id, "confirmed", WAIT)
        .await;

    let events = stripe.events().await.unwrap();
    let succeeded = of_type(&events, "payment_intent.succeeded");
    assert_eq!(succeeded.len(), 1, "{events:?}");
    // A replay now, and one signed ten minutes ago: acknowledged once, refused once.
    assert_eq!(
        stripe.resend(&succeeded[0].id, None).await.unwrap(),
        Some(200)
    );
    let stale = Timestamp::now().as_second() - 600;
    assert_eq!(
        stripe.resend(&succeeded[0].id, Some(stale)).await.unwrap(),
        Some(401)
    );
    // Every copy was delivered; the booking changed once.
    let delivered = stripe
        .wait_for_events(WAIT, |events| {
            events
                .iter()
                .filter(|e| e.r#type == "payment_intent.succeeded")
                .all(|e| e.deliveries.len() >= 5)
        })
        .await
        .unwrap();
    let statuses: Vec<_> = of_type(&delivered, "payment_intent.succeeded")[0]
        .deliveries
        .iter()
        .map(|d| d.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == Some(200)).count(),
        4,
        "{statuses:?}"
    );
    // Let the worker drain whatever copies it still has, then count over the final state.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let last = s.api.booking(&s.brand, &id).await;
    assert_eq!(times_entered(&last, "confirmed"), 1, "{last}");
    assert_eq!(last["history"], confirmed["history"]);
    assert_eq!(last["updated_at"], confirmed["updated_at"]);
}

#[tokio::test]
async fn a_payment_that_arrives_after_the_hold_lapsed_confirms_if_the_slot_is_free_and_is_refunded_if_not()
 {
    // No worker at first: nothing settles the lapsed holds until the scene is set. (Their
    // expiry jobs find no queue yet; the reconciler, walking every second, settles them.)
    let platform = Platform::builder()
        .worker(0)
        .env("HOLD_TTL_SECS", "2")
        .env("RECONCILE_EVERY_SECS", "1")
        .env("RECONCILE_GRACE_SECS", "1")
        .start()
        .await
        .unwrap();
    let mut s = scene(platform, None).await;
    let stripe = s.platform.stripe.controls();
    let free_start = start_at(7, 10);
    let taken_start = start_at(7, 12);
    let (free_id, free_intent) = ids(&book(&s.api, &s.brand, &s.gig, &free_start).await);
    let (late_id, late_intent) = ids(&book(&s.api, &s.brand, &s.gig, &taken_start).await);
    // Both paid, but their webhooks are lost: only the provider knows.
    stripe.succeed_silently(&free_intent).await.unwrap();
    stripe.succeed_silently(&late_intent).await.unwrap();
    // Once the holds lapsed, another brand holds the 12:00 slot, pays, and its webhook is
    // lost too: two lapsed holds of one slot, both paid.
    let rival = s.api.register("brand").await;
    let rival_booking = eventually_some(WAIT, || async {
        let held = s
            .api
            .post(
                "/bookings",
                &json!({ "gig_id": s.gig, "start": taken_start }),
                Some(&rival.access),
            )
            .await;
        (held.status == StatusCode::CREATED).then_some(held.body)
    })
    .await
    .expect("the rival holds the lapsed slot");
    let (rival_id, rival_intent) = ids(&rival_booking);
    stripe.succeed_silently(&rival_intent).await.unwrap();

    // The worker settles the lapsed holds: it asks Stripe and finds them paid. The one alone
    // in its slot is confirmed; of the two in one slot, exactly one is, the other refunded.
    s.platform.start_worker().await.unwrap();
    let confirmed = s
        .api
        .booking_in_state(&s.brand, &free_id, "confirmed", WAIT)
        .await;
    assert!(
        confirmed["history"]
            .as_array()
            .and_then(|h| h.last())
            .is_some_and(|c| c["reason"].as_str().unwrap_or("").contains("still free")),
        "{confirmed}"
    );
    let settled = |user: TestUser, id: String| {
        let api = s.api.clone();
        async move {
            eventually_some(WAIT, || async {
                let now = api.booking(&user, &id).await;
                let state = now["state"].as_str().unwrap_or("").to_owned();
                (state == "confirmed" || state == "refunded").then_some(now)
            })
            .await
            .expect("the lapsed paid hold is settled")
        }
    };
    let (late, rivals) = tokio::join!(
        settled(s.brand.clone(), late_id.clone()),
        settled(rival.clone(), rival_id.clone())
    );
    let mut states = [late["state"].clone(), rivals["state"].clone()];
    states.sort_by_key(|v| v.to_string());
    assert_eq!(
        states,
        [json!("confirmed"), json!("refunded")],
        "{late} {rivals}"
    );
    let (refunded, refunded_brand) = if late["state"] == "refunded" {
        (&late, &s.brand)
    } else {
        (&rivals, &rival)
    };
    assert_eq!(refunded["payment"]["refund_due_minor"], 45_000);
    assert_eq!(refunded["payment"]["refunded_minor"], 45_000);
    assert!(
        refunded["payment"]["refund_reason"]
            .as_str()
            .is_some_and(|r| r.contains("booked by someone else")),
        "{refunded}"
    );
    // That brand is told why; Stripe refunded once.
    let refunded_id = refunded["id"].as_str().unwrap().to_owned();
    let told = eventually(WAIT, || async {
        let listed = s
            .api
            .get("/notifications", Some(&refunded_brand.access))
            .await
            .body;
        listed["items"].as_array().is_some_and(|items| {
            items
                .iter()
                .any(|n| n["kind"] == "refund_issued" && n["booking_id"] == refunded_id.as_str())
        })
    })
    .await;
    assert!(told, "the brand is told its payment goes back");
    let events = stripe.events().await.unwrap();
    assert_eq!(of_type(&events, "charge.refunded").len(), 1, "{events:?}");
}

#[tokio::test]
async fn the_reconciler_settles_a_hold_whose_webhook_and_expiry_were_both_lost() {
    let mut platform = Platform::builder()
        .worker(1)
        .env("HOLD_TTL_SECS", "2")
        .env("RECONCILE_EVERY_SECS", "1")
        .env("RECONCILE_GRACE_SECS", "1")
        .start()
        .await
        .unwrap();
    // The worker dies: the expiry job will wait in its queue.
    platform.worker[0].kill().unwrap();
    let s = scene(platform, None).await;
    let stripe = s.platform.stripe.controls();
    stripe
        .set_webhooks(WebhookSettings {
            url: Some(String::new()),
            ..WebhookSettings::default()
        })
        .await
        .unwrap();
    let (id, intent) = ids(&book(&s.api, &s.brand, &s.gig, &start_at(7, 10)).await);
    stripe.pay(&intent).await.unwrap();
    // The expiry job arrives in the queue once the hold lapses; lose it.
    let broker = Broker::connect(&rabbitmq_url(), &s.platform.namespace, "test")
        .await
        .unwrap();
    let queued = eventually(WAIT, || async {
        broker.queued(Concern::Bookings).await.unwrap_or(0) >= 1
    })
    .await;
    assert!(queued, "the expiry job is queued");
    assert_eq!(broker.purge(Concern::Bookings).await.unwrap(), 1);
    broker.close().await;

    let mut s = s;
    s.platform.start_worker().await.unwrap();
    let confirmed = s
        .api
        .booking_in_state(&s.brand, &id, "confirmed", WAIT)
        .await;
    assert_eq!(times_entered(&confirmed, "confirmed"), 1);
    let worker = s.platform.worker.last().unwrap();
    assert!(
        s.platform.metric(worker, "payments_reconciled_total").await >= 1.0,
        "the reconciler settled it"
    );
}

#[tokio::test]
async fn webhooks_sent_while_the_worker_is_dead_or_the_gateway_is_cut_confirm_once() {
    let mut platform = Platform::builder().worker(1).start().await.unwrap();
    platform.worker[0].kill().unwrap();
    // Stripe reaches the gateway through a proxy the test can cut.
    let (proxy, proxied) = TcpProxy::in_front_of(&platform.gateway).await;
    platform
        .stripe
        .controls()
        .set_webhooks(WebhookSettings {
            url: Some(format!("{proxied}/api/v1/payments/webhook")),
            ..WebhookSettings::default()
        })
        .await
        .unwrap();
    let mut s = scene(platform, None).await;
    let stripe = s.platform.stripe.controls();

    // The worker is dead: core-api records the event, which waits in RabbitMQ.
    let (first, first_intent) = ids(&book(&s.api, &s.brand, &s.gig, &start_at(7, 10)).await);
    stripe.pay(&first_intent).await.unwrap();
    stripe
        .wait_for_events(WAIT, |events| {
            events
                .iter()
                .any(|e| e.r#type == "payment_intent.succeeded" && e.delivered)
        })
        .await
        .unwrap();
    assert_eq!(
        s.api.booking(&s.brand, &first).await["state"],
        "pending_payment"
    );

    // The gateway is unreachable: Stripe's deliveries fail and are retried.
    proxy.cut().await;
    let (second, second_intent) = ids(&book(&s.api, &s.brand, &s.gig, &start_at(7, 12)).await);
    stripe.pay(&second_intent).await.unwrap();
    // The intent's events go out in order: its first is retried while the others wait.
    let failed = stripe
        .wait_for_events(WAIT, |events| {
            events.iter().any(|e| {
                e.r#type == "payment_intent.created"
                    && e.object_id == second_intent
                    && e.deliveries.len() >= 2
            })
        })
        .await
        .unwrap();
    assert!(
        failed
            .iter()
            .filter(|e| e.object_id == second_intent)
            .all(|e| !e.delivered && e.deliveries.iter().all(|d| d.status.is_none())),
        "{failed:?}"
    );
    proxy.restore();
    s.platform.start_worker().await.unwrap();

    for id in [&first, &second] {
        let confirmed = s
            .api
            .booking_in_state(&s.brand, id, "confirmed", WAIT)
            .await;
        assert_eq!(times_entered(&confirmed, "confirmed"), 1, "{confirmed}");
    }
    let events = stripe.events().await.unwrap();
    assert!(of_type(&events, "charge.refunded").is_empty(), "no refund");
}

/// One paid booking of `gig` at `start`, confirmed.
async fn paid(s: &Scene, gig: &str, start: &str) -> String {
    let (id, intent) = ids(&book(&s.api, &s.brand, gig, start).await);
    s.platform
        .stripe
        .controls()
        .pay(&intent)
        .await
        .expect("the stand-in pays");
    s.api
        .booking_in_state(&s.brand, &id, "confirmed", WAIT)
        .await;
    id
}

async fn cancel(s: &Scene, user: &TestUser, id: &str, reason: &str) -> (StatusCode, Value) {
    let response = s
        .api
        .post(
            &format!("/bookings/{id}/cancel"),
            &json!({ "reason": reason }),
            Some(&user.access),
        )
        .await;
    (response.status, response.body)
}

#[tokio::test]
async fn cancelling_a_paid_booking_refunds_by_the_policy_once_and_frees_the_slot() {
    let platform = Platform::builder().worker(1).start().await.unwrap();
    // Bookings start 7 days (168 hours) ahead. This gig gives everything back 200 hours ahead,
    // 40% from 100 hours: a brand cancelling now gets 40%.
    let s = scene(
        platform,
        Some(json!({ "full_refund_hours": 200, "partial_refund_hours": 100, "partial_refund_percent": 40 })),
    )
    .await;
    let admin = s.platform.sign_in_new_admin().await;
    let generous = gig(
        &s.api,
        &s.influencer,
        Some(json!({ "full_refund_hours": 100, "partial_refund_hours": 50, "partial_refund_percent": 10 })),
    )
    .await;
    let strict = gig(
        &s.api,
        &s.influencer,
        Some(json!({ "full_refund_hours": 400, "partial_refund_hours": 300, "partial_refund_percent": 90 })),
    )
    .await;

    // (gig, start hour, who cancels, refund due, final state)
    let cases = [
        (&s.gig, 9, &s.brand, 18_000, "cancelled"),
        (&generous, 11, &s.brand, 45_000, "refunded"),
        (&strict, 13, &s.brand, 0, "cancelled"),
        (&strict, 15, &s.influencer, 45_000, "refunded"),
        (&s.gig, 16, &admin, 45_000, "refunded"),
    ];
    let mut ids = Vec::new();
    for (gig, hour, _, _, _) in &cases {
        ids.push(paid(&s, gig, &start_at(7, *hour)).await);
    }
    // Without a reason, nothing happens.
    let refused = s
        .api
        .post(
            &format!("/bookings/{}/cancel", ids[0]),
            &json!({}),
            Some(&s.brand.access),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        refused.body
    );

    for ((gig, hour, who, due, state), id) in cases.iter().zip(&ids) {
        let (status, body) = cancel(&s, who, id, "plans changed").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["payment"]["refund_due_minor"], *due,
            "{hour}:00 {body}"
        );
        let settled = s.api.booking_in_state(&s.brand, id, state, WAIT).await;
        if *due > 0 {
            let refunded = eventually_some(WAIT, || async {
                let now = s.api.booking(&s.brand, id).await;
                (now["payment"]["refunded_minor"] == *due).then_some(now)
            })
            .await;
            assert!(refunded.is_some(), "{hour}:00: {settled}");
        }
        // The slot is bookable again at once.
        let start = start_at(7, *hour);
        let listed = s
            .api
            .slot_starts(
                &s.brand.access,
                gig,
                local_midnight(ZONE, 7),
                local_midnight(ZONE, 8),
            )
            .await;
        assert!(
            listed.iter().any(|t| t.to_string() == start),
            "{hour}:00 is free again"
        );
    }
    let events = s.platform.stripe.controls().events().await.unwrap();
    assert_eq!(
        of_type(&events, "charge.refunded").len(),
        4,
        "one refund per booking that owed one: {events:?}"
    );
}

#[tokio::test]
async fn two_racing_cancels_of_a_paid_booking_refund_once() {
    let platform = Platform::builder().worker(1).start().await.unwrap();
    let s = scene(platform, None).await;
    let id = paid(&s, &s.gig, &start_at(7, 10)).await;
    let (a, b) = tokio::join!(
        cancel(&s, &s.brand, &id, "brand cancels"),
        cancel(&s, &s.influencer, &id, "influencer cancels"),
    );
    let statuses = [a.0, b.0];
    assert!(
        statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::CONFLICT),
        "{a:?} {b:?}"
    );
    let winner = if a.0 == StatusCode::OK { &a.1 } else { &b.1 };
    let due = winner["payment"]["refund_due_minor"].as_i64().unwrap();
    assert!(due > 0, "{winner}");
    eventually_some(WAIT, || async {
        let now = s.api.booking(&s.brand, &id).await;
        (now["payment"]["refunded_minor"] == due).then_some(())
    })
    .await
    .expect("the refund settles");
    let events = s.platform.stripe.controls().events().await.unwrap();
    assert_eq!(of_type(&events, "charge.refunded").len(), 1, "{events:?}");
    let last = s.api.booking(&s.brand, &id).await;
    assert_eq!(times_entered(&last, "cancelled"), 1, "{last}");
}

#[tokio::test]
async fn a_declined_card_leaves_the_hold_pending_and_tells_the_brand_who_may_pay_again() {
    let platform = Platform::builder().worker(1).start().await.unwrap();
    let s = scene(platform, None).await;
    let mut brand_socket = s.platform.connect_socket(&s.brand.access).await.unwrap();
    let (id, intent) = ids(&book(&s.api, &s.brand, &s.gig, &start_at(7, 10)).await);
    let stripe = s.platform.stripe.controls();
    stripe.decline(&intent).await.unwrap();
    let pushed = brand_socket
        .expect_event("notification", WAIT)
        .await
        .expect("the refusal is pushed");
    assert_eq!(pushed["kind"], "payment_failed");
    assert_eq!(pushed["booking_id"], id.as_str());
    assert!(
        pushed["body"]
            .as_str()
            .is_some_and(|b| b.contains("declined")),
        "{pushed}"
    );
    let still = s.api.booking(&s.brand, &id).await;
    assert_eq!(still["state"], "pending_payment");
    assert!(still["payment"]["client_secret"].is_string());
    // The brand pays with another card while the hold lasts.
    stripe.pay(&intent).await.unwrap();
    s.api
        .booking_in_state(&s.brand, &id, "confirmed", WAIT)
        .await;
}
