//! Time, injectable so that tests can expire codes and tokens without waiting, and movable
//! forward on a running server ([`ServerClock`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;

    /// Milliseconds since the Unix epoch, for ordering events within a second.
    fn now_millis(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that stands still until it is told to move: for tests.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
}

impl ManualClock {
    /// Starts at the current system time.
    pub fn new() -> Self {
        ManualClock {
            now: Arc::new(AtomicI64::new(SystemClock.now())),
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// The server's clock: another clock (the system's, or a test's [`ManualClock`]) plus an
/// offset that the control API moves forward (`POST /_tollgate/api/clock`), so that codes,
/// tokens, consent forms and cached documents expire as if the time had passed, and new
/// tokens carry the moved time. Every part of a server reads this one clock.
#[derive(Debug)]
pub struct ServerClock {
    base: Arc<dyn Clock>,
    offset_ms: AtomicI64,
}

impl ServerClock {
    pub fn new(base: Arc<dyn Clock>) -> Self {
        ServerClock {
            base,
            offset_ms: AtomicI64::new(0),
        }
    }

    /// Moves the clock forward by `by`; returns the new offset from the base clock.
    pub fn advance(&self, by: Duration) -> Duration {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let before = self
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |offset| {
                Some(offset.saturating_add(by))
            })
            .unwrap_or_default();
        millis(before.saturating_add(by))
    }

    /// How far ahead of the base clock this clock is.
    pub fn offset(&self) -> Duration {
        millis(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Back to the base clock's time.
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::SeqCst);
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Clock for ServerClock {
    fn now(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    fn now_millis(&self) -> i64 {
        self.base
            .now_millis()
            .saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_clock_is_its_base_plus_an_offset() {
        let base = ManualClock::new();
        let clock = ServerClock::new(Arc::new(base.clone()));
        assert_eq!(clock.now(), base.now());
        assert_eq!(
            clock.advance(Duration::from_secs(600)),
            Duration::from_secs(600)
        );
        assert_eq!(clock.now(), base.now() + 600);
        assert_eq!(clock.now_millis(), (base.now() + 600) * 1000);
        // The base still moves it too.
        base.advance(5);
        assert_eq!(clock.now(), base.now() + 600);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.offset(), Duration::from_millis(601_500));
        assert_eq!(clock.now(), base.now() + 601);
        clock.reset();
        assert_eq!(clock.now(), base.now());
        assert_eq!(clock.offset(), Duration::ZERO);
    }
}
