//! Per-socket limits on what a client sends: an event rate limit for every event, and a
//! throttle on `typing` per conversation. Pure code over a millisecond clock the caller passes,
//! so tests need no sleeps; the node reads [`now_ms`].

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    sync::LazyLock,
    time::Instant,
};

/// Events per second a socket may send on average. A chat client sends a `typing` at most every
/// [`TYPING_INTERVAL_MS`] per conversation and asks for presence now and then; ten a second is
/// far above any honest client and still cheap for the node (each event costs a Redis round
/// trip).
pub const EVENTS_PER_SECOND: f32 = 10.0;

/// Events a socket may send at once after a quiet spell: a client that reconnects asks for the
/// presence of its contacts and resends typing for open conversations in one go.
pub const EVENT_BURST: f32 = 20.0;

/// At most one `typing` per socket and conversation in this many milliseconds; extra ones are
/// dropped. Clients show "typing…" for a few seconds after each one, so more would add nothing.
pub const TYPING_INTERVAL_MS: u64 = 2_000;

/// How many conversations a socket's throttle remembers. A client types in one conversation at
/// a time; one that cycles through more loses only the throttle on the oldest, and the event
/// rate limit still bounds it.
const TYPING_SLOTS: usize = 4;

/// The node's clock: milliseconds since the process first read it.
pub fn now_ms() -> u64 {
    static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
    u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A token bucket: [`EVENT_BURST`] tokens, refilled at [`EVENTS_PER_SECOND`].
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f32,
    refilled_at_ms: u64,
}

impl TokenBucket {
    pub fn full(now_ms: u64) -> Self {
        Self {
            tokens: EVENT_BURST,
            refilled_at_ms: now_ms,
        }
    }

    /// Takes a token for one event; false when there is none (the socket exceeds the rate).
    pub fn take(&mut self, now_ms: u64) -> bool {
        let elapsed_ms = now_ms.saturating_sub(self.refilled_at_ms);
        // Precision does not matter past a full bucket; the cast cannot lose a whole token.
        let refill = (elapsed_ms.min(60_000) as f32) * EVENTS_PER_SECOND / 1_000.0;
        self.tokens = (self.tokens + refill).min(EVENT_BURST);
        self.refilled_at_ms = self.refilled_at_ms.max(now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// When a socket last had a `typing` forwarded, for its few latest conversations. Conversations
/// are kept as 64-bit hashes of their ids: a collision would only throttle a conversation too
/// much, for two seconds, for this one socket.
#[derive(Debug, Clone, Default)]
pub struct TypingThrottle {
    /// (conversation hash, last forwarded ms); empty slots have a time of `None`.
    slots: [(u64, Option<u64>); TYPING_SLOTS],
}

impl TypingThrottle {
    /// Whether a `typing` for `conversation_id` may go out now; if so, it counts as sent.
    pub fn allow(&mut self, conversation_id: &str, now_ms: u64) -> bool {
        let hash = {
            let mut hasher = DefaultHasher::new();
            conversation_id.hash(&mut hasher);
            hasher.finish()
        };
        if let Some(slot) = self
            .slots
            .iter_mut()
            .find(|(h, at)| at.is_some() && *h == hash)
        {
            let last = slot.1.unwrap_or_default();
            if now_ms.saturating_sub(last) < TYPING_INTERVAL_MS {
                return false;
            }
            slot.1 = Some(now_ms);
            return true;
        }
        // A new conversation takes an empty slot, or the one used longest ago.
        let oldest = self
            .slots
            .iter_mut()
            .min_by_key(|(_, at)| *at)
            .expect("there are slots");
        *oldest = (hash, Some(now_ms));
        true
    }
}

/// Everything a socket's limits keep.
#[derive(Debug, Clone)]
pub struct SocketLimits {
    pub events: TokenBucket,
    pub typing: TypingThrottle,
}

impl SocketLimits {
    pub fn new(now_ms: u64) -> Self {
        Self {
            events: TokenBucket::full(now_ms),
            typing: TypingThrottle::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_a_burst_through_then_the_steady_rate() {
        let mut bucket = TokenBucket::full(0);
        for i in 0..20 {
            assert!(bucket.take(0), "event {i} of the burst");
        }
        assert!(!bucket.take(0), "the burst is spent");
        assert!(!bucket.take(50), "half a token after 50 ms");
        assert!(bucket.take(100), "one token after 100 ms");
        assert!(!bucket.take(100));

        // Ten events a second, evenly spaced, go through forever.
        for i in 1..=100 {
            assert!(bucket.take(100 + i * 100), "steady event {i}");
        }
    }

    #[test]
    fn a_quiet_bucket_refills_to_the_burst_and_no_further() {
        let mut bucket = TokenBucket::full(0);
        for _ in 0..20 {
            bucket.take(0);
        }
        let later = 3_600_000;
        let allowed = (0..100).filter(|_| bucket.take(later)).count();
        assert_eq!(allowed, 20);
    }

    #[test]
    fn a_clock_read_out_of_order_neither_refills_nor_panics() {
        let mut bucket = TokenBucket::full(1_000);
        for _ in 0..20 {
            bucket.take(1_000);
        }
        assert!(!bucket.take(500));
        assert!(!bucket.take(1_000));
        assert!(bucket.take(1_100));
    }

    #[test]
    fn typing_goes_out_once_per_interval_per_conversation() {
        let mut throttle = TypingThrottle::default();
        assert!(throttle.allow("c1", 0));
        assert!(!throttle.allow("c1", 1));
        assert!(!throttle.allow("c1", 1_999));
        assert!(throttle.allow("c2", 500), "another conversation is apart");
        assert!(throttle.allow("c1", 2_000));
        assert!(!throttle.allow("c1", 3_999));
        assert!(!throttle.allow("c2", 2_499));
        assert!(throttle.allow("c2", 2_500));
    }

    #[test]
    fn the_throttle_forgets_the_conversation_used_longest_ago() {
        let mut throttle = TypingThrottle::default();
        for (i, conversation) in ["c1", "c2", "c3", "c4"].into_iter().enumerate() {
            assert!(throttle.allow(conversation, i as u64));
        }
        // Four are remembered: each is throttled.
        for conversation in ["c1", "c2", "c3", "c4"] {
            assert!(!throttle.allow(conversation, 10));
        }
        // A fifth takes the place of c1, the oldest.
        assert!(throttle.allow("c5", 10));
        assert!(!throttle.allow("c2", 11));
        assert!(throttle.allow("c1", 11), "c1 was forgotten");
    }
}
