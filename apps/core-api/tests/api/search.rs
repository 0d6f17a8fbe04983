//! Search: who may search, how parameters are checked, 503 while there is no index, paging, and
//! `available_on` pages. The test writes the embedded index as the worker would (core-api opens
//! it read-only and sees a write within its reload delay).

use std::{collections::HashSet, time::Duration};

use noillin_search::{
    Documents, EmbeddedSearch, InfluencerDocument, PlatformFollowers, Rating, SearchIndex,
};
use noillin_test_support::{TestUser, eventually_some};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, sign_in_new_admin, spawn_app};

/// How long core-api may take to see the test's writes (its reader reloads within a second).
const VISIBLE_WITHIN: Duration = Duration::from_secs(15);

fn influencer(id: &str, name: &str, niche: &str, followers: u64) -> InfluencerDocument {
    InfluencerDocument {
        id: id.to_owned(),
        display_name: name.to_owned(),
        bio: format!("{name} posts about {niche}"),
        niches: vec![niche.to_owned()],
        languages: vec!["en".to_owned()],
        location: "Lisbon".to_owned(),
        platforms: vec![PlatformFollowers {
            platform: "instagram".to_owned(),
            followers,
        }],
        total_followers: followers,
        rating: Rating::default(),
        price_ranges: Vec::new(),
        version: 1,
    }
}

/// The index under the app's data directory, opened for writing.
async fn writable_index(app: &TestApp) -> EmbeddedSearch {
    EmbeddedSearch::open(&app.search_dir(), false)
        .await
        .expect("the embedded index opens for writing")
}

/// The search once core-api answers it with `count` hits.
async fn search_until(app: &TestApp, path: &str, token: &str, count: usize) -> Value {
    eventually_some(VISIBLE_WITHIN, || async {
        let response = app.api.get(path, Some(token)).await;
        (response.status == StatusCode::OK && response.body["hits"].as_array()?.len() == count)
            .then_some(response.body)
    })
    .await
    .unwrap_or_else(|| panic!("{path} never answered {count} hits"))
}

#[tokio::test]
async fn search_needs_a_signed_in_user_and_names_every_bad_parameter() {
    let app = spawn_app().await;
    let brand = app.api.register("brand").await;

    let anonymous = app.api.get("/search/influencers?q=ana", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let refused = app
        .api
        .get(
            "/search/influencers?min_followers=-3&price_max=100&sort=loudest&limit=500&available_on=tomorrow&after=zz",
            Some(&brand.access),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.content_type(), "application/problem+json");
    let mut fields = refused.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "after",
            "available_on",
            "currency",
            "limit",
            "min_followers",
            "sort"
        ]
    );

    let gigs = app
        .api
        .get(
            "/search/gigs?group=maybe&currency=EURO",
            Some(&brand.access),
        )
        .await;
    assert_eq!(gigs.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = gigs.error_fields();
    fields.sort();
    assert_eq!(fields, ["currency", "group"]);

    let unknown = app
        .api
        .get("/search/gigs?niche=fashion", Some(&brand.access))
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "gigs have no niche"
    );
}

#[tokio::test]
async fn without_an_index_search_answers_503_with_retry_after() {
    let app = spawn_app().await;
    let brand = app.api.register("brand").await;

    for path in ["/search/influencers?q=ana", "/search/gigs"] {
        let response = app.api.get(path, Some(&brand.access)).await;
        assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(
            response.headers.contains_key("retry-after"),
            "{path}: {:?}",
            response.headers
        );
    }
    // The rest of the API is unaffected.
    let me = app.api.get("/auth/me", Some(&brand.access)).await;
    assert_eq!(me.status, StatusCode::OK);
}

