//! Request limits: per client IP for open registration (checklist DCR-9), and per client
//! for failed client authentication (SEC-2).

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A keyed token bucket; `None` inside when the limit is switched off (0 per minute).
pub struct RateLimiter<K: Hash + Eq + Clone = std::net::IpAddr> {
    inner: Option<DefaultKeyedRateLimiter<K>>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn per_minute(limit: u32) -> Self {
        RateLimiter {
            inner: NonZeroU32::new(limit)
                .map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from `key`'s budget, or says how many seconds until one is free.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        let Some(limiter) = &self.inner else {
            return Ok(());
        };
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()).as_secs().max(1))?;
        // Forget keys whose buckets are full again, so the map does not grow forever.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        Ok(())
    }
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for RateLimiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("enabled", &self.inner.is_some())
            .finish()
    }
}

/// Counts failed attempts per key (a client id) in a fixed one-minute window and refuses
/// further attempts once the key has used up its budget, whatever they present: guessing a
/// client secret then proceeds at most `limit` guesses a minute (checklist SEC-2). Only
/// failures count, so a busy client with the right secret is never slowed down.
pub struct FailureThrottle {
    limit: u32,
    failures: Mutex<HashMap<String, Window>>,
}

struct Window {
    started: Instant,
    count: u32,
}

const WINDOW: Duration = Duration::from_secs(60);

impl FailureThrottle {
    /// `limit` 0 switches throttling off.
    pub fn per_minute(limit: u32) -> Self {
        FailureThrottle {
            limit,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `key` may try again, if it has used up its budget.
    pub fn blocked(&self, key: &str) -> Option<u64> {
        if self.limit == 0 {
            return None;
        }
        let failures = self.lock();
        let window = failures.get(key)?;
        let elapsed = window.started.elapsed();
        (window.count >= self.limit && elapsed < WINDOW)
            .then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    pub fn record_failure(&self, key: &str) {
        if self.limit == 0 {
            return;
        }
        let mut failures = self.lock();
        // Forget finished windows now and then, so the map stays small.
        if failures.len() > 10_000 {
            failures.retain(|_, w| w.started.elapsed() < WINDOW);
        }
        let window = failures.entry(key.to_owned()).or_insert(Window {
            started: Instant::now(),
            count: 0,
        });
        if window.started.elapsed() >= WINDOW {
            *window = Window {
                started: Instant::now(),
                count: 0,
            };
        }
        window.count += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        // The map holds counters only; after a panic elsewhere it is still usable.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for FailureThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureThrottle")
            .field("limit", &self.limit)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_beyond_the_budget_block_the_key_only() {
        let throttle = FailureThrottle::per_minute(3);
        for _ in 0..3 {
            assert_eq!(throttle.blocked("a"), None);
            throttle.record_failure("a");
        }
        assert!(throttle.blocked("a").is_some_and(|s| (1..=60).contains(&s)));
        assert_eq!(throttle.blocked("b"), None);
    }

    #[test]
    fn zero_switches_it_off() {
        let throttle = FailureThrottle::per_minute(0);
        for _ in 0..100 {
            throttle.record_failure("a");
        }
        assert_eq!(throttle.blocked("a"), None);
    }
}
