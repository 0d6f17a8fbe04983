//! Chat: one conversation per subject, a user's conversations newest activity first, messages
//! numbered 1, 2, 3, … with their outbox messages, a retried send stored once, history pages and
//! read marks.

use std::sync::atomic::{AtomicUsize, Ordering};

use noillin_domain::chat::{
    Conversation, ConversationId, HistoryPage, Message, MessagePreview, NewMessage, PREVIEW_LEN,
    Participant, Subject,
};
use noillin_store::ConversationCursor;

use crate::bookings::{at, hold};
use crate::gigs::{group_gig, single_gig, with_status};
use crate::outbox::claim_all;
use crate::support::*;

/// The routing key of the outbox messages these cases make.
const CREATED: &str = "message.created";

/// The outbox message of a stored message: its payload names the conversation, the number and
/// the client id, so a case can tell which message it was made from.
fn outbox_of(message: &Message) -> Vec<OutboxMessage> {
    vec![OutboxMessage {
        id: uuid::Uuid::now_v7().to_string(),
        routing_key: CREATED.into(),
        correlation_id: Some(format!("req-{}", message.client_id)),
        payload: payload(message),
        created_at: message.sent_at,
        deliver_after: None,
    }]
}

fn payload(message: &Message) -> String {
    format!(
        "{}/{}/{}",
        message.conversation_id, message.seq, message.client_id
    )
}

fn no_outbox(_: &Message) -> Vec<OutboxMessage> {
    Vec::new()
}

fn new_message(
    conversation: &ConversationId,
    sender: &UserId,
    client_id: &str,
    text: &str,
    sent_at: Timestamp,
) -> NewMessage {
    NewMessage {
        conversation_id: conversation.clone(),
        sender_id: sender.clone(),
        client_id: client_id.to_owned(),
        text: text.to_owned(),
        sent_at,
    }
}

/// Stores a message with no outbox message; returns it with the flag.
async fn send(
    store: &Store,
    conversation: &ConversationId,
    sender: &UserId,
    client_id: &str,
    sent_at: Timestamp,
) -> (Message, bool) {
    let text = format!("message {client_id}");
    store
        .chat
        .append(
            new_message(conversation, sender, client_id, &text, sent_at),
            &no_outbox,
        )
        .await
        .unwrap()
}

async fn open(store: &Store, conversation: &Conversation) -> Conversation {
    let (stored, created) = store.chat.open(conversation).await.unwrap();
    assert!(created, "{conversation:?}");
    stored
}

async fn find(store: &Store, id: &ConversationId) -> Conversation {
    store.chat.find(id).await.unwrap().unwrap()
}

