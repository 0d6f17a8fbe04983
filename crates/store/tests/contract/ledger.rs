//! The ledger: postings written with the booking change that causes them, each counted once,
//! numbered per account with a running balance per currency; payouts never beyond what is
//! available, even when racing. Bookings go through the domain's own transitions (paid,
//! delivered, approved, paid out), so every posting is one the services write.

use noillin_domain::{
    booking::{Booking, MarketTerms},
    ledger::{Account, Balance, EntryKind, LedgerEntry, Posting},
    payment::IntentFacts,
};

use crate::bookings::{at, booked_at, create, find, gig_of, hold};
use crate::outbox::{claim_all, message};
use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Fixtures: bookings through their transitions, each change stored with its postings
// ---------------------------------------------------------------------------------------------

pub(crate) fn terms() -> MarketTerms {
    MarketTerms::default()
}

/// When the cases' bookings are paid: while the holds made at [`booked_at`] are live.
pub(crate) fn paid_at() -> Timestamp {
    booked_at() + SignedDuration::from_mins(1)
}

/// When the cases' bookings are delivered: after every start the cases use (18:00 at the
/// latest), so every delivered booking is due at the same instant.
pub(crate) fn delivered_at() -> Timestamp {
    at(19, 0)
}

/// When a delivered booking completes by itself.
pub(crate) fn auto_complete_at() -> Timestamp {
    delivered_at() + terms().approval_window
}

/// When the cases' brands approve, which settles the bookings.
pub(crate) fn approved_at() -> Timestamp {
    at(20, 0)
}

/// When the members of a booking approved at [`approved_at`] may be paid.
pub(crate) fn payout_due() -> Timestamp {
    approved_at() + terms().payout_delay
}

/// A booking of `gig` for `brand` at `start` (18:00 at the latest), created and paid, its
/// charge posted with the payment.
pub(crate) async fn paid(store: &Store, gig: &Gig, brand: &UserId, start: Timestamp) -> Booking {
    let mut booking = hold(gig, brand, start);
    create(store, &booking).await;
    let intent = IntentFacts {
        intent_id: booking.payment.as_ref().unwrap().intent_id.clone(),
        booking_id: Some(booking.id.to_string()),
        amount: booking.price.clone(),
    };
    booking
        .accept_payment(&intent, &format!("evt_{}", booking.id), paid_at())
        .unwrap();
    store
        .bookings
        .update_with_ledger(&booking, &booking.charge_postings(), &[])
        .await
        .unwrap();
    booking
}

/// [`paid`], then delivered by its first member at [`delivered_at`].
pub(crate) async fn delivered(
    store: &Store,
    gig: &Gig,
    brand: &UserId,
    start: Timestamp,
) -> Booking {
    let mut booking = paid(store, gig, brand, start).await;
    deliver(&mut booking);
    store.bookings.update(&booking, &[]).await.unwrap();
    booking
}

pub(crate) fn deliver(booking: &mut Booking) {
    let member = booking.members[0].user_id.clone();
    booking
        .deliver(
            &member,
            vec!["https://example.com/post/1".into()],
            "published".into(),
            terms().approval_window,
            delivered_at(),
        )
        .unwrap();
}

/// [`delivered`], then approved by the brand at [`approved_at`], its fee and earnings posted
/// with the approval.
pub(crate) async fn completed(
    store: &Store,
    gig: &Gig,
    brand: &UserId,
    start: Timestamp,
) -> Booking {
    let mut booking = delivered(store, gig, brand, start).await;
    booking
        .approve(&booking.brand_id.clone(), &terms(), approved_at())
        .unwrap();
    store
        .bookings
        .update_with_ledger(&booking, &booking.settlement_postings(), &[])
        .await
        .unwrap();
    booking
}

/// What `member` earned of a settled booking.
pub(crate) fn earned(booking: &Booking, member: &UserId) -> i64 {
    let settlement = booking.settlement.as_ref().unwrap();
    let share = settlement.shares.iter().find(|s| s.user_id == *member);
    share.unwrap().earned_minor
}

pub(crate) fn eur(balance_minor: i64, pending_minor: i64) -> Balance {
    Balance {
        currency: "EUR".into(),
        balance_minor,
        pending_minor,
    }
}

