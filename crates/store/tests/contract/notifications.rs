//! Notifications: idempotent inserts, listing, read state.

use noillin_domain::{booking::BookingId, chat::ConversationId, notification::BookingNotice};

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------

/// A notification for `user` about a fresh event at `at`.
pub(crate) fn notification(user: &UserId, kind: NotificationKind, at: Timestamp) -> Notification {
    let gig = GigId::generate();
    Notification::about_gig(
        uuid::Uuid::now_v7(),
        at,
        user,
        kind,
        &GigNotice {
            gig_id: &gig,
            gig_title: "Lisbon \"food\" week — três dias",
            actor_name: "Rui",
        },
    )
}

/// `n` notifications for `user`, stored; returned newest first (the order lists use).
pub(crate) async fn insert_notifications(
    store: &Store,
    user: &UserId,
    n: usize,
) -> Vec<Notification> {
    let mut stored = Vec::new();
    for i in 0..n {
        let kind = NotificationKind::ALL[i % NotificationKind::ALL.len()];
        let n = notification(user, kind, now());
        assert!(store.notifications.insert(&n).await.unwrap());
        stored.push(n);
    }
    stored.sort_by(|a, b| b.id.cmp(&a.id));
    stored
}

pub(crate) async fn list_notifications(
    store: &Store,
    user: &UserId,
    unread_only: bool,
    before: Option<&NotificationId>,
    limit: u32,
) -> Vec<Notification> {
    store
        .notifications
        .list(user, unread_only, before, limit)
        .await
        .unwrap()
}

pub(crate) fn notification_ids(notifications: &[Notification]) -> Vec<NotificationId> {
    notifications.iter().map(|n| n.id.clone()).collect()
}

