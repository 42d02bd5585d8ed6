//! Authorization requests waiting on the consent page, and the grant plus code made when the
//! user approves one.

use super::grants::NewGrant;
use super::{Store, StoreError, from_json, on_pool, on_writer, to_json};

#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub id: String,
    pub csrf_digest: String,
    pub browser_digest: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub scope: String,
    pub resources: Vec<String>,
    /// OpenID Connect `nonce`, for the ID token.
    pub nonce: Option<String>,
    pub expires_at: i64,
    /// The flow this request starts (the event log follows it).
    pub flow_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AuthorizationRequestRow {
    id: String,
    csrf_digest: String,
    browser_digest: String,
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: String,
    scope: String,
    resources: String,
    nonce: Option<String>,
    expires_at: i64,
    flow_id: Option<String>,
}

impl TryFrom<AuthorizationRequestRow> for AuthorizationRequest {
    type Error = StoreError;

    fn try_from(row: AuthorizationRequestRow) -> Result<Self, StoreError> {
        Ok(AuthorizationRequest {
            resources: from_json("authorization_requests.resources", &row.resources)?,
            id: row.id,
            csrf_digest: row.csrf_digest,
            browser_digest: row.browser_digest,
            client_id: row.client_id,
            redirect_uri: row.redirect_uri,
            state: row.state,
            code_challenge: row.code_challenge,
            scope: row.scope,
            nonce: row.nonce,
            expires_at: row.expires_at,
            flow_id: row.flow_id,
        })
    }
}

/// A new authorization code, stored by digest.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub code_digest: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub expires_at: i64,
}

/// The columns of `AuthorizationRequestRow`, for `concat!` into the queries below.
macro_rules! request_columns {
    () => {
        "id, csrf_digest, browser_digest, client_id, redirect_uri, state, code_challenge, \
         scope, resources, nonce, expires_at, flow_id"
    };
}

impl Store {
    pub async fn insert_authorization_request(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO authorization_requests (id, csrf_digest, browser_digest, \
                           client_id, redirect_uri, state, code_challenge, scope, resources, \
                           nonce, expires_at, flow_id) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
        let resources = to_json("authorization_requests.resources", &request.resources)?;
        on_writer!(self, pool => sqlx::query(SQL)
            .bind(&request.id)
            .bind(&request.csrf_digest)
            .bind(&request.browser_digest)
            .bind(&request.client_id)
            .bind(&request.redirect_uri)
            .bind(&request.state)
            .bind(&request.code_challenge)
            .bind(&request.scope)
            .bind(&resources)
            .bind(&request.nonce)
            .bind(request.expires_at)
            .bind(&request.flow_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Reads a pending request without consuming it.
    pub async fn authorization_request(
        &self,
        id: &str,
    ) -> Result<Option<AuthorizationRequest>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            request_columns!(),
            " FROM authorization_requests WHERE id = $1"
        );
        let row: Option<AuthorizationRequestRow> = on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        row.map(AuthorizationRequest::try_from).transpose()
    }

    /// Consumes a pending request if the CSRF token and browser binding match and it has
    /// not expired. Exactly one caller can take a request, so a double submit cannot make
    /// two codes.
    pub async fn take_authorization_request(
        &self,
        id: &str,
        csrf_digest: &str,
        browser_digest: &str,
        now: i64,
    ) -> Result<Option<AuthorizationRequest>, StoreError> {
        const SQL: &str = concat!(
            "DELETE FROM authorization_requests WHERE id = $1 AND csrf_digest = $2 \
             AND browser_digest = $3 AND expires_at > $4 RETURNING ",
            request_columns!()
        );
        let row: Option<AuthorizationRequestRow> = on_writer!(self, pool => sqlx::query_as(SQL)
            .bind(id)
            .bind(csrf_digest)
            .bind(browser_digest)
            .bind(now)
            .fetch_optional(pool)
            .await)?;
        row.map(AuthorizationRequest::try_from).transpose()
    }

    /// Records an approval: the grant and its authorization code, in one transaction.
    pub async fn insert_grant_with_code(
        &self,
        grant: &NewGrant,
        code: &NewCode,
    ) -> Result<(), StoreError> {
        const CODE_SQL: &str = "INSERT INTO authorization_codes (code_digest, grant_id, \
                                redirect_uri, code_challenge, nonce, expires_at) \
                                VALUES ($1, $2, $3, $4, $5, $6)";
        let resources = to_json("grants.resources", &grant.resources)?;
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(super::grants::INSERT_GRANT_SQL)
                .bind(&grant.id)
                .bind(&grant.client_id)
                .bind(&grant.subject)
                .bind(&grant.scope)
                .bind(&resources)
                .bind(grant.created_at)
                .bind(&grant.flow_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(CODE_SQL)
                .bind(&code.code_digest)
                .bind(&grant.id)
                .bind(&code.redirect_uri)
                .bind(&code.code_challenge)
                .bind(&code.nonce)
                .bind(code.expires_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
