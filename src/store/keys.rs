//! Signing keys.

use super::{Store, StoreError, on_pool, on_writer};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    pub private_key_pem: String,
    pub active: bool,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl Store {
    /// The active key and every retired key still inside its grace period (retired at or
    /// after `retired_since`), newest first.
    pub async fn published_keys(&self, retired_since: i64) -> Result<Vec<StoredKey>, StoreError> {
        const SQL: &str = "SELECT kid, private_key_pem, active, created_at, retired_at \
                           FROM signing_keys WHERE active OR retired_at >= $1 \
                           ORDER BY created_at DESC, kid";
        Ok(on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(retired_since)
            .fetch_all(pool)
            .await)?)
    }

    /// Stores `key` as the active key unless one is active already; returns whether it was
    /// stored. The unique index on the active key makes this race-free: of several instances
    /// starting at once, exactly one key wins and the others read it back.
    pub async fn insert_first_active_key(
        &self,
        kid: &str,
        private_key_pem: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO signing_keys (kid, private_key_pem, active, created_at) \
                           VALUES ($1, $2, TRUE, $3) ON CONFLICT DO NOTHING";
        let result = on_writer!(self, pool => sqlx::query(SQL)
            .bind(kid)
            .bind(private_key_pem)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(result == 1)
    }

    /// Every key, newest first (for `tollgate keys list`).
    pub async fn all_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        const SQL: &str = "SELECT kid, private_key_pem, active, created_at, retired_at \
                           FROM signing_keys ORDER BY created_at DESC, kid";
        Ok(on_pool!(self, pool => sqlx::query_as(SQL).fetch_all(pool).await)?)
    }

    /// Retires the active key `current_kid` and makes the new key active, atomically.
    /// Returns false, changing nothing, if `current_kid` is no longer the active key (another
    /// instance rotated first), so concurrent rotations cannot retire two keys at once.
    pub async fn rotate_signing_key(
        &self,
        current_kid: &str,
        new_kid: &str,
        new_private_key_pem: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        const RETIRE_SQL: &str = "UPDATE signing_keys SET active = FALSE, retired_at = $2 \
                                  WHERE kid = $1 AND active";
        const INSERT_SQL: &str = "INSERT INTO signing_keys (kid, private_key_pem, active, \
                                  created_at) VALUES ($1, $2, TRUE, $3)";
        let rotated = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let retired = sqlx::query(RETIRE_SQL)
                .bind(current_kid)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if retired == 1 {
                sqlx::query(INSERT_SQL)
                    .bind(new_kid)
                    .bind(new_private_key_pem)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                true
            } else {
                tx.rollback().await?;
                false
            }
        });
        Ok(rotated)
    }
}
