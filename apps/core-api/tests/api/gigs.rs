//! Gigs (creation, editing, publication, group membership, visibility while a member is
//! suspended), the availability their slots are made of, and slots.

use noillin_test_support::{ApiClient, TestUser};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{sign_in_new_admin, spawn_app};

fn new_gig() -> Value {
    json!({
        "title": "Instagram story feature",
        "description": "Three stories on launch day.",
        "deliverables": ["3 stories", "1 link sticker"],
        "platform": "instagram",
        "category": "sportswear",
        "price": { "amount_minor": 45000, "currency": "EUR" },
        "terms": { "duration_minutes": 60, "horizon_days": 60 }
    })
}

/// Every day 09:00-17:00 in the influencer's zone.
#[tokio::test]
async fn an_influencer_creates_and_publishes_a_gig_that_brands_then_see() {
    let app = spawn_app().await;
    let api = &app.api;
    let influencer = api.register("influencer").await;
    let brand = api.register("brand").await;

    let created = api
        .post("/gigs", &new_gig(), Some(&influencer.access))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let gig = created.body["id"].as_str().expect("gig id");
    assert_eq!(created.body["status"], "draft");
    assert_eq!(created.body["members"][0]["share_bps"], 10000);
    let path = format!("/gigs/{gig}");
    assert_eq!(
        api.get(&path, Some(&brand.access)).await.status,
        StatusCode::NOT_FOUND,
        "drafts are private"
    );

    let published = api.publish_gig(&influencer, gig).await;
    assert_eq!(published.status, StatusCode::OK, "{:?}", published.body);
    assert_eq!(published.body["status"], "published");

    let seen = api.get(&path, Some(&brand.access)).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(
        seen.body["price"],
        json!({ "amount_minor": 45000, "currency": "EUR" })
    );
    let listed = api.get("/gigs", Some(&brand.access)).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_gigs_are_refused_with_field_errors() {
    let app = spawn_app().await;
    let api = &app.api;
    let influencer = api.register("influencer").await;
    let with = |pointer: &str, value: Value| {
        let mut gig = new_gig();
        *gig.pointer_mut(pointer).unwrap() = value;
        gig
    };
    let cases = [
        (with("/title", json!("")), "title"),
        (with("/price/amount_minor", json!(0)), "price.amount_minor"),
        (with("/price/currency", json!("XYZ")), "price.currency"),
        (
            with("/price/amount_minor", json!(12.5)),
            "price.amount_minor",
        ),
        (
            with("/terms/duration_minutes", json!(1)),
            "terms.duration_minutes",
        ),
        (with("/terms/horizon_days", json!(0)), "terms.horizon_days"),
        (with("/platform", json!("myspace")), "platform"),
    ];
    for (body, field) in cases {
        let response = api.post("/gigs", &body, Some(&influencer.access)).await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {:?}",
            response.body
        );
        assert_eq!(response.error_fields(), vec![field.to_owned()], "{field}");
    }
    let mut owner_smuggled = new_gig();
    owner_smuggled["owner_id"] = json!("someone-else");
    assert_eq!(
        api.post("/gigs", &owner_smuggled, Some(&influencer.access))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let brand = api.register("brand").await;
    assert_eq!(
        api.post("/gigs", &new_gig(), Some(&brand.access))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let mine = api.get("/gigs?mine=true", Some(&influencer.access)).await;
    assert_eq!(mine.body["items"], json!([]), "nothing was created");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        (&format!("after={}", "x".repeat(65)) as &str, "after"),
    ] {
        let response = api
            .get(&format!("/gigs?{query}"), Some(&influencer.access))
            .await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(response.error_fields(), vec![field.to_owned()], "{query}");
    }
}

#[tokio::test]
async fn only_the_owner_changes_a_gig_and_stale_versions_do_not_win() {
    let app = spawn_app().await;
    let api = &app.api;
    let owner = api.register("influencer").await;
    let other = api.register("influencer").await;
    let gig = api.create_gig(&owner, "Instagram story feature").await;
    let path = format!("/gigs/{gig}");

    for (method, suffix) in [
        (Method::PATCH, ""),
        (Method::POST, "/publish"),
        (Method::POST, "/archive"),
    ] {
        let response = api
            .send(
                method.clone(),
                &format!("{path}{suffix}"),
                Some(&json!({ "title": "Mine now" })),
                Some(&other.access),
            )
            .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{method} {suffix}");
    }
    let updated = api
        .patch(
            &path,
            &json!({ "title": "Launch-day stories" }),
            Some(&owner.access),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["title"], "Launch-day stories");
    assert_eq!(updated.body["version"], 2);

    let concurrent = (0..8).map(|i| {
        let api = api.clone();
        let path = path.clone();
        let token = owner.access.clone();
        tokio::spawn(async move {
            api.patch(
                &path,
                &json!({ "title": format!("Title number {i}") }),
                Some(&token),
            )
            .await
            .status
        })
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(concurrent)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let after = api.get(&path, Some(&owner.access)).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count() as u64;
    assert_eq!(
        after.body["version"],
        2 + ok,
        "each successful change bumped the version exactly once"
    );
}

#[tokio::test]
async fn a_group_gig_publishes_only_when_every_member_accepted() {
    let app = spawn_app().await;
    let api = &app.api;
    let owner = api.register("influencer").await;
    let first = api.register("influencer").await;
    let second = api.register("influencer").await;
    let brand = api.register("brand").await;
    let gig = api.create_gig(&owner, "Instagram story feature").await;
    let path = format!("/gigs/{gig}");

    let members_path = format!("{path}/members");
    let bad_shares = api
        .put(&members_path, &json!({ "owner_share_bps": 5000, "members": [{ "user_id": first.id, "share_bps": 4000 }] }), Some(&owner.access))
        .await;
    assert_eq!(bad_shares.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a_brand = api
        .put(&members_path, &json!({ "owner_share_bps": 5000, "members": [{ "user_id": brand.id, "share_bps": 5000 }] }), Some(&owner.access))
        .await;
    assert_eq!(a_brand.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a_brand.error_fields(), vec!["members[0].user_id"]);

    let members = json!({ "owner_share_bps": 4000, "members": [{ "user_id": first.id, "share_bps": 3000 }, { "user_id": second.id, "share_bps": 3000 }] });
    let set = api.put(&members_path, &members, Some(&owner.access)).await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    assert_eq!(set.body["members"][1]["state"], "invited");
    assert_eq!(
        api.get(&path, Some(&first.access)).await.status,
        StatusCode::OK,
        "members see the draft"
    );

    let early = api.publish_gig(&owner, &gig).await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        early.error_fields(),
        vec!["members[1].state", "members[2].state"]
    );

    let accept = |user| api.accept_invitation(user, &gig);
    assert_eq!(accept(&first).await.status, StatusCode::OK);
    assert_eq!(accept(&brand).await.status, StatusCode::FORBIDDEN);
    let outsider = api.register("influencer").await;
    assert_eq!(accept(&outsider).await.status, StatusCode::NOT_FOUND);
    assert_eq!(accept(&second).await.status, StatusCode::OK);

    let published = api.publish_gig(&owner, &gig).await;
    assert_eq!(published.status, StatusCode::OK, "{:?}", published.body);
}

#[tokio::test]
async fn availability_is_validated_and_belongs_to_its_influencer() {
    let app = spawn_app().await;
    let api = &app.api;
    let influencer = api.register("influencer").await;
    let brand = api.register("brand").await;

    let overlapping = json!({ "monday": [{ "start": "09:00", "end": "12:00" }, { "start": "11:00", "end": "13:00" }] });
    let response = api
        .put(
            "/availability/weekly",
            &overlapping,
            Some(&influencer.access),
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        response.body
    );
    let backwards = json!({ "monday": [{ "start": "12:00", "end": "09:00" }] });
    let response = api
        .put("/availability/weekly", &backwards, Some(&influencer.access))
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_time = json!({ "monday": [{ "start": "25:00", "end": "26:00" }] });
    assert_eq!(
        api.put("/availability/weekly", &bad_time, Some(&influencer.access))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.get("/availability", Some(&influencer.access))
            .await
            .body["weekly"]["monday"],
        json!([]),
        "nothing stored"
    );

    let blocked = api
        .put(
            "/availability/overrides/2026-12-24",
            &json!({ "kind": "blocked" }),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(blocked.status, StatusCode::OK, "{:?}", blocked.body);
    assert_eq!(
        api.put(
            "/availability/overrides/not-a-date",
            &json!({ "kind": "blocked" }),
            Some(&influencer.access)
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.delete(
            "/availability/overrides/2026-12-24",
            Some(&influencer.access)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete(
            "/availability/overrides/2026-12-24",
            Some(&influencer.access)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/availability", Some(&brand.access)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn slots_follow_the_influencers_windows_in_their_zone_and_the_requested_zone() {
    let app = spawn_app().await;
    let api = &app.api;
    let influencer = api.register("influencer").await;
    let brand = api.register("brand").await;
    api.make_available(&influencer, "Europe/Lisbon").await;
    let gig = api.create_gig(&influencer, "Instagram story feature").await;
    let path = format!("/gigs/{gig}");
    let published = api.publish_gig(&influencer, &gig).await;
    assert_eq!(published.status, StatusCode::OK, "{:?}", published.body);

    // A day well inside the horizon: a week from now, whole local day in Lisbon.
    let day = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Europe/Lisbon").unwrap())
        .date()
        + jiff::Span::new().days(7);
    let from = day
        .to_zoned(jiff::tz::TimeZone::get("Europe/Lisbon").unwrap())
        .unwrap()
        .timestamp();
    let to = from + jiff::SignedDuration::from_hours(24);
    let url = format!("{path}/slots?from={from}&to={to}&tz=America/New_York");
    let slots = api.get(&url, Some(&brand.access)).await;

    assert_eq!(slots.status, StatusCode::OK, "{:?}", slots.body);
    let list = slots.body["slots"].as_array().unwrap();
    assert_eq!(list.len(), 8, "09:00 to 17:00 in hourly slots: {list:?}");
    let first = list[0]["start"].as_str().unwrap();
    let first_instant: jiff::Timestamp = first.parse().unwrap();
    let lisbon = first_instant.to_zoned(jiff::tz::TimeZone::get("Europe/Lisbon").unwrap());
    assert_eq!((lisbon.hour(), lisbon.minute()), (9, 0), "{first}");
    assert!(
        first.ends_with("-05:00") || first.ends_with("-04:00"),
        "presented in New York time: {first}"
    );

    for (query, field) in [
        (format!("from={from}&to={from}"), "to"),
        (
            format!(
                "from={from}&to={}",
                from + jiff::SignedDuration::from_hours(63 * 24)
            ),
            "to",
        ),
        (format!("from=yesterday&to={to}"), "from"),
        (format!("from={from}&to={to}&tz=Mars/Base"), "tz"),
    ] {
        let response = api
            .get(&format!("{path}/slots?{query}"), Some(&brand.access))
            .await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(response.error_fields(), vec![field.to_owned()], "{query}");
    }
}

#[tokio::test]
async fn a_group_gigs_slots_disappear_when_one_member_blocks_the_day() {
    let app = spawn_app().await;
    let api = &app.api;
    let owner = api.register("influencer").await;
    let member = api.register("influencer").await;
    let brand = api.register("brand").await;
    api.make_available(&owner, "Europe/Lisbon").await;
    api.make_available(&member, "Europe/Lisbon").await;
    let gig = api.create_gig(&owner, "Instagram story feature").await;
    let path = format!("/gigs/{gig}");
    // Half the payout each.
    api.invite(&owner, &gig, &[&member]).await;
    let accepted = api.accept_invitation(&member, &gig).await;
    assert_eq!(accepted.status, StatusCode::OK, "{:?}", accepted.body);
    assert_eq!(api.publish_gig(&owner, &gig).await.status, StatusCode::OK);

    let lisbon = jiff::tz::TimeZone::get("Europe/Lisbon").unwrap();
    let day = jiff::Zoned::now().with_time_zone(lisbon.clone()).date() + jiff::Span::new().days(10);
    let from = day.to_zoned(lisbon).unwrap().timestamp();
    let to = from + jiff::SignedDuration::from_hours(24);
    let url = format!("{path}/slots?from={from}&to={to}");
    let before = api.get(&url, Some(&brand.access)).await;
    assert_eq!(
        before.body["slots"].as_array().unwrap().len(),
        8,
        "{:?}",
        before.body
    );

    let blocked = api
        .put(
            &format!("/availability/overrides/{day}"),
            &json!({ "kind": "blocked" }),
            Some(&member.access),
        )
        .await;
    assert_eq!(blocked.status, StatusCode::OK);

    let after = api.get(&url, Some(&brand.access)).await;
    assert_eq!(
        after.body["slots"],
        json!([]),
        "one member's blocked day empties the group's slots"
    );
}

/// The ids `GET /gigs` lists to `viewer` (one page is enough for these tests).
async fn listed(api: &ApiClient, viewer: &TestUser) -> Vec<String> {
    let response = api.get("/gigs?limit=100", Some(&viewer.access)).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|gig| gig["id"].as_str().expect("gig id").to_owned())
        .collect()
}

/// The `[from, to)` query of a whole Lisbon day `days` from today.
fn lisbon_day(days: i64) -> String {
    let lisbon = jiff::tz::TimeZone::get("Europe/Lisbon").expect("bundled zone");
    let day =
        jiff::Zoned::now().with_time_zone(lisbon.clone()).date() + jiff::Span::new().days(days);
    let from = day.to_zoned(lisbon).expect("a Lisbon day").timestamp();
    let to = from + jiff::SignedDuration::from_hours(24);
    format!("from={from}&to={to}")
}

#[tokio::test]
async fn a_suspended_influencers_gigs_leave_listings_reads_and_slots_until_reinstated() {
    let app = spawn_app().await;
    let api = &app.api;
    let admin = sign_in_new_admin(&app).await;
    let influencer = api.register("influencer").await;
    let other = api.register("influencer").await;
    let brand = api.register("brand").await;
    api.make_available(&influencer, "Europe/Lisbon").await;
    let gig = api.create_gig(&influencer, "Instagram story feature").await;
    let others_gig = api.create_gig(&other, "TikTok duet").await;
    for (owner, id) in [(&influencer, &gig), (&other, &others_gig)] {
        assert_eq!(api.publish_gig(owner, id).await.status, StatusCode::OK);
    }
    let path = format!("/gigs/{gig}");
    let slots = format!("{path}/slots?{}", lisbon_day(7));
    assert_eq!(
        listed(api, &brand).await,
        vec![gig.clone(), others_gig.clone()]
    );
    let offered = api.get(&slots, Some(&brand.access)).await;
    assert_eq!(offered.body["slots"].as_array().unwrap().len(), 8);

    let suspended = api
        .set_user_status(&influencer.id, "suspended", Some(&admin.access))
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{:?}", suspended.body);

    assert_eq!(
        api.get(
            &format!("/influencers/{}", influencer.id),
            Some(&brand.access)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(listed(api, &brand).await, vec![others_gig.clone()]);
    for viewer in [&brand, &other, &admin] {
        assert_eq!(
            api.get(&path, Some(&viewer.access)).await.status,
            StatusCode::NOT_FOUND
        );
        let hidden = api.get(&slots, Some(&viewer.access)).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{:?}", hidden.body);
    }

    let reinstated = api
        .set_user_status(&influencer.id, "active", Some(&admin.access))
        .await;
    assert_eq!(reinstated.status, StatusCode::OK, "{:?}", reinstated.body);
    assert_eq!(listed(api, &brand).await, vec![gig.clone(), others_gig]);
    assert_eq!(
        api.get(&path, Some(&brand.access)).await.status,
        StatusCode::OK
    );
    let offered = api.get(&slots, Some(&brand.access)).await;
    assert_eq!(offered.body["slots"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn a_group_gig_with_a_suspended_member_is_hidden_from_everyone_but_its_members() {
    let app = spawn_app().await;
    let api = &app.api;
    let admin = sign_in_new_admin(&app).await;
    let owner = api.register("influencer").await;
    let member = api.register("influencer").await;
    let brand = api.register("brand").await;
    api.make_available(&owner, "Europe/Lisbon").await;
    api.make_available(&member, "Europe/Lisbon").await;
    let gig = api.create_gig(&owner, "Instagram story feature").await;
    api.invite(&owner, &gig, &[&member]).await;
    assert_eq!(
        api.accept_invitation(&member, &gig).await.status,
        StatusCode::OK
    );
    assert_eq!(api.publish_gig(&owner, &gig).await.status, StatusCode::OK);
    let path = format!("/gigs/{gig}");
    let slots = format!("{path}/slots?{}", lisbon_day(10));
    assert_eq!(listed(api, &brand).await, vec![gig.clone()]);

    let suspended = api
        .set_user_status(&member.id, "suspended", Some(&admin.access))
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{:?}", suspended.body);

    assert_eq!(listed(api, &brand).await, Vec::<String>::new());
    assert_eq!(
        api.get(&path, Some(&brand.access)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get(&slots, Some(&brand.access)).await.status,
        StatusCode::NOT_FOUND
    );
    // The owner still sees the gig among their own, but it offers nothing while a member is
    // suspended.
    assert_eq!(
        api.get(&path, Some(&owner.access)).await.status,
        StatusCode::OK
    );
    let mine = api.get("/gigs?mine=true", Some(&owner.access)).await;
    assert_eq!(mine.body["items"][0]["id"], gig.as_str());
    let preview = api.get(&slots, Some(&owner.access)).await;
    assert_eq!(preview.status, StatusCode::OK, "{:?}", preview.body);
    assert_eq!(preview.body["slots"], json!([]));

    let reinstated = api
        .set_user_status(&member.id, "active", Some(&admin.access))
        .await;
    assert_eq!(reinstated.status, StatusCode::OK, "{:?}", reinstated.body);
    assert_eq!(listed(api, &brand).await, vec![gig]);
    let offered = api.get(&slots, Some(&brand.access)).await;
    assert_eq!(offered.body["slots"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn gigs_past_their_draft_refuse_changes_with_a_conflict_naming_why() {
    let app = spawn_app().await;
    let api = &app.api;
    let owner = api.register("influencer").await;
    let member = api.register("influencer").await;
    let gig = api.create_gig(&owner, "Instagram story feature").await;
    let path = format!("/gigs/{gig}");
    api.invite(&owner, &gig, &[&member]).await;
    assert_eq!(
        api.accept_invitation(&member, &gig).await.status,
        StatusCode::OK
    );
    assert_eq!(api.publish_gig(&owner, &gig).await.status, StatusCode::OK);

    let members = json!({ "owner_share_bps": 10000, "members": [] });
    let refused = api
        .put(&format!("{path}/members"), &members, Some(&owner.access))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.content_type(), "application/problem+json");
    assert_eq!(refused.body["type"], "/problems/not-a-draft");
    assert_eq!(
        refused.body["detail"],
        "members can change only while the gig is a draft"
    );
    let answer = api
        .post(
            &format!("{path}/membership/decline"),
            &json!({}),
            Some(&member.access),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{:?}", answer.body);
    assert_eq!(answer.body["type"], "/problems/not-a-draft");
    assert_eq!(answer.body["detail"], "the gig is no longer a draft");
    let again = api.publish_gig(&owner, &gig).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.error_fields(), vec!["status"]);

    let archive = format!("{path}/archive");
    let archived = api.post(&archive, &json!({}), Some(&owner.access)).await;
    assert_eq!(archived.status, StatusCode::OK, "{:?}", archived.body);
    assert_eq!(archived.body["status"], "archived");
    let twice = api.post(&archive, &json!({}), Some(&owner.access)).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.body["type"], "/problems/already-archived");
    let edited = api
        .patch(&path, &json!({ "title": "Reopened" }), Some(&owner.access))
        .await;
    assert_eq!(edited.status, StatusCode::CONFLICT);
    assert_eq!(edited.body["type"], "/problems/archived");
    assert_eq!(edited.body["detail"], "archived gigs cannot change");

    let unchanged = api.get(&path, Some(&owner.access)).await;
    assert_eq!(unchanged.body["title"], "Instagram story feature");
    assert_eq!(unchanged.body["version"], archived.body["version"]);
    assert_eq!(unchanged.body["members"][1]["state"], "accepted");
}

#[tokio::test]
async fn text_is_stored_trimmed_on_creation_and_on_update() {
    let app = spawn_app().await;
    let api = &app.api;
    let owner = api.register("influencer").await;
    let mut gig = new_gig();
    gig["title"] = json!("  Instagram story feature  ");
    gig["deliverables"] = json!([" 3 stories\n"]);
    let created = api.post("/gigs", &gig, Some(&owner.access)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["title"], "Instagram story feature");
    assert_eq!(created.body["deliverables"], json!(["3 stories"]));

    let path = format!("/gigs/{}", created.body["id"].as_str().unwrap());
    let updated = api
        .patch(
            &path,
            &json!({ "category": "\tshoes " }),
            Some(&owner.access),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(updated.body["category"], "shoes");
    let too_short = api
        .patch(&path, &json!({ "title": "  ab  " }), Some(&owner.access))
        .await;
    assert_eq!(too_short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_short.error_fields(), vec!["title"]);
}
