//! Grants and the credentials that follow from them: redeeming codes, rotating refresh
//! tokens, recording access tokens, and revoking a whole family.

use super::{Store, StoreError, from_json, on_pool, on_writer};
use crate::oauth::access_token::AccessTokenClaims;
use crate::oauth::grant::{AccessTokenRecord, CodeGrant, RefreshGrant};

/// One approval by one user for one client.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub id: String,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub resources: Vec<String>,
    pub created_at: i64,
    pub flow_id: Option<String>,
}

pub(super) const INSERT_GRANT_SQL: &str = "INSERT INTO grants (id, client_id, subject, scope, \
                                           resources, created_at, flow_id) \
                                           VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub(super) const INSERT_ACCESS_TOKEN_SQL: &str = "INSERT INTO access_tokens (jti, grant_id, client_id, \
                                       issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)";

pub(super) const INSERT_REFRESH_TOKEN_SQL: &str = "INSERT INTO refresh_tokens (token_digest, \
                                                 grant_id, issued_at, expires_at) \
                                                 VALUES ($1, $2, $3, $4)";

#[derive(sqlx::FromRow)]
struct CodeGrantRow {
    grant_id: String,
    client_id: String,
    subject: String,
    scope: String,
    resources: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    approved_at: i64,
    expires_at: i64,
    redeemed_at: Option<i64>,
    revoked_at: Option<i64>,
    flow_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct RefreshGrantRow {
    grant_id: String,
    client_id: String,
    subject: String,
    scope: String,
    resources: String,
    issued_at: i64,
    expires_at: i64,
    rotated_at: Option<i64>,
    rotated_at_ms: Option<i64>,
    rotated_by: Option<String>,
    revoked_at: Option<i64>,
    flow_id: Option<String>,
}

/// What a rotation records besides the new tokens.
#[derive(Debug, Clone)]
pub struct Rotation<'a> {
    /// Now, in milliseconds, to tell how far apart two uses of the token were.
    pub now_ms: i64,
    /// The event id of the request that rotates the token, to name it if the token is
    /// used again.
    pub request_id: &'a str,
    /// The answer to this refresh, sealed, and until when a second use may read it
    /// (`refresh.reuse = "grace"`).
    pub successor: Option<(&'a str, i64)>,
    /// Whether a second use revokes the grant right here, atomically with finding out
    /// (`refresh.reuse = "strict"`); otherwise the caller decides.
    pub revoke_on_replay: bool,
}

/// Which single-use credential a spend is about.
enum Spend<'a> {
    Code,
    Refresh(&'a Rotation<'a>),
}

#[derive(Debug, Clone)]
pub struct NewAccessToken {
    pub jti: String,
    pub client_id: String,
    pub expires_at: i64,
}

impl NewAccessToken {
    /// The record of a signed access token.
    pub fn of(claims: &AccessTokenClaims) -> Self {
        NewAccessToken {
            jti: claims.jti.clone(),
            client_id: claims.client_id.clone(),
            expires_at: claims.exp,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_digest: String,
    pub expires_at: i64,
}

/// The tokens a successful redemption or rotation records.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access: NewAccessToken,
    pub refresh: Option<NewRefreshToken>,
}

/// The outcome of spending a single-use credential (a code or a refresh token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// This caller spent it; the new tokens are recorded.
    Issued,
    /// It had been spent before (or concurrently, by another caller): a replay. The grant
    /// has been revoked, unless the rotation said to leave that to the caller.
    Replayed,
    /// It expired, or its grant was revoked, between the caller's checks and the write.
    NoLongerValid,
}

