//! The transactional outbox: messages written with their state change, claims, leases, refusals and parking.

use crate::gigs::single_gig;
use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Outbox
// ---------------------------------------------------------------------------------------------

/// A message created at `at`, with a fresh UUIDv7 id.
pub(crate) fn message(routing_key: &str, at: Timestamp) -> OutboxMessage {
    OutboxMessage {
        id: uuid::Uuid::now_v7().to_string(),
        routing_key: routing_key.to_owned(),
        correlation_id: Some(format!("req-{}", uuid::Uuid::new_v4().simple())),
        payload: format!(r#"{{"event":"{routing_key}","note":"\"quoted\" — ünïcode"}}"#),
        created_at: at,
        deliver_after: None,
    }
}

/// `n` messages in id order (the order claims return them in), created 1 ms apart.
pub(crate) fn messages(n: usize) -> Vec<OutboxMessage> {
    let start = now();
    let mut ids: Vec<String> = (0..n).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    ids.sort();
    ids.into_iter()
        .zip(0_i64..)
        .map(|(id, i)| OutboxMessage {
            id,
            ..message("gig.updated", start + SignedDuration::from_millis(i))
        })
        .collect()
}

pub(crate) fn claim_token() -> String {
    format!("claim-{}", uuid::Uuid::new_v4().simple())
}

pub(crate) fn ids_of(messages: &[OutboxMessage]) -> Vec<String> {
    messages.iter().map(|m| m.id.clone()).collect()
}

/// Claims every message nobody holds now, under a fresh token, for a minute.
pub(crate) async fn claim_all(store: &Store) -> (String, Vec<OutboxMessage>) {
    let token = claim_token();
    let at = now();
    let claimed = store
        .outbox
        .claim(&token, 10_000, at, at + SignedDuration::from_mins(1))
        .await
        .unwrap();
    (token, claimed)
}

pub(crate) async fn a_gig_change_and_its_messages_are_stored_together(store: &Store) {
    let gig = single_gig(&UserId::generate());
    let mut batch = messages(3);
    batch[2].correlation_id = None;
    store
        .gigs
        .insert(&gig, std::slice::from_ref(&batch[0]))
        .await
        .unwrap();
    let published = Gig {
        status: GigStatus::Published,
        version: 2,
        ..gig.clone()
    };
    store.gigs.update(&published, &batch[1..]).await.unwrap();

    assert_eq!(store.gigs.find(&gig.id).await.unwrap(), Some(published));
    assert_eq!(store.outbox.pending().await.unwrap(), 3);
    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, batch, "every field, in id order");
}

pub(crate) async fn a_refused_state_change_stores_no_message(store: &Store) {
    let gig = single_gig(&UserId::generate());
    store.gigs.insert(&gig, &[]).await.unwrap();
    let current = Gig {
        title: "current".into(),
        version: 2,
        ..gig.clone()
    };
    store.gigs.update(&current, &[]).await.unwrap();

    for version in [2, 5, 0] {
        let stale = Gig {
            title: "a lost update".into(),
            version,
            ..gig.clone()
        };
        let result = store.gigs.update(&stale, &messages(2)).await;
        assert!(
            matches!(result, Err(StoreError::Conflict(Constraint::StaleVersion))),
            "version {version}: {result:?}"
        );
    }
    let unknown = Gig {
        id: GigId::generate(),
        ..current.clone()
    };
    let result = store.gigs.update(&unknown, &messages(1)).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    // The same id again: the insert fails, and so does its message.
    let result = store.gigs.insert(&gig, &messages(1)).await;
    assert!(result.is_err(), "{result:?}");

    assert_eq!(store.outbox.pending().await.unwrap(), 0);
    assert_eq!(store.gigs.find(&gig.id).await.unwrap(), Some(current));
    assert_eq!(store.gigs.find(&unknown.id).await.unwrap(), None);
}

