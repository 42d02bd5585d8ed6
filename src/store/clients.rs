//! Registered clients.

use super::{Store, StoreError, from_json, on_pool, on_writer, to_json};
use crate::oauth::client::{Client, ClientMetadata, ClientPolicy, ClientSource};

#[derive(sqlx::FromRow)]
struct ClientRow {
    client_id: String,
    secret_digest: Option<String>,
    registration_token_digest: Option<String>,
    metadata: String,
    created_at: i64,
    source: String,
    policy: Option<String>,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        Ok(Client {
            metadata: from_json("clients.metadata", &row.metadata)?,
            policy: match row.policy {
                Some(policy) => from_json("clients.policy", &policy)?,
                None => ClientPolicy::default(),
            },
            source: parse_source(&row.source)?,
            client_id: row.client_id,
            secret_digest: row.secret_digest,
            registration_token_digest: row.registration_token_digest,
            created_at: row.created_at,
        })
    }
}

/// The columns of `ClientRow`, for `concat!` into the queries below.
macro_rules! client_columns {
    () => {
        "client_id, secret_digest, registration_token_digest, metadata, created_at, source, \
         policy"
    };
}

/// The `policy` column: NULL for the default policy.
fn policy_json(client: &Client) -> Result<Option<String>, StoreError> {
    if client.policy == ClientPolicy::default() {
        return Ok(None);
    }
    to_json("clients.policy", &client.policy).map(Some)
}

fn parse_source(text: &str) -> Result<ClientSource, StoreError> {
    text.parse()
        .map_err(|()| StoreError::Corrupt(format!("clients.source: '{text}'")))
}

impl Store {
    pub async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO clients (client_id, secret_digest, \
                           registration_token_digest, metadata, created_at, source, policy) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let metadata = to_json("clients.metadata", &client.metadata)?;
        let policy = policy_json(client)?;
        on_writer!(self, pool => sqlx::query(SQL)
            .bind(&client.client_id)
            .bind(&client.secret_digest)
            .bind(&client.registration_token_digest)
            .bind(&metadata)
            .bind(client.created_at)
            .bind(client.source.as_str())
            .bind(&policy)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        // No client id holds a control character, and PostgreSQL text cannot hold NUL (the
        // query would fail): such an id names no client, whatever the caller was given.
        if client_id.chars().any(char::is_control) {
            return Ok(None);
        }
        const SQL: &str = concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE client_id = $1"
        );
        let row: Option<ClientRow> = on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(client_id)
            .fetch_optional(pool)
            .await)?;
        row.map(Client::try_from).transpose()
    }

    /// Who made the client with this id, if there is one: a primary-key read, for callers
    /// that hold a client's metadata already and only need to know its row is still there.
    pub async fn client_source(&self, client_id: &str) -> Result<Option<ClientSource>, StoreError> {
        if client_id.chars().any(char::is_control) {
            return Ok(None);
        }
        const SQL: &str = "SELECT source FROM clients WHERE client_id = $1";
        let source: Option<String> = on_pool!(self, pool => sqlx::query_scalar(SQL)
            .bind(client_id)
            .fetch_optional(pool)
            .await)?;
        source.as_deref().map(parse_source).transpose()
    }

    /// Clients made by `source`, oldest first.
    pub async fn clients_from(&self, source: ClientSource) -> Result<Vec<Client>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE source = $1 ORDER BY created_at, client_id"
        );
        let rows: Vec<ClientRow> = on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(source.as_str())
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    /// Writes a client that `client.source` owns (the configuration file, or a metadata
    /// document): inserts it, or updates it if that source made it. Returns false, changing
    /// nothing, when a client of another source has the id.
    pub async fn upsert_owned_client(&self, client: &Client) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO clients (client_id, secret_digest, \
                           registration_token_digest, metadata, created_at, source, policy) \
                           VALUES ($1, $2, NULL, $3, $4, $5, $6) \
                           ON CONFLICT (client_id) DO UPDATE SET \
                           secret_digest = excluded.secret_digest, \
                           metadata = excluded.metadata, policy = excluded.policy \
                           WHERE clients.source = excluded.source";
        let metadata = to_json("clients.metadata", &client.metadata)?;
        let policy = policy_json(client)?;
        let changed = on_writer!(self, pool => sqlx::query(SQL)
            .bind(&client.client_id)
            .bind(&client.secret_digest)
            .bind(&metadata)
            .bind(client.created_at)
            .bind(client.source.as_str())
            .bind(&policy)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(changed == 1)
    }

    /// Replaces the stored secret of a client declared in the configuration file, if it is
    /// still `current`; returns whether it did.
    pub async fn replace_declared_secret(
        &self,
        client_id: &str,
        current: &str,
        replacement: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE clients SET secret_digest = $3 \
                           WHERE client_id = $1 AND source = 'declared' AND secret_digest = $2";
        let changed = on_writer!(self, pool => sqlx::query(SQL)
            .bind(client_id)
            .bind(current)
            .bind(replacement)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(changed == 1)
    }

    /// Replaces a dynamically registered client's registration access token, and its
    /// metadata when given (RFC 7592 §2.2), if `current` is still the token's digest. The
    /// token is rotated on every read and update (RFC 7592 §5), so of two requests made with
    /// one token only the first succeeds. Returns whether it did.
    pub async fn rotate_registration_token(
        &self,
        client_id: &str,
        current: &str,
        next: &str,
        metadata: Option<&ClientMetadata>,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE clients \
                           SET registration_token_digest = $3, metadata = COALESCE($4, metadata) \
                           WHERE client_id = $1 AND registration_token_digest = $2";
        let metadata = metadata
            .map(|metadata| to_json("clients.metadata", metadata))
            .transpose()?;
        let changed = on_writer!(self, pool => sqlx::query(SQL)
            .bind(client_id)
            .bind(current)
            .bind(next)
            .bind(&metadata)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(changed == 1)
    }

    /// Deletes a client with everything issued to it: its grants go by cascade (and with
    /// them codes, refresh tokens and their access tokens), its grant-less access tokens
    /// explicitly. Returns whether it existed.
    pub async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        const TOKENS_SQL: &str = "DELETE FROM access_tokens WHERE client_id = $1";
        const CLIENT_SQL: &str = "DELETE FROM clients WHERE client_id = $1";
        let deleted = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(TOKENS_SQL).bind(client_id).execute(&mut *tx).await?;
            let deleted = sqlx::query(CLIENT_SQL)
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            deleted
        });
        Ok(deleted == 1)
    }

    /// Every client, oldest first (for `tollgate clients list`).
    pub async fn all_clients(&self) -> Result<Vec<Client>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients ORDER BY created_at, client_id"
        );
        let rows: Vec<ClientRow> = on_pool!(self, pool => sqlx::query_as(SQL)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Client::try_from).collect()
    }
}
