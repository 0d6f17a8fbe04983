//! Bookings through the API: holding a listed slot, the answers for taken and non-slots, the
//! hold cap, idempotency keys, lapsed holds, who sees what, and Redis failing closed.

use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use noillin_test_support::{
    ApiClient, ApiResponse, TcpProxy, TestUser, eventually, local_midnight,
};

use crate::helpers::{TestApp, sign_in_new_admin, spawn_app, spawn_app_with};

const ZONE: &str = "Europe/Lisbon";

/// Local midnight in Lisbon `days` from today.
fn midnight_in(days: i64) -> Timestamp {
    local_midnight(ZONE, days)
}

/// `hours` (and minutes) after `midnight`, as the API writes instants.
fn at(midnight: Timestamp, hours: i64, minutes: i64) -> String {
    (midnight + SignedDuration::from_mins(hours * 60 + minutes)).to_string()
}

/// A published gig of `owner` (available 09:00–17:00 in Lisbon) with `terms`.
async fn published_gig(api: &ApiClient, owner: &TestUser, terms: Value) -> String {
    let gig = api
        .create_gig_with_terms(owner, "Story feature", terms)
        .await;
    let published = api.publish_gig(owner, &gig).await;
    assert_eq!(published.status, StatusCode::OK, "{:?}", published.body);
    gig
}

fn hourly() -> Value {
    json!({ "duration_minutes": 60, "horizon_days": 60 })
}

async fn book(api: &ApiClient, brand: &TestUser, gig: &str, start: &str) -> ApiResponse {
    api.post(
        "/bookings",
        &json!({ "gig_id": gig, "start": start }),
        Some(&brand.access),
    )
    .await
}

/// The starts the gig lists on the day beginning at `midnight`.
async fn listed(api: &ApiClient, viewer: &TestUser, gig: &str, midnight: Timestamp) -> Vec<String> {
    let to = midnight + SignedDuration::from_hours(24);
    api.slot_starts(&viewer.access, gig, midnight, to)
        .await
        .iter()
        .map(Timestamp::to_string)
        .collect()
}

struct Scene {
    app: TestApp,
    influencer: TestUser,
    brand: TestUser,
    gig: String,
    midnight: Timestamp,
}

async fn scene_with(vars: &[(&str, &str)]) -> Scene {
    let app = spawn_app_with(vars).await;
    let influencer = app.api.register("influencer").await;
    let brand = app.api.register("brand").await;
    app.api.make_available(&influencer, ZONE).await;
    let gig = published_gig(&app.api, &influencer, hourly()).await;
    Scene {
        app,
        influencer,
        brand,
        gig,
        midnight: midnight_in(7),
    }
}

async fn scene() -> Scene {
    scene_with(&[]).await
}

