//! Device authorizations (RFC 8628): issued, polled, decided on the verification page or
//! from the command line, and redeemed once for a grant and its tokens.

use super::grants::{
    INSERT_ACCESS_TOKEN_SQL, INSERT_GRANT_SQL, INSERT_REFRESH_TOKEN_SQL, IssuedTokens, NewGrant,
    Spent,
};
use super::{Store, StoreError, from_json, on_pool, on_writer, to_json};
use crate::oauth::device::{DeviceGrant, DeviceStatus};

#[derive(sqlx::FromRow)]
struct DeviceRow {
    device_code_digest: String,
    user_code: String,
    client_id: String,
    scope: String,
    resources: String,
    created_at: i64,
    expires_at: i64,
    poll_interval: i64,
    last_poll_at: Option<i64>,
    status: String,
    subject: Option<String>,
    decided_at: Option<i64>,
    flow_id: Option<String>,
}

macro_rules! device_columns {
    () => {
        "device_code_digest, user_code, client_id, scope, resources, created_at, expires_at, \
         poll_interval, last_poll_at, status, subject, decided_at, flow_id"
    };
}

impl TryFrom<DeviceRow> for DeviceGrant {
    type Error = StoreError;

    fn try_from(row: DeviceRow) -> Result<Self, StoreError> {
        Ok(DeviceGrant {
            resources: from_json("device_authorizations.resources", &row.resources)?,
            status: DeviceStatus::parse(&row.status).ok_or_else(|| {
                StoreError::Corrupt(format!("device_authorizations.status: '{}'", row.status))
            })?,
            device_code_digest: row.device_code_digest,
            user_code: row.user_code,
            client_id: row.client_id,
            scope: row.scope,
            created_at: row.created_at,
            expires_at: row.expires_at,
            interval: row.poll_interval,
            last_poll_at: row.last_poll_at,
            subject: row.subject,
            decided_at: row.decided_at,
            flow_id: row.flow_id,
        })
    }
}

/// The user's decision on a device authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDecision<'a> {
    Approve { subject: &'a str },
    Deny,
}

/// The page's CSRF token and browser cookie, by digest, that a decision must come with.
#[derive(Debug, Clone, Copy)]
pub struct PageBinding<'a> {
    pub csrf_digest: &'a str,
    pub browser_digest: &'a str,
}

