//! Half-open spans of real time as nanoseconds since the Unix epoch. The engine computes in
//! `i128` nanoseconds, where no sum of a few timestamps and durations can overflow, and turns
//! results back into [`jiff::Timestamp`]s at the edge.

use jiff::{SignedDuration, Timestamp};

use super::rules::Interval;

/// `[start, end)` in nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub start: i128,
    pub end: i128,
}

impl Span {
    pub fn new(start: i128, end: i128) -> Self {
        Self { start, end }
    }

    pub fn from_interval(interval: &Interval) -> Self {
        Self::new(nanos(interval.start), nanos(interval.end))
    }

    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }
}

pub(super) fn nanos(instant: Timestamp) -> i128 {
    instant.as_nanosecond()
}

pub(super) fn length(duration: SignedDuration) -> i128 {
    duration.as_nanos()
}

/// Sorts `spans` by start and makes them pairwise disjoint by cutting the front off any span
/// that starts inside its predecessor (dropping it if nothing is left). Spans that only touch
/// are kept apart, so each keeps its own start.
pub(super) fn disjoint(spans: &mut Vec<Span>) {
    spans.retain(|span| !span.is_empty());
    spans.sort_unstable_by_key(|span| (span.start, span.end));
    let mut reached = i128::MIN;
    spans.retain_mut(|span| {
        span.start = span.start.max(reached);
        reached = reached.max(span.end);
        !span.is_empty()
    });
}

/// The union of `spans` as sorted, disjoint spans; overlapping and touching spans are joined.
pub(super) fn union(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|span| !span.is_empty());
    spans.sort_unstable_by_key(|span| span.start);
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// Every non-empty `a ∩ b` for `a` in `left` and `b` in `right`, both sorted and disjoint; the
/// result is sorted and disjoint too.
pub(super) fn intersect(left: &[Span], right: &[Span]) -> Vec<Span> {
    let mut out = Vec::with_capacity(left.len().min(right.len()));
    let (mut i, mut j) = (0, 0);
    while let (Some(a), Some(b)) = (left.get(i), right.get(j)) {
        let common = Span::new(a.start.max(b.start), a.end.min(b.end));
        if !common.is_empty() {
            out.push(common);
        }
        if a.end <= b.end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(list: &[(i128, i128)]) -> Vec<Span> {
        list.iter().map(|&(s, e)| Span::new(s, e)).collect()
    }

    #[test]
    fn union_joins_overlapping_and_touching_spans() {
        let joined = union(spans(&[(5, 7), (0, 2), (2, 3), (6, 9), (10, 10), (11, 12)]));
        assert_eq!(joined, spans(&[(0, 3), (5, 9), (11, 12)]));
    }

    #[test]
    fn intersect_keeps_each_common_piece() {
        let common = intersect(&spans(&[(0, 10), (20, 30)]), &spans(&[(5, 25), (28, 40)]));
        assert_eq!(common, spans(&[(5, 10), (20, 25), (28, 30)]));
    }

    #[test]
    fn disjoint_cuts_overlaps_but_keeps_touching_spans_apart() {
        let mut list = spans(&[(10, 20), (0, 10), (15, 30), (16, 18)]);
        disjoint(&mut list);
        assert_eq!(list, spans(&[(0, 10), (10, 20), (20, 30)]));
    }
}
