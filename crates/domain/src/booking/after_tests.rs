//! After the booking: delivery, revisions, approval and auto-completion, settlement, payouts,
//! refunds after settlement — and the ledger those produce, property-tested over random
//! sequences of events, duplicated and reordered.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::tests::{at, held};
use super::*;
use crate::{
    ledger::{Account, EntryKind, Posting},
    payment::{Canceller, ChargeFacts, IntentFacts},
};

const NOW: &str = "2026-11-30T09:00:00Z";
const STARTED: &str = "2026-12-01T12:00:00Z";

fn terms() -> MarketTerms {
    MarketTerms {
        fee_bps: 1_500,
        payout_delay: SignedDuration::from_hours(24),
        approval_window: SignedDuration::from_hours(72),
        max_revisions: 2,
    }
}

fn paid() -> Booking {
    let (_, mut booking) = held(at(NOW));
    let facts = IntentFacts {
        intent_id: "pi_1".into(),
        booking_id: Some(booking.id.to_string()),
        amount: booking.price.clone(),
    };
    booking.accept_payment(&facts, "evt_1", at(NOW)).unwrap();
    booking
}

fn refunded(booking: &Booking, total: i64) -> ChargeFacts {
    ChargeFacts {
        charge_id: "ch_1".into(),
        intent_id: Some("pi_1".into()),
        amount: booking.price.clone(),
        amount_refunded_minor: total,
    }
}

fn link() -> Vec<String> {
    vec!["https://example.com/post/1".into()]
}

fn delivered() -> Booking {
    let mut booking = paid();
    let member = booking.members[1].user_id.clone();
    booking
        .deliver(
            &member,
            link(),
            "done".into(),
            terms().approval_window,
            at(STARTED),
        )
        .unwrap();
    booking
}

#[test]
fn a_member_delivers_only_a_confirmed_booking_that_has_started() {
    let mut booking = paid();
    let member = booking.members[0].user_id.clone();
    let early = booking.start - SignedDuration::from_mins(1);
    assert_eq!(
        booking.deliver(
            &member,
            link(),
            String::new(),
            terms().approval_window,
            early
        ),
        Err(BookingTransitionError::NotStarted)
    );
    let window = terms().approval_window;
    booking
        .deliver(&member, link(), "here".into(), window, at(STARTED))
        .unwrap();
    assert_eq!(booking.state, BookingState::Delivered);
    assert_eq!(booking.auto_complete_at, Some(at(STARTED) + window));
    assert_eq!(booking.due_at(), booking.auto_complete_at);
    assert!(
        booking.is_live(at("2099-01-01T00:00:00Z")),
        "a delivered booking keeps its time"
    );
    assert_eq!(
        booking.deliver(&member, link(), String::new(), window, at(STARTED)),
        Err(BookingTransitionError::NotConfirmed {
            state: BookingState::Delivered
        })
    );
}

#[test]
fn revisions_go_back_to_confirmed_up_to_the_limit_and_keep_their_history() {
    let mut booking = delivered();
    let brand = booking.brand_id.clone();
    let member = booking.members[0].user_id.clone();
    let window = terms().approval_window;
    for round in 0..2 {
        booking
            .request_revision(&brand, "brighter", 2, at(STARTED))
            .unwrap();
        assert_eq!(booking.state, BookingState::Confirmed);
        assert_eq!(booking.auto_complete_at, None);
        assert_eq!(booking.revisions(), round + 1);
        booking
            .deliver(&member, link(), "again".into(), window, at(STARTED))
            .unwrap();
    }
    assert_eq!(
        booking.request_revision(&brand, "once more", 2, at(STARTED)),
        Err(BookingTransitionError::RevisionLimit { max: 2 })
    );
    assert_eq!(booking.deliveries.len(), 3);
    assert_eq!(
        booking.deliveries[0].revision.as_ref().unwrap().reason,
        "brighter"
    );
    assert!(booking.deliveries[2].revision.is_none());
}

