//! Mail records: one per id, attempts held one at a time.

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Mails
// ---------------------------------------------------------------------------------------------

pub(crate) fn queued_mail(subject: &str) -> Mail {
    Mail::queued(
        MailId::from_string(uuid::Uuid::now_v7().to_string()),
        email("ana@example.com"),
        "password_reset",
        subject,
        now(),
    )
}

pub(crate) async fn start_attempt(
    store: &Store,
    id: &MailId,
    at: Timestamp,
    until: Timestamp,
) -> Option<Mail> {
    store.mails.start_attempt(id, at, until).await.unwrap()
}

pub(crate) async fn a_mail_is_recorded_once_per_id(store: &Store) {
    let mail = queued_mail("Reset your password");
    assert_eq!(store.mails.insert(&mail).await.unwrap(), mail);
    let tried = store
        .mails
        .record_attempt(&mail.id, MailStatus::Queued, Some("421 busy"), now())
        .await
        .unwrap();

    // A redelivered job records its mail again: it gets the stored record, attempts and all.
    let again = Mail {
        subject: "another subject".into(),
        ..Mail::queued(
            mail.id.clone(),
            email("rui@example.com"),
            "gig_invitation",
            "",
            now() + SignedDuration::from_secs(1),
        )
    };
    let stored = store.mails.insert(&again).await.unwrap();
    assert_eq!(stored, tried);
    assert_eq!(
        (stored.attempts, stored.last_error.as_deref()),
        (1, Some("421 busy"))
    );
    assert_eq!(stored.subject, mail.subject);
    assert_eq!(store.mails.find(&mail.id).await.unwrap(), Some(tried));
    assert_eq!(
        store
            .mails
            .find(&MailId::from_string("no-such-mail"))
            .await
            .unwrap(),
        None
    );
}

pub(crate) async fn concurrent_inserts_of_one_mail_all_return_the_one_record(store: &Store) {
    for _ in 0..3 {
        let id = MailId::from_string(uuid::Uuid::now_v7().to_string());
        let candidates: Vec<Mail> = (0..10)
            .map(|i| Mail {
                id: id.clone(),
                ..queued_mail(&format!("attempt {i}"))
            })
            .collect();
        let results = concurrently(candidates.len(), |i| {
            let store = store.clone();
            let mail = candidates[i].clone();
            async move { store.mails.insert(&mail).await.unwrap() }
        })
        .await;

        let stored = store.mails.find(&id).await.unwrap().unwrap();
        assert!(candidates.contains(&stored), "{stored:?}");
        assert!(results.iter().all(|r| *r == stored), "{results:?}");
    }
}

pub(crate) async fn a_mail_is_held_by_one_attempt_at_a_time_until_recorded_or_expired(
    store: &Store,
) {
    let mail = queued_mail("You are invited");
    store.mails.insert(&mail).await.unwrap();
    let t0 = mail.created_at;
    let hold = SignedDuration::from_mins(2);

    assert_eq!(
        start_attempt(store, &mail.id, t0, t0 + hold).await,
        Some(mail.clone())
    );
    assert_eq!(
        start_attempt(store, &mail.id, t0, t0 + hold).await,
        None,
        "held by the first attempt"
    );
    // A sender that died frees the mail when its hold ends.
    let after_hold = t0 + hold + SignedDuration::from_millis(1);
    assert!(
        start_attempt(store, &mail.id, after_hold, after_hold + hold)
            .await
            .is_some()
    );
    // Recording the attempt releases the hold.
    store
        .mails
        .record_attempt(&mail.id, MailStatus::Queued, Some("421 busy"), after_hold)
        .await
        .unwrap();
    assert!(
        start_attempt(store, &mail.id, after_hold, after_hold + hold)
            .await
            .is_some()
    );
    store
        .mails
        .record_attempt(&mail.id, MailStatus::Sent, None, after_hold)
        .await
        .unwrap();
    assert_eq!(
        start_attempt(store, &mail.id, after_hold, after_hold + hold).await,
        None,
        "a sent mail is never taken again"
    );
    let unknown = MailId::from_string("no-such-mail");
    assert_eq!(start_attempt(store, &unknown, t0, t0 + hold).await, None);
}

pub(crate) async fn racing_attempts_take_a_mail_once(store: &Store) {
    let mail = queued_mail("Reset your password");
    store.mails.insert(&mail).await.unwrap();
    let taken = concurrently(10, |_| {
        let store = store.clone();
        let id = mail.id.clone();
        async move {
            let at = now();
            start_attempt(&store, &id, at, at + SignedDuration::from_mins(2))
                .await
                .is_some()
        }
    })
    .await;
    assert_eq!(taken.iter().filter(|t| **t).count(), 1, "{taken:?}");
}

pub(crate) async fn recording_attempts_counts_them_and_sets_status_and_error(store: &Store) {
    let mail = queued_mail("You are invited");
    store.mails.insert(&mail).await.unwrap();
    let (t1, t2) = (
        mail.created_at + SignedDuration::from_secs(30),
        mail.created_at + SignedDuration::from_mins(5),
    );

    let failed_once = store
        .mails
        .record_attempt(&mail.id, MailStatus::Queued, Some("connection reset"), t1)
        .await
        .unwrap();
    assert_eq!(
        failed_once,
        Mail {
            attempts: 1,
            last_error: Some("connection reset".into()),
            updated_at: t1,
            ..mail.clone()
        }
    );
    let sent = store
        .mails
        .record_attempt(&mail.id, MailStatus::Sent, None, t2)
        .await
        .unwrap();
    let expected = Mail {
        status: MailStatus::Sent,
        attempts: 2,
        last_error: None,
        updated_at: t2,
        ..mail.clone()
    };
    assert_eq!(sent, expected);
    assert_eq!(store.mails.find(&mail.id).await.unwrap(), Some(expected));

    let given_up = store
        .mails
        .record_attempt(&mail.id, MailStatus::Failed, Some("550 no such user"), t2)
        .await
        .unwrap();
    assert_eq!(
        (
            given_up.status,
            given_up.attempts,
            given_up.last_error.as_deref()
        ),
        (MailStatus::Failed, 3, Some("550 no such user"))
    );

    let unknown = MailId::from_string("no-such-mail");
    let result = store
        .mails
        .record_attempt(&unknown, MailStatus::Sent, None, t2)
        .await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_eq!(store.mails.find(&unknown).await.unwrap(), None);
}