async fn balances(store: &Store, account: &Account, at: Timestamp) -> Vec<Balance> {
    store.ledger.balances(account, at).await.unwrap()
}

async fn entries(store: &Store, account: &Account) -> Vec<LedgerEntry> {
    store.ledger.entries(account, None, 1_000).await.unwrap()
}

async fn booking_postings(store: &Store, booking: &Booking) -> Vec<Posting> {
    let entries = store.ledger.booking_entries(&booking.id).await.unwrap();
    entries.into_iter().map(|entry| entry.posting).collect()
}

fn seqs(entries: &[LedgerEntry]) -> Vec<u64> {
    entries.iter().map(|entry| entry.seq).collect()
}

#[track_caller]
fn assert_insufficient(result: Result<(), StoreError>) {
    assert!(
        matches!(
            result,
            Err(StoreError::Conflict(Constraint::InsufficientBalance))
        ),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

pub(crate) async fn postings_take_their_accounts_next_place_and_running_balance(store: &Store) {
    let ana = UserId::generate();
    let brand = UserId::generate();
    let gig = gig_of(&ana, 60, 0, 0);
    let mut dollars = gig_of(&ana, 60, 0, 0);
    dollars.price = Money {
        amount_minor: 30_000,
        currency: "USD".into(),
    };
    let first = paid(store, &gig, &brand, at(10, 0)).await;
    let second = paid(store, &dollars, &brand, at(12, 0)).await;
    let third = paid(store, &gig, &brand, at(14, 0)).await;

    // One account, numbered across currencies; a balance per currency.
    let account = Account::Brand(brand.clone());
    let written = entries(store, &account).await;
    assert_eq!(seqs(&written), vec![3, 2, 1], "newest first");
    let running: Vec<(&str, i64)> = written
        .iter()
        .map(|e| (e.posting.currency.as_str(), e.balance_after_minor))
        .collect();
    assert_eq!(
        running,
        vec![("EUR", 90_000), ("USD", 30_000), ("EUR", 45_000)]
    );
    let postings: Vec<Posting> = written.iter().rev().map(|e| e.posting.clone()).collect();
    let expected: Vec<Posting> = [&first, &second, &third]
        .iter()
        .flat_map(|booking| booking.charge_postings())
        .collect();
    assert_eq!(postings, expected, "every field as posted");
    assert_eq!(
        balances(store, &account, now()).await,
        vec![
            eur(90_000, 0),
            Balance {
                currency: "USD".into(),
                balance_minor: 30_000,
                pending_minor: 0,
            },
        ],
        "by currency code"
    );

    // Paging by seq, newest first.
    let page = store.ledger.entries(&account, None, 2).await.unwrap();
    assert_eq!(seqs(&page), vec![3, 2]);
    let page = store.ledger.entries(&account, Some(2), 2).await.unwrap();
    assert_eq!(seqs(&page), vec![1]);
    let page = store.ledger.entries(&account, Some(1), 2).await.unwrap();
    assert!(page.is_empty());
    assert!(
        store
            .ledger
            .entries(&account, None, 0)
            .await
            .unwrap()
            .is_empty()
    );

    // A movement posted again, in a later change or twice in one, is counted once.
    let mut again = first.clone();
    deliver(&mut again);
    let charge = again.charge_postings();
    let twice = [charge.clone(), charge].concat();
    store
        .bookings
        .update_with_ledger(&again, &twice, &[])
        .await
        .unwrap();
    assert_eq!(find(store, &first.id).await.unwrap(), again);
    assert_eq!(seqs(&entries(store, &account).await), vec![3, 2, 1]);
    assert_eq!(
        booking_postings(store, &first).await,
        first.charge_postings()
    );
    assert_eq!(balances(store, &account, now()).await[0], eur(90_000, 0));

    // An account without entries has no balance.
    let nobody = Account::Influencer(UserId::generate());
    assert!(balances(store, &nobody, now()).await.is_empty());
    assert!(entries(store, &nobody).await.is_empty());
}

pub(crate) async fn a_settlement_posts_fee_and_earnings_pending_until_their_payout_date(
    store: &Store,
) {
    let (ana, bea) = (UserId::generate(), UserId::generate());
    let brand = UserId::generate();
    let gig = crate::gigs::group_gig(&ana, &[(&bea, MemberState::Accepted)]);
    let booking = completed(store, &gig, &brand, at(10, 0)).await;

    // The booking's entries in the order written: the charge, then the fee and the earnings.
    let written = booking_postings(store, &booking).await;
    let expected = [booking.charge_postings(), booking.settlement_postings()].concat();
    assert_eq!(written, expected);
    let kinds: Vec<EntryKind> = written.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EntryKind::Charge,
            EntryKind::PlatformFee,
            EntryKind::Earning,
            EntryKind::Earning
        ]
    );
    let settled: i64 = written[1..].iter().map(|p| p.amount_minor).sum();
    assert_eq!(
        settled, 45_000,
        "the fee and the earnings add up to the charge"
    );

    // Earnings are pending until their payout date, and from it on payable.
    let (ana_earned, bea_earned) = (earned(&booking, &ana), earned(&booking, &bea));
    let account = Account::Influencer(ana.clone());
    for pending_at in [approved_at(), payout_due() - SignedDuration::from_millis(1)] {
        assert_eq!(
            balances(store, &account, pending_at).await,
            vec![eur(ana_earned, ana_earned)]
        );
    }
    for payable_at in [
        payout_due(),
        payout_due() + SignedDuration::from_hours(24 * 365),
    ] {
        assert_eq!(
            balances(store, &account, payable_at).await,
            vec![eur(ana_earned, 0)]
        );
    }
    let bea_account = Account::Influencer(bea.clone());
    assert_eq!(
        balances(store, &bea_account, approved_at()).await,
        vec![eur(bea_earned, bea_earned)]
    );
    let fee = booking.settlement.as_ref().unwrap().fee_minor;
    assert_eq!(
        balances(store, &Account::Platform, approved_at()).await,
        vec![eur(fee, 0)],
        "only earnings wait for a payout date"
    );
    let ana_entries = entries(store, &account).await;
    assert_eq!(seqs(&ana_entries), vec![1]);
    assert_eq!(ana_entries[0].balance_after_minor, ana_earned);
}