fn seqs(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

async fn history(store: &Store, id: &ConversationId, page: HistoryPage, limit: u32) -> Vec<u64> {
    seqs(&store.chat.messages(id, page, limit).await.unwrap())
}

fn ids(conversations: &[Conversation]) -> Vec<ConversationId> {
    conversations.iter().map(|c| c.id.clone()).collect()
}

fn cursor(conversation: &Conversation) -> ConversationCursor {
    ConversationCursor {
        last_activity_at: conversation.last_activity_at,
        id: conversation.id.clone(),
    }
}

/// Every conversation of `user`, page by page (`limit` each).
async fn every_page(store: &Store, user: &UserId, limit: u32) -> Vec<Conversation> {
    let mut all: Vec<Conversation> = Vec::new();
    loop {
        let after = all.last().map(cursor);
        let page = store
            .chat
            .list_for(user, after.as_ref(), limit)
            .await
            .unwrap();
        assert!(page.len() <= limit as usize, "{page:?}");
        let last_page = page.len() < limit as usize;
        all.extend(page);
        if last_page {
            return all;
        }
    }
}

pub(crate) async fn a_conversation_is_opened_once_per_subject(store: &Store) {
    let brand = UserId::generate();
    let ana = UserId::generate();
    let bea = UserId::generate();
    let created = now();

    let direct = Conversation::direct(&brand, &ana, created);
    let (stored, was_created) = store.chat.open(&direct).await.unwrap();
    assert!(was_created);
    assert_eq!(stored, direct, "stored as given");
    assert_eq!(find(store, &direct.id).await, direct);

    // Opening the same subject again, with a new id, finds the first.
    let again = Conversation::direct(&brand, &ana, created + SignedDuration::from_secs(5));
    assert_ne!(again.id, direct.id);
    assert_eq!(
        store.chat.open(&again).await.unwrap(),
        (direct.clone(), false)
    );
    assert_eq!(store.chat.find(&again.id).await.unwrap(), None);

    // Another influencer, a gig and a booking are other subjects.
    let other = open(store, &Conversation::direct(&brand, &bea, created)).await;
    assert_ne!(other.id, direct.id);
    let gig = with_status(
        group_gig(&ana, &[(&bea, MemberState::Accepted)]),
        GigStatus::Published,
    );
    let about_gig = Conversation::about_gig(&brand, &gig, created).unwrap();
    assert_eq!(open(store, &about_gig).await, about_gig);
    assert_eq!(
        find(store, &about_gig.id).await.subject,
        Subject::Gig {
            gig_id: gig.id.clone()
        }
    );
    assert_eq!(
        find(store, &about_gig.id).await.member_ids,
        vec![ana.clone(), bea.clone()]
    );
    let booking = hold(&single_gig(&ana), &brand, at(10, 0));
    let about_booking = Conversation::about_booking(&ana, &booking, created).unwrap();
    assert_eq!(open(store, &about_booking).await, about_booking);
    let stored = find(store, &about_booking.id).await;
    assert_eq!(
        stored.brand_id, brand,
        "the booking's brand, whoever opened it"
    );
    assert_eq!(
        stored.participants,
        vec![
            Participant {
                user_id: brand.clone(),
                read_seq: 0
            },
            Participant {
                user_id: ana.clone(),
                read_seq: 0
            },
        ]
    );
    // The booking's other party opening it finds the same one.
    let by_brand = Conversation::about_booking(&brand, &booking, created).unwrap();
    assert_eq!(
        store.chat.open(&by_brand).await.unwrap(),
        (about_booking, false)
    );

    assert_eq!(
        store.chat.find(&ConversationId::generate()).await.unwrap(),
        None
    );
}

pub(crate) async fn racing_opens_of_one_subject_store_one_conversation(stores: &[Store]) {
    let brand = UserId::generate();
    let ana = UserId::generate();
    let created = now();
    let attempts: Vec<Conversation> = (0..8)
        .map(|_| Conversation::direct(&brand, &ana, created))
        .collect();
    let results = concurrently(attempts.len(), |i| {
        let store = stores[i % stores.len()].clone();
        let conversation = attempts[i].clone();
        async move { store.chat.open(&conversation).await.unwrap() }
    })
    .await;

    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].1).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = &attempts[winners[0]];
    for (stored, _) in &results {
        assert_eq!(stored, winner, "every opener gets the stored one");
    }
    for store in stores {
        assert_eq!(
            ids(&store.chat.list_for(&brand, None, 100).await.unwrap()),
            vec![winner.id.clone()]
        );
        assert_eq!(
            ids(&store.chat.list_for(&ana, None, 100).await.unwrap()),
            vec![winner.id.clone()]
        );
    }
}