#[tokio::test]
async fn a_brand_holds_a_listed_slot_which_leaves_the_listing_until_the_hold_is_cancelled() {
    let Scene {
        app,
        influencer,
        brand,
        gig,
        midnight,
    } = scene().await;
    let api = &app.api;
    let ten = at(midnight, 10, 0);
    assert!(listed(api, &brand, &gig, midnight).await.contains(&ten));

    let held = book(api, &brand, &gig, &ten).await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    let booking = &held.body;
    assert_eq!(booking["state"], "pending_payment");
    assert_eq!(booking["start"], ten.as_str());
    assert_eq!(booking["end"], at(midnight, 11, 0).as_str());
    assert_eq!(booking["brand_id"], brand.id.as_str());
    assert_eq!(
        booking["members"],
        json!([{ "user_id": influencer.id, "share_bps": 10000 }])
    );
    assert_eq!(
        booking["price"],
        json!({ "amount_minor": 45000, "currency": "EUR" })
    );
    assert_eq!(booking["time_zone"], ZONE);
    assert!(
        booking["local_start"]
            .as_str()
            .unwrap()
            .ends_with("[Europe/Lisbon]"),
        "{booking}"
    );
    let expires: Timestamp = booking["hold_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let ttl = expires.duration_since(Timestamp::now());
    assert!(
        ttl > SignedDuration::from_mins(14) && ttl <= SignedDuration::from_mins(15),
        "a 15-minute hold by default: {ttl}"
    );
    assert!(
        booking.get("hold_token").is_none(),
        "the hold's token stays inside"
    );

    let slots = listed(api, &brand, &gig, midnight).await;
    assert!(!slots.contains(&ten), "a held slot is not listed");
    assert!(slots.contains(&at(midnight, 11, 0)), "its neighbours are");

    let rival = api.register("brand").await;
    let taken = book(api, &rival, &gig, &ten).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{:?}", taken.body);
    assert_eq!(taken.body["type"], "/problems/slot-taken");

    let id = booking["id"].as_str().unwrap();
    let cancelled = api
        .post(
            &format!("/bookings/{id}/cancel"),
            &json!({ "reason": "budget moved" }),
            Some(&brand.access),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["state"], "cancelled");
    assert_eq!(cancelled.body["history"][1]["reason"], "budget moved");
    assert!(listed(api, &brand, &gig, midnight).await.contains(&ten));
    let second = book(api, &rival, &gig, &ten).await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);

    let again = api
        .post(
            &format!("/bookings/{id}/cancel"),
            &json!({}),
            Some(&brand.access),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
}

#[tokio::test]
async fn starts_the_gig_does_not_offer_are_refused_and_nothing_is_written() {
    let Scene {
        app,
        influencer,
        brand,
        gig,
        midnight,
    } = scene().await;
    let api = &app.api;
    for start in [
        at(midnight, 10, 30),              // off the hourly grid
        at(midnight, 3, 0),                // outside the windows
        at(midnight_in(-1), 10, 0),        // in the past
        at(midnight_in(90), 10, 0),        // beyond the horizon
        "9999-12-31T23:00:00Z".to_owned(), // at the end of time
    ] {
        let refused = book(api, &brand, &gig, &start).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{start}: {:?}",
            refused.body
        );
        assert_eq!(refused.error_fields(), vec!["start".to_owned()], "{start}");
    }
    let malformed = book(api, &brand, &gig, "tomorrow at ten").await;
    assert_eq!(malformed.error_fields(), vec!["start".to_owned()]);
    for body in [
        json!({ "gig_id": gig }),
        json!({ "gig_id": gig, "start": at(midnight, 10, 0), "price": 1 }),
        json!({ "gig_id": 7, "start": at(midnight, 10, 0) }),
    ] {
        let refused = api.post("/bookings", &body, Some(&brand.access)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }

    let draft = api.create_gig(&influencer, "Unpublished").await;
    for gig_id in [
        draft.as_str(),
        "0191c1d2-0000-7000-8000-000000000000",
        &"x".repeat(65),
    ] {
        let missing = book(api, &brand, gig_id, &at(midnight, 10, 0)).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{gig_id}");
    }
    let by_influencer = book(api, &influencer, &gig, &at(midnight, 10, 0)).await;
    assert_eq!(by_influencer.status, StatusCode::FORBIDDEN);

    let mine = api.get("/bookings", Some(&brand.access)).await;
    assert_eq!(mine.body["items"], json!([]), "nothing was written");
}

#[tokio::test]
async fn two_gigs_of_one_influencer_with_different_grids_never_overlap() {
    let Scene {
        app,
        influencer,
        brand,
        gig: hourly_gig,
        midnight,
    } = scene().await;
    let api = &app.api;
    // 45 minutes every 15, with 15 minutes kept free after.
    let short = published_gig(
        api,
        &influencer,
        json!({ "duration_minutes": 45, "interval_minutes": 15, "buffer_after_minutes": 15, "horizon_days": 60 }),
    )
    .await;
    let held = book(api, &brand, &hourly_gig, &at(midnight, 10, 0)).await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);

    let short_slots = listed(api, &brand, &short, midnight).await;
    for (hour, minute) in [(9, 15), (9, 30), (9, 45), (10, 0), (10, 30), (10, 45)] {
        assert!(
            !short_slots.contains(&at(midnight, hour, minute)),
            "{hour}:{minute} meets the held 10:00–11:00 (with its 15 minutes after)"
        );
    }
    assert!(
        short_slots.contains(&at(midnight, 9, 0)),
        "09:00–09:45 +15 ends at 10:00"
    );
    assert!(short_slots.contains(&at(midnight, 11, 0)));

    let overlapping = book(api, &brand, &short, &at(midnight, 10, 30)).await;
    assert_eq!(
        overlapping.status,
        StatusCode::CONFLICT,
        "{:?}",
        overlapping.body
    );
    let touching_before = book(api, &brand, &short, &at(midnight, 9, 0)).await;
    assert_eq!(
        touching_before.status,
        StatusCode::CREATED,
        "{:?}",
        touching_before.body
    );
    let touching_after = book(api, &brand, &short, &at(midnight, 11, 0)).await;
    assert_eq!(
        touching_after.status,
        StatusCode::CREATED,
        "{:?}",
        touching_after.body
    );
    // 11:00–11:45 plus 15 minutes keeps the hourly gig's 12:00 free, not its 11:00.
    let hourly_slots = listed(api, &brand, &hourly_gig, midnight).await;
    assert!(!hourly_slots.contains(&at(midnight, 11, 0)));
    assert!(hourly_slots.contains(&at(midnight, 12, 0)));
}

