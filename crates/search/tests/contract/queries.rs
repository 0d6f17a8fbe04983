//! Reading: typo tolerance, prefixes, relevance by labeled queries, snippets, every filter,
//! facet counts, sorts and paging.

use super::support::*;

pub async fn one_typo_in_a_word_of_five_letters_or_more_still_finds_it(search: &Search) {
    seed(&**search).await;
    let hits = as_set(&text_hits(&**search, "fashoin ").await);
    assert!(hits.is_superset(&set(&["i01", "i09"])), "{hits:?}");
    let hits = as_set(&text_hits(&**search, "sustanabilty ").await);
    assert!(
        hits.is_superset(&set(&["i01", "i07"])),
        "two typos in a long word: {hits:?}"
    );
}

pub async fn no_typo_is_allowed_in_words_under_five_letters(search: &Search) {
    seed(&**search).await;
    assert!(
        text_hits(&**search, "yoga ")
            .await
            .contains(&"i05".to_owned())
    );
    assert_eq!(text_hits(&**search, "yoda ").await, Vec::<String>::new());
    assert_eq!(text_hits(&**search, "toga ").await, Vec::<String>::new());
}

pub async fn the_last_word_matches_as_a_prefix(search: &Search) {
    seed(&**search).await;
    let hits = as_set(&text_hits(&**search, "phot").await);
    assert_eq!(hits, set(&["i02", "i08"]));
    assert_eq!(
        as_set(&text_hits(&**search, "gam").await),
        set(&["i04", "i11"])
    );
    // Not a prefix once the word is followed by a space.
    assert_eq!(text_hits(&**search, "gam ").await, Vec::<String>::new());
}