pub(crate) async fn a_users_conversations_page_newest_activity_first(store: &Store) {
    let brand = UserId::generate();
    let other_brand = UserId::generate();
    let start = now();
    // Seven conversations of the brand: three opened at one instant (ties go by descending id),
    // the others a second apart.
    let mut opened = Vec::new();
    for i in 0..7_i64 {
        let created = start + SignedDuration::from_secs(i.max(2));
        opened.push(
            open(
                store,
                &Conversation::direct(&brand, &UserId::generate(), created),
            )
            .await,
        );
    }
    // A conversation the brand is not in.
    let stranger = UserId::generate();
    let foreign = open(store, &Conversation::direct(&other_brand, &stranger, start)).await;

    // A message moves the oldest conversation ahead of all the others, another gives a second
    // one the same activity as a third (a tie again).
    let late = start + SignedDuration::from_mins(5);
    send(store, &opened[0].id, &brand, "c1", late).await;
    send(
        store,
        &opened[3].id,
        &opened[3].member_ids[0],
        "c2",
        start + SignedDuration::from_secs(6),
    )
    .await;

    let mut expected = Vec::new();
    for conversation in &opened {
        expected.push(find(store, &conversation.id).await);
    }
    expected.sort_by(|a, b| (b.last_activity_at, &b.id).cmp(&(a.last_activity_at, &a.id)));
    assert_eq!(expected[0].id, opened[0].id, "the newest activity first");

    let all = store.chat.list_for(&brand, None, 100).await.unwrap();
    assert_eq!(all, expected);
    for limit in [1, 2, 3, 7] {
        assert_eq!(
            ids(&every_page(store, &brand, limit).await),
            ids(&expected),
            "pages of {limit}: no repeat, no gap"
        );
    }
    let first_three = store.chat.list_for(&brand, None, 3).await.unwrap();
    assert_eq!(ids(&first_three), ids(&expected[..3]));
    let after_last = store
        .chat
        .list_for(&brand, Some(&cursor(&expected[6])), 3)
        .await
        .unwrap();
    assert_eq!(after_last, Vec::new());
    assert_eq!(
        store.chat.list_for(&brand, None, 0).await.unwrap(),
        Vec::new()
    );

    // Each member sees their own conversation only; the other brand only its own.
    let member = &opened[3].member_ids[0];
    assert_eq!(
        ids(&store.chat.list_for(member, None, 100).await.unwrap()),
        vec![opened[3].id.clone()]
    );
    assert_eq!(
        ids(&store.chat.list_for(&other_brand, None, 100).await.unwrap()),
        vec![foreign.id.clone()]
    );
    assert_eq!(
        store
            .chat
            .list_for(&UserId::generate(), None, 100)
            .await
            .unwrap(),
        Vec::new()
    );
}

pub(crate) async fn messages_are_numbered_in_order_with_the_conversations_last_message(
    store: &Store,
) {
    let brand = UserId::generate();
    let ana = UserId::generate();
    let start = now();
    let conversation = open(store, &Conversation::direct(&brand, &ana, start)).await;

    let long: String = "é".repeat(PREVIEW_LEN + 10);
    let sends = [
        (&brand, "b-1", "Hello!".to_owned()),
        (&ana, "a-1", "Hi — \"how\" are you?".to_owned()),
        (&brand, "b-2", long.clone()),
    ];
    let mut stored = Vec::new();
    for (i, (sender, client_id, text)) in (1_i64..).zip(&sends) {
        let sent_at = start + SignedDuration::from_secs(i);
        let message = new_message(&conversation.id, sender, client_id, text, sent_at);
        let (appended, created) = store
            .chat
            .append(message.clone(), &outbox_of)
            .await
            .unwrap();
        assert!(created);
        assert_eq!(appended, message.numbered(u64::try_from(i).unwrap()));
        stored.push(appended);
    }
    assert_eq!(seqs(&stored), vec![1, 2, 3]);

    let after = find(store, &conversation.id).await;
    assert_eq!(after.last_seq, 3);
    assert_eq!(after.last_activity_at, stored[2].sent_at);
    assert_eq!(after.created_at, conversation.created_at);
    assert_eq!(
        after.last_message,
        Some(MessagePreview {
            seq: 3,
            sender_id: brand.clone(),
            text: "é".repeat(PREVIEW_LEN),
            sent_at: stored[2].sent_at,
        })
    );
    // Sending reads up to one's own message.
    assert_eq!(after.read_seq(&brand), 3);
    assert_eq!(after.read_seq(&ana), 2);
    assert_eq!(after.unread_for(&brand), 0);
    assert_eq!(after.unread_for(&ana), 1);

    assert_eq!(
        store
            .chat
            .messages(&conversation.id, HistoryPage::Latest, 10)
            .await
            .unwrap(),
        stored
    );
    // Each message made its outbox message, in the same step, from its own number.
    let (_, claimed) = claim_all(store).await;
    let payloads: Vec<String> = claimed.iter().map(|m| m.payload.clone()).collect();
    assert_eq!(payloads, stored.iter().map(payload).collect::<Vec<_>>());
    assert!(claimed.iter().all(|m| m.routing_key == CREATED));
}

