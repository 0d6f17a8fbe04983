//! `/availability`: what an influencer writes about when they can be booked, and the input it
//! refuses with a 422 naming the field, changing nothing.

use jiff::civil::date;
use noillin_domain::{
    UserId,
    availability::{MAX_OVERRIDES, Override},
};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

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
async fn unknown_weekday_keys_are_refused_and_the_week_stays_as_it_was() {
    let app = spawn_app().await;
    let api = &app.api;
    let influencer = api.register("influencer").await;
    let day = json!([{ "start": "09:00", "end": "17:00" }]);
    let set = api
        .put(
            "/availability/weekly",
            &json!({ "monday": day, "friday": day }),
            Some(&influencer.access),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    let before = api
        .get("/availability", Some(&influencer.access))
        .await
        .body;

    for (body, field) in [
        (json!({ "mon": day }), "mon"),
        (json!({ "monday": day, "Tuesday": day }), "Tuesday"),
        (json!({ "friday": [], "funday": day }), "funday"),
    ] {
        let refused = api
            .put("/availability/weekly", &body, Some(&influencer.access))
            .await;
        assert_refused(&refused, &[field]);
    }

    let after = api
        .get("/availability", Some(&influencer.access))
        .await
        .body;
    assert_eq!(after, before, "no weekday was wiped");
    assert_eq!(after["weekly"]["monday"], day);
}

#[tokio::test]
async fn override_dates_are_only_yyyy_mm_dd_in_the_path() {
    let app = spawn_app().await;
    let api = &app.api;
    let influencer = api.register("influencer").await;
    let blocked = json!({ "kind": "blocked" });

    for date in [
        "20260101",
        "+002026-01-03",
        "-009999-01-01",
        "2026-1-03",
        "2026-02-30",
        "2026-01-03T00:00",
    ] {
        let set = api
            .put(
                &format!("/availability/overrides/{date}"),
                &blocked,
                Some(&influencer.access),
            )
            .await;
        assert_refused(&set, &["date"]);
        let removed = api
            .delete(
                &format!("/availability/overrides/{date}"),
                Some(&influencer.access),
            )
            .await;
        assert_refused(&removed, &["date"]);
    }
    let rules = api.get("/availability", Some(&influencer.access)).await;
    assert_eq!(rules.body["overrides"], json!({}), "nothing was stored");

    let set = api
        .put(
            "/availability/overrides/2026-01-03",
            &blocked,
            Some(&influencer.access),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    assert_eq!(set.body["overrides"]["2026-01-03"], blocked);
    let removed = api
        .delete(
            "/availability/overrides/2026-01-03",
            Some(&influencer.access),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_new_override_past_the_limit_is_refused_but_set_dates_still_change() {
    let app = spawn_app().await;
    let api = &app.api;
    let influencer = api.register("influencer").await;
    let store = app.store().await;
    let user = UserId::from_string(influencer.id.clone());
    let mut day = date(2027, 1, 1);
    for _ in 0..MAX_OVERRIDES {
        store
            .availability
            .set_override(&user, day, &Override::Blocked)
            .await
            .unwrap();
        day = day.tomorrow().unwrap();
    }
    let windows = json!({ "kind": "windows", "windows": [{ "start": "10:00", "end": "11:00" }] });

    let refused = api
        .put(
            &format!("/availability/overrides/{day}"),
            &windows,
            Some(&influencer.access),
        )
        .await;
    assert_refused(&refused, &["date"]);
    assert_eq!(refused.body["errors"][0]["code"], "too_many_overrides");
    let rules = api.get("/availability", Some(&influencer.access)).await;
    assert_eq!(
        rules.body["overrides"].as_object().map(|o| o.len()),
        Some(MAX_OVERRIDES),
        "nothing was added"
    );

    let changed = api
        .put(
            "/availability/overrides/2027-01-01",
            &windows,
            Some(&influencer.access),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["overrides"]["2027-01-01"], windows);
}

#[tokio::test]
async fn removing_an_override_a_date_does_not_have_is_a_404() {
    let app = spawn_app().await;
    let influencer = app.api.register("influencer").await;

    let removed = app
        .api
        .delete(
            "/availability/overrides/2026-01-03",
            Some(&influencer.access),
        )
        .await;

    assert_eq!(removed.status, StatusCode::NOT_FOUND);
    assert_eq!(removed.content_type(), "application/problem+json");
}
