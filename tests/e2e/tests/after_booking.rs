//! After the booking, end to end through NGINX with the Stripe stand-in: a group booking is
//! paid, delivered, completes by itself when the brand does not answer, its fee and shares are
//! written to the ledger, each member is paid with one Stripe transfer and gets a statement
//! mail; the revision loop and reviews; a worker killed between recording a payout and its
//! transfer, and duplicated completion and payout jobs, still pay each member once.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use noillin_test_support::{ApiClient, Platform, SmtpSink, TestUser, eventually, eventually_some};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(40);

struct Scene {
    platform: Platform,
    api: ApiClient,
    owner: TestUser,
    member: TestUser,
    brand: TestUser,
    gig: String,
}

/// A group gig of two influencers (60 % and 40 %), 5-minute slots priced 45,000 EUR minor
/// units with no notice, and a brand; both influencers have an onboarded payout account.
async fn scene(platform: Platform) -> Scene {
    let api = platform.api();
    let owner = api.register("influencer").await;
    let member = api.register("influencer").await;
    let brand = api.register("brand").await;
    for influencer in [&owner, &member] {
        api.make_available(influencer, "UTC").await;
        let connected = api
            .post("/me/payout-account", &json!({}), Some(&influencer.access))
            .await;
        assert_eq!(connected.status, StatusCode::OK, "{:?}", connected.body);
        assert!(
            connected.body["onboarding_url"]
                .as_str()
                .is_some_and(|url| url.starts_with("http")),
            "{:?}",
            connected.body
        );
        let account = connected.body["account_id"].as_str().expect("an account");
        platform
            .stripe
            .controls()
            .onboard(account)
            .await
            .expect("onboarded");
        let status = api
            .get("/me/payout-account", Some(&influencer.access))
            .await;
        assert_eq!(status.body["payouts_enabled"], true, "{:?}", status.body);
    }
    let gig = api
        .create_gig_with_terms(
            &owner,
            "Launch day stories",
            json!({
                "duration_minutes": 5,
                "interval_minutes": 5,
                "min_notice_minutes": 0,
                "horizon_days": 30,
            }),
        )
        .await;
    let invite = api
        .send(
            reqwest::Method::PUT,
            &format!("/gigs/{gig}/members"),
            Some(&json!({
                "owner_share_bps": 6000,
                "members": [{ "user_id": member.id, "share_bps": 4000 }],
            })),
            Some(&owner.access),
        )
        .await;
    assert_eq!(invite.status, StatusCode::OK, "{:?}", invite.body);
    let accepted = api.accept_invitation(&member, &gig).await;
    assert_eq!(accepted.status, StatusCode::OK, "{:?}", accepted.body);
    let published = api.publish_gig(&owner, &gig).await;
    assert_eq!(published.status, StatusCode::OK, "{:?}", published.body);
    Scene {
        platform,
        api,
        owner,
        member,
        brand,
        gig,
    }
}