pub async fn labeled_queries_find_their_expected_top_hits(search: &Search) {
    seed(&**search).await;
    let cases: [(&str, &[&str]); 4] = [
        ("travel", &["i02", "i12"]),
        ("street photography", &["i08"]),
        ("cafe", &["i03", "i12"]),
        ("anime manga", &["i11"]),
    ];
    for (text, expected) in cases {
        let hits = text_hits(&**search, text).await;
        let top: BTreeSet<String> = hits.iter().take(expected.len()).cloned().collect();
        assert_eq!(top, set(expected), "top hits of {text:?}: {hits:?}");
    }
    let gigs = gig_ids(
        &**search,
        GigQuery {
            text: "vegan recipe".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(gigs.first().map(String::as_str), Some("g05"), "{gigs:?}");
}

pub async fn every_word_must_match(search: &Search) {
    seed(&**search).await;
    assert_eq!(
        text_hits(&**search, "travel gaming").await,
        Vec::<String>::new()
    );
}

pub async fn a_hit_carries_its_card_and_a_highlighted_snippet(search: &Search) {
    seed(&**search).await;
    let query = InfluencerQuery {
        text: "vegan".into(),
        ..Default::default()
    };
    let results = search.search_influencers(&query).await.unwrap();
    let hit = &results.hits[0];
    assert_eq!(hit.id, "i03");
    assert_eq!(hit.display_name, "Chloé Cuisine");
    assert_eq!(hit.niches, vec!["food".to_owned()]);
    assert_eq!(hit.total_followers, 80_000);
    assert_eq!(hit.price_ranges[0].currency, "EUR");
    let snippet = hit.snippet.as_deref().unwrap();
    assert!(snippet.contains("<em>vegan</em>"), "{snippet}");
    let no_text = search
        .search_influencers(&InfluencerQuery::default())
        .await
        .unwrap();
    assert!(no_text.hits.iter().all(|h| h.snippet.is_none()));
}

pub async fn each_influencer_filter_keeps_exactly_the_matching_documents(search: &Search) {
    seed(&**search).await;
    let cases: Vec<(&str, InfluencerFilters, &[&str])> = vec![
        (
            "niche",
            InfluencerFilters {
                niches: vec!["FASHION".into()],
                ..Default::default()
            },
            &["i01", "i09"],
        ),
        (
            "platform",
            InfluencerFilters {
                platforms: vec!["youtube".into()],
                ..Default::default()
            },
            &["i02", "i04", "i07", "i10", "i11"],
        ),
        (
            "language",
            InfluencerFilters {
                languages: vec!["fr".into()],
                ..Default::default()
            },
            &["i01", "i03", "i12"],
        ),
        (
            "any of two languages",
            InfluencerFilters {
                languages: vec!["ja".into(), "ru".into()],
                ..Default::default()
            },
            &["i04", "i11"],
        ),
        (
            "location",
            InfluencerFilters {
                location: Some("paris".into()),
                ..Default::default()
            },
            &["i03", "i12"],
        ),
        (
            "followers",
            InfluencerFilters {
                min_followers: Some(100_000),
                max_followers: Some(1_000_000),
                ..Default::default()
            },
            &["i01", "i02", "i04", "i09", "i11"],
        ),
        (
            "rating",
            InfluencerFilters {
                min_rating: Some(4.5),
                ..Default::default()
            },
            &["i01", "i03", "i05", "i07", "i10"],
        ),
        (
            "price",
            InfluencerFilters {
                currency: Some("eur".into()),
                price_min: Some(30_000),
                price_max: Some(60_000),
                ..Default::default()
            },
            &["i01", "i02", "i03", "i12"],
        ),
        (
            "currency",
            InfluencerFilters {
                currency: Some("GBP".into()),
                ..Default::default()
            },
            &["i05", "i10"],
        ),
        (
            "niche and language",
            InfluencerFilters {
                niches: vec!["travel".into()],
                languages: vec!["fr".into()],
                ..Default::default()
            },
            &["i12"],
        ),
    ];
    for (name, filters, expected) in cases {
        let ids = influencer_ids(
            &**search,
            InfluencerQuery {
                filters,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(as_set(&ids), set(expected), "filter {name}");
    }
}

pub async fn each_gig_filter_keeps_exactly_the_matching_documents(search: &Search) {
    seed(&**search).await;
    let cases: Vec<(&str, GigFilters, &[&str])> = vec![
        (
            "platform",
            GigFilters {
                platforms: vec!["Instagram".into()],
                ..Default::default()
            },
            &["g01", "g04", "g05", "g07", "g11", "g12"],
        ),
        (
            "category",
            GigFilters {
                categories: vec!["video".into()],
                ..Default::default()
            },
            &["g02", "g03", "g08", "g09", "g10"],
        ),
        (
            "price",
            GigFilters {
                currency: Some("EUR".into()),
                price_min: Some(20_000),
                price_max: Some(45_000),
                ..Default::default()
            },
            &["g01", "g02", "g05", "g11"],
        ),
        (
            "group",
            GigFilters {
                group: Some(true),
                ..Default::default()
            },
            &["g08", "g11"],
        ),
    ];
    for (name, filters, expected) in cases {
        let ids = gig_ids(
            &**search,
            GigQuery {
                filters,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(as_set(&ids), set(expected), "filter {name}");
    }
    let singles = gig_ids(
        &**search,
        GigQuery {
            filters: GigFilters {
                group: Some(false),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    assert_eq!(singles.len(), 10);
}

pub async fn facet_counts_cover_every_hit_not_only_the_page(search: &Search) {
    seed(&**search).await;
    let query = InfluencerQuery {
        filters: InfluencerFilters {
            languages: vec!["en".into()],
            ..Default::default()
        },
        facets: vec![Facet::Niche, Facet::Platform, Facet::Language],
        limit: Some(2),
        ..Default::default()
    };
    let results = search.search_influencers(&query).await.unwrap();
    let docs = influencers();
    let english = |i: &InfluencerDocument| i.languages.contains(&"en".to_owned());
    assert_eq!(
        results.total_estimate,
        docs.iter().filter(|i| english(i)).count() as u64
    );
    assert_eq!(
        results.facets[&Facet::Niche],
        count(&docs, english, |i| i.niches.clone())
    );
    assert_eq!(
        results.facets[&Facet::Language],
        count(&docs, english, |i| i.languages.clone())
    );
    assert_eq!(
        results.facets[&Facet::Platform],
        count(&docs, english, |i| i
            .platforms
            .iter()
            .map(|p| p.platform.clone())
            .collect())
    );
    let gigs_results = search
        .search_gigs(&GigQuery {
            facets: vec![Facet::Category, Facet::Platform],
            ..Default::default()
        })
        .await
        .unwrap();
    let all_gigs = gigs();
    assert_eq!(
        gigs_results.facets[&Facet::Category],
        count(&all_gigs, |_| true, |g| vec![g.category.clone()])
    );
    assert_eq!(
        gigs_results.facets[&Facet::Platform],
        count(&all_gigs, |_| true, |g| vec![g.platform.clone()])
    );
    assert_eq!(gigs_results.facets.len(), 2);
}

pub async fn sorts_order_hits_exactly_with_ties_in_one_fixed_order(search: &Search) {
    seed(&**search).await;
    let by = |sort: InfluencerSort, currency: Option<&str>| InfluencerQuery {
        sort,
        filters: InfluencerFilters {
            currency: currency.map(str::to_owned),
            ..Default::default()
        },
        ..Default::default()
    };
    let eur_min = |i: &InfluencerDocument| {
        i.price_ranges
            .iter()
            .find(|r| r.currency == "EUR")
            .map(|r| r.min)
    };
    let cases = [
        (
            by(InfluencerSort::FollowersDesc, None),
            influencers_by(|i| Some(i.total_followers), true),
        ),
        (
            by(InfluencerSort::FollowersAsc, None),
            influencers_by(|i| Some(i.total_followers), false),
        ),
        (
            by(InfluencerSort::RatingDesc, None),
            influencers_by(|i| Some(i.rating.average), true),
        ),
        (
            by(InfluencerSort::RatingAsc, None),
            influencers_by(|i| Some(i.rating.average), false),
        ),
        (
            by(InfluencerSort::PriceAsc, Some("EUR")),
            influencers_by(eur_min, false),
        ),
        (
            by(InfluencerSort::PriceDesc, Some("EUR")),
            influencers_by(eur_min, true),
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(
            influencer_ids(&**search, query.clone()).await,
            expected,
            "{:?}",
            query.sort
        );
    }
    let gig_by = |sort: GigSort, currency: Option<&str>| GigQuery {
        sort,
        filters: GigFilters {
            currency: currency.map(str::to_owned),
            ..Default::default()
        },
        ..Default::default()
    };
    let usd = |g: &GigDocument| (g.price.currency == "USD").then_some(g.price.amount);
    let gig_cases = [
        (
            gig_by(GigSort::RatingDesc, None),
            gigs_by(|g| Some(g.rating.average), true),
        ),
        (gig_by(GigSort::PriceAsc, Some("USD")), gigs_by(usd, false)),
        (gig_by(GigSort::PriceDesc, Some("USD")), gigs_by(usd, true)),
    ];
    for (query, expected) in gig_cases {
        assert_eq!(
            gig_ids(&**search, query.clone()).await,
            expected,
            "{:?}",
            query.sort
        );
    }
}

pub async fn paging_with_the_cursor_returns_every_hit_once_in_order(search: &Search) {
    seed(&**search).await;
    for sort in [InfluencerSort::FollowersDesc, InfluencerSort::Relevance] {
        let mut query = InfluencerQuery {
            sort,
            limit: Some(5),
            ..Default::default()
        };
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = search.search_influencers(&query).await.unwrap();
            pages += 1;
            assert_eq!(page.total_estimate, 12);
            seen.extend(page.hits.into_iter().map(|h| h.id));
            match page.next_cursor {
                Some(cursor) => query.after = Some(cursor),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 12, "{seen:?}");
        assert_eq!(as_set(&seen).len(), 12, "duplicates: {seen:?}");
        if sort == InfluencerSort::FollowersDesc {
            assert_eq!(seen, influencers_by(|i| Some(i.total_followers), true));
        }
    }
}

pub async fn bad_queries_are_refused_as_invalid(search: &Search) {
    seed(&**search).await;
    let no_currency = InfluencerQuery {
        sort: InfluencerSort::PriceAsc,
        ..Default::default()
    };
    let wrong_facet = GigQuery {
        facets: vec![Facet::Niche],
        ..Default::default()
    };
    let bad_cursor = InfluencerQuery {
        after: Some("nonsense".into()),
        ..Default::default()
    };
    assert!(matches!(
        search.search_influencers(&no_currency).await,
        Err(SearchError::InvalidQuery(_))
    ));
    assert!(matches!(
        search.search_gigs(&wrong_facet).await,
        Err(SearchError::InvalidQuery(_))
    ));
    assert!(matches!(
        search.search_influencers(&bad_cursor).await,
        Err(SearchError::InvalidQuery(_))
    ));
}
