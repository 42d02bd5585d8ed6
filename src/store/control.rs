//! What the control API does to the stored state (issue 14): revoke or expire every token of
//! a client, a user or a flow at once, and reset the database to what the configuration
//! declares.

use super::{Store, StoreError, on_writer};

/// Whose tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOwner {
    /// Every grant of the client and every access token issued to it (client credentials
    /// and minted tokens included).
    Client(String),
    /// Every grant the user approved, with its tokens.
    User(String),
    /// The grant of one authorization flow, with its tokens.
    Flow(String),
}

/// The statements that revoke or expire the tokens of one kind of owner (named by `$1`,
/// with `$2` the time), each a constant.
struct OwnerSql {
    revoke_access_tokens: &'static str,
    revoke_grants: &'static str,
    expire: [&'static str; 3],
}

/// `grants`: the owner's grants as a condition on `grants`; `access`: its access tokens as
/// a condition on `access_tokens`.
macro_rules! owner_sql {
    ($grants:literal, $access:literal) => {
        OwnerSql {
            revoke_access_tokens: concat!(
                "UPDATE access_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND ",
                $access
            ),
            revoke_grants: concat!(
                "UPDATE grants SET revoked_at = $2 WHERE revoked_at IS NULL AND ",
                $grants
            ),
            expire: [
                concat!(
                    "UPDATE authorization_codes SET expires_at = $2 WHERE expires_at > $2 ",
                    "AND redeemed_at IS NULL AND grant_id IN (SELECT id FROM grants WHERE ",
                    $grants,
                    ")"
                ),
                concat!(
                    "UPDATE refresh_tokens SET expires_at = $2 WHERE expires_at > $2 ",
                    "AND rotated_at IS NULL AND grant_id IN (SELECT id FROM grants WHERE ",
                    $grants,
                    ")"
                ),
                concat!(
                    "UPDATE access_tokens SET expires_at = $2 WHERE expires_at > $2 AND ",
                    $access
                ),
            ],
        }
    };
}

const OF_CLIENT: OwnerSql = owner_sql!("client_id = $1", "client_id = $1");
const OF_USER: OwnerSql = owner_sql!(
    "subject = $1",
    "grant_id IN (SELECT id FROM grants WHERE subject = $1)"
);
const OF_FLOW: OwnerSql = owner_sql!(
    "flow_id = $1",
    "grant_id IN (SELECT id FROM grants WHERE flow_id = $1)"
);

impl TokenOwner {
    fn sql(&self) -> (&'static OwnerSql, &str) {
        match self {
            TokenOwner::Client(id) => (&OF_CLIENT, id),
            TokenOwner::User(subject) => (&OF_USER, subject),
            TokenOwner::Flow(flow) => (&OF_FLOW, flow),
        }
    }
}

/// What a revocation or expiry changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TokensChanged {
    /// Grants revoked (with every code and refresh token of their family).
    pub grants: u64,
    /// Codes that expired.
    pub codes: u64,
    pub refresh_tokens: u64,
    pub access_tokens: u64,
}

/// What a reset removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub clients: u64,
    pub grants: u64,
    pub access_tokens: u64,
    pub events: u64,
}

impl Store {
    /// Revokes, at `now`, every grant of `owner` (and so its codes, refresh tokens and
    /// access tokens) and every access token of `owner` issued without a grant.
    pub async fn revoke_tokens_of(
        &self,
        owner: &TokenOwner,
        now: i64,
    ) -> Result<TokensChanged, StoreError> {
        let (sql, key) = owner.sql();
        let (grants, access_tokens) = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            // Access tokens first: their condition may go through the grants.
            let access_tokens = sqlx::query(sql.revoke_access_tokens)
                .bind(key)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let grants = sqlx::query(sql.revoke_grants)
                .bind(key)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            (grants, access_tokens)
        });
        Ok(TokensChanged {
            grants,
            access_tokens,
            ..TokensChanged::default()
        })
    }

    /// Makes every unspent code, unrotated refresh token and access token of `owner` expire
    /// at `now`, as if their time had come.
    pub async fn expire_tokens_of(
        &self,
        owner: &TokenOwner,
        now: i64,
    ) -> Result<TokensChanged, StoreError> {
        let (sql, key) = owner.sql();
        let mut changed = [0u64; 3];
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            for (statement, count) in sql.expire.into_iter().zip(&mut changed) {
                *count = sqlx::query(statement)
                    .bind(key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
        });
        Ok(TokensChanged {
            codes: changed[0],
            refresh_tokens: changed[1],
            access_tokens: changed[2],
            ..TokensChanged::default()
        })
    }

    /// Back to what the configuration declares: every grant with its codes and tokens,
    /// every pending consent, every used one-time JWT id and every event removed, and every
    /// client but those of the configuration file and `tollgate clients add`. Signing keys
    /// and the server settings stay.
    pub async fn reset_to_declared(&self) -> Result<Removed, StoreError> {
        const ACCESS_TOKENS: &str = "DELETE FROM access_tokens";
        const DEPENDENT: [&str; 4] = [
            "DELETE FROM authorization_codes",
            "DELETE FROM refresh_tokens",
            "DELETE FROM authorization_requests",
            "DELETE FROM used_jtis",
        ];
        const GRANTS: &str = "DELETE FROM grants";
        // 'seed' is what instances before migration 0004 called 'declared'.
        const CLIENTS: &str = "DELETE FROM clients WHERE source NOT IN ('declared', 'seed', 'cli')";
        const EVENTS: &str = "DELETE FROM events";
        let removed = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let access_tokens = sqlx::query(ACCESS_TOKENS)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            for statement in DEPENDENT {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            let grants = sqlx::query(GRANTS).execute(&mut *tx).await?.rows_affected();
            let clients = sqlx::query(CLIENTS).execute(&mut *tx).await?.rows_affected();
            let events = sqlx::query(EVENTS).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Removed {
                clients,
                grants,
                access_tokens,
                events,
            }
        });
        Ok(removed)
    }
}