/// Opens both influencers' calendars from a whole minute at least 15 s ahead (time enough to
/// book and pay) for the rest of their local day, and answers that minute: the earliest slot.
/// Their zone is set so that the minute is around local noon, so the window never ends at a
/// midnight too close to hold a slot, whenever the test runs.
async fn next_minute_slot(s: &Scene) -> Timestamp {
    let soon = (Timestamp::now() + SignedDuration::from_secs(15)).to_zoned(TimeZone::UTC);
    let next = soon
        .round(
            jiff::ZonedRound::new()
                .smallest(jiff::Unit::Minute)
                .mode(jiff::RoundMode::Ceil),
        )
        .expect("a minute");
    // `Etc/GMT-N` is N hours ahead of UTC (the sign is POSIX's).
    let ahead = 12 - i32::from(next.hour());
    let zone = if ahead >= 0 {
        format!("Etc/GMT-{ahead}")
    } else {
        format!("Etc/GMT+{}", -ahead)
    };
    let local = next.with_time_zone(TimeZone::get(&zone).expect("a zone"));
    let date = local.date();
    let window = json!({
        "kind": "windows",
        "windows": [{ "start": local.time().strftime("%H:%M").to_string(), "end": "24:00" }],
    });
    for influencer in [&s.owner, &s.member] {
        let moved = s
            .api
            .patch(
                "/influencers/me",
                &json!({ "time_zone": zone }),
                Some(&influencer.access),
            )
            .await;
        assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    }
    for influencer in [&s.owner, &s.member] {
        let set = s
            .api
            .put(
                &format!("/availability/overrides/{date}"),
                &window,
                Some(&influencer.access),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    }
    next.timestamp()
}

/// Holds and pays the slot at `start`; answers the confirmed booking's id.
async fn book_and_pay(s: &Scene, start: Timestamp) -> String {
    let held = s
        .api
        .post(
            "/bookings",
            &json!({ "gig_id": s.gig, "start": start.to_string() }),
            Some(&s.brand.access),
        )
        .await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    let id = held.body["id"].as_str().expect("an id").to_owned();
    let intent = held.body["payment"]["intent_id"]
        .as_str()
        .expect("an intent");
    s.platform
        .stripe
        .controls()
        .pay(intent)
        .await
        .expect("paid");
    s.api
        .booking_in_state(&s.brand, &id, "confirmed", WAIT)
        .await;
    id
}

/// Sleeps until `start` has passed.
async fn wait_for_start(start: Timestamp) {
    let left = start.duration_since(Timestamp::now()) + SignedDuration::from_millis(200);
    if left.is_positive() {
        tokio::time::sleep(left.unsigned_abs()).await;
    }
}

async fn deliver(s: &Scene, id: &str) -> Value {
    let delivered = s
        .api
        .post(
            &format!("/bookings/{id}/deliver"),
            &json!({ "links": ["https://instagram.com/p/launch"], "note": "Live now" }),
            Some(&s.member.access),
        )
        .await;
    assert_eq!(delivered.status, StatusCode::OK, "{:?}", delivered.body);
    delivered.body
}

/// Every transfer the stand-in made for `booking`, as (destination, amount).
async fn transfers_of(s: &Scene, booking: &str) -> Vec<(String, i64)> {
    s.platform
        .stripe
        .controls()
        .transfers()
        .await
        .expect("the stand-in's transfers")
        .into_iter()
        .filter(|t| t.transfer_group.as_deref() == Some(booking))
        .map(|t| (t.destination, t.amount))
        .collect()
}

/// The influencer's earnings statement.
async fn earnings(s: &Scene, user: &TestUser) -> Value {
    let response = s.api.get("/me/earnings", Some(&user.access)).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body
}

fn kinds(statement: &Value) -> Vec<(String, i64)> {
    statement["items"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_owned(),
                e["amount_minor"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_unanswered_delivery_completes_and_every_member_is_paid_once_with_a_statement() {
    let sink = SmtpSink::start().await;
    let platform = Platform::builder()
        .worker(1)
        .env("SMTP_URL", &sink.url())
        .env("AUTO_COMPLETE_HOURS", "0.0005")
        .env("PAYOUT_DELAY_HOURS", "0")
        .start()
        .await
        .unwrap();
    let s = scene(platform).await;
    let start = next_minute_slot(&s).await;
    let id = book_and_pay(&s, start).await;

    // Before the start, nothing can be delivered.
    let early = s
        .api
        .post(
            &format!("/bookings/{id}/deliver"),
            &json!({ "links": ["https://instagram.com/p/early"] }),
            Some(&s.member.access),
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{:?}", early.body);
    assert_eq!(early.body["type"], "/problems/not-started");

    wait_for_start(start).await;
    // The brand cannot deliver; the member can.
    let by_brand = s
        .api
        .post(
            &format!("/bookings/{id}/deliver"),
            &json!({ "links": ["https://instagram.com/p/x"] }),
            Some(&s.brand.access),
        )
        .await;
    assert_eq!(
        by_brand.status,
        StatusCode::FORBIDDEN,
        "{:?}",
        by_brand.body
    );
    let delivered = deliver(&s, &id).await;
    assert_eq!(delivered["state"], "delivered");
    assert!(delivered["auto_complete_at"].is_string());

    // Nobody answers: the worker completes it, settles it and pays both members.
    let completed = s
        .api
        .booking_in_state(&s.owner, &id, "completed", WAIT)
        .await;
    let settlement = &completed["settlement"];
    assert_eq!(settlement["gross_minor"], 45_000);
    assert_eq!(settlement["fee_minor"], 6_750);
    assert_eq!(settlement["shares"][0]["earned_minor"], 22_950);
    assert_eq!(settlement["shares"][1]["earned_minor"], 15_300);
    assert!(
        s.api.booking(&s.brand, &id).await["settlement"].is_null(),
        "the brand sees the price, not the split"
    );
    let paid = eventually(WAIT, || async {
        let b = s.api.booking(&s.owner, &id).await;
        b["settlement"]["shares"]
            .as_array()
            .is_some_and(|shares| shares.iter().all(|share| share["transfer_id"].is_string()))
    })
    .await;
    assert!(
        paid,
        "both members paid: {}",
        s.api.booking(&s.owner, &id).await
    );

    let mut transfers = transfers_of(&s, &id).await;
    transfers.sort_by_key(|(_, amount)| -amount);
    let amounts: Vec<i64> = transfers.iter().map(|(_, amount)| *amount).collect();
    assert_eq!(amounts, vec![22_950, 15_300], "one transfer per member");

    // The ledger: the brand's charge, each member's earning then payout, running balances.
    let owner_statement = earnings(&s, &s.owner).await;
    assert_eq!(
        kinds(&owner_statement),
        vec![("payout".into(), -22_950), ("earning".into(), 22_950)]
    );
    assert_eq!(owner_statement["items"][0]["balance_after_minor"], 0);
    assert_eq!(owner_statement["balances"][0]["balance_minor"], 0);
    let spending = s.api.get("/me/spending", Some(&s.brand.access)).await;
    assert_eq!(kinds(&spending.body), vec![("charge".into(), 45_000)]);
    let wrong_role = s.api.get("/me/earnings", Some(&s.brand.access)).await;
    assert_eq!(wrong_role.status, StatusCode::FORBIDDEN);

    // Each member gets one statement mail naming the transfer.
    let statements = eventually_some(WAIT, || async {
        let mails: Vec<_> = sink
            .messages()
            .into_iter()
            .filter(|m| m.subject().as_deref() == Some("Payout sent"))
            .collect();
        (mails.len() >= 2).then_some(mails)
    })
    .await
    .expect("two statements");
    assert_eq!(statements.len(), 2);
    for mail in &statements {
        let text = mail.text_body().unwrap_or_default();
        assert!(
            text.contains("Platform fee") && text.contains("tr_"),
            "{text}"
        );
    }
    // Later sweeps and redelivered jobs pay nobody twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(transfers_of(&s, &id).await.len(), 2);

    // Money refunded after the payout (in Stripe's dashboard): the brand's refund, and
    // reversals of the fee and both shares in proportion, the members' balances below zero.
    let refund = platform_payments(&s)
        .refund(
            &noillin_domain::booking::BookingId::from_string(id.as_str()),
            completed["payment"]["intent_id"]
                .as_str()
                .expect("an intent"),
            10_000,
            "dashboard",
        )
        .await
        .expect("refunded");
    assert!(matches!(
        refund,
        noillin_payments::RefundOutcome::Requested { .. }
    ));
    let reversed = eventually_some(WAIT, || async {
        let statement = earnings(&s, &s.owner).await;
        (kinds(&statement)[0].0 == "reversal").then_some(statement)
    })
    .await
    .expect("a reversal");
    // 10,000 back: 1,500 of the fee, 5,100 and 3,400 of the shares.
    assert_eq!(kinds(&reversed)[0], ("reversal".to_owned(), -5_100));
    assert_eq!(reversed["balances"][0]["balance_minor"], -5_100);
    let spending = s.api.get("/me/spending", Some(&s.brand.access)).await;
    assert_eq!(kinds(&spending.body)[0], ("refund".to_owned(), -10_000));
    let after = s.api.booking(&s.member, &id).await;
    assert_eq!(after["state"], "completed");
    assert_eq!(after["settlement"]["shares"][1]["reversed_minor"], 3_400);
}

/// The payments port, as Stripe's dashboard would act on the platform's account.
fn platform_payments(s: &Scene) -> noillin_payments::Payments {
    let settings = s.platform.stripe.settings();
    noillin_payments::Payments::new(&settings.api_key, Some(&s.platform.stripe.base_url()))
        .expect("the stand-in's key")
}

#[tokio::test]
async fn revisions_loop_back_until_the_limit_and_a_review_updates_every_members_rating() {
    let platform = Platform::builder()
        .worker(1)
        .env("MAX_REVISIONS", "1")
        .env("PAYOUT_DELAY_HOURS", "24")
        .start()
        .await
        .unwrap();
    let s = scene(platform).await;
    let start = next_minute_slot(&s).await;
    let id = book_and_pay(&s, start).await;
    wait_for_start(start).await;
    deliver(&s, &id).await;

    // Nobody outside the booking sees it, whatever they try.
    let stranger = s.api.register("brand").await;
    let outsider = s.api.register("influencer").await;
    for user in [&stranger, &outsider] {
        for (path, body) in [
            ("deliver", json!({ "links": ["https://instagram.com/p/x"] })),
            ("approve", json!({})),
            ("revisions", json!({ "reason": "no" })),
            ("review", json!({ "rating": 1, "text": "no" })),
            ("review/reply", json!({ "text": "no" })),
        ] {
            let response = s
                .api
                .post(&format!("/bookings/{id}/{path}"), &body, Some(&user.access))
                .await;
            assert_eq!(
                response.status,
                StatusCode::NOT_FOUND,
                "{path}: {:?}",
                response.body
            );
        }
        let review = s
            .api
            .get(&format!("/bookings/{id}/review"), Some(&user.access))
            .await;
        assert_eq!(review.status, StatusCode::NOT_FOUND);
    }
    // A member cannot approve or ask for revisions.
    for (user, status) in [
        (&s.member, StatusCode::FORBIDDEN),
        (&stranger, StatusCode::NOT_FOUND),
    ] {
        let approve = s
            .api
            .post(
                &format!("/bookings/{id}/approve"),
                &json!({}),
                Some(&user.access),
            )
            .await;
        assert_eq!(approve.status, status, "{:?}", approve.body);
    }
    let revised = s
        .api
        .post(
            &format!("/bookings/{id}/revisions"),
            &json!({ "reason": "Tag the brand in the first story" }),
            Some(&s.brand.access),
        )
        .await;
    assert_eq!(revised.status, StatusCode::OK, "{:?}", revised.body);
    assert_eq!(revised.body["state"], "confirmed");
    assert_eq!(
        revised.body["deliveries"][0]["revision_reason"],
        "Tag the brand in the first story"
    );
    deliver(&s, &id).await;
    let again = s
        .api
        .post(
            &format!("/bookings/{id}/revisions"),
            &json!({ "reason": "Once more" }),
            Some(&s.brand.access),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    assert_eq!(again.body["type"], "/problems/revision-limit");

    let approved = s
        .api
        .post(
            &format!("/bookings/{id}/approve"),
            &json!({}),
            Some(&s.brand.access),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{:?}", approved.body);
    assert_eq!(approved.body["state"], "completed");
    assert_eq!(
        approved.body["deliveries"].as_array().map(Vec::len),
        Some(2)
    );
    // Earned, not yet payable: pending until the payout delay passes.
    let statement = earnings(&s, &s.member).await;
    assert_eq!(statement["balances"][0]["pending_minor"], 15_300);
    assert_eq!(statement["balances"][0]["available_minor"], 0);

    // The review: brand only, once; every member's rating shows it.
    let by_member = s
        .api
        .post(
            &format!("/bookings/{id}/review"),
            &json!({ "rating": 5, "text": "Great" }),
            Some(&s.member.access),
        )
        .await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    let review = s
        .api
        .post(
            &format!("/bookings/{id}/review"),
            &json!({ "rating": 4, "text": "On time, on brief." }),
            Some(&s.brand.access),
        )
        .await;
    assert_eq!(review.status, StatusCode::CREATED, "{:?}", review.body);
    let twice = s
        .api
        .post(
            &format!("/bookings/{id}/review"),
            &json!({ "rating": 1, "text": "Changed my mind" }),
            Some(&s.brand.access),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{:?}", twice.body);
    for influencer in [&s.owner, &s.member] {
        let profile = s
            .api
            .get(
                &format!("/influencers/{}", influencer.id),
                Some(&s.brand.access),
            )
            .await;
        assert_eq!(profile.body["rating"], 4.0, "{:?}", profile.body);
        assert_eq!(profile.body["review_count"], 1, "{:?}", profile.body);
        let listed = s
            .api
            .get(
                &format!("/influencers/{}/reviews", influencer.id),
                Some(&stranger.access),
            )
            .await;
        assert_eq!(listed.body["items"][0]["rating"], 4, "{:?}", listed.body);
    }
    // Search shows the new rating: the member is found among influencers rated 4 or more.
    let rated = eventually(WAIT, || async {
        let found = s
            .api
            .get(
                "/search/influencers?min_rating=4&limit=100",
                Some(&s.brand.access),
            )
            .await;
        found.body["hits"].as_array().is_some_and(|hits| {
            hits.iter()
                .any(|h| h["id"] == s.member.id.as_str() && h["rating"]["count"] == 1)
        })
    })
    .await;
    assert!(rated, "the rating reaches search");
    let reply = s
        .api
        .post(
            &format!("/bookings/{id}/review/reply"),
            &json!({ "text": "Thank you!" }),
            Some(&s.owner.access),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let second_reply = s
        .api
        .post(
            &format!("/bookings/{id}/review/reply"),
            &json!({ "text": "Me too" }),
            Some(&s.member.access),
        )
        .await;
    assert_eq!(second_reply.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_worker_killed_between_the_payout_record_and_its_transfer_pays_each_member_once() {
    let platform = Platform::builder()
        .worker(1)
        .env("PAYOUT_DELAY_HOURS", "0")
        .env("RECONCILE_EVERY_SECS", "1")
        .start()
        .await
        .unwrap();
    let mut s = scene(platform).await;
    let start = next_minute_slot(&s).await;
    let id = book_and_pay(&s, start).await;
    wait_for_start(start).await;
    deliver(&s, &id).await;

    // Stripe fails every transfer for now: the payouts get recorded, the transfers do not.
    let stripe = s.platform.stripe.controls();
    let mut destinations = Vec::new();
    for influencer in [&s.owner, &s.member] {
        let account = s
            .api
            .get("/me/payout-account", Some(&influencer.access))
            .await;
        let destination = account.body["account_id"].as_str().unwrap().to_owned();
        stripe.fail_transfers(&destination, 1_000).await.unwrap();
        destinations.push(destination);
    }
    // Two approvals race: one completes it, the other is told what it became.
    let approve_path = format!("/bookings/{id}/approve");
    let empty = json!({});
    let approve = || s.api.post(&approve_path, &empty, Some(&s.brand.access));
    let (first, second) = tokio::join!(approve(), approve());
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);

    let recorded = eventually(WAIT, || async {
        let b = s.api.booking(&s.owner, &id).await;
        b["settlement"]["shares"].as_array().is_some_and(|shares| {
            shares
                .iter()
                .all(|share| share["paid_out_minor"].is_i64() && share["transfer_id"].is_null())
        })
    })
    .await;
    assert!(
        recorded,
        "payouts recorded, transfers not: {}",
        s.api.booking(&s.owner, &id).await
    );
    let member = earnings(&s, &s.member).await;
    assert_eq!(kinds(&member)[0], ("payout".to_owned(), -15_300));

    // The worker dies with the transfers undone; Stripe recovers; a new worker finishes.
    s.platform.worker[0].kill().unwrap();
    for destination in &destinations {
        stripe.fail_transfers(destination, 0).await.unwrap();
    }
    s.platform.start_worker().await.unwrap();
    let paid = eventually(WAIT, || async {
        let b = s.api.booking(&s.owner, &id).await;
        b["settlement"]["shares"]
            .as_array()
            .is_some_and(|shares| shares.iter().all(|share| share["transfer_id"].is_string()))
    })
    .await;
    assert!(paid, "{}", s.api.booking(&s.owner, &id).await);
    // The sweep runs every second: give it a few rounds to pay anyone twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let transfers = transfers_of(&s, &id).await;
    assert_eq!(transfers.len(), 2, "{transfers:?}");
    let member = earnings(&s, &s.member).await;
    assert_eq!(
        kinds(&member)
            .iter()
            .filter(|(kind, _)| kind == "payout")
            .count(),
        1,
        "one payout entry"
    );
}