#[test]
fn auto_completion_waits_for_the_window_and_settles_once() {
    let mut booking = delivered();
    let due = booking.auto_complete_at.unwrap();
    let before = booking.clone();
    assert_eq!(
        booking.auto_complete(&terms(), due - SignedDuration::from_secs(1)),
        Err(BookingTransitionError::ApprovalWindowOpen)
    );
    assert_eq!(booking, before);
    booking.auto_complete(&terms(), due).unwrap();
    assert_eq!(booking.state, BookingState::Completed);
    assert!(!booking.is_live(due));
    let settlement = booking.settlement.clone().unwrap();
    assert_eq!(settlement.gross_minor, 45_000);
    assert_eq!(settlement.fee_minor, 6_750);
    // 60 % and 40 % of 38,250.
    let shares: Vec<i64> = settlement.shares.iter().map(|s| s.earned_minor).collect();
    assert_eq!(shares, vec![22_950, 15_300]);
    assert_eq!(settlement.payout_due_at, due + terms().payout_delay);
    assert_eq!(booking.due_at(), Some(settlement.payout_due_at));
    assert_eq!(
        booking.auto_complete(&terms(), due),
        Err(BookingTransitionError::NotDelivered {
            state: BookingState::Completed
        })
    );
}

#[test]
fn payouts_wait_for_their_date_are_recorded_once_and_end_the_due_date() {
    let mut booking = delivered();
    let brand = booking.brand_id.clone();
    booking.approve(&brand, &terms(), at(STARTED)).unwrap();
    let due = booking.settlement.as_ref().unwrap().payout_due_at;
    let member = booking.members[0].user_id.clone();
    assert!(
        booking
            .payouts_owed(due - SignedDuration::from_secs(1))
            .is_empty()
    );
    assert_eq!(
        booking.start_payout(&member, 1, due - SignedDuration::from_secs(1)),
        Err(PayoutError::NotDue(due))
    );
    let owed = booking.payouts_owed(due);
    assert_eq!(owed.len(), 2);
    for (user, amount) in owed {
        let posting = booking.start_payout(&user, amount + 1_000, due).unwrap();
        assert_eq!(posting.kind, EntryKind::Payout);
        assert_eq!(posting.amount_minor, -amount, "never more than owed");
        assert_eq!(
            booking.start_payout(&user, amount, due),
            Err(PayoutError::AlreadyStarted)
        );
    }
    assert_eq!(booking.due_at(), Some(due), "transfers still to make");
    let stranger = UserId::generate();
    assert_eq!(
        booking.record_transfer(&stranger, "tr_x", due),
        Err(PayoutError::NotAMember(stranger.clone()))
    );
    for member in booking.member_ids() {
        assert_eq!(booking.record_transfer(&member, "tr_1", due), Ok(true));
        assert_eq!(booking.record_transfer(&member, "tr_2", due), Ok(false));
    }
    assert_eq!(booking.due_at(), None);
    assert_eq!(
        member,
        booking.settlement.unwrap().shares[0].user_id,
        "shares keep the members' order"
    );
}

#[test]
fn a_late_brand_cancellation_settles_what_it_does_not_get_back() {
    let mut booking = paid();
    let brand = booking.brand_id.clone();
    let owed = booking
        .cancel_paid(
            &brand,
            Canceller::Brand,
            "plans changed",
            &terms(),
            booking.start - SignedDuration::from_hours(25),
        )
        .unwrap();
    assert_eq!(owed, 22_500);
    let settlement = booking.settlement.clone().unwrap();
    assert_eq!(settlement.gross_minor, 22_500);
    let parts: i64 = settlement.fee_minor
        + settlement
            .shares
            .iter()
            .map(|s| s.earned_minor)
            .sum::<i64>();
    assert_eq!(parts, 22_500);

    let mut by_member = paid();
    let member = by_member.members[0].user_id.clone();
    by_member
        .cancel_paid(&member, Canceller::Member, "ill", &terms(), at(NOW))
        .unwrap();
    assert!(by_member.settlement.is_none(), "all of it goes back");
}

#[test]
fn a_refund_after_completion_reverses_the_fee_and_shares_in_proportion() {
    let mut booking = delivered();
    let brand = booking.brand_id.clone();
    booking.approve(&brand, &terms(), at(STARTED)).unwrap();
    let postings = booking
        .record_refund(&refunded(&booking, 10_000), at(STARTED))
        .unwrap();
    let kinds: Vec<(EntryKind, i64)> = postings.iter().map(|p| (p.kind, p.amount_minor)).collect();
    assert_eq!(
        kinds,
        vec![
            (EntryKind::Refund, -10_000),
            (EntryKind::Reversal, -1_500),
            (EntryKind::Reversal, -5_100),
            (EntryKind::Reversal, -3_400),
        ]
    );
    assert_eq!(booking.state, BookingState::Completed);
    assert!(
        booking
            .record_refund(&refunded(&booking, 10_000), at(STARTED))
            .is_none()
    );
}