pub(crate) async fn a_retried_send_is_stored_once_and_writes_no_outbox(store: &Store) {
    let brand = UserId::generate();
    let ana = UserId::generate();
    let start = now();
    let conversation = open(store, &Conversation::direct(&brand, &ana, start)).await;
    let other = open(
        store,
        &Conversation::direct(&brand, &UserId::generate(), start),
    )
    .await;

    let calls = AtomicUsize::new(0);
    let counting = |message: &Message| {
        calls.fetch_add(1, Ordering::SeqCst);
        outbox_of(message)
    };
    let first = new_message(&conversation.id, &brand, "same-id", "first", start);
    let (stored, created) = store.chat.append(first, &counting).await.unwrap();
    assert!(created);
    assert_eq!(stored.seq, 1);

    // The retry, even with another text and time, returns the first and writes nothing.
    let retry = new_message(
        &conversation.id,
        &brand,
        "same-id",
        "second try",
        start + SignedDuration::from_secs(9),
    );
    assert_eq!(
        store.chat.append(retry, &counting).await.unwrap(),
        (stored.clone(), false)
    );
    let after = find(store, &conversation.id).await;
    assert_eq!(after.last_seq, 1);
    assert_eq!(after.last_activity_at, start);
    assert_eq!(
        history(store, &conversation.id, HistoryPage::Latest, 10).await,
        vec![1]
    );

    // The same client id from the other party, or in another conversation, is a new message.
    let (by_ana, created) = store
        .chat
        .append(
            new_message(&conversation.id, &ana, "same-id", "mine", start),
            &counting,
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(by_ana.seq, 2);
    let (elsewhere, created) = store
        .chat
        .append(
            new_message(&other.id, &brand, "same-id", "there", start),
            &counting,
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(elsewhere.seq, 1);

    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "outbox messages are made only for messages stored now"
    );
    let (_, claimed) = claim_all(store).await;
    let payloads: HashSet<String> = claimed.iter().map(|m| m.payload.clone()).collect();
    let expected: HashSet<String> = [&stored, &by_ana, &elsewhere]
        .into_iter()
        .map(payload)
        .collect();
    assert_eq!(payloads, expected);
    assert_eq!(claimed.len(), 3);
}

pub(crate) async fn racing_sends_get_distinct_consecutive_numbers(stores: &[Store]) {
    let brand = UserId::generate();
    let ana = UserId::generate();
    let start = now();
    let conversation = open(&stores[0], &Conversation::direct(&brand, &ana, start)).await;

    let senders = [brand.clone(), ana.clone()];
    let results = concurrently(20, |i| {
        let store = stores[i % stores.len()].clone();
        let message = new_message(
            &conversation.id,
            &senders[i % 2],
            &format!("c-{i}"),
            &format!("text {i}"),
            start + SignedDuration::from_millis(i64::try_from(i).unwrap()),
        );
        async move { store.chat.append(message, &outbox_of).await.unwrap() }
    })
    .await;
    assert!(results.iter().all(|(_, created)| *created));
    let mut numbers: Vec<u64> = results.iter().map(|(m, _)| m.seq).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<u64>>());

    let history = stores[1]
        .chat
        .messages(&conversation.id, HistoryPage::After(0), 100)
        .await
        .unwrap();
    let mut returned: Vec<Message> = results.into_iter().map(|(m, _)| m).collect();
    returned.sort_by_key(|m| m.seq);
    assert_eq!(history, returned, "what each send got is what was stored");

    let after = find(&stores[0], &conversation.id).await;
    assert_eq!(after.last_seq, 20);
    let last = &history[19];
    assert_eq!(after.last_activity_at, last.sent_at);
    assert_eq!(after.last_message.as_ref().map(|m| m.seq), Some(20));
    // Each sender's mark is at their own last message.
    for sender in &senders {
        let own_last = history
            .iter()
            .filter(|m| &m.sender_id == sender)
            .map(|m| m.seq)
            .max()
            .unwrap();
        assert_eq!(after.read_seq(sender), own_last);
    }

    let (_, claimed) = claim_all(&stores[0]).await;
    let mut payloads: Vec<String> = claimed.iter().map(|m| m.payload.clone()).collect();
    payloads.sort();
    let mut expected: Vec<String> = history.iter().map(payload).collect();
    expected.sort();
    assert_eq!(
        payloads, expected,
        "one outbox message per message, of its number"
    );
}