pub(crate) async fn a_message_that_cannot_be_stored_undoes_its_state_change(store: &Store) {
    let gig = single_gig(&UserId::generate());
    let first = message("gig.created", now());
    store
        .gigs
        .insert(&gig, std::slice::from_ref(&first))
        .await
        .unwrap();

    // A message id that is taken makes the outbox write fail after the state write succeeded.
    let next = Gig {
        title: "never visible".into(),
        version: 2,
        ..gig.clone()
    };
    let result = store.gigs.update(&next, std::slice::from_ref(&first)).await;
    assert!(result.is_err(), "{result:?}");
    let other = single_gig(&UserId::generate());
    let result = store
        .gigs
        .insert(&other, &[message("gig.created", now()), first.clone()])
        .await;
    assert!(result.is_err(), "{result:?}");

    assert_eq!(store.gigs.find(&gig.id).await.unwrap(), Some(gig));
    assert_eq!(store.gigs.find(&other.id).await.unwrap(), None);
    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, vec![first]);
}

pub(crate) async fn a_password_reset_and_its_mail_job_are_stored_together(store: &Store) {
    let (user, _) = insert_influencer(store, "ana@example.com").await;
    let request = reset_request(&user.id);
    let job = message("email.password_reset", now());
    store
        .password_resets
        .insert(&request, std::slice::from_ref(&job))
        .await
        .unwrap();
    let hash = token_hash();
    assert!(
        store
            .password_resets
            .set_token(&request.id, &user.id, &hash, now())
            .await
            .unwrap()
            .is_some()
    );

    // The same request id again: refused, and its mail job with it.
    let result = store
        .password_resets
        .insert(&request, &[message("email.password_reset", now())])
        .await;
    assert!(result.is_err(), "{result:?}");

    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, vec![job]);
}

pub(crate) async fn appended_messages_are_claimed_oldest_first_up_to_the_limit(store: &Store) {
    let batch = messages(5);
    // Appended newest first, in two calls.
    let mut reversed = batch.clone();
    reversed.reverse();
    store.outbox.append(&reversed[..2]).await.unwrap();
    store.outbox.append(&reversed[2..]).await.unwrap();
    store.outbox.append(&[]).await.unwrap();
    assert_eq!(store.outbox.pending().await.unwrap(), 5);

    let at = now();
    let lease = at + SignedDuration::from_mins(1);
    let claim = |limit| {
        let store = store.clone();
        async move {
            store
                .outbox
                .claim(&claim_token(), limit, at, lease)
                .await
                .unwrap()
        }
    };
    assert_eq!(claim(0).await, vec![]);
    assert_eq!(claim(2).await, batch[..2].to_vec());
    assert_eq!(claim(2).await, batch[2..4].to_vec());
    assert_eq!(claim(10).await, batch[4..].to_vec());
    assert_eq!(claim(10).await, vec![]);
    // Claimed is not done: they wait until completed.
    assert_eq!(store.outbox.pending().await.unwrap(), 5);
}

pub(crate) async fn a_claimed_message_is_held_until_its_lease_ends(store: &Store) {
    let m = message("gig.updated", now());
    store.outbox.append(std::slice::from_ref(&m)).await.unwrap();
    let t0 = now();
    let lease_end = t0 + SignedDuration::from_secs(30);
    let (first, second, third) = (claim_token(), claim_token(), claim_token());

    let claim = |token: &str, at: Timestamp| {
        let (store, token) = (store.clone(), token.to_owned());
        async move {
            store
                .outbox
                .claim(&token, 10, at, at + SignedDuration::from_secs(30))
                .await
                .unwrap()
        }
    };
    let claimed = store.outbox.claim(&first, 10, t0, lease_end).await.unwrap();
    assert_eq!(claimed, vec![m.clone()]);
    assert_eq!(claim(&second, t0).await, vec![]);
    assert_eq!(
        claim(&second, t0 + SignedDuration::from_secs(10)).await,
        vec![]
    );
    assert_eq!(
        claim(&second, lease_end).await,
        vec![],
        "ends after its last instant"
    );
    let after = lease_end + SignedDuration::from_millis(1);
    assert_eq!(claim(&third, after).await, vec![m.clone()]);
    // The new claim holds it now, not the expired one.
    assert_eq!(claim(&second, after).await, vec![]);
    assert_eq!(
        store
            .outbox
            .complete(&first, std::slice::from_ref(&m.id))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.outbox.pending().await.unwrap(), 1);
    assert_eq!(
        store
            .outbox
            .complete(&third, std::slice::from_ref(&m.id))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.outbox.pending().await.unwrap(), 0);
}

