//! Search end to end through NGINX: a change in core-api goes through the outbox, the broker
//! and the worker's search-sync handler into the embedded index, and core-api (reading it
//! read-only) answers it within the sync lag. Parameter checks, 503 and paging are tested
//! in-process, in core-api's `tests/api/search.rs`.

use std::{collections::HashSet, time::Duration};

use noillin_test_support::{ApiClient, Platform, TestUser, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The sync lag, generously: outbox relay, broker, worker, index commit, reader reload.
const SYNC_LAG: Duration = Duration::from_secs(20);

async fn platform() -> Platform {
    Platform::builder()
        .env("MAIL_TRANSPORT", "log")
        .start()
        .await
        .expect("platform starts")
}

async fn search(api: &ApiClient, token: &str, path: &str) -> Value {
    let response = api.get(path, Some(token)).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{path}: {:?}",
        response.body
    );
    response.body
}

fn ids(page: &Value) -> HashSet<String> {
    page["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .filter_map(|h| h["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the search at `path` does (or does not) list `id`.
async fn until_listed(api: &ApiClient, token: &str, path: &str, id: &str, listed: bool) -> bool {
    eventually(SYNC_LAG, || async {
        let response = api.get(path, Some(token)).await;
        response.status == StatusCode::OK && ids(&response.body).contains(id) == listed
    })
    .await
}

async fn rename(api: &ApiClient, user: &TestUser, profile: Value) {
    let response = api
        .patch("/influencers/me", &profile, Some(&user.access))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
}

#[tokio::test]
async fn an_edit_is_searchable_with_a_typo_and_a_suspension_removes_the_influencer_and_their_gigs()
{
    let platform = platform().await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let admin = platform.sign_in_new_admin().await;
    let ana = api.register("influencer").await;
    let member = api.register("influencer").await;
    rename(
        &api,
        &ana,
        json!({ "display_name": "Zephyrine Okonkwo", "bio": "Trail running in the Alps", "niches": ["running"] }),
    )
    .await;
    let solo = api.create_gig(&ana, "Alpine trail reel").await;
    assert_eq!(api.publish_gig(&ana, &solo).await.status, StatusCode::OK);
    let group = api.create_gig(&member, "Mountain duo week").await;
    api.invite(&member, &group, &[&ana]).await;
    assert_eq!(
        api.accept_invitation(&ana, &group).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.publish_gig(&member, &group).await.status,
        StatusCode::OK
    );

    let by_name = "/search/influencers?q=zephyrine";
    assert!(
        until_listed(&api, &brand.access, by_name, &ana.id, true).await,
        "the edit is searchable within the sync lag"
    );
    // One typo (a letter missing) in a query word of eight letters is forgiven.
    let typo = search(&api, &brand.access, "/search/influencers?q=zepyrine").await;
    assert!(ids(&typo).contains(&ana.id), "{typo}");
    assert_eq!(typo["hits"][0]["display_name"], "Zephyrine Okonkwo");
    // The document's price range comes from the gigs' own events, which may be synced after
    // the profile edit's.
    let priced = eventually(SYNC_LAG, || async {
        let found = api.get(by_name, Some(&brand.access)).await;
        found.body["hits"][0]["price_ranges"][0]["currency"] == "EUR"
    })
    .await;
    assert!(priced, "the influencer's gig prices reach their document");
    for gig in [&solo, &group] {
        assert!(
            until_listed(&api, &brand.access, "/search/gigs?limit=50", gig, true).await,
            "gig {gig} is searchable"
        );
    }

    let suspended = api
        .set_user_status(&ana.id, "suspended", Some(&admin.access))
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{:?}", suspended.body);
    assert!(
        until_listed(&api, &brand.access, by_name, &ana.id, false).await,
        "a suspended influencer leaves search"
    );
    for gig in [&solo, &group] {
        assert!(
            until_listed(&api, &brand.access, "/search/gigs?limit=50", gig, false).await,
            "gig {gig} of a suspended influencer (owner or member) leaves search"
        );
    }

    let reinstated = api
        .set_user_status(&ana.id, "active", Some(&admin.access))
        .await;
    assert_eq!(reinstated.status, StatusCode::OK, "{:?}", reinstated.body);
    assert!(until_listed(&api, &brand.access, by_name, &ana.id, true).await);
    assert!(until_listed(&api, &brand.access, "/search/gigs?limit=50", &group, true).await);
}

#[tokio::test]
async fn rapid_edits_converge_to_the_last_one() {
    let platform = platform().await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let user = api.register("influencer").await;
    // Each edit emits its own event; the worker handles them concurrently, in any order.
    for round in 0..8 {
        rename(
            &api,
            &user,
            json!({ "display_name": format!("Quillon Round{round}"), "niches": [format!("niche{round}")] }),
        )
        .await;
    }
    assert!(
        until_listed(
            &api,
            &brand.access,
            "/search/influencers?niche=niche7",
            &user.id,
            true
        )
        .await,
        "the last edit is indexed"
    );
    // Older events may still be in flight; none of them may bring an older state back, so the
    // last edit stays listed whenever we look over a while.
    let replaced = eventually(Duration::from_secs(3), || async {
        let latest = api
            .get("/search/influencers?niche=niche7", Some(&brand.access))
            .await;
        !ids(&latest.body).contains(&user.id)
    })
    .await;
    assert!(!replaced, "an older edit replaced the last one");
    for round in 0..7 {
        let older = search(
            &api,
            &brand.access,
            &format!("/search/influencers?niche=niche{round}"),
        )
        .await;
        assert!(!ids(&older).contains(&user.id), "round {round}: {older}");
    }
}

#[tokio::test]
async fn available_on_agrees_with_the_slots_endpoint_for_every_influencer_and_gig() {
    let platform = platform().await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let day = jiff::Zoned::now().date() + jiff::Span::new().days(4);
    let zones = [
        "Europe/Lisbon",
        "Asia/Tokyo",
        "America/New_York",
        "Pacific/Auckland",
    ];
    // Available every day, then two of them closed on the day by an override, and one with no
    // availability at all.
    let mut fixture = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let user = api.register("influencer").await;
        rename(&api, &user, json!({ "niches": ["slotcheck"] })).await;
        if i != 3 {
            api.make_available(&user, zone).await;
        } else {
            rename(&api, &user, json!({ "time_zone": zone })).await;
        }
        if i == 1 || i == 2 {
            let blocked = api
                .put(
                    &format!("/availability/overrides/{day}"),
                    &json!({ "kind": "blocked" }),
                    Some(&user.access),
                )
                .await;
            assert_eq!(blocked.status, StatusCode::OK, "{:?}", blocked.body);
        }
        let gig = api.create_gig(&user, "Slot check stories").await;
        assert_eq!(api.publish_gig(&user, &gig).await.status, StatusCode::OK);
        fixture.push((user, gig, *zone));
    }
    for (user, _, _) in &fixture {
        assert!(
            until_listed(
                &api,
                &brand.access,
                "/search/influencers?niche=slotcheck&limit=50",
                &user.id,
                true
            )
            .await
        );
    }

    let influencers = search(
        &api,
        &brand.access,
        &format!("/search/influencers?niche=slotcheck&available_on={day}&limit=50"),
    )
    .await;
    let gigs = search(
        &api,
        &brand.access,
        &format!("/search/gigs?available_on={day}&limit=50"),
    )
    .await;
    let (available_influencers, available_gigs) = (ids(&influencers), ids(&gigs));
    for (user, gig, zone) in &fixture {
        let start = day
            .to_zoned(jiff::tz::TimeZone::get(zone).unwrap())
            .unwrap();
        let end = day
            .tomorrow()
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::get(zone).unwrap())
            .unwrap();
        let slots = api
            .get(
                &format!(
                    "/gigs/{gig}/slots?from={}&to={}",
                    start.timestamp(),
                    end.timestamp()
                ),
                Some(&brand.access),
            )
            .await;
        assert_eq!(slots.status, StatusCode::OK, "{:?}", slots.body);
        let has_slots = !slots.body["slots"].as_array().unwrap().is_empty();
        assert_eq!(
            available_influencers.contains(&user.id),
            has_slots,
            "influencer in {zone}"
        );
        assert_eq!(available_gigs.contains(gig), has_slots, "gig in {zone}");
    }
    assert_eq!(
        available_influencers.len(),
        1,
        "only Lisbon is open that day"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reindex_while_profiles_change_loses_no_update() {
    let platform = platform().await;
    let api = platform.api();
    let brand = api.register("brand").await;
    let mut influencers = Vec::new();
    for i in 0..6 {
        let user = api.register("influencer").await;
        rename(
            &api,
            &user,
            json!({ "display_name": format!("Brontide Maker{i}"), "niches": ["brontide"] }),
        )
        .await;
        influencers.push(user);
    }
    let everyone = "/search/influencers?niche=brontide";
    for user in &influencers {
        assert!(until_listed(&api, &brand.access, everyone, &user.id, true).await);
    }

    // Edits race the rebuild (two of them): each edit must survive, whichever wins each read.
    let edits = async {
        for round in 0..4 {
            for (i, user) in influencers.iter().take(3).enumerate() {
                rename(
                    &api,
                    user,
                    json!({ "display_name": format!("Brontide Renamed{i}"), "niches": ["brontide", format!("renamed{i}-{round}")] }),
                )
                .await;
            }
        }
    };
    let reindex = async {
        for _ in 0..2 {
            // A blocking child process: off the runtime's threads, so the edits go on meanwhile.
            let output = tokio::task::block_in_place(|| {
                platform.core_api_command(&["search", "reindex", "influencers"], &[])
            })
            .expect("the reindex is requested");
            assert!(
                output.contains("reindex of influencers requested"),
                "{output}"
            );
        }
    };
    tokio::join!(edits, reindex);
    let swapped = eventually(SYNC_LAG, || async {
        platform
            .logs()
            .contains("search index rebuilt and swapped in")
    })
    .await;
    assert!(
        swapped,
        "the worker rebuilt the index:\n{}",
        platform.logs()
    );
    for (i, user) in influencers.iter().take(3).enumerate() {
        let renamed = format!("/search/influencers?niche=renamed{i}-3");
        assert!(
            until_listed(&api, &brand.access, &renamed, &user.id, true).await,
            "edit {i} survived the reindex"
        );
    }
    let all = search(&api, &brand.access, everyone).await;
    for user in &influencers {
        assert!(
            ids(&all).contains(&user.id),
            "{} is still indexed: {all}",
            user.id
        );
    }
}