#[tokio::test]
async fn a_group_slot_needs_every_member_free_and_a_group_booking_holds_every_member() {
    let app = spawn_app().await;
    let api = &app.api;
    let owner = api.register("influencer").await;
    let member = api.register("influencer").await;
    let brand = api.register("brand").await;
    api.make_available(&owner, ZONE).await;
    api.make_available(&member, ZONE).await;
    let members_own = published_gig(api, &member, hourly()).await;
    let owners_own = published_gig(api, &owner, hourly()).await;
    let group = api.create_gig(&owner, "Duo feature").await;
    api.invite(&owner, &group, &[&member]).await;
    assert_eq!(
        api.accept_invitation(&member, &group).await.status,
        StatusCode::OK
    );
    assert_eq!(api.publish_gig(&owner, &group).await.status, StatusCode::OK);
    let midnight = midnight_in(8);

    let solo = book(api, &brand, &members_own, &at(midnight, 10, 0)).await;
    assert_eq!(solo.status, StatusCode::CREATED, "{:?}", solo.body);
    assert!(
        !listed(api, &brand, &group, midnight)
            .await
            .contains(&at(midnight, 10, 0))
    );
    let busy_member = book(api, &brand, &group, &at(midnight, 10, 0)).await;
    assert_eq!(
        busy_member.status,
        StatusCode::CONFLICT,
        "{:?}",
        busy_member.body
    );

    let duo = book(api, &brand, &group, &at(midnight, 12, 0)).await;
    assert_eq!(duo.status, StatusCode::CREATED, "{:?}", duo.body);
    assert_eq!(duo.body["members"].as_array().unwrap().len(), 2);
    for (gig, who) in [(&owners_own, "owner"), (&members_own, "member")] {
        assert!(
            !listed(api, &brand, gig, midnight)
                .await
                .contains(&at(midnight, 12, 0)),
            "the {who} is held by the group booking"
        );
        let clash = book(api, &brand, gig, &at(midnight, 12, 0)).await;
        assert_eq!(
            clash.status,
            StatusCode::CONFLICT,
            "{who}: {:?}",
            clash.body
        );
    }
    let member_sees = api.get("/bookings", Some(&member.access)).await;
    let ids: Vec<&str> = member_sees.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            duo.body["id"].as_str().unwrap(),
            solo.body["id"].as_str().unwrap()
        ],
        "newest first"
    );
}

