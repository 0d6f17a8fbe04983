//! Gigs, group membership and listings.

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Gigs
// ---------------------------------------------------------------------------------------------

pub(crate) fn member(user_id: &UserId, share_bps: u32, state: MemberState) -> GigMember {
    GigMember {
        user_id: user_id.clone(),
        share_bps,
        state,
    }
}

/// A draft single gig of `owner` at version 1, the owner its only member.
pub(crate) fn single_gig(owner: &UserId) -> Gig {
    let at = now();
    Gig {
        id: GigId::generate(),
        owner_id: owner.clone(),
        title: "Story feature".into(),
        description: String::new(),
        deliverables: vec!["3 stories".into()],
        platform: SocialPlatform::Instagram,
        category: "sportswear".into(),
        price: Money {
            amount_minor: 45_000,
            currency: "EUR".into(),
        },
        terms: GigTerms {
            duration_minutes: 60,
            interval_minutes: None,
            buffer_before_minutes: 0,
            buffer_after_minutes: 15,
            min_notice_minutes: 120,
            horizon_days: 60,
            max_per_day: None,
        },
        cancellation: Default::default(),
        status: GigStatus::Draft,
        members: vec![member(owner, FULL_SHARE_BPS, MemberState::Accepted)],
        version: 1,
        created_at: at,
        updated_at: at,
    }
}

/// A draft group gig of `owner` with `others` as further members, 1,000 bps each.
pub(crate) fn group_gig(owner: &UserId, others: &[(&UserId, MemberState)]) -> Gig {
    let mut gig = single_gig(owner);
    let others_share: u32 = 1_000 * u32::try_from(others.len()).unwrap();
    gig.members[0].share_bps = FULL_SHARE_BPS - others_share;
    gig.members.extend(
        others
            .iter()
            .map(|(user_id, state)| member(user_id, 1_000, *state)),
    );
    gig
}

pub(crate) fn with_status(mut gig: Gig, status: GigStatus) -> Gig {
    gig.status = status;
    gig
}

pub(crate) fn page(after: Option<&GigId>, limit: u32) -> PageRequest {
    PageRequest {
        after: after.map(|id| id.as_str().to_owned()),
        limit,
    }
}

pub(crate) fn gig_ids(gigs: &[Gig]) -> Vec<GigId> {
    gigs.iter().map(|gig| gig.id.clone()).collect()
}

pub(crate) fn sorted(mut ids: Vec<GigId>) -> Vec<GigId> {
    ids.sort();
    ids
}

pub(crate) async fn members_gigs(store: &Store, user: &UserId, page: &PageRequest) -> Vec<Gig> {
    store.gigs.list_for_member(user, page).await.unwrap()
}

pub(crate) async fn insert_gigs(store: &Store, gigs: &[&Gig]) {
    for gig in gigs {
        store.gigs.insert(gig, &[]).await.unwrap();
    }
}

/// Every page of `list` from the start, with `limit` per page; panics past `max_pages`.
pub(crate) async fn all_pages<F, Fut>(
    limit: u32,
    max_pages: usize,
    list: F,
) -> (Vec<usize>, Vec<GigId>)
where
    F: Fn(PageRequest) -> Fut,
    Fut: Future<Output = Vec<Gig>>,
{
    let (mut sizes, mut ids) = (Vec::new(), Vec::<GigId>::new());
    loop {
        let gigs = list(page(ids.last(), limit)).await;
        if gigs.is_empty() {
            return (sizes, ids);
        }
        sizes.push(gigs.len());
        ids.extend(gig_ids(&gigs));
        assert!(sizes.len() <= max_pages, "paging does not end: {sizes:?}");
    }
}

