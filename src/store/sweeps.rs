//! Deleting what has expired (issue 20): each method deletes at most one bounded batch,
//! found through an index (migration 0009), so that the caller can yield between batches
//! and a sweep never holds SQLite's write lock for long. What must outlive its expiry, and
//! for how long, is the caller's `cutoff`; see `services::sweeper`.

use super::{Backend, SqliteWriter, Store, StoreError, on_pool, on_writer};

/// Where a walk through the grants stands: the last grant looked at, in `(created_at, id)`
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantCursor {
    created_at: i64,
    id: String,
}

impl GrantCursor {
    /// Before every grant.
    pub fn start() -> Self {
        GrantCursor {
            created_at: i64::MIN,
            id: String::new(),
        }
    }
}

impl Store {
    /// Deletes at most `batch` pending consent requests that expired before `now`; returns
    /// how many. An expired request can no longer be approved (`take_authorization_request`),
    /// and the consent page says the same of a missing one, so none is kept longer.
    pub async fn sweep_authorization_requests(
        &self,
        now: i64,
        batch: i64,
    ) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM authorization_requests WHERE id IN \
                           (SELECT id FROM authorization_requests WHERE expires_at < $1 \
                           LIMIT $2)";
        Ok(on_writer!(self, pool => sqlx::query(SQL)
            .bind(now)
            .bind(batch)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?)
    }

    /// Deletes at most `batch` access token records that expired before `cutoff`. A JWT past
    /// its `exp` is refused whether or not its record exists, so only the explanation of a
    /// refusal (expired rather than unknown) depends on the record.
    pub async fn sweep_access_tokens(&self, cutoff: i64, batch: i64) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM access_tokens WHERE jti IN \
                           (SELECT jti FROM access_tokens WHERE expires_at < $1 LIMIT $2)";
        Ok(on_writer!(self, pool => sqlx::query(SQL)
            .bind(cutoff)
            .bind(batch)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?)
    }

    /// Looks at the next `batch` grants created before `cutoff` after `after`, and deletes
    /// those whose whole family ended before `cutoff`: no code, refresh token (rotated or
    /// not) or access token of the grant expires at or after it. Deleting the grant deletes
    /// the family (`ON DELETE CASCADE`). So a rotated refresh token stays, and a second use
    /// of it is still recognised as a replay (and revokes the family), for as long as any
    /// token of its family lives; and a redeemed code likewise.
    ///
    /// Returns how many grants were deleted and where the next page starts, or `None` when
    /// this page was the last. The page is read first (no write lock), then deleted by
    /// range in one statement that touches at most `batch` grants.
    pub async fn sweep_grants_page(
        &self,
        after: &GrantCursor,
        cutoff: i64,
        batch: i64,
    ) -> Result<(u64, Option<GrantCursor>), StoreError> {
        const LAST_OF_PAGE_SQL: &str = "SELECT created_at, id FROM grants \
                                        WHERE created_at >= $1 AND (created_at > $1 OR id > $2) \
                                        AND created_at < $3 \
                                        ORDER BY created_at, id LIMIT 1 OFFSET $4";
        const DELETE_SQL: &str = "DELETE FROM grants \
            WHERE created_at >= $1 AND (created_at > $1 OR id > $2) \
            AND created_at <= $3 AND (created_at < $3 OR id <= $4) AND created_at < $5 \
            AND NOT EXISTS (SELECT 1 FROM refresh_tokens r \
                WHERE r.grant_id = grants.id AND r.expires_at >= $5) \
            AND NOT EXISTS (SELECT 1 FROM access_tokens a \
                WHERE a.grant_id = grants.id AND a.expires_at >= $5) \
            AND NOT EXISTS (SELECT 1 FROM authorization_codes c \
                WHERE c.grant_id = grants.id AND c.expires_at >= $5)";
        let last: Option<(i64, String)> = on_pool!(self, pool => sqlx::query_as(LAST_OF_PAGE_SQL)
            .bind(after.created_at)
            .bind(&after.id)
            .bind(cutoff)
            .bind(batch.max(1) - 1)
            .fetch_optional(pool)
            .await)?;
        // Fewer than `batch` grants are left: this page runs to the cutoff.
        let (upto, next) = match last {
            Some((created_at, id)) => {
                let cursor = GrantCursor { created_at, id };
                (cursor.clone(), Some(cursor))
            }
            None => (
                GrantCursor {
                    created_at: cutoff,
                    id: String::new(),
                },
                None,
            ),
        };
        let deleted = on_writer!(self, pool => sqlx::query(DELETE_SQL)
            .bind(after.created_at)
            .bind(&after.id)
            .bind(upto.created_at)
            .bind(&upto.id)
            .bind(cutoff)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok((deleted, next))
    }

    /// SQLite only: when the write-ahead log is larger than `above` bytes, checkpoints it
    /// and truncates it to nothing; returns its size before. Under steady concurrent
    /// writers SQLite's automatic checkpoints rarely reach the end of the log, which then
    /// never restarts and grows without bound (387 MB beside a 14 MB database, issue 18);
    /// a `TRUNCATE` checkpoint waits for the readers of the moment and restarts it.
    pub async fn checkpoint_wal_above(&self, above: u64) -> Result<Option<u64>, StoreError> {
        let (Backend::Sqlite { write, .. }, Some(wal)) = (&self.backend, &self.wal_path) else {
            return Ok(None);
        };
        let size = match std::fs::metadata(wal) {
            Ok(metadata) => metadata.len(),
            Err(_) => return Ok(None),
        };
        if size <= above {
            return Ok(None);
        }
        // (busy, frames in the log, frames checkpointed); busy = 1 when a reader or writer
        // kept it from finishing, which the next sweep retries.
        let (busy, frames, checkpointed): (i64, i64, i64) = {
            let mut connection = write.lock().await?;
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(SqliteWriter::open(&mut connection)?)
                .await?
        };
        if busy != 0 {
            tracing::debug!(
                wal_bytes = size,
                frames,
                checkpointed,
                "the WAL checkpoint could not finish (readers or a writer were busy); retried \
                 at the next sweep"
            );
            return Ok(None);
        }
        Ok(Some(size))
    }

    /// SQLite only: copies the frames of the write-ahead log into the database file without
    /// waiting for readers or the writer (a `PASSIVE` checkpoint), on a read connection, so
    /// that its two `fsync`s never hold the single writer. `None` on PostgreSQL and for an
    /// in-memory database, which have no such log.
    pub async fn checkpoint_wal_passively(&self) -> Result<Option<WalProgress>, StoreError> {
        let (Backend::Sqlite { read: pool, .. }, Some(_)) = (&self.backend, &self.wal_path) else {
            return Ok(None);
        };
        // A checkpoint changes no content, only the file it is kept in, so a `query_only`
        // connection may run it.
        let (busy, frames, checkpointed): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(pool)
                .await?;
        Ok(Some(WalProgress {
            // Another checkpoint (the writer's own, or the sweeper's) was running.
            busy: busy != 0,
            frames,
            checkpointed,
        }))
    }

    /// The size of the SQLite write-ahead log in bytes (0 when there is none), for the
    /// soak script and the log; `None` on PostgreSQL.
    pub fn wal_size(&self) -> Option<u64> {
        let wal = self.wal_path.as_ref()?;
        Some(std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0))
    }
}

/// Where a passive checkpoint left SQLite's write-ahead log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalProgress {
    /// Another checkpoint was running, so this one did nothing.
    pub busy: bool,
    /// Frames in the log (-1 when busy).
    pub frames: i64,
    /// Of them, frames now in the database file (-1 when busy).
    pub checkpointed: i64,
}
