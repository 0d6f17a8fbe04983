//! Notifications' rules: ids derived from their event, kinds, what each one says, read marks.

use super::*;

fn event() -> Uuid {
    Uuid::now_v7()
}

#[test]
fn the_same_event_and_recipient_give_the_same_id() {
    let (e, user) = (event(), UserId::generate());
    assert_eq!(
        NotificationId::derive(e, &user, NotificationKind::GigInvitation),
        NotificationId::derive(e, &user, NotificationKind::GigInvitation)
    );
}

#[test]
fn another_event_recipient_or_kind_gives_another_id() {
    let (e, user) = (event(), UserId::generate());
    let id = NotificationId::derive(e, &user, NotificationKind::GigInvitation);
    assert_ne!(
        id,
        NotificationId::derive(event(), &user, NotificationKind::GigInvitation)
    );
    assert_ne!(
        id,
        NotificationId::derive(e, &UserId::generate(), NotificationKind::GigInvitation)
    );
    assert_ne!(
        id,
        NotificationId::derive(e, &user, NotificationKind::GigPublished)
    );
}

#[test]
fn ids_are_version_8_uuids_ordered_by_the_event_time() {
    let user = UserId::generate();
    let earlier = Uuid::now_v7();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let later = Uuid::now_v7();
    let a = NotificationId::derive(earlier, &user, NotificationKind::GigArchived);
    let b = NotificationId::derive(later, &user, NotificationKind::GigInvitation);
    assert!(a < b, "{a} should sort before {b}");
    let parsed = Uuid::parse_str(b.as_str()).unwrap();
    assert_eq!(parsed.get_version_num(), 8);
    assert_eq!(parsed.as_bytes()[..6], later.as_bytes()[..6]);
}

#[test]
fn kinds_round_trip_through_their_names_and_what_is_emailed() {
    let emailed = [
        NotificationKind::GigInvitation,
        NotificationKind::BookingConfirmed,
        NotificationKind::BookingCancelled,
        NotificationKind::RefundIssued,
        NotificationKind::BookingDelivered,
        NotificationKind::RevisionRequested,
        NotificationKind::PayoutSent,
    ];
    for kind in NotificationKind::ALL {
        assert_eq!(NotificationKind::parse(kind.as_str()), Some(kind));
        assert_eq!(kind.emailed(), emailed.contains(&kind), "{kind:?}");
    }
    assert_eq!(NotificationKind::parse("nope"), None);
}

#[test]
fn a_gig_notification_names_the_gig_and_the_actor() {
    let gig = GigId::generate();
    let user = UserId::generate();
    let n = Notification::about_gig(
        event(),
        Timestamp::UNIX_EPOCH,
        &user,
        NotificationKind::GigInvitationDeclined,
        &GigNotice {
            gig_id: &gig,
            gig_title: "Lisbon food week",
            actor_name: "Rui",
        },
    );
    assert_eq!(n.user_id, user);
    assert_eq!(n.gig_id, Some(gig));
    assert!(n.body.contains("Rui declined"), "{}", n.body);
    assert!(n.body.contains("Lisbon food week"), "{}", n.body);
    assert_eq!((n.read_at, n.pushed_at), (None, None));
    assert_eq!(n.created_at, Timestamp::UNIX_EPOCH);
}

#[test]
fn a_message_notification_names_its_sender_and_conversation() {
    let conversation = ConversationId::generate();
    let n = Notification::about_message(
        event(),
        Timestamp::UNIX_EPOCH,
        &UserId::generate(),
        &conversation,
        "Rui",
        "Are you free in July?",
    );
    assert_eq!(n.kind, NotificationKind::MessageReceived);
    assert_eq!(n.title, "New message from Rui");
    assert_eq!(n.body, "Are you free in July?");
    assert_eq!(n.conversation_id, Some(conversation));
    assert_eq!((n.gig_id, n.booking_id), (None, None));
}

fn unread() -> Notification {
    Notification::about_gig(
        event(),
        Timestamp::UNIX_EPOCH,
        &UserId::generate(),
        NotificationKind::GigPublished,
        &GigNotice {
            gig_id: &GigId::generate(),
            gig_title: "Lisbon food week",
            actor_name: "Ana",
        },
    )
}

#[test]
fn reading_an_unread_notification_records_when() {
    let mut n = unread();
    let now = Timestamp::from_second(1_800_000_000).unwrap();

    assert!(n.mark_read(now));

    assert_eq!(n.read_at, Some(now));
}

#[test]
fn reading_a_notification_again_keeps_the_first_read_time() {
    let mut n = unread();
    let first = Timestamp::from_second(1_800_000_000).unwrap();
    n.mark_read(first);

    assert!(!n.mark_read(Timestamp::from_second(1_900_000_000).unwrap()));

    assert_eq!(n.read_at, Some(first));
}
