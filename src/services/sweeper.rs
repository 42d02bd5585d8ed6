//! The sweeper (issue 20): deletes every row that has expired, a batch at a time, yielding
//! between batches so that a sweep never holds SQLite's write lock for long, and keeps
//! SQLite's write-ahead log bounded.
//!
//! What stays past its expiry, and why:
//! - a grant, with its codes, refresh tokens and access token records, until every one of
//!   them expired `sweep.grace` ago: a rotated refresh token or a redeemed code presented
//!   again is a replay and revokes the family (OAuth 2.1 §4.3.1, §4.1.3) only while its row
//!   exists, and a revoked grant's tokens are answered "revoked" from it;
//! - an access token's record, for `sweep.grace` (a JWT past `exp` is refused anyway; the
//!   record only lets the refusal say "expired" rather than "unknown");
//! - events, for `events.retention`;
//! - used JWT ids until their JWT expires (a replay before then must be refused);
//! - the sealed answers to refreshes for `refresh.grace_period`.
//!
//! Pending consent requests and device authorizations go as soon as they expire: neither
//! can be used after that, and nothing else refers to them.

use crate::config::SweepConfig;
use crate::store::{GrantCursor, Store, StoreError};
use std::future::Future;

/// How many rows one sweep deleted, by kind, and the WAL size it truncated from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub authorization_requests: u64,
    pub access_tokens: u64,
    pub grants: u64,
    pub device_authorizations: u64,
    pub used_jtis: u64,
    pub refresh_answers: u64,
    pub events: u64,
    /// The size of SQLite's write-ahead log before it was checkpointed and truncated.
    pub wal_truncated_from: Option<u64>,
}

impl Swept {
    pub fn rows(&self) -> u64 {
        self.authorization_requests
            + self.access_tokens
            + self.grants
            + self.device_authorizations
            + self.used_jtis
            + self.refresh_answers
            + self.events
    }
}

pub struct Sweeper {
    store: Store,
    config: SweepConfig,
    events_retention_ms: i64,
}

impl Sweeper {
    pub fn new(store: Store, config: SweepConfig, events_retention: std::time::Duration) -> Self {
        Sweeper {
            store,
            config,
            events_retention_ms: i64::try_from(events_retention.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// One sweep at `now` (seconds) and `now_ms` (the event clock). A failure is logged
    /// once per kind of row and does not stop the rest.
    pub async fn sweep(&self, now: i64, now_ms: i64) -> Swept {
        let batch = i64::from(self.config.batch.max(1));
        let grace = i64::try_from(self.config.grace.as_secs()).unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(grace);
        let store = &self.store;
        let mut swept = Swept {
            authorization_requests: in_batches("consent requests", batch, || {
                store.sweep_authorization_requests(now, batch)
            })
            .await,
            access_tokens: in_batches("access token records", batch, || {
                store.sweep_access_tokens(cutoff, batch)
            })
            .await,
            grants: self.sweep_grants(cutoff, batch).await,
            device_authorizations: in_batches("device authorizations", batch, || {
                store.sweep_device_authorizations(now, batch)
            })
            .await,
            used_jtis: in_batches("used JWT ids", batch, || store.sweep_used_jtis(now, batch))
                .await,
            refresh_answers: in_batches("refresh answers kept for a grace period", batch, || {
                store.sweep_refresh_successors(now, batch)
            })
            .await,
            events: in_batches("events", batch, || {
                store.sweep_events(now_ms.saturating_sub(self.events_retention_ms), batch)
            })
            .await,
            wal_truncated_from: None,
        };
        let above = self.config.wal_checkpoint_mib.saturating_mul(1024 * 1024);
        match store.checkpoint_wal_above(above).await {
            Ok(truncated) => swept.wal_truncated_from = truncated,
            Err(error) => tracing::warn!(%error, "checkpointing the SQLite write-ahead log failed"),
        }
        swept
    }

    /// Walks the grants created before `cutoff`, a page at a time.
    async fn sweep_grants(&self, cutoff: i64, batch: i64) -> u64 {
        let mut cursor = GrantCursor::start();
        let mut deleted = 0;
        loop {
            match self.store.sweep_grants_page(&cursor, cutoff, batch).await {
                Ok((count, next)) => {
                    deleted += count;
                    match next {
                        Some(next) => cursor = next,
                        None => return deleted,
                    }
                    tokio::task::yield_now().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "sweeping expired grants failed");
                    return deleted;
                }
            }
        }
    }
}

/// Runs `batch` until it deletes fewer than `size` rows, yielding in between.
async fn in_batches<F, Fut>(what: &str, size: i64, mut batch: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let full = u64::try_from(size).unwrap_or(u64::MAX);
    let mut total = 0;
    loop {
        match batch().await {
            Ok(swept) => {
                total += swept;
                if swept < full {
                    return total;
                }
                tokio::task::yield_now().await;
            }
            Err(error) => {
                tracing::warn!(%error, "sweeping expired {what} failed");
                return total;
            }
        }
    }
}
