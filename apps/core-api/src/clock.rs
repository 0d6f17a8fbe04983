//! What time it is, as the services see it: the system clock when serving, a fixed one in a
//! test. Services ask [`AppState::clock`](crate::AppState) instead of `Timestamp::now()`, so a
//! rule that depends on time can be driven to any instant.

use std::sync::Arc;

use jiff::Timestamp;

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that always reads one instant.
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// The clock an app is built with: the system's.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_reads_its_instant_and_the_system_clock_moves_on() {
        let instant: Timestamp = "2026-03-29T00:30:00Z".parse().unwrap();
        assert_eq!(FixedClock(instant).now(), instant);
        let before = Timestamp::now();
        assert!(SystemClock.now() >= before);
    }
}