#[test]
fn a_refund_made_in_the_providers_dashboard_is_recorded() {
    let mut booking = paid();
    let postings = booking
        .record_refund(&refunded(&booking, 5_000), at(NOW))
        .unwrap();
    assert_eq!(postings.len(), 1);
    assert_eq!(postings[0].amount_minor, -5_000);
    let refund = booking.payment.as_ref().unwrap().refund.clone().unwrap();
    assert_eq!((refund.due_minor, refund.refunded_minor), (5_000, 5_000));
    assert_eq!(booking.state, BookingState::Confirmed);
}

// ---------------------------------------------------------------------------------------------
// The ledger over random histories.

/// The store's job in miniature: each key written once, balances running per account and
/// currency.
#[derive(Default)]
struct Book {
    entries: HashMap<String, Posting>,
    balances: HashMap<String, i64>,
}

impl Book {
    fn post(&mut self, postings: &[Posting]) {
        for posting in postings {
            if self.entries.contains_key(&posting.key) {
                continue;
            }
            *self.balances.entry(posting.account.key()).or_default() += posting.amount_minor;
            self.entries.insert(posting.key.clone(), posting.clone());
        }
    }

    fn available(&self, account: &Account, now: Timestamp) -> i64 {
        self.entries
            .values()
            .filter(|p| p.account == *account)
            .filter(|p| p.kind != EntryKind::Earning || p.available_at <= now)
            .map(|p| p.amount_minor)
            .sum()
    }

    fn sum(&self, booking: &BookingId, kinds: &[EntryKind]) -> i64 {
        self.entries
            .values()
            .filter(|p| p.booking_id == *booking && kinds.contains(&p.kind))
            .map(|p| p.amount_minor)
            .sum()
    }
}