impl Store {
    /// Records a new device authorization; false, changing nothing, when its user code is
    /// taken (the caller makes another).
    pub async fn insert_device_authorization(
        &self,
        grant: &DeviceGrant,
    ) -> Result<bool, StoreError> {
        const SQL: &str = concat!(
            "INSERT INTO device_authorizations (",
            device_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING"
        );
        let resources = to_json("device_authorizations.resources", &grant.resources)?;
        let inserted = on_writer!(self, pool => sqlx::query(SQL)
            .bind(&grant.device_code_digest)
            .bind(&grant.user_code)
            .bind(&grant.client_id)
            .bind(&grant.scope)
            .bind(&resources)
            .bind(grant.created_at)
            .bind(grant.expires_at)
            .bind(grant.interval)
            .bind(grant.last_poll_at)
            .bind(grant.status.as_str())
            .bind(&grant.subject)
            .bind(grant.decided_at)
            .bind(&grant.flow_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(inserted == 1)
    }

    /// The device authorization of a device code, by its digest.
    pub async fn device_grant(
        &self,
        device_code_digest: &str,
    ) -> Result<Option<DeviceGrant>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            device_columns!(),
            " FROM device_authorizations WHERE device_code_digest = $1"
        );
        let row: Option<DeviceRow> = on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(device_code_digest)
            .fetch_optional(pool)
            .await)?;
        row.map(DeviceGrant::try_from).transpose()
    }

    /// The device authorization of a user code (normalised).
    pub async fn device_grant_by_user_code(
        &self,
        user_code: &str,
    ) -> Result<Option<DeviceGrant>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            device_columns!(),
            " FROM device_authorizations WHERE user_code = $1"
        );
        let row: Option<DeviceRow> = on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(user_code)
            .fetch_optional(pool)
            .await)?;
        row.map(DeviceGrant::try_from).transpose()
    }

    /// Records a poll at `now` and the interval from now on (RFC 8628 §3.5).
    pub async fn record_device_poll(
        &self,
        device_code_digest: &str,
        now: i64,
        interval: i64,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE device_authorizations SET last_poll_at = $2, poll_interval = $3 \
                           WHERE device_code_digest = $1";
        on_writer!(self, pool => sqlx::query(SQL)
            .bind(device_code_digest)
            .bind(now)
            .bind(interval)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Binds a pending authorization to the verification page just shown: its decision must
    /// come with this page's CSRF token from this browser. False when it is no longer pending.
    pub async fn bind_device_page(
        &self,
        user_code: &str,
        binding: PageBinding<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE device_authorizations SET csrf_digest = $2, browser_digest = $3 \
                           WHERE user_code = $1 AND status = 'pending' AND expires_at > $4";
        let changed = on_writer!(self, pool => sqlx::query(SQL)
            .bind(user_code)
            .bind(binding.csrf_digest)
            .bind(binding.browser_digest)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(changed == 1)
    }

    /// Whether a verification form matches the page shown for a pending, unexpired
    /// authorization (its CSRF token, from its browser), without deciding anything: the
    /// page checks this before it spends an argon2 verification on a password.
    pub async fn device_page_matches(
        &self,
        user_code: &str,
        binding: PageBinding<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "SELECT 1 FROM device_authorizations WHERE user_code = $1 \
                           AND status = 'pending' AND expires_at > $2 AND csrf_digest = $3 \
                           AND browser_digest = $4";
        let found: Option<i32> = on_pool!(self, pool => sqlx::query_scalar(SQL)
            .bind(user_code)
            .bind(now)
            .bind(binding.csrf_digest)
            .bind(binding.browser_digest)
            .fetch_optional(pool)
            .await)?;
        Ok(found.is_some())
    }

    /// Records the user's decision on a pending, unexpired authorization, once: from the
    /// verification page (with its `binding`) or from the command line (`None`). Returns the
    /// decided authorization, or `None` when nothing matched.
    pub async fn decide_device(
        &self,
        user_code: &str,
        binding: Option<PageBinding<'_>>,
        decision: DeviceDecision<'_>,
        now: i64,
    ) -> Result<Option<DeviceGrant>, StoreError> {
        const SQL: &str = concat!(
            "UPDATE device_authorizations SET status = $2, subject = $3, decided_at = $4, \
             csrf_digest = NULL WHERE user_code = $1 AND status = 'pending' AND expires_at > $4 \
             AND ($5 OR (csrf_digest = $6 AND browser_digest = $7)) RETURNING ",
            device_columns!()
        );
        let (status, subject) = match decision {
            DeviceDecision::Approve { subject } => (DeviceStatus::Approved, Some(subject)),
            DeviceDecision::Deny => (DeviceStatus::Denied, None),
        };
        let row: Option<DeviceRow> = on_writer!(self, pool => sqlx::query_as(SQL)
            .bind(user_code)
            .bind(status.as_str())
            .bind(subject)
            .bind(now)
            .bind(binding.is_none())
            .bind(binding.map(|b| b.csrf_digest))
            .bind(binding.map(|b| b.browser_digest))
            .fetch_optional(pool)
            .await)?;
        row.map(DeviceGrant::try_from).transpose()
    }

    /// Redeems an approved device code: marks it redeemed and records the grant and its
    /// tokens in one transaction whose first statement is the conditional update, so of
    /// concurrent polls exactly one gets `Issued` (as `Store::redeem_code`).
    pub async fn redeem_device_code(
        &self,
        device_code_digest: &str,
        grant: &NewGrant,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Spent, StoreError> {
        const SPEND_SQL: &str = "UPDATE device_authorizations SET status = 'redeemed' \
                                 WHERE device_code_digest = $1 AND status = 'approved' \
                                 AND expires_at > $2";
        let resources = to_json("grants.resources", &grant.resources)?;
        let spent = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(SPEND_SQL)
                .bind(device_code_digest)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed == 1 {
                sqlx::query(INSERT_GRANT_SQL)
                    .bind(&grant.id)
                    .bind(&grant.client_id)
                    .bind(&grant.subject)
                    .bind(&grant.scope)
                    .bind(&resources)
                    .bind(grant.created_at)
                    .bind(&grant.flow_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(INSERT_ACCESS_TOKEN_SQL)
                    .bind(&tokens.access.jti)
                    .bind(&grant.id)
                    .bind(&tokens.access.client_id)
                    .bind(now)
                    .bind(tokens.access.expires_at)
                    .execute(&mut *tx)
                    .await?;
                if let Some(refresh) = &tokens.refresh {
                    sqlx::query(INSERT_REFRESH_TOKEN_SQL)
                        .bind(&refresh.token_digest)
                        .bind(&grant.id)
                        .bind(now)
                        .bind(refresh.expires_at)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                true
            } else {
                tx.rollback().await?;
                false
            }
        });
        if spent {
            return Ok(Spent::Issued);
        }
        Ok(match self.device_grant(device_code_digest).await? {
            Some(again) if again.status == DeviceStatus::Redeemed => Spent::Replayed,
            _ => Spent::NoLongerValid,
        })
    }

    /// Forgets at most `batch` device authorizations that expired before `now`.
    pub async fn sweep_device_authorizations(
        &self,
        now: i64,
        batch: i64,
    ) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM device_authorizations WHERE device_code_digest IN \
                           (SELECT device_code_digest FROM device_authorizations \
                           WHERE expires_at < $1 LIMIT $2)";
        Ok(on_writer!(self, pool => sqlx::query(SQL)
            .bind(now)
            .bind(batch)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?)
    }
}