#[tokio::test]
async fn a_brand_keeps_at_most_its_cap_of_unpaid_holds() {
    let Scene {
        app,
        brand,
        gig,
        midnight,
        ..
    } = scene_with(&[("MAX_LIVE_HOLDS_PER_BRAND", "2")]).await;
    let api = &app.api;
    let first = book(api, &brand, &gig, &at(midnight, 9, 0)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(
        book(api, &brand, &gig, &at(midnight, 10, 0)).await.status,
        StatusCode::CREATED
    );
    let third = book(api, &brand, &gig, &at(midnight, 11, 0)).await;
    assert_eq!(
        third.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        third.body
    );
    assert_eq!(third.body["type"], "/problems/too-many-holds");
    assert!(
        listed(api, &brand, &gig, midnight)
            .await
            .contains(&at(midnight, 11, 0)),
        "the refused hold gave its slot back"
    );

    let other_brand = api.register("brand").await;
    assert_eq!(
        book(api, &other_brand, &gig, &at(midnight, 11, 0))
            .await
            .status,
        StatusCode::CREATED,
        "the cap is per brand"
    );
    let id = first.body["id"].as_str().unwrap();
    let cancelled = api
        .post(
            &format!("/bookings/{id}/cancel"),
            &json!({}),
            Some(&brand.access),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert_eq!(
        book(api, &brand, &gig, &at(midnight, 12, 0)).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let Scene {
        app,
        brand,
        gig,
        midnight,
        ..
    } = scene().await;
    let api = &app.api;
    let body = json!({ "gig_id": gig, "start": at(midnight, 10, 0) });
    let key = [("Idempotency-Key", "order-4711")];
    let first = api
        .post_with_headers("/bookings", &body, &brand.access, &key)
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let replay = api
        .post_with_headers("/bookings", &body, &brand.access, &key)
        .await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(
        replay.body, first.body,
        "the first answer, not a second booking"
    );
    assert_eq!(replay.headers["idempotent-replayed"], "true");

    let other = json!({ "gig_id": gig, "start": at(midnight, 11, 0) });
    let changed = api
        .post_with_headers("/bookings", &other, &brand.access, &key)
        .await;
    assert_eq!(
        changed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        changed.body
    );

    // Keys are the caller's: another brand's same key is its own request.
    let rival = api.register("brand").await;
    let theirs = api
        .post_with_headers("/bookings", &other, &rival.access, &key)
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{:?}", theirs.body);

    let mine = api.get("/bookings", Some(&brand.access)).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn racing_requests_with_one_key_make_one_booking() {
    let Scene {
        app,
        brand,
        gig,
        midnight,
        ..
    } = scene().await;
    let body = json!({ "gig_id": gig, "start": at(midnight, 10, 0) });
    let attempts = (0..12).map(|_| {
        let (api, body, token) = (app.api.clone(), body.clone(), brand.access.clone());
        tokio::spawn(async move {
            api.post_with_headers("/bookings", &body, &token, &[("Idempotency-Key", "same")])
                .await
        })
    });
    let answers = futures::future::join_all(attempts).await;
    let mut created = std::collections::HashSet::new();
    for answer in answers {
        let answer = answer.unwrap();
        match answer.status {
            StatusCode::CREATED => {
                created.insert(answer.body["id"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => assert_eq!(
                answer.body["type"], "/problems/idempotency-key-in-use",
                "{:?}",
                answer.body
            ),
            other => panic!("unexpected {other}: {:?}", answer.body),
        }
    }
    assert_eq!(created.len(), 1, "every 201 is the one booking");
    let mine = app.api.get("/bookings", Some(&brand.access)).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn many_brands_racing_for_one_slot_get_one_hold() {
    let Scene {
        app,
        gig,
        midnight,
        influencer,
        ..
    } = scene().await;
    let mut brands = Vec::new();
    for _ in 0..24 {
        brands.push(app.api.register("brand").await);
    }
    let start = at(midnight, 10, 0);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(brands.len()));
    let attempts = brands.iter().map(|brand| {
        let (api, gig, start, token) = (
            app.api.clone(),
            gig.clone(),
            start.clone(),
            brand.access.clone(),
        );
        let barrier = barrier.clone();
        tokio::spawn(async move {
            barrier.wait().await;
            api.post(
                "/bookings",
                &json!({ "gig_id": gig, "start": start }),
                Some(&token),
            )
            .await
            .status
        })
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let taken = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, taken), (1, statuses.len() - 1), "{statuses:?}");
    let held = app.api.get("/bookings", Some(&influencer.access)).await;
    assert_eq!(held.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_lapsed_hold_frees_its_slot_before_anything_expires_it() {
    let Scene {
        app,
        brand,
        gig,
        midnight,
        ..
    } = scene_with(&[("HOLD_TTL_SECS", "1")]).await;
    let api = &app.api;
    let ten = at(midnight, 10, 0);
    let held = book(api, &brand, &gig, &ten).await;
    assert_eq!(held.status, StatusCode::CREATED);
    let expires: Timestamp = held.body["hold_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(!listed(api, &brand, &gig, midnight).await.contains(&ten));

    // No worker runs here: only the hold's own expiry frees the slot.
    let wait = expires.duration_since(Timestamp::now()) + SignedDuration::from_millis(50);
    if let Ok(wait) = std::time::Duration::try_from(wait) {
        tokio::time::sleep(wait).await;
    }
    assert!(listed(api, &brand, &gig, midnight).await.contains(&ten));
    let rival = api.register("brand").await;
    let rebooked = book(api, &rival, &gig, &ten).await;
    assert_eq!(rebooked.status, StatusCode::CREATED, "{:?}", rebooked.body);
    let id = held.body["id"].as_str().unwrap();
    let lapsed = api
        .get(&format!("/bookings/{id}"), Some(&brand.access))
        .await;
    assert_eq!(
        lapsed.body["state"], "pending_payment",
        "only the worker moves it to expired"
    );
}

#[tokio::test]
async fn only_the_parties_and_administrators_see_a_booking_and_only_its_brand_abandons_it() {
    let Scene {
        app,
        influencer,
        brand,
        gig,
        midnight,
    } = scene().await;
    let api = &app.api;
    let held = book(api, &brand, &gig, &at(midnight, 10, 0)).await;
    let id = held.body["id"].as_str().unwrap();
    let path = format!("/bookings/{id}");
    let other_brand = api.register("brand").await;
    let other_influencer = api.register("influencer").await;
    let admin = sign_in_new_admin(&app).await;

    for (who, user, status) in [
        ("its brand", &brand, StatusCode::OK),
        ("its influencer", &influencer, StatusCode::OK),
        ("an administrator", &admin, StatusCode::OK),
        ("another brand", &other_brand, StatusCode::NOT_FOUND),
        (
            "another influencer",
            &other_influencer,
            StatusCode::NOT_FOUND,
        ),
    ] {
        assert_eq!(
            api.get(&path, Some(&user.access)).await.status,
            status,
            "{who}"
        );
        let listed = api.get("/bookings", Some(&user.access)).await;
        let sees = listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == id);
        assert_eq!(sees, status == StatusCode::OK, "{who} lists it");
    }
    for (who, user, status) in [
        ("another brand", &other_brand, StatusCode::NOT_FOUND),
        (
            "another influencer",
            &other_influencer,
            StatusCode::NOT_FOUND,
        ),
        ("its influencer", &influencer, StatusCode::FORBIDDEN),
        ("an administrator", &admin, StatusCode::FORBIDDEN),
    ] {
        let cancel = api
            .post(&format!("{path}/cancel"), &json!({}), Some(&user.access))
            .await;
        assert_eq!(cancel.status, status, "{who}: {:?}", cancel.body);
    }
    assert_eq!(
        api.get(&path, Some(&brand.access)).await.body["state"],
        "pending_payment"
    );
    assert_eq!(api.get(&path, None).await.status, StatusCode::UNAUTHORIZED);
    let filtered = api
        .get("/bookings?state=cancelled", Some(&brand.access))
        .await;
    assert_eq!(filtered.body["items"], json!([]));
    let bad_filter = api.get("/bookings?state=paid", Some(&brand.access)).await;
    assert_eq!(bad_filter.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn booking_fails_closed_while_redis_is_cut_and_works_once_it_is_back() {
    let (proxy, redis_url) = TcpProxy::in_front_of(&noillin_test_support::redis_url()).await;
    let Scene {
        app,
        brand,
        gig,
        midnight,
        ..
    } = scene_with(&[("REDIS_URL", &redis_url)]).await;
    let api = &app.api;
    proxy.cut().await;
    let refused = book(api, &brand, &gig, &at(midnight, 10, 0)).await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        refused.body
    );
    assert!(refused.headers.contains_key("retry-after"));
    let store = app.store().await;
    let written = store
        .bookings
        .list(&Default::default(), None, 10)
        .await
        .unwrap();
    assert!(
        written.is_empty(),
        "no booking without its hold: {written:?}"
    );

    proxy.restore();
    let booked = eventually(std::time::Duration::from_secs(10), || async {
        book(api, &brand, &gig, &at(midnight, 10, 0)).await.status == StatusCode::CREATED
    })
    .await;
    assert!(booked, "booking works again once Redis is back");
}

#[tokio::test]
async fn a_gigs_daily_cap_counts_its_live_holds() {
    let Scene {
        app,
        influencer,
        brand,
        midnight,
        ..
    } = scene().await;
    let api = &app.api;
    let capped = published_gig(
        api,
        &influencer,
        json!({ "duration_minutes": 60, "horizon_days": 60, "max_per_day": 1 }),
    )
    .await;
    let held = book(api, &brand, &capped, &at(midnight, 10, 0)).await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    assert!(
        listed(api, &brand, &capped, midnight).await.is_empty(),
        "the day is full"
    );
    let next_day = midnight_in(8);
    assert!(!listed(api, &brand, &capped, next_day).await.is_empty());
    let rival = api.register("brand").await;
    let refused = book(api, &rival, &capped, &at(midnight, 14, 0)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);

    let id = held.body["id"].as_str().expect("an id");
    let cancelled = api
        .post(
            &format!("/bookings/{id}/cancel"),
            &json!({}),
            Some(&brand.access),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    let after = book(api, &rival, &capped, &at(midnight, 14, 0)).await;
    assert_eq!(
        after.status,
        StatusCode::CREATED,
        "a cancelled hold no longer counts"
    );
}
