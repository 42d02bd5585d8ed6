//! Per-key request limits (per client IP for open registration, checklist DCR-9).

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::hash::Hash;
use std::num::NonZeroU32;

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
