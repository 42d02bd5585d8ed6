//! Request limits: per client IP for open registration (checklist DCR-9), and per client
//! for failed client authentication (SEC-2).

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

tokio::task_local! {
    /// The address of the peer whose request is being handled (set by the HTTP layer).
    static REQUESTER: Option<std::net::IpAddr>;
}

/// Runs `work` as the handling of a request from `requester`.
pub async fn as_requested_by<F: std::future::Future>(
    requester: Option<std::net::IpAddr>,
    work: F,
) -> F::Output {
    REQUESTER.scope(requester, work).await
}

/// The address of the peer whose request is being handled; `None` outside a request (the
/// CLI, background tasks, the in-process fixture's own calls).
pub fn requester() -> Option<std::net::IpAddr> {
    REQUESTER.try_with(|requester| *requester).ok().flatten()
}

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

/// Counts failed attempts per key (a client or a user) in a fixed one-minute window and
/// refuses further attempts once the key has used up its budget, whatever they present:
/// guessing a secret then proceeds at most `limit` guesses a minute (checklist SEC-2). Only
/// failures count, so a busy client with the right secret is never slowed down.
///
/// Every attempt is counted *before* the secret is checked and refunded if it was right.
/// Checking first and counting afterwards would let parallel guesses all pass the check
/// while a slow (argon2) verification is still running.
pub struct FailureThrottle {
    limit: u32,
    failures: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

const WINDOW: Duration = Duration::from_secs(60);

/// What a throttled attempt is about. Clients and users have separate budgets even when a
/// client id looks like a user name.
#[derive(Debug, Clone, Copy)]
pub enum Attempted<'a> {
    ClientSecret(&'a str),
    UserPassword(&'a str),
    /// User codes typed on the device verification page, per source address (RFC 8628 §5.1).
    UserCode(&'a str),
}

impl Attempted<'_> {
    fn key(self) -> String {
        match self {
            Attempted::ClientSecret(client_id) => format!("client:{client_id}"),
            Attempted::UserPassword(subject) => format!("user:{subject}"),
            Attempted::UserCode(source) => format!("user_code:{source}"),
        }
    }
}

/// An attempt that has been counted as a failure until `succeeded` refunds it.
#[must_use = "call succeeded() when the secret was right, or the attempt counts as a failure"]
pub struct Attempt<'a> {
    throttle: &'a FailureThrottle,
    key: Option<(String, Instant)>,
}

impl Attempt<'_> {
    pub fn succeeded(self) {
        let Some((key, started)) = self.key else {
            return;
        };
        let mut failures = self.throttle.lock();
        if let Some(window) = failures.get_mut(&key) {
            if window.started == started {
                window.count = window.count.saturating_sub(1);
            }
        }
    }
}

impl FailureThrottle {
    /// `limit` 0 switches throttling off.
    pub fn per_minute(limit: u32) -> Self {
        FailureThrottle {
            limit,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt, or says in how many seconds the key may try again if it has used
    /// up its budget.
    pub fn attempt(&self, attempted: Attempted<'_>) -> Result<Attempt<'_>, u64> {
        if self.limit == 0 {
            return Ok(Attempt {
                throttle: self,
                key: None,
            });
        }
        let key = attempted.key();
        let now = Instant::now();
        let mut failures = self.lock();
        // Forget finished windows now and then, so the map stays small.
        if failures.len() > 10_000 {
            failures.retain(|_, w| w.started.elapsed() < WINDOW);
        }
        let window = failures.entry(key.clone()).or_insert(Window {
            started: now,
            count: 0,
        });
        let elapsed = now.saturating_duration_since(window.started);
        if elapsed >= WINDOW {
            *window = Window {
                started: now,
                count: 0,
            };
        } else if window.count >= self.limit {
            return Err((WINDOW - elapsed).as_secs().max(1));
        }
        window.count += 1;
        Ok(Attempt {
            throttle: self,
            key: Some((key, window.started)),
        })
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
            let _failed = throttle.attempt(Attempted::ClientSecret("a")).unwrap();
        }
        let retry = throttle.attempt(Attempted::ClientSecret("a")).err();
        assert!(retry.is_some_and(|s| (1..=60).contains(&s)));
        assert!(throttle.attempt(Attempted::ClientSecret("b")).is_ok());
        // A user named like the client has a budget of its own.
        assert!(throttle.attempt(Attempted::UserPassword("a")).is_ok());
    }

    #[test]
    fn successes_are_refunded() {
        let throttle = FailureThrottle::per_minute(2);
        for _ in 0..10 {
            throttle
                .attempt(Attempted::ClientSecret("a"))
                .unwrap()
                .succeeded();
        }
        assert!(throttle.attempt(Attempted::ClientSecret("a")).is_ok());
    }

    #[test]
    fn attempts_in_flight_count_against_the_budget() {
        let throttle = FailureThrottle::per_minute(2);
        let first = throttle.attempt(Attempted::ClientSecret("a")).unwrap();
        let second = throttle.attempt(Attempted::ClientSecret("a")).unwrap();
        assert!(throttle.attempt(Attempted::ClientSecret("a")).is_err());
        first.succeeded();
        assert!(throttle.attempt(Attempted::ClientSecret("a")).is_ok());
        drop(second);
    }

    #[test]
    fn zero_switches_it_off() {
        let throttle = FailureThrottle::per_minute(0);
        for _ in 0..100 {
            let _failed = throttle.attempt(Attempted::ClientSecret("a")).unwrap();
        }
        assert!(throttle.attempt(Attempted::ClientSecret("a")).is_ok());
    }
}