pub(crate) async fn a_payout_beyond_the_available_balance_writes_nothing(store: &Store) {
    let ana = UserId::generate();
    let brand = UserId::generate();
    let booking = completed(store, &gig_of(&ana, 60, 0, 0), &brand, at(10, 0)).await;
    let owed = earned(&booking, &ana);
    let account = Account::Influencer(ana.clone());
    let mut paying = booking.clone();
    let payout = paying.start_payout(&ana, owed, payout_due()).unwrap();
    assert_eq!(payout.amount_minor, -owed);

    let refused = [
        // A minor unit more than the balance.
        Posting {
            amount_minor: payout.amount_minor - 1,
            ..payout.clone()
        },
        // All of it, but at an instant when the earning is still pending.
        Posting {
            at: payout_due() - SignedDuration::from_millis(1),
            available_at: payout_due() - SignedDuration::from_millis(1),
            ..payout.clone()
        },
    ];
    for posting in refused {
        let result = store
            .bookings
            .update_with_ledger(
                &paying,
                &[posting],
                &[message("booking.payout_sent", now())],
            )
            .await;
        assert_insufficient(result);
        assert_eq!(
            find(store, &booking.id).await.unwrap().version,
            booking.version,
            "the booking is not changed"
        );
        assert_eq!(
            seqs(&entries(store, &account).await),
            vec![1],
            "no entry is written"
        );
        assert_eq!(
            balances(store, &account, payout_due()).await,
            vec![eur(owed, 0)]
        );
        assert_eq!(store.outbox.pending().await.unwrap(), 0, "nor any message");
    }

    // Exactly what is available is paid out.
    let sent = message("booking.payout_sent", now());
    store
        .bookings
        .update_with_ledger(
            &paying,
            std::slice::from_ref(&payout),
            std::slice::from_ref(&sent),
        )
        .await
        .unwrap();
    assert_eq!(find(store, &booking.id).await.unwrap(), paying);
    let written = entries(store, &account).await;
    assert_eq!(seqs(&written), vec![2, 1]);
    assert_eq!(written[0].posting, payout);
    assert_eq!(written[0].balance_after_minor, 0);
    assert_eq!(
        balances(store, &account, payout_due()).await,
        vec![eur(0, 0)]
    );
    let (_, claimed) = claim_all(store).await;
    assert_eq!(claimed, vec![sent]);
}