pub(crate) async fn only_the_holding_claim_completes_or_releases_a_message(store: &Store) {
    let batch = messages(3);
    store.outbox.append(&batch).await.unwrap();
    let at = now();
    let lease = at + SignedDuration::from_mins(5);
    let (holder, other) = (claim_token(), claim_token());
    let claimed = store.outbox.claim(&holder, 2, at, lease).await.unwrap();
    assert_eq!(claimed, batch[..2].to_vec());
    let (m1, m2) = (batch[0].id.clone(), batch[1].id.clone());

    // Another token neither deletes nor frees them.
    let both = [m1.clone(), m2.clone()];
    assert_eq!(store.outbox.complete(&other, &both).await.unwrap(), 0);
    store.outbox.release(&other, &both).await.unwrap();
    assert_eq!(store.outbox.pending().await.unwrap(), 3);
    let rest = store.outbox.claim(&other, 10, at, lease).await.unwrap();
    assert_eq!(rest, batch[2..].to_vec());

    // The holder completes one and releases the other, which is claimable at once.
    assert_eq!(
        store
            .outbox
            .complete(&holder, std::slice::from_ref(&m1))
            .await
            .unwrap(),
        1
    );
    store
        .outbox
        .release(&holder, std::slice::from_ref(&m2))
        .await
        .unwrap();
    assert_eq!(store.outbox.pending().await.unwrap(), 2);
    let third = claim_token();
    let reclaimed = store.outbox.claim(&third, 10, at, lease).await.unwrap();
    assert_eq!(reclaimed, vec![batch[1].clone()]);

    // Completing what is gone, unknown or empty deletes nothing more.
    let ids = [m1, m2, "no-such-message".to_owned()];
    assert_eq!(store.outbox.complete(&third, &ids).await.unwrap(), 1);
    assert_eq!(store.outbox.complete(&third, &ids).await.unwrap(), 0);
    assert_eq!(store.outbox.complete(&third, &[]).await.unwrap(), 0);
    assert_eq!(
        store
            .outbox
            .complete(&other, &ids_of(&batch[2..]))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.outbox.pending().await.unwrap(), 0);
}

/// Refusals hold a message back a minute, doubling up to ten; the third parks it.
pub(crate) fn refusal_policy() -> RefusalPolicy {
    RefusalPolicy {
        max_attempts: 3,
        first_delay: std::time::Duration::from_secs(60),
        max_delay: std::time::Duration::from_secs(600),
    }
}