pub(crate) async fn a_send_to_a_missing_conversation_is_not_found_and_writes_nothing(
    store: &Store,
) {
    let missing = ConversationId::generate();
    let calls = AtomicUsize::new(0);
    let counting = |message: &Message| {
        calls.fetch_add(1, Ordering::SeqCst);
        outbox_of(message)
    };
    let result = store
        .chat
        .append(
            new_message(&missing, &UserId::generate(), "c-1", "hello?", now()),
            &counting,
        )
        .await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(
        history(store, &missing, HistoryPage::Latest, 10).await,
        Vec::<u64>::new()
    );
    assert_eq!(store.chat.find(&missing).await.unwrap(), None);
    assert_eq!(store.outbox.pending().await.unwrap(), 0);
}

pub(crate) async fn history_pages_are_ascending_at_every_edge(store: &Store) {
    let brand = UserId::generate();
    let ana = UserId::generate();
    let start = now();
    let conversation = open(store, &Conversation::direct(&brand, &ana, start)).await;
    let id = &conversation.id;

    // An empty conversation.
    for page in [
        HistoryPage::Latest,
        HistoryPage::Before(0),
        HistoryPage::Before(1),
        HistoryPage::After(0),
    ] {
        assert_eq!(
            history(store, id, page, 10).await,
            Vec::<u64>::new(),
            "{page:?}"
        );
    }

    for i in 1..=5_i64 {
        send(
            store,
            id,
            &brand,
            &format!("c-{i}"),
            start + SignedDuration::from_secs(i),
        )
        .await;
    }
    // Another conversation's messages never show.
    let other = open(
        store,
        &Conversation::direct(&brand, &UserId::generate(), start),
    )
    .await;
    send(store, &other.id, &brand, "c-1", start).await;

    let cases: &[(HistoryPage, u32, &[u64])] = &[
        (HistoryPage::Latest, 10, &[1, 2, 3, 4, 5]),
        (HistoryPage::Latest, 2, &[4, 5]),
        (HistoryPage::Latest, 1, &[5]),
        (HistoryPage::Latest, 0, &[]),
        (HistoryPage::Before(0), 10, &[]),
        (HistoryPage::Before(1), 10, &[]),
        (HistoryPage::Before(2), 10, &[1]),
        (HistoryPage::Before(4), 2, &[2, 3]),
        (HistoryPage::Before(4), 1, &[3]),
        (HistoryPage::Before(5), 10, &[1, 2, 3, 4]),
        (HistoryPage::Before(6), 10, &[1, 2, 3, 4, 5]),
        (HistoryPage::Before(99), 3, &[3, 4, 5]),
        (HistoryPage::Before(u64::MAX), 2, &[4, 5]),
        (HistoryPage::After(0), 10, &[1, 2, 3, 4, 5]),
        (HistoryPage::After(0), 2, &[1, 2]),
        (HistoryPage::After(0), 1, &[1]),
        (HistoryPage::After(3), 10, &[4, 5]),
        (HistoryPage::After(4), 1, &[5]),
        (HistoryPage::After(5), 10, &[]),
        (HistoryPage::After(99), 10, &[]),
        (HistoryPage::After(u64::MAX), 10, &[]),
        (HistoryPage::After(0), 0, &[]),
    ];
    for (page, limit, expected) in cases {
        assert_eq!(
            history(store, id, *page, *limit).await,
            expected.to_vec(),
            "{page:?} limit {limit}"
        );
    }
    let page = store
        .chat
        .messages(id, HistoryPage::After(3), 10)
        .await
        .unwrap();
    assert!(page.iter().all(|m| &m.conversation_id == id));
    assert_eq!(page[0].text, "message c-4");
    assert_eq!(page[0].client_id, "c-4");
    assert_eq!(page[0].sender_id, brand);
    assert_eq!(page[0].sent_at, start + SignedDuration::from_secs(4));
}