pub(crate) async fn a_group_gig_round_trips_with_every_field(store: &Store) {
    let owner = UserId::generate();
    let (invited, declined) = (UserId::generate(), UserId::generate());
    let created_at = now();
    let gig = Gig {
        title: "Tripla: três vozes, um reel".into(),
        description: "Three \"honest\" takes — filmed in Lisbon.\nNo filters, no scripts.".into(),
        deliverables: vec![
            "1 reel".into(),
            "3 stories".into(),
            "1 carousel, 5 photos".into(),
        ],
        platform: SocialPlatform::Tiktok,
        category: "travel".into(),
        price: Money {
            amount_minor: 1_250_000,
            currency: "JPY".into(),
        },
        terms: GigTerms {
            duration_minutes: 90,
            interval_minutes: Some(30),
            buffer_before_minutes: 10,
            buffer_after_minutes: 20,
            min_notice_minutes: 1_440,
            horizon_days: 120,
            max_per_day: Some(2),
        },
        cancellation: Default::default(),
        status: GigStatus::Published,
        members: vec![
            member(&owner, 5_000, MemberState::Accepted),
            member(&invited, 3_000, MemberState::Invited),
            member(&declined, 2_000, MemberState::Declined),
        ],
        // More than fits in 32 bits.
        version: 5_000_000_000,
        created_at,
        updated_at: created_at + SignedDuration::from_millis(1_500),
        ..single_gig(&owner)
    };
    let single = single_gig(&owner);
    insert_gigs(store, &[&gig, &single]).await;

    assert_eq!(store.gigs.find(&gig.id).await.unwrap(), Some(gig));
    // Optional terms absent, a draft, no description.
    assert_eq!(store.gigs.find(&single.id).await.unwrap(), Some(single));
    assert_eq!(store.gigs.find(&GigId::generate()).await.unwrap(), None);
}