#[tokio::test]
async fn every_role_searches_and_pages_through_every_hit_once_with_facets() {
    let app = spawn_app().await;
    let index = writable_index(&app).await;
    let documents: Vec<InfluencerDocument> = (0..5)
        .map(|i| {
            influencer(
                &format!("inf-{i}"),
                &format!("Runner {i}"),
                "running",
                1000 + i,
            )
        })
        .chain([influencer("inf-cook", "Cook", "cooking", 50)])
        .collect();
    index
        .upsert(Documents::Influencers(&documents))
        .await
        .unwrap();

    let brand = app.api.register("brand").await;
    let influencer_user = app.api.register("influencer").await;
    let admin = sign_in_new_admin(&app).await;
    for user in [&brand, &influencer_user, &admin] {
        let all = search_until(&app, "/search/influencers", &user.access, 6).await;
        assert_eq!(all["total_estimate"], 6);
        assert_eq!(all["facets"]["niche"]["running"], 5);
        assert_eq!(all["facets"]["niche"]["cooking"], 1);
        assert_eq!(all["facets"]["platform"]["instagram"], 6);
    }

    let mut seen = Vec::new();
    let mut path = "/search/influencers?niche=running&sort=followers_desc&limit=2".to_owned();
    loop {
        let page = app.api.get(&path, Some(&brand.access)).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        for hit in page.body["hits"].as_array().unwrap() {
            seen.push(hit["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_after"].as_str() {
            Some(after) => {
                path = format!(
                    "/search/influencers?niche=running&sort=followers_desc&limit=2&after={after}"
                )
            }
            None => break,
        }
    }
    assert_eq!(seen, ["inf-4", "inf-3", "inf-2", "inf-1", "inf-0"]);

    let typo = app
        .api
        .get("/search/influencers?q=runer", Some(&brand.access))
        .await;
    assert_eq!(
        typo.body["hits"].as_array().unwrap().len(),
        5,
        "{:?}",
        typo.body
    );

    let other_query = app
        .api
        .get(
            &format!("/search/influencers?niche=cooking&after={}", "2.1234abcd"),
            Some(&brand.access),
        )
        .await;
    assert_eq!(other_query.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other_query.error_fields(), ["after"]);
}

/// An influencer with a published gig, bookable 09:00–17:00 every day in `zone` when
/// `available`.
async fn influencer_with_gig(app: &TestApp, zone: &str, available: bool) -> TestUser {
    let user = app.api.register("influencer").await;
    if available {
        app.api.make_available(&user, zone).await;
    }
    let gig = app.api.create_gig(&user, "Launch stories").await;
    let published = app.api.publish_gig(&user, &gig).await;
    assert_eq!(published.status, StatusCode::OK, "{:?}", published.body);
    user
}

#[tokio::test]
async fn available_on_fills_every_page_and_continues_after_the_last_hit() {
    let app = spawn_app().await;
    let brand = app.api.register("brand").await;
    // Interleaved so that available influencers sit between unavailable ones in the hits.
    let mut users = Vec::new();
    for (i, available) in [false, true, false, false, true, true, false]
        .into_iter()
        .enumerate()
    {
        let zone = if i % 2 == 0 {
            "Europe/Lisbon"
        } else {
            "Asia/Tokyo"
        };
        users.push((influencer_with_gig(&app, zone, available).await, available));
    }
    let index = writable_index(&app).await;
    let documents: Vec<InfluencerDocument> = users
        .iter()
        .zip(0u64..)
        .map(|((user, _), i)| influencer(&user.id, "Trail Runner", "trail", 100 - i))
        .collect();
    index
        .upsert(Documents::Influencers(&documents))
        .await
        .unwrap();
    search_until(
        &app,
        "/search/influencers?niche=trail&limit=50",
        &brand.access,
        7,
    )
    .await;

    let day = (jiff::Zoned::now().date() + jiff::Span::new().days(3)).to_string();
    let base =
        format!("/search/influencers?niche=trail&sort=followers_desc&available_on={day}&limit=1");
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut path = base.clone();
    loop {
        let page = app.api.get(&path, Some(&brand.access)).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        pages.push(
            page.body["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_str().unwrap().to_owned())
                .collect(),
        );
        match page.body["next_after"].as_str() {
            Some(after) => path = format!("{base}&after={after}"),
            None => break,
        }
        assert!(pages.len() <= 10, "paging must end");
    }
    let expected: Vec<String> = users
        .iter()
        .filter(|(_, available)| *available)
        .map(|(user, _)| user.id.clone())
        .collect();
    let found: Vec<String> = pages.iter().flatten().cloned().collect();
    assert_eq!(found, expected, "in the index's order, each once");
    let (last, full) = pages.split_last().unwrap();
    assert!(
        full.iter().all(|page| page.len() == 1),
        "no short page while later hits match: {pages:?}"
    );
    assert!(last.len() <= 1);
    let unique: HashSet<&String> = found.iter().collect();
    assert_eq!(unique.len(), found.len());
}
