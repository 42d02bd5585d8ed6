//! JWTs that may be used once (client assertions, identity assertions): the first use wins,
//! across instances.

use super::{Store, StoreError, on_writer};

impl Store {
    /// Records the use of the JWT `jti` from `issuer`, kept until `expires_at`. Returns
    /// false, changing nothing, when it was used before: a replay.
    pub async fn first_use_of_jti(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        if issuer.chars().chain(jti.chars()).any(char::is_control) {
            return Ok(false);
        }
        const SQL: &str = "INSERT INTO used_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3) \
                           ON CONFLICT DO NOTHING";
        let inserted = on_writer!(self, pool => sqlx::query(SQL)
            .bind(issuer)
            .bind(jti)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(inserted == 1)
    }

    /// Forgets at most `batch` used JWTs that expired before `now`; returns how many.
    pub async fn sweep_used_jtis(&self, now: i64, batch: i64) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM used_jtis WHERE (issuer, jti) IN \
                           (SELECT issuer, jti FROM used_jtis WHERE expires_at < $1 LIMIT $2)";
        Ok(on_writer!(self, pool => sqlx::query(SQL)
            .bind(now)
            .bind(batch)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?)
    }
}