impl Store {
    pub async fn code_grant(&self, code_digest: &str) -> Result<Option<CodeGrant>, StoreError> {
        const SQL: &str = "SELECT c.grant_id, g.client_id, g.subject, g.scope, g.resources, \
                           c.redirect_uri, c.code_challenge, c.nonce, \
                           g.created_at AS approved_at, c.expires_at, c.redeemed_at, \
                           g.revoked_at, g.flow_id FROM authorization_codes c \
                           JOIN grants g ON g.id = c.grant_id WHERE c.code_digest = $1";
        let row: Option<CodeGrantRow> = on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(code_digest)
            .fetch_optional(pool)
            .await)?;
        row.map(|row| {
            Ok(CodeGrant {
                resources: from_json("grants.resources", &row.resources)?,
                grant_id: row.grant_id,
                client_id: row.client_id,
                subject: row.subject,
                scope: row.scope,
                redirect_uri: row.redirect_uri,
                code_challenge: row.code_challenge,
                nonce: row.nonce,
                approved_at: row.approved_at,
                expires_at: row.expires_at,
                redeemed_at: row.redeemed_at,
                revoked_at: row.revoked_at,
                flow_id: row.flow_id,
            })
        })
        .transpose()
    }

    /// Redeems a code and records the tokens issued for it, atomically. The conditional
    /// update is the transaction's first statement, so it takes the write lock before it
    /// reads (SQLite) or waits on the row lock and re-checks (PostgreSQL): of any number of
    /// concurrent redemptions exactly one sees `Issued`.
    pub async fn redeem_code(
        &self,
        code_digest: &str,
        grant_id: &str,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Spent, StoreError> {
        self.spend_then_issue(Spend::Code, code_digest, grant_id, now, tokens)
            .await
    }

    pub async fn refresh_grant(
        &self,
        token_digest: &str,
    ) -> Result<Option<RefreshGrant>, StoreError> {
        const SQL: &str = "SELECT r.grant_id, g.client_id, g.subject, g.scope, g.resources, \
                           r.issued_at, r.expires_at, r.rotated_at, r.rotated_at_ms, \
                           r.rotated_by, g.revoked_at, g.flow_id \
                           FROM refresh_tokens r \
                           JOIN grants g ON g.id = r.grant_id WHERE r.token_digest = $1";
        let row: Option<RefreshGrantRow> = on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(token_digest)
            .fetch_optional(pool)
            .await)?;
        row.map(|row| {
            Ok(RefreshGrant {
                resources: from_json("grants.resources", &row.resources)?,
                grant_id: row.grant_id,
                client_id: row.client_id,
                subject: row.subject,
                scope: row.scope,
                issued_at: row.issued_at,
                expires_at: row.expires_at,
                rotated_at: row.rotated_at,
                rotated_at_ms: row.rotated_at_ms,
                rotated_by: row.rotated_by,
                revoked_at: row.revoked_at,
                flow_id: row.flow_id,
            })
        })
        .transpose()
    }

    /// Rotates a refresh token: marks it used (by whom, when) and records its successor,
    /// the new access token and, in grace mode, the sealed answer, atomically, with the
    /// same single-winner guarantee as [`Store::redeem_code`].
    pub async fn rotate_refresh_token(
        &self,
        token_digest: &str,
        grant_id: &str,
        now: i64,
        tokens: &IssuedTokens,
        rotation: &Rotation<'_>,
    ) -> Result<Spent, StoreError> {
        self.spend_then_issue(
            Spend::Refresh(rotation),
            token_digest,
            grant_id,
            now,
            tokens,
        )
        .await
    }

    /// The sealed answer to the refresh that spent the token with this digest, while it
    /// is kept (until `expires_at`) and the grant stands.
    pub async fn refresh_successor(
        &self,
        token_digest: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT s.sealed FROM refresh_successors s \
                           JOIN refresh_tokens r ON r.token_digest = s.token_digest \
                           JOIN grants g ON g.id = r.grant_id \
                           WHERE s.token_digest = $1 AND s.expires_at > $2 \
                           AND g.revoked_at IS NULL";
        Ok(on_pool!(self, pool => sqlx::query_scalar(SQL)
            .bind(token_digest)
            .bind(now)
            .fetch_optional(pool)
            .await)?)
    }

    /// Forgets at most `batch` sealed refresh answers whose grace period ended before
    /// `now`; returns how many.
    pub async fn sweep_refresh_successors(&self, now: i64, batch: i64) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM refresh_successors WHERE token_digest IN \
                           (SELECT token_digest FROM refresh_successors WHERE expires_at <= $1 \
                           LIMIT $2)";
        Ok(on_writer!(self, pool => sqlx::query(SQL)
            .bind(now)
            .bind(batch)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?)
    }

    /// Spends a code or a refresh token (an UPDATE of its single-use row, keyed by the
    /// digest) and, if that changed the row, records `tokens` in the same transaction. If
    /// it did not, finds out why: a row already spent is a replay and revokes the grant
    /// (OAuth 2.1 §4.1.3, §4.3.1), unless the rotation leaves that to the caller.
    async fn spend_then_issue(
        &self,
        spend: Spend<'_>,
        key: &str,
        grant_id: &str,
        now: i64,
        tokens: &IssuedTokens,
    ) -> Result<Spent, StoreError> {
        // The grant check is a correlated EXISTS, one primary-key lookup: `grant_id IN
        // (SELECT id FROM grants WHERE ...)` made SQLite scan every grant inside the write
        // lock (6.6 ms at 10,000 grants, 658 ms at a million; issue 18).
        const CODE_SQL: &str = "UPDATE authorization_codes SET redeemed_at = $2 \
                                WHERE code_digest = $1 AND redeemed_at IS NULL \
                                AND expires_at > $2 \
                                AND EXISTS (SELECT 1 FROM grants g \
                                WHERE g.id = authorization_codes.grant_id \
                                AND g.revoked_at IS NULL)";
        const ROTATE_SQL: &str = "UPDATE refresh_tokens SET rotated_at = $2, \
                                  rotated_at_ms = $3, rotated_by = $4 \
                                  WHERE token_digest = $1 AND rotated_at IS NULL \
                                  AND expires_at > $2 \
                                  AND EXISTS (SELECT 1 FROM grants g \
                                  WHERE g.id = refresh_tokens.grant_id \
                                  AND g.revoked_at IS NULL)";
        const SUCCESSOR_SQL: &str = "INSERT INTO refresh_successors (token_digest, sealed, \
                                     expires_at) VALUES ($1, $2, $3)";
        let spent = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let spent = match &spend {
                Spend::Code => sqlx::query(CODE_SQL).bind(key).bind(now),
                Spend::Refresh(rotation) => sqlx::query(ROTATE_SQL)
                    .bind(key)
                    .bind(now)
                    .bind(rotation.now_ms)
                    .bind(rotation.request_id),
            };
            let changed = spent.execute(&mut *tx).await?.rows_affected();
            if changed == 1 {
                sqlx::query(INSERT_ACCESS_TOKEN_SQL)
                    .bind(&tokens.access.jti)
                    .bind(grant_id)
                    .bind(&tokens.access.client_id)
                    .bind(now)
                    .bind(tokens.access.expires_at)
                    .execute(&mut *tx)
                    .await?;
                if let Some(refresh) = &tokens.refresh {
                    sqlx::query(INSERT_REFRESH_TOKEN_SQL)
                        .bind(&refresh.token_digest)
                        .bind(grant_id)
                        .bind(now)
                        .bind(refresh.expires_at)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Spend::Refresh(Rotation { successor: Some((sealed, until)), .. }) = &spend {
                    sqlx::query(SUCCESSOR_SQL)
                        .bind(key)
                        .bind(*sealed)
                        .bind(*until)
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
        // Lost the race or came too late. A spent row means a replay; anything else means
        // the code or token expired or its grant was revoked in the meantime.
        const SPENT_SQL: &str = "SELECT 1 FROM authorization_codes WHERE code_digest = $1 \
                                 AND redeemed_at IS NOT NULL UNION ALL \
                                 SELECT 1 FROM refresh_tokens WHERE token_digest = $1 \
                                 AND rotated_at IS NOT NULL";
        let replayed: Option<i32> = on_pool!(self, pool => sqlx::query_scalar(SPENT_SQL)
            .bind(key)
            .fetch_optional(pool)
            .await)?;
        if replayed.is_some() {
            let revoke = match spend {
                Spend::Code => true,
                Spend::Refresh(rotation) => rotation.revoke_on_replay,
            };
            if revoke {
                self.revoke_grant(grant_id, now).await?;
            }
            Ok(Spent::Replayed)
        } else {
            Ok(Spent::NoLongerValid)
        }
    }

    /// The flow and client of the authorization whose code carries `code_challenge`, if
    /// any: to tell a client that sent the verifier of another flow.
    pub async fn flow_of_challenge(
        &self,
        code_challenge: &str,
    ) -> Result<Option<(Option<String>, String)>, StoreError> {
        const SQL: &str = "SELECT g.flow_id, g.client_id FROM authorization_codes c \
                           JOIN grants g ON g.id = c.grant_id WHERE c.code_challenge = $1 \
                           ORDER BY c.expires_at DESC LIMIT 1";
        Ok(on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(code_challenge)
            .fetch_optional(pool)
            .await)?)
    }

    /// Revokes a grant and with it every code, refresh token and access token of its
    /// family: they are all checked against the grant's `revoked_at`.
    pub async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
        on_writer!(self, pool => sqlx::query(SQL)
            .bind(grant_id)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// The scope strings of the client's grants that are not revoked, oldest first: what
    /// it was granted before, so that the consent page can mark the scopes a step-up adds.
    pub async fn granted_scopes(&self, client_id: &str) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT scope FROM grants WHERE client_id = $1 AND revoked_at IS NULL \
                           ORDER BY created_at, id";
        let rows: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(client_id)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(|(scope,)| scope).collect())
    }

    /// Records an access token issued outside a grant (client credentials, minted tokens).
    pub async fn insert_access_token(
        &self,
        token: &NewAccessToken,
        grant_id: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(INSERT_ACCESS_TOKEN_SQL)
            .bind(&token.jti)
            .bind(grant_id)
            .bind(&token.client_id)
            .bind(now)
            .bind(token.expires_at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// An issued access token by `jti`, with its grant's revocation.
    pub async fn access_token(&self, jti: &str) -> Result<Option<AccessTokenRecord>, StoreError> {
        const SQL: &str = "SELECT a.client_id, a.grant_id, a.expires_at, a.revoked_at, \
                           g.revoked_at AS grant_revoked_at, g.flow_id FROM access_tokens a \
                           LEFT JOIN grants g ON g.id = a.grant_id WHERE a.jti = $1";
        let row: Option<AccessTokenRow> = on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(jti)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(|row| AccessTokenRecord {
            client_id: row.client_id,
            grant_id: row.grant_id,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            grant_revoked_at: row.grant_revoked_at,
            flow_id: row.flow_id,
        }))
    }

    /// Revokes one access token (RFC 7009 §2.1).
    pub async fn revoke_access_token(&self, jti: &str, now: i64) -> Result<(), StoreError> {
        const SQL: &str =
            "UPDATE access_tokens SET revoked_at = $2 WHERE jti = $1 AND revoked_at IS NULL";
        on_writer!(self, pool => sqlx::query(SQL)
            .bind(jti)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct AccessTokenRow {
    client_id: String,
    grant_id: Option<String>,
    expires_at: i64,
    revoked_at: Option<i64>,
    grant_revoked_at: Option<i64>,
    flow_id: Option<String>,
}