#[derive(Debug, Clone)]
enum Step {
    Deliver,
    Approve,
    AutoComplete,
    Revise,
    Cancel(u8),
    Refund(u16),
    Payout,
    Replay,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Deliver),
        Just(Step::Approve),
        Just(Step::AutoComplete),
        Just(Step::Revise),
        (0u8..3).prop_map(Step::Cancel),
        (0u16..=1000).prop_map(Step::Refund),
        Just(Step::Payout),
        Just(Step::Replay),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// For every booking, charges + refunds = fees + earnings + reversals once settled (and the
    /// charge less refunds is what is held before); every account's balance is the sum of its
    /// entries; no payout exceeds what is available; duplicated and reordered reports change
    /// nothing twice.
    #[test]
    fn the_ledger_always_balances(
        prices in prop::collection::vec(1i64..2_000_000, 1..4),
        shares in prop::collection::vec(1u32..9_999, 1..4),
        fee_bps in 0u32..=10_000,
        steps in prop::collection::vec((0usize..3, step()), 0..40),
    ) {
        let terms = MarketTerms { fee_bps, ..terms() };
        let mut book = Book::default();
        let mut refunds_seen: Vec<Vec<i64>> = vec![Vec::new(); prices.len()];
        let mut bookings: Vec<Booking> = prices
            .iter()
            .map(|price| {
                let mut booking = paid();
                // Members' shares from the generated ones, summing to 10,000.
                let first = shares[0].min(10_000);
                booking.members.truncate(1);
                booking.members[0].share_bps = 10_000 - first;
                booking.members.push(BookingMember { user_id: UserId::generate(), share_bps: first });
                booking.price.amount_minor = *price;
                if let Some(p) = booking.payment.as_mut().and_then(|p| p.paid.as_mut()) {
                    p.amount.amount_minor = *price;
                }
                booking
            })
            .collect();
        for booking in &bookings {
            book.post(&booking.charge_postings());
        }
        let mut now = at(STARTED);
        for (index, step) in steps {
            now += SignedDuration::from_hours(13);
            let index = index % bookings.len();
            let booking = &mut bookings[index];
            let member = booking.members[0].user_id.clone();
            let brand = booking.brand_id.clone();
            match step {
                Step::Deliver => {
                    let _ = booking.deliver(&member, link(), String::new(), terms.approval_window, now);
                }
                Step::Approve => {
                    let _ = booking.approve(&brand, &terms, now);
                }
                Step::AutoComplete => {
                    let _ = booking.auto_complete(&terms, now);
                }
                Step::Revise => {
                    let _ = booking.request_revision(&brand, "again", terms.max_revisions, now);
                }
                Step::Cancel(who) => {
                    let (by, canceller) = match who {
                        0 => (brand, Canceller::Brand),
                        1 => (member, Canceller::Member),
                        _ => (UserId::generate(), Canceller::Admin),
                    };
                    let _ = booking.cancel_paid(&by, canceller, "cancelled", &terms, now);
                }
                Step::Refund(permille) => {
                    // A report of a cumulative refund total: later ones may be smaller (older
                    // reports arriving late) and change nothing.
                    let total = booking.paid_minor() * i64::from(permille) / 1_000;
                    refunds_seen[index].push(total);
                    if let Some(postings) = booking.record_refund(&refunded(booking, total), now) {
                        book.post(&postings);
                    }
                }
                Step::Payout => {
                    for (user, owed) in booking.payouts_owed(now) {
                        let account = Account::Influencer(user.clone());
                        let amount = owed.min(book.available(&account, now).max(0));
                        let posting = booking.start_payout(&user, amount, now).unwrap();
                        prop_assert!(-posting.amount_minor <= book.available(&account, now));
                        book.post(&[posting]);
                        prop_assert!(booking.record_transfer(&user, "tr", now).unwrap());
                    }
                }
                Step::Replay => {}
            }
            // Whatever the step, a booking's postings may be asked for again at any time.
            book.post(&booking.charge_postings());
            book.post(&booking.settlement_postings());
            book.post(&booking.settlement_postings());

            for (index, booking) in bookings.iter().enumerate() {
                let id = &booking.id;
                let charged = book.sum(id, &[EntryKind::Charge]);
                let refunded = book.sum(id, &[EntryKind::Refund]);
                prop_assert_eq!(charged, booking.paid_minor());
                let highest = refunds_seen[index].iter().copied().max().unwrap_or(0);
                prop_assert_eq!(-refunded, highest, "refunds counted once, the newest total");
                let parts = book.sum(id, &[EntryKind::PlatformFee, EntryKind::Earning, EntryKind::Reversal]);
                if let Some(settlement) = &booking.settlement {
                    let shares: i64 = settlement.shares.iter().map(|s| s.earned_minor).sum();
                    prop_assert_eq!(settlement.fee_minor + shares, settlement.gross_minor, "splits are exact");
                    // What the platform still counts never exceeds what it still holds, and
                    // matches it once a refund came after settlement.
                    prop_assert!(parts <= charged + refunded);
                    prop_assert_eq!(parts, settlement.gross_minor.min(charged + refunded));
                } else {
                    prop_assert_eq!(parts, 0);
                }
            }
            for (account, balance) in &book.balances {
                let sum: i64 = book
                    .entries
                    .values()
                    .filter(|p| p.account.key() == *account)
                    .map(|p| p.amount_minor)
                    .sum();
                prop_assert_eq!(*balance, sum);
            }
        }
    }

    /// Splits add up exactly, no member gets a unit more than their exact share rounded up, and
    /// the fee is the gross's fee rounded down.
    #[test]
    fn splits_are_exact(
        gross in 0i64..10_000_000_000,
        fee_bps in 0u32..=10_000,
        bps in prop::collection::vec(0u32..10_000, 1..6),
    ) {
        prop_assume!(bps.iter().sum::<u32>() > 0);
        let members: Vec<(UserId, u32)> = bps.iter().map(|b| (UserId::generate(), *b)).collect();
        let split = crate::ledger::split(gross, fee_bps, &members);
        let shares: i64 = split.shares.iter().map(|(_, s)| s).sum();
        prop_assert_eq!(split.fee_minor + shares, gross);
        prop_assert_eq!(i128::from(split.fee_minor), i128::from(gross) * i128::from(fee_bps) / 10_000);
        let net = i128::from(gross - split.fee_minor);
        let total: i128 = bps.iter().map(|b| i128::from(*b)).sum();
        for ((_, share), b) in split.shares.iter().zip(&bps) {
            let exact_floor = net * i128::from(*b) / total;
            prop_assert!(i128::from(*share) == exact_floor || i128::from(*share) == exact_floor + 1);
        }
    }
}
