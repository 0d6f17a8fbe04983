//! How long slot computation takes for the two shapes the API serves most: one influencer over
//! a month, and a five-member group gig over two months. Run with `cargo bench -p noillin-domain`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::civil::{Weekday, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use noillin_domain::availability::{
    AvailabilityRules, DayTime, Interval, LocalWindow, Override, Schedule, SlotQuery, SlotSettings,
    WeeklyRules, is_bookable, slots,
};

const START: &str = "2026-03-02T00:00:00Z";

fn instant(text: &str) -> Timestamp {
    text.parse().expect("a valid instant")
}

fn window(start: (u8, u8), end: (u8, u8)) -> LocalWindow {
    let time = |(h, m)| DayTime::new(h, m).expect("a valid time of day");
    LocalWindow::new(time(start), time(end))
}

/// Weekdays 09:00-13:00 and 14:00-18:00 (8 hours), Saturday mornings, Sundays off, shifted by
/// `shift` hours; one blocked date and one date with its own windows.
fn schedule(zone: &str, shift: u8, busy_count: usize, seed: u64) -> Schedule {
    let day = [
        window((9 + shift, 0), (13 + shift, 0)),
        window((14 + shift, 0), (18 + shift, 0)),
    ];
    let mut weekly = WeeklyRules::every_day(&day);
    *weekly.day_mut(Weekday::Saturday) = vec![window((9 + shift, 0), (12 + shift, 0))];
    weekly.day_mut(Weekday::Sunday).clear();
    let mut rules = AvailabilityRules {
        weekly,
        ..AvailabilityRules::default()
    };
    rules.overrides.insert(date(2026, 3, 11), Override::Blocked);
    rules.overrides.insert(
        date(2026, 3, 18),
        Override::Windows(vec![window((7, 0), (10, 30))]),
    );
    Schedule {
        time_zone: TimeZone::get(zone).expect("a bundled zone"),
        rules,
        busy: busy(busy_count, seed),
    }
}

/// `count` bookings of 30 to 120 minutes (buffers included) at pseudo-random quarter hours
/// over 60 days, in no particular order.
fn busy(count: usize, seed: u64) -> Vec<Interval> {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as i64
    };
    let start = instant(START);
    (0..count)
        .map(|_| {
            let at = start + SignedDuration::from_mins(15 * (next() % (60 * 96)));
            let length = SignedDuration::from_mins(30 + 15 * (next() % 7));
            Interval::new(at, at + length)
        })
        .collect()
}

fn settings() -> SlotSettings {
    SlotSettings {
        buffer_before: SignedDuration::from_mins(10),
        buffer_after: SignedDuration::from_mins(10),
        min_notice: SignedDuration::from_hours(2),
        horizon: SignedDuration::from_hours(90 * 24),
        max_per_day: Some(6),
        ..SlotSettings::new(SignedDuration::from_mins(30))
    }
}

fn slot_query<'a>(
    members: &'a [Schedule],
    settings: &'a SlotSettings,
    booked: &'a [Timestamp],
) -> SlotQuery<'a> {
    SlotQuery {
        members,
        settings,
        cap_zone: &members[0].time_zone,
        booked_starts: booked,
        now: instant(START),
    }
}

/// The end of `days` from the query's `now`, and the slots up to it, printed so that a run
/// shows what it measured.
fn slots_over(query: &SlotQuery<'_>, days: i64, label: &str) -> (Timestamp, Vec<Timestamp>) {
    let to = query.now + SignedDuration::from_hours(days * 24);
    let found = slots(query, query.now, to).expect("slots");
    println!("{label}, {days} days: {} slots", found.len());
    (to, found)
}

fn bench(c: &mut Criterion) {
    let now = instant(START);
    let settings = settings();
    let booked: Vec<Timestamp> = busy(40, 7).into_iter().map(|i| i.start).collect();

    let single = [schedule("Europe/Lisbon", 0, 200, 1)];
    let query = slot_query(&single, &settings, &booked);
    let (to, found) = slots_over(&query, 30, "single influencer");
    c.bench_function("single influencer, 30 days, 200 busy", |b| {
        b.iter(|| slots(black_box(&query), black_box(now), black_box(to)))
    });
    let probe = found[found.len() / 2];
    c.bench_function("is_bookable, single influencer", |b| {
        b.iter(|| is_bookable(black_box(&query), black_box(probe)))
    });

    // Five members across three zones whose working hours overlap for a few hours a day.
    let group = [
        schedule("Europe/Lisbon", 2, 120, 11),
        schedule("Europe/London", 2, 120, 12),
        schedule("Europe/Berlin", 3, 120, 13),
        schedule("America/New_York", 0, 120, 14),
        schedule("America/Sao_Paulo", 0, 120, 15),
    ];
    let query = slot_query(&group, &settings, &booked);
    let (to, _) = slots_over(&query, 60, "five-member group");
    c.bench_function("five-member group, 60 days, 600 busy", |b| {
        b.iter(|| slots(black_box(&query), black_box(now), black_box(to)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