pub(crate) async fn a_notification_is_stored_once_per_id(store: &Store) {
    let user = UserId::generate();
    let mut first = notification(&user, NotificationKind::GigInvitation, now());
    first.pushed_at = Some(first.created_at + SignedDuration::from_millis(5));
    assert!(store.notifications.insert(&first).await.unwrap());

    // The same event handled again, even with other content, stores nothing.
    let again = Notification {
        title: "something else".into(),
        read_at: Some(now()),
        ..first.clone()
    };
    assert!(!store.notifications.insert(&again).await.unwrap());
    assert_eq!(
        store.notifications.find(&first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        list_notifications(store, &user, false, None, 10).await,
        vec![first]
    );

    // No gig is fine too.
    let mut bare = notification(&user, NotificationKind::GigArchived, now());
    bare.gig_id = None;
    assert!(store.notifications.insert(&bare).await.unwrap());
    assert_eq!(
        store.notifications.find(&bare.id).await.unwrap(),
        Some(bare)
    );
    let unknown = NotificationId::from_string(uuid::Uuid::now_v7().to_string());
    assert_eq!(store.notifications.find(&unknown).await.unwrap(), None);
}

pub(crate) async fn booking_and_message_notifications_keep_what_they_are_about(store: &Store) {
    let user = UserId::generate();
    let (booking, gig) = (BookingId::generate(), GigId::generate());
    let about_booking = Notification::about_booking(
        uuid::Uuid::now_v7(),
        now(),
        &user,
        NotificationKind::BookingConfirmed,
        &BookingNotice {
            booking_id: &booking,
            gig_id: &gig,
            gig_title: "Lisbon food week",
            local_start: "Mon 6 Jul 2026, 10:00 (Europe/Lisbon)",
            amount: "EUR 120.00",
            reason: "",
        },
    );
    let conversation = ConversationId::generate();
    let about_message = Notification::about_message(
        uuid::Uuid::now_v7(),
        now(),
        &user,
        &conversation,
        "Rui",
        "Olá! Are you free in July?",
    );
    for n in [&about_booking, &about_message] {
        assert!(store.notifications.insert(n).await.unwrap());
        assert_eq!(
            store.notifications.find(&n.id).await.unwrap().as_ref(),
            Some(n)
        );
    }
    // Both came in the same millisecond, perhaps: their order is not what this checks.
    let listed: HashSet<_> = list_notifications(store, &user, false, None, 10)
        .await
        .into_iter()
        .map(|n| (n.booking_id, n.conversation_id))
        .collect();
    assert_eq!(
        listed,
        HashSet::from([(None, Some(conversation)), (Some(booking), None)])
    );
}

pub(crate) async fn a_users_notifications_are_listed_newest_first_in_pages(store: &Store) {
    let (user, other) = (UserId::generate(), UserId::generate());
    insert_notifications(store, &other, 2).await;
    let expected = insert_notifications(store, &user, 7).await;
    insert_notifications(store, &other, 2).await;

    let list = |before: Option<NotificationId>, limit| {
        let (store, user) = (store.clone(), user.clone());
        async move { list_notifications(&store, &user, false, before.as_ref(), limit).await }
    };
    assert_eq!(
        list(None, 100).await,
        expected,
        "whole records, newest first"
    );
    let first = list(None, 3).await;
    assert_eq!(first, expected[..3]);
    let second = list(Some(first[2].id.clone()), 3).await;
    assert_eq!(second, expected[3..6]);
    let third = list(Some(second[2].id.clone()), 3).await;
    assert_eq!(third, expected[6..]);
    assert_eq!(list(Some(third[0].id.clone()), 3).await, vec![]);
    assert_eq!(list(None, 0).await, vec![]);
    assert_eq!(
        list_notifications(store, &UserId::generate(), false, None, 10).await,
        vec![]
    );
}

pub(crate) async fn the_unread_filter_and_count_follow_reads(store: &Store) {
    let (user, other) = (UserId::generate(), UserId::generate());
    let all = insert_notifications(store, &user, 6).await;
    insert_notifications(store, &other, 3).await;
    assert_eq!(store.notifications.unread_count(&user).await.unwrap(), 6);

    let read_at = now();
    for read in [&all[0], &all[3]] {
        store
            .notifications
            .mark_read(&user, &read.id, read_at)
            .await
            .unwrap();
    }
    let unread: Vec<NotificationId> = [1, 2, 4, 5].iter().map(|&i| all[i].id.clone()).collect();
    assert_eq!(store.notifications.unread_count(&user).await.unwrap(), 4);
    assert_eq!(store.notifications.unread_count(&other).await.unwrap(), 3);
    let listed = list_notifications(store, &user, true, None, 10).await;
    assert_eq!(notification_ids(&listed), unread);
    assert!(listed.iter().all(|n| n.read_at.is_none()));
    let page = list_notifications(store, &user, true, Some(&all[2].id), 1).await;
    assert_eq!(notification_ids(&page), vec![all[4].id.clone()]);
    // Without the filter the read ones are there, with their read time.
    let everything = list_notifications(store, &user, false, None, 10).await;
    assert_eq!(notification_ids(&everything), notification_ids(&all));
    assert_eq!(everything[3].read_at, Some(read_at));
}

pub(crate) async fn marking_another_users_notification_read_is_not_found(store: &Store) {
    let (owner, intruder) = (UserId::generate(), UserId::generate());
    let n = notification(&owner, NotificationKind::GigPublished, now());
    store.notifications.insert(&n).await.unwrap();

    let result = store.notifications.mark_read(&intruder, &n.id, now()).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    let unknown = NotificationId::from_string(uuid::Uuid::now_v7().to_string());
    let result = store.notifications.mark_read(&owner, &unknown, now()).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_eq!(
        store
            .notifications
            .mark_all_read(&intruder, now())
            .await
            .unwrap(),
        0
    );

    assert_eq!(store.notifications.find(&n.id).await.unwrap(), Some(n));
    assert_eq!(store.notifications.unread_count(&owner).await.unwrap(), 1);
}

pub(crate) async fn marking_read_twice_keeps_the_first_read_time(store: &Store) {
    let user = UserId::generate();
    let n = notification(&user, NotificationKind::GigInvitationAccepted, now());
    store.notifications.insert(&n).await.unwrap();
    let first = now() + SignedDuration::from_secs(1);
    let later = first + SignedDuration::from_mins(5);

    let read = store
        .notifications
        .mark_read(&user, &n.id, first)
        .await
        .unwrap();
    let expected = Notification {
        read_at: Some(first),
        ..n.clone()
    };
    assert_eq!(read, expected);
    let again = store
        .notifications
        .mark_read(&user, &n.id, later)
        .await
        .unwrap();
    assert_eq!(again, expected);
    assert_eq!(
        store
            .notifications
            .mark_all_read(&user, later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.notifications.find(&n.id).await.unwrap(),
        Some(expected)
    );
}

pub(crate) async fn marking_all_read_counts_and_touches_only_that_user(store: &Store) {
    let (user, other) = (UserId::generate(), UserId::generate());
    let mine = insert_notifications(store, &user, 4).await;
    let theirs = insert_notifications(store, &other, 2).await;
    let early = now();
    let late = early + SignedDuration::from_mins(1);
    store
        .notifications
        .mark_read(&user, &mine[1].id, early)
        .await
        .unwrap();

    assert_eq!(
        store
            .notifications
            .mark_all_read(&user, late)
            .await
            .unwrap(),
        3
    );
    assert_eq!(store.notifications.unread_count(&user).await.unwrap(), 0);
    let read_times: Vec<Option<Timestamp>> = list_notifications(store, &user, false, None, 10)
        .await
        .iter()
        .map(|n| n.read_at)
        .collect();
    assert_eq!(
        read_times,
        vec![Some(late), Some(early), Some(late), Some(late)]
    );
    assert_eq!(
        store
            .notifications
            .mark_all_read(&user, late)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.notifications.unread_count(&other).await.unwrap(), 2);
    assert_eq!(
        list_notifications(store, &other, true, None, 10).await,
        theirs
    );
}

pub(crate) async fn a_push_is_taken_once_until_it_is_given_back(store: &Store) {
    let user = UserId::generate();
    let n = notification(&user, NotificationKind::GigInvitation, now());
    store.notifications.insert(&n).await.unwrap();
    let first = now() + SignedDuration::from_millis(250);

    assert!(store.notifications.mark_pushed(&n.id, first).await.unwrap());
    let later = first + SignedDuration::from_secs(9);
    assert!(!store.notifications.mark_pushed(&n.id, later).await.unwrap());
    let expected = Notification {
        pushed_at: Some(first),
        ..n.clone()
    };
    assert_eq!(
        store.notifications.find(&expected.id).await.unwrap(),
        Some(expected)
    );
    // Pushed is not read.
    assert_eq!(store.notifications.unread_count(&user).await.unwrap(), 1);

    // A failed push is given back, and the next delivery takes it again.
    store.notifications.unmark_pushed(&n.id).await.unwrap();
    assert_eq!(
        store
            .notifications
            .find(&n.id)
            .await
            .unwrap()
            .unwrap()
            .pushed_at,
        None
    );
    assert!(store.notifications.mark_pushed(&n.id, later).await.unwrap());

    let unknown = NotificationId::from_string(uuid::Uuid::now_v7().to_string());
    let result = store.notifications.mark_pushed(&unknown, now()).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
}

pub(crate) async fn racing_deliveries_take_a_push_exactly_once(store: &Store) {
    let user = UserId::generate();
    let n = notification(&user, NotificationKind::GigPublished, now());
    store.notifications.insert(&n).await.unwrap();
    let taken = concurrently(10, |_| {
        let store = store.clone();
        let id = n.id.clone();
        async move { store.notifications.mark_pushed(&id, now()).await.unwrap() }
    })
    .await;
    assert_eq!(taken.iter().filter(|t| **t).count(), 1, "{taken:?}");
}