pub(crate) fn refusal(id: &str, reason: &str) -> OutboxRefusal {
    OutboxRefusal {
        id: id.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Claims what is claimable at `at`, under a fresh token, for a minute.
pub(crate) async fn claim_at(store: &Store, at: Timestamp) -> (String, Vec<OutboxMessage>) {
    let token = claim_token();
    let claimed = store
        .outbox
        .claim(&token, 100, at, at + SignedDuration::from_mins(1))
        .await
        .unwrap();
    (token, claimed)
}

pub(crate) async fn a_refused_message_waits_its_own_delay_while_others_are_claimed(store: &Store) {
    let batch = messages(3);
    store.outbox.append(&batch).await.unwrap();
    let t0 = now();
    let (token, claimed) = claim_at(store, t0).await;
    assert_eq!(claimed, batch);
    let policy = refusal_policy();
    let refused = [refusal(&batch[0].id, "no queue is bound")];

    // A claim that does not hold the message changes nothing.
    let parked = store
        .outbox
        .refuse(&claim_token(), &refused, t0, &policy)
        .await
        .unwrap();
    assert!(parked.is_empty());
    let parked = store
        .outbox
        .refuse(&token, &refused, t0, &policy)
        .await
        .unwrap();
    assert!(parked.is_empty(), "one refusal of three parks nothing");
    store
        .outbox
        .release(&token, &ids_of(&batch[1..]))
        .await
        .unwrap();

    let (published, meanwhile) = claim_at(store, t0).await;
    assert_eq!(meanwhile, batch[1..], "the others flow at once");
    store
        .outbox
        .complete(&published, &ids_of(&meanwhile))
        .await
        .unwrap();
    let (_, early) = claim_at(store, t0 + SignedDuration::from_secs(60)).await;
    assert_eq!(early, vec![], "held back for its whole first delay");
    let (second, later) = claim_at(store, t0 + SignedDuration::from_millis(60_001)).await;
    assert_eq!(later, batch[..1]);
    assert_eq!(store.outbox.pending().await.unwrap(), 1);

    // The second refusal doubles the delay.
    let t1 = t0 + SignedDuration::from_millis(60_001);
    store
        .outbox
        .refuse(&second, &refused, t1, &policy)
        .await
        .unwrap();
    let (_, early) = claim_at(store, t1 + SignedDuration::from_secs(120)).await;
    assert_eq!(early, vec![]);
    let (_, later) = claim_at(store, t1 + SignedDuration::from_millis(120_001)).await;
    assert_eq!(later, batch[..1]);
}

pub(crate) async fn a_message_refused_max_attempts_times_is_parked_and_never_claimed(
    store: &Store,
) {
    let batch = messages(2);
    store.outbox.append(&batch).await.unwrap();
    let policy = refusal_policy();
    let mut at = now();
    for attempt in 1..=3 {
        let (token, claimed) = claim_at(store, at).await;
        if attempt == 1 {
            assert_eq!(claimed, batch);
            // The other message is published meanwhile.
            store
                .outbox
                .complete(&token, &ids_of(&batch[1..]))
                .await
                .unwrap();
        } else {
            assert_eq!(claimed, batch[..1], "attempt {attempt}");
        }
        let parked = store
            .outbox
            .refuse(
                &token,
                &[refusal(&batch[0].id, &format!("refusal {attempt}"))],
                at,
                &policy,
            )
            .await
            .unwrap();
        if attempt < 3 {
            assert!(parked.is_empty(), "attempt {attempt}");
            at += SignedDuration::from_hours(1);
        } else {
            assert_eq!(parked, ids_of(&batch[..1]));
        }
    }

    let (_, claimed) = claim_at(store, at + SignedDuration::from_hours(24 * 365)).await;
    assert_eq!(claimed, vec![], "a parked message is never claimed");
    assert_eq!(store.outbox.pending().await.unwrap(), 0, "nor waiting");
    assert_eq!(
        store.outbox.parked(10).await.unwrap(),
        vec![ParkedOutboxMessage {
            id: batch[0].id.clone(),
            routing_key: batch[0].routing_key.clone(),
            attempts: 3,
            reason: "refusal 3".into(),
            parked_at: at,
        }]
    );
}

pub(crate) async fn parked_messages_are_listed_and_a_retried_one_is_claimed_again(store: &Store) {
    let batch = messages(3);
    store.outbox.append(&batch).await.unwrap();
    let park_at_once = RefusalPolicy {
        max_attempts: 1,
        ..refusal_policy()
    };
    let t0 = now();
    for (message, at) in [
        (&batch[1], t0),
        (&batch[0], t0 + SignedDuration::from_secs(1)),
    ] {
        let token = claim_token();
        store
            .outbox
            .claim(&token, 100, at, at + SignedDuration::from_mins(1))
            .await
            .unwrap();
        let parked = store
            .outbox
            .refuse(&token, &[refusal(&message.id, "nacked")], at, &park_at_once)
            .await
            .unwrap();
        assert_eq!(parked, vec![message.id.clone()]);
        let unheld: Vec<String> = ids_of(&batch)
            .into_iter()
            .filter(|id| *id != message.id)
            .collect();
        store.outbox.release(&token, &unheld).await.unwrap();
    }

    let listed = store.outbox.parked(10).await.unwrap();
    assert_eq!(
        listed.iter().map(|p| &p.id).collect::<Vec<_>>(),
        vec![&batch[1].id, &batch[0].id],
        "longest parked first"
    );
    assert_eq!(store.outbox.parked(1).await.unwrap(), listed[..1]);
    assert!(
        listed
            .iter()
            .all(|p| p.attempts == 1 && p.reason == "nacked")
    );

    assert!(store.outbox.retry_parked(&batch[1].id).await.unwrap());
    assert!(
        !store.outbox.retry_parked(&batch[1].id).await.unwrap(),
        "no longer parked"
    );
    assert!(
        !store.outbox.retry_parked(&batch[2].id).await.unwrap(),
        "never parked"
    );
    assert!(!store.outbox.retry_parked("no-such-message").await.unwrap());
    assert_eq!(store.outbox.parked(10).await.unwrap(), listed[1..]);
    assert_eq!(store.outbox.pending().await.unwrap(), 2);

    let (token, claimed) = claim_at(store, now()).await;
    assert_eq!(
        ids_of(&claimed),
        vec![batch[1].id.clone(), batch[2].id.clone()]
    );
    // Its count starts again: one more refusal of three parks nothing.
    let parked = store
        .outbox
        .refuse(
            &token,
            &[refusal(&batch[1].id, "nacked")],
            now(),
            &refusal_policy(),
        )
        .await
        .unwrap();
    assert!(parked.is_empty());
}

/// Appends 200 messages through the first store, then drains the outbox with 4 concurrent
/// claimers (taking turns over `stores`), each claiming up to 25 at a time and completing what
/// it got; checks that every message went to exactly one claim.
pub(crate) async fn drain_with_concurrent_claimers(stores: &[Store]) {
    let batch = messages(200);
    for chunk in batch.chunks(50) {
        stores[0].outbox.append(chunk).await.unwrap();
    }

    // Each claimer goes on until it finds nothing to claim; one that loses a race for its
    // candidates may stop early, but then whoever won them goes on.
    let per_claimer = concurrently(4, |i| {
        let store = stores[i % stores.len()].clone();
        async move {
            let mut claims: Vec<Vec<String>> = Vec::new();
            loop {
                let token = claim_token();
                let at = now();
                let claimed = store
                    .outbox
                    .claim(&token, 25, at, at + SignedDuration::from_mins(10))
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    break;
                }
                let ids = ids_of(&claimed);
                let completed = store.outbox.complete(&token, &ids).await.unwrap();
                assert_eq!(completed, ids.len() as u64, "{ids:?}");
                claims.push(ids);
            }
            claims
        }
    })
    .await;

    let claims: Vec<&Vec<String>> = per_claimer.iter().flatten().collect();
    for ids in &claims {
        assert!(!ids.is_empty() && ids.len() <= 25, "{}", ids.len());
        assert!(ids.is_sorted(), "oldest first within a claim: {ids:?}");
    }
    let all: Vec<&String> = claims.iter().copied().flatten().collect();
    let distinct: HashSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "a message went to two claims");
    assert_eq!(
        distinct,
        batch.iter().map(|m| &m.id).collect::<HashSet<_>>()
    );
    for store in stores {
        assert_eq!(store.outbox.pending().await.unwrap(), 0);
    }
}