pub(crate) async fn a_read_mark_is_capped_never_moves_back_and_is_a_partys_own(store: &Store) {
    let brand = UserId::generate();
    let ana = UserId::generate();
    let bea = UserId::generate();
    let start = now();
    let gig = with_status(
        group_gig(&ana, &[(&bea, MemberState::Accepted)]),
        GigStatus::Published,
    );
    let conversation = open(
        store,
        &Conversation::about_gig(&brand, &gig, start).unwrap(),
    )
    .await;
    let id = &conversation.id;

    // Nothing to read yet: any mark stays at 0.
    assert_eq!(store.chat.mark_read(id, &ana, 5).await.unwrap(), Some(0));
    for i in 1..=3_i64 {
        send(
            store,
            id,
            &brand,
            &format!("b-{i}"),
            start + SignedDuration::from_secs(i),
        )
        .await;
    }
    let sent = find(store, id).await;
    assert_eq!(
        [
            sent.unread_for(&brand),
            sent.unread_for(&ana),
            sent.unread_for(&bea)
        ],
        [0, 3, 3]
    );

    assert_eq!(store.chat.mark_read(id, &ana, 2).await.unwrap(), Some(2));
    assert_eq!(
        store.chat.mark_read(id, &ana, 1).await.unwrap(),
        Some(2),
        "never back"
    );
    assert_eq!(store.chat.mark_read(id, &ana, 2).await.unwrap(), Some(2));
    assert_eq!(
        store.chat.mark_read(id, &bea, 99).await.unwrap(),
        Some(3),
        "capped at the last message"
    );
    assert_eq!(store.chat.mark_read(id, &bea, 0).await.unwrap(), Some(3));
    let read = find(store, id).await;
    assert_eq!(read.read_seq(&ana), 2);
    assert_eq!(read.read_seq(&bea), 3);
    assert_eq!(
        [
            read.unread_for(&brand),
            read.unread_for(&ana),
            read.unread_for(&bea)
        ],
        [0, 1, 0]
    );
    assert_eq!(read.last_seq, 3, "reading sends nothing");

    // A new message is unread by the others until they read it.
    send(store, id, &ana, "a-1", start + SignedDuration::from_secs(9)).await;
    let later = find(store, id).await;
    assert_eq!(
        [
            later.unread_for(&brand),
            later.unread_for(&ana),
            later.unread_for(&bea)
        ],
        [1, 0, 1]
    );
    assert_eq!(
        store.chat.mark_read(id, &brand, u64::MAX).await.unwrap(),
        Some(4)
    );

    // Strangers and missing conversations have no mark.
    assert_eq!(
        store
            .chat
            .mark_read(id, &UserId::generate(), 1)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .chat
            .mark_read(&ConversationId::generate(), &ana, 1)
            .await
            .unwrap(),
        None
    );
    let last = find(store, id).await;
    assert_eq!(last.participants.len(), 3, "no party was added");
    assert_eq!(last.read_seq(&brand), 4);
}