pub(crate) async fn a_gig_update_is_a_compare_and_swap_on_the_version(store: &Store) {
    let owner = UserId::generate();
    let joiner = UserId::generate();
    let original = single_gig(&owner);
    store.gigs.insert(&original, &[]).await.unwrap();

    // Read version 1, changed, written as version 2.
    let changed = Gig {
        title: "Story feature, extended".into(),
        status: GigStatus::Published,
        members: vec![
            member(&owner, 7_000, MemberState::Accepted),
            member(&joiner, 3_000, MemberState::Invited),
        ],
        version: 2,
        updated_at: original.updated_at + SignedDuration::from_secs(60),
        ..original.clone()
    };
    store.gigs.update(&changed, &[]).await.unwrap();
    assert_eq!(
        store.gigs.find(&original.id).await.unwrap(),
        Some(changed.clone())
    );
    // The new member sees the gig: the membership follows the update.
    let joined = members_gigs(store, &joiner, &page(None, 10)).await;
    assert_eq!(joined, vec![changed.clone()]);

    // Another writer that read version 1 too, one that skipped a version, one at version 0.
    for version in [2, 4, 0] {
        let stale = Gig {
            title: "a lost update".into(),
            members: vec![member(&owner, FULL_SHARE_BPS, MemberState::Accepted)],
            version,
            ..original.clone()
        };
        let result = store.gigs.update(&stale, &[]).await;
        assert!(
            matches!(result, Err(StoreError::Conflict(Constraint::StaleVersion))),
            "version {version}: {result:?}"
        );
    }
    // Nothing changed, the membership included.
    assert_eq!(
        store.gigs.find(&original.id).await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(
        gig_ids(&members_gigs(store, &joiner, &page(None, 10)).await),
        vec![original.id.clone()]
    );

    // The next change, from version 2, succeeds; a member that left no longer sees the gig.
    let archived = Gig {
        status: GigStatus::Archived,
        members: vec![member(&owner, FULL_SHARE_BPS, MemberState::Accepted)],
        version: 3,
        ..changed.clone()
    };
    store.gigs.update(&archived, &[]).await.unwrap();
    assert_eq!(
        store.gigs.find(&original.id).await.unwrap(),
        Some(archived.clone())
    );
    assert_eq!(members_gigs(store, &joiner, &page(None, 10)).await, vec![]);

    let unknown = Gig {
        id: GigId::generate(),
        ..changed
    };
    let result = store.gigs.update(&unknown, &[]).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_eq!(store.gigs.find(&unknown.id).await.unwrap(), None);
}

pub(crate) async fn concurrent_gig_updates_from_one_read_have_exactly_one_winner(store: &Store) {
    let owner = UserId::generate();
    let gig = single_gig(&owner);
    store.gigs.insert(&gig, &[]).await.unwrap();

    let results = concurrently(10, |i| {
        let store = store.clone();
        let next = Gig {
            title: format!("edit {i}"),
            version: 2,
            ..gig.clone()
        };
        async move {
            let result = store.gigs.update(&next, &[]).await;
            (next.title, result)
        }
    })
    .await;

    let winners: Vec<&String> = results
        .iter()
        .filter(|(_, result)| result.is_ok())
        .map(|(title, _)| title)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let stale = results
        .iter()
        .filter(|(_, r)| matches!(r, Err(StoreError::Conflict(Constraint::StaleVersion))))
        .count();
    assert_eq!(stale, 9, "{results:?}");
    let stored = store.gigs.find(&gig.id).await.unwrap().unwrap();
    assert_eq!((&stored.title, stored.version), (winners[0], 2));
}

pub(crate) async fn a_members_gigs_are_the_owned_and_joined_ones_in_id_order(store: &Store) {
    let (ana, rui, eva) = (UserId::generate(), UserId::generate(), UserId::generate());
    let owned = single_gig(&ana);
    let invited_to = group_gig(&rui, &[(&ana, MemberState::Invited)]);
    let declined = with_status(
        group_gig(&eva, &[(&ana, MemberState::Declined)]),
        GigStatus::Archived,
    );
    let ruis_own = with_status(single_gig(&rui), GigStatus::Published);
    let eva_with_rui = with_status(
        group_gig(&eva, &[(&rui, MemberState::Accepted)]),
        GigStatus::Published,
    );
    // The store does not validate: an owner left out of `members` still owns the gig.
    let ownerless_owner = UserId::generate();
    let mut ownerless = single_gig(&ownerless_owner);
    ownerless.members = vec![member(&eva, FULL_SHARE_BPS, MemberState::Accepted)];
    // Inserted out of id order.
    insert_gigs(
        store,
        &[
            &ownerless,
            &eva_with_rui,
            &ruis_own,
            &declined,
            &invited_to,
            &owned,
        ],
    )
    .await;

    let anas = members_gigs(store, &ana, &page(None, 100)).await;
    assert_eq!(
        gig_ids(&anas),
        sorted(vec![
            owned.id.clone(),
            invited_to.id.clone(),
            declined.id.clone()
        ])
    );
    assert!(anas.contains(&declined), "whole gigs come back");
    let ruis = members_gigs(store, &rui, &page(None, 100)).await;
    assert_eq!(
        gig_ids(&ruis),
        sorted(vec![
            invited_to.id.clone(),
            ruis_own.id.clone(),
            eva_with_rui.id.clone()
        ])
    );
    let evas = members_gigs(store, &eva, &page(None, 100)).await;
    assert_eq!(
        gig_ids(&evas),
        sorted(vec![declined.id, eva_with_rui.id, ownerless.id.clone()])
    );
    let owners = members_gigs(store, &ownerless_owner, &page(None, 100)).await;
    assert_eq!(owners, vec![ownerless]);
    assert_eq!(
        members_gigs(store, &UserId::generate(), &page(None, 100)).await,
        vec![]
    );
}

pub(crate) async fn paging_through_a_members_gigs_returns_each_once(store: &Store) {
    let ana = UserId::generate();
    let others = [UserId::generate(), UserId::generate(), UserId::generate()];
    let states = [
        MemberState::Invited,
        MemberState::Accepted,
        MemberState::Declined,
    ];
    let mut expected = Vec::new();
    for i in 0..25 {
        let other = &others[i % 3];
        let gig = if i % 4 == 0 {
            single_gig(&ana)
        } else {
            group_gig(other, &[(&ana, states[i % 3])])
        };
        // Someone else's gig in between.
        let noise = single_gig(other);
        insert_gigs(store, &[&gig, &noise]).await;
        expected.push(gig.id);
    }
    let expected = sorted(expected);

    let (sizes, ids) = all_pages(10, 4, |page| {
        let (store, ana) = (store.clone(), ana.clone());
        async move { members_gigs(&store, &ana, &page).await }
    })
    .await;
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(ids, expected, "each once, in id order");

    // A page starts right after the given id; a limit of 0 is an empty page.
    let middle = members_gigs(store, &ana, &page(Some(&expected[11]), 3)).await;
    assert_eq!(gig_ids(&middle), expected[12..15].to_vec());
    assert_eq!(members_gigs(store, &ana, &page(None, 0)).await, vec![]);
    assert_eq!(
        members_gigs(store, &ana, &page(expected.last(), 10)).await,
        vec![]
    );
}

pub(crate) async fn only_published_gigs_are_listed_as_published(store: &Store) {
    let owners = [UserId::generate(), UserId::generate()];
    let statuses = [GigStatus::Draft, GigStatus::Published, GigStatus::Archived];
    let mut published = Vec::new();
    for i in 0..12 {
        let owner = &owners[i % 2];
        let gig = if i % 5 == 0 {
            group_gig(owner, &[(&owners[(i + 1) % 2], MemberState::Accepted)])
        } else {
            single_gig(owner)
        };
        let gig = with_status(gig, statuses[i % 3]);
        store.gigs.insert(&gig, &[]).await.unwrap();
        if gig.status == GigStatus::Published {
            published.push(gig);
        }
    }
    // A draft published later by an update is listed from then on.
    let later = single_gig(&owners[0]);
    store.gigs.insert(&later, &[]).await.unwrap();
    let later = Gig {
        status: GigStatus::Published,
        version: 2,
        ..later
    };
    store.gigs.update(&later, &[]).await.unwrap();
    published.push(later);
    published.sort_by(|a, b| a.id.cmp(&b.id));

    let listed = store.gigs.list_published(&page(None, 100)).await.unwrap();
    assert_eq!(listed, published);

    let (sizes, ids) = all_pages(2, 10, |page| {
        let store = store.clone();
        async move { store.gigs.list_published(&page).await.unwrap() }
    })
    .await;
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(ids, gig_ids(&published));
    assert_eq!(
        store.gigs.list_published(&page(None, 0)).await.unwrap(),
        vec![]
    );
}

pub(crate) async fn published_gigs_leave_the_listing_while_their_owner_or_a_member_is_suspended(
    store: &Store,
) {
    let (owner, _) = insert_influencer(store, "owner@example.com").await;
    let (member, _) = insert_influencer(store, "member@example.com").await;
    let (other, _) = insert_influencer(store, "other@example.com").await;
    let published = |gig: Gig| with_status(gig, GigStatus::Published);
    // The suspended owner's gigs come first in id order, so a page that skipped them without
    // filling up would show.
    let owners: Vec<Gig> = (0..4).map(|_| published(single_gig(&owner.id))).collect();
    let mut groups = Vec::new();
    let mut others = Vec::new();
    for _ in 0..3 {
        groups.push(published(group_gig(
            &other.id,
            &[(&member.id, MemberState::Accepted)],
        )));
        others.push(published(single_gig(&other.id)));
    }
    // A gig whose owner is no user of this store is listed: only a suspension hides a gig.
    let unknown_owner = published(single_gig(&UserId::generate()));
    for gig in owners.iter().chain(&groups).chain(&others) {
        store.gigs.insert(gig, &[]).await.unwrap();
    }
    store.gigs.insert(&unknown_owner, &[]).await.unwrap();
    let listing = |gigs: &[&[Gig]]| -> Vec<GigId> {
        sorted(gigs.iter().flat_map(|gigs| gig_ids(gigs)).collect())
    };
    let all_pages_of_two = || {
        all_pages(2, 20, |page| {
            let store = store.clone();
            async move { store.gigs.list_published(&page).await.unwrap() }
        })
    };

    let suspend = |user: &UserId, status: UserStatus| {
        let (store, user) = (store.clone(), user.clone());
        async move { set_status(&store, &user, status, now()).await.unwrap() }
    };
    suspend(&owner.id, UserStatus::Suspended).await;
    let expected = listing(&[&groups, &others, std::slice::from_ref(&unknown_owner)]);
    let (sizes, ids) = all_pages_of_two().await;
    assert_eq!(
        ids, expected,
        "the suspended owner's gigs are gone, each other gig once"
    );
    assert_eq!(sizes, vec![2, 2, 2, 1], "every page but the last is full");
    let first = store.gigs.list_published(&page(None, 2)).await.unwrap();
    assert_eq!(gig_ids(&first), expected[..2].to_vec());

    suspend(&member.id, UserStatus::Suspended).await;
    let (_, ids) = all_pages_of_two().await;
    assert_eq!(
        ids,
        listing(&[&others, std::slice::from_ref(&unknown_owner)]),
        "a group gig leaves with any suspended member"
    );
    // A member's own list is not a public listing: it keeps every gig.
    assert_eq!(
        members_gigs(store, &member.id, &page(None, 100)).await,
        groups
    );

    suspend(&owner.id, UserStatus::Active).await;
    suspend(&member.id, UserStatus::Active).await;
    let (_, ids) = all_pages_of_two().await;
    assert_eq!(
        ids,
        listing(&[
            &owners,
            &groups,
            &others,
            std::slice::from_ref(&unknown_owner)
        ]),
        "reinstated accounts bring their gigs back"
    );
}