pub(crate) async fn concurrent_claimers_take_each_message_exactly_once(store: &Store) {
    drain_with_concurrent_claimers(std::slice::from_ref(store)).await;
}

pub(crate) async fn concurrent_gig_updates_with_messages_store_only_the_winners(store: &Store) {
    let gig = single_gig(&UserId::generate());
    store.gigs.insert(&gig, &[]).await.unwrap();
    let proposals: Vec<(Gig, OutboxMessage)> = (0..8)
        .map(|i| {
            let next = Gig {
                title: format!("edit {i}"),
                version: 2,
                ..gig.clone()
            };
            (next, message("gig.updated", now()))
        })
        .collect();

    let results = concurrently(proposals.len(), |i| {
        let store = store.clone();
        let (next, sent) = proposals[i].clone();
        async move { store.gigs.update(&next, &[sent]).await }
    })
    .await;

    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let stale = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(Constraint::StaleVersion))))
        .count();
    assert_eq!(stale, proposals.len() - 1, "{results:?}");
    let (winner, sent) = &proposals[winners[0]];
    assert_eq!(
        store.gigs.find(&gig.id).await.unwrap().as_ref(),
        Some(winner)
    );
    let (_, claimed) = claim_all(store).await;
    assert_eq!(&claimed, std::slice::from_ref(sent));
}
