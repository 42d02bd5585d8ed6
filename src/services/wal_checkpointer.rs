//! Keeps SQLite's write-ahead log copied into the database file from beside the writer
//! (issue 18), so that the single writer connection, which every token request needs, no
//! longer stops to do it.
//!
//! Why: SQLite's automatic checkpoint runs in the connection whose commit takes the log past
//! 1,000 frames, here always the writer. With `synchronous = NORMAL` a commit does not
//! `fsync`, so the checkpoint's `fsync` of the log wrote out the 4 MB the commits since the
//! last one had left in the page cache, and every request queued behind it meanwhile. Run
//! from a read connection every few milliseconds, a `PASSIVE` checkpoint does that work while
//! the writer goes on; when the writer's automatic checkpoint comes, it finds the log almost
//! all copied, and restarts it as before (so the log stays about 4 MB). Durability is
//! SQLite's as before: who runs a checkpoint changes nothing of what a crash can lose.
//! Measured with `wrk` (8 connections, five paired rounds, events off, one build switching
//! it by an environment variable): `client_credentials` tokens/s from 3,116 to 3,549 (+14 %),
//! p99 from 6.6 to 5.0 ms. No `fsync` at all (`synchronous = OFF`, after which a power cut
//! can leave a corrupt file) had given +53 % in another set of runs: that is how the
//! checkpoint's `fsync` was found.

use crate::store::Store;
use std::time::Duration;

/// The pause between checkpoints while the log grows.
const BUSY_PAUSE: Duration = Duration::from_millis(5);

/// The longest pause, reached by doubling while nothing is written: an idle server checks
/// once a second.
const IDLE_PAUSE: Duration = Duration::from_secs(1);

/// Checkpoints `store`'s write-ahead log for as long as the process runs; returns at once on
/// PostgreSQL and for an in-memory database, which have none.
pub async fn run(store: Store) {
    let mut pause = BUSY_PAUSE;
    let mut frames_before = None;
    loop {
        tokio::time::sleep(pause).await;
        pause = match store.checkpoint_wal_passively().await {
            Ok(None) => return,
            Ok(Some(log)) => {
                let written = frames_before != Some(log.frames);
                frames_before = Some(log.frames);
                if log.busy || written || log.checkpointed < log.frames {
                    BUSY_PAUSE
                } else {
                    (pause * 2).min(IDLE_PAUSE)
                }
            }
            // The database is down or the pool is closing: the writer's own automatic
            // checkpoint still bounds the log, so try again later.
            Err(error) => {
                tracing::debug!(%error, "checkpointing the SQLite write-ahead log failed");
                IDLE_PAUSE
            }
        };
    }
}