pub(crate) async fn a_stale_or_missing_booking_change_writes_no_posting(store: &Store) {
    let ana = UserId::generate();
    let brand = UserId::generate();
    let gig = gig_of(&ana, 60, 0, 0);
    let read = paid(store, &gig, &brand, at(10, 0)).await;
    // Someone else changes the booking first.
    let mut first = read.clone();
    deliver(&mut first);
    store.bookings.update(&first, &[]).await.unwrap();

    let mut stale = read.clone();
    deliver(&mut stale);
    let extra = Posting {
        key: format!("test-extra:{}", read.id),
        ..read.charge_postings()[0].clone()
    };
    let result = store
        .bookings
        .update_with_ledger(
            &stale,
            std::slice::from_ref(&extra),
            &[message("booking.delivered", now())],
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::Conflict(Constraint::StaleVersion))),
        "{result:?}"
    );
    assert_eq!(booking_postings(store, &read).await, read.charge_postings());
    let account = Account::Brand(brand.clone());
    assert_eq!(balances(store, &account, now()).await, vec![eur(45_000, 0)]);
    assert_eq!(store.outbox.pending().await.unwrap(), 0);

    // A booking never stored is not found, and its postings are not written either.
    let mut missing = hold(&gig, &brand, at(14, 0));
    missing.version = 1;
    let posting = Posting {
        key: format!("test-missing:{}", missing.id),
        booking_id: missing.id.clone(),
        ..extra
    };
    let result = store
        .bookings
        .update_with_ledger(&missing, &[posting], &[])
        .await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert!(booking_postings(store, &missing).await.is_empty());
    assert_eq!(seqs(&entries(store, &account).await), vec![1]);
}

/// Racing payouts, each of the account's whole available balance through another of its
/// bookings (so no booking's version decides), alternating between two handles: exactly one
/// is written.
pub(crate) async fn racing_payouts_of_the_whole_balance_have_exactly_one_winner(stores: &[Store]) {
    let ana = UserId::generate();
    let brand = UserId::generate();
    let gig = gig_of(&ana, 60, 0, 0);
    let mut bookings = Vec::new();
    for hour in [8, 10, 12, 14] {
        bookings.push(completed(&stores[0], &gig, &brand, at(hour, 0)).await);
    }
    let account = Account::Influencer(ana.clone());
    let balance = &balances(&stores[0], &account, payout_due()).await[0];
    let available = balance.available_minor();
    assert_eq!(available, 4 * earned(&bookings[0], &ana));

    let racers: Vec<(Booking, Posting)> = bookings
        .iter()
        .map(|booking| {
            let mut paying = booking.clone();
            let payout = paying.start_payout(&ana, i64::MAX, payout_due()).unwrap();
            let everything = Posting {
                amount_minor: -available,
                ..payout
            };
            (paying, everything)
        })
        .collect();
    let results = concurrently(racers.len(), |i| {
        let store = stores[i % stores.len()].clone();
        let (booking, posting) = racers[i].clone();
        let sent = message("booking.payout_sent", now());
        async move {
            store
                .bookings
                .update_with_ledger(&booking, &[posting], &[sent])
                .await
        }
    })
    .await;

    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (i, result) in results.into_iter().enumerate() {
        if i != winners[0] {
            assert_insufficient(result);
            let stored = find(&stores[0], &bookings[i].id).await.unwrap();
            assert_eq!(stored, bookings[i], "a refused payout changes nothing");
        }
    }
    let written = entries(&stores[1], &account).await;
    assert_eq!(seqs(&written), vec![5, 4, 3, 2, 1]);
    assert_eq!(written[0].posting, racers[winners[0]].1);
    assert_eq!(written[0].balance_after_minor, 0);
    assert_eq!(
        balances(&stores[1], &account, payout_due()).await,
        vec![eur(0, 0)]
    );
    assert_eq!(stores[0].outbox.pending().await.unwrap(), 1);
}
