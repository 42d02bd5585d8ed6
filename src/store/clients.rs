//! Registered clients.

use super::{Store, StoreError, from_json, on_pool, to_json};
use crate::oauth::client::ClientMetadata;

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    /// Digest of the client secret (see `crate::secret`); `None` for public clients.
    pub secret_digest: Option<String>,
    /// Digest of the RFC 7592 registration access token, for dynamically registered clients.
    pub registration_token_digest: Option<String>,
    pub metadata: ClientMetadata,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    client_id: String,
    secret_digest: Option<String>,
    registration_token_digest: Option<String>,
    metadata: String,
    created_at: i64,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        Ok(Client {
            metadata: from_json("clients.metadata", &row.metadata)?,
            client_id: row.client_id,
            secret_digest: row.secret_digest,
            registration_token_digest: row.registration_token_digest,
            created_at: row.created_at,
        })
    }
}

impl Store {
    pub async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO clients (client_id, secret_digest, \
                           registration_token_digest, metadata, created_at) \
                           VALUES ($1, $2, $3, $4, $5)";
        let metadata = to_json("clients.metadata", &client.metadata)?;
        on_pool!(self, pool => sqlx::query(SQL)
            .bind(&client.client_id)
            .bind(&client.secret_digest)
            .bind(&client.registration_token_digest)
            .bind(&metadata)
            .bind(client.created_at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        const SQL: &str = "SELECT client_id, secret_digest, registration_token_digest, \
                           metadata, created_at FROM clients WHERE client_id = $1";
        let row: Option<ClientRow> = on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(client_id)
            .fetch_optional(pool)
            .await)?;
        row.map(Client::try_from).transpose()
    }

    /// Replaces a client's metadata (RFC 7592 §2.2).
    pub async fn update_client_metadata(
        &self,
        client_id: &str,
        metadata: &ClientMetadata,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE clients SET metadata = $2 WHERE client_id = $1";
        let metadata = to_json("clients.metadata", metadata)?;
        on_pool!(self, pool => sqlx::query(SQL)
            .bind(client_id)
            .bind(&metadata)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Deletes a client with everything issued to it: its grants go by cascade (and with
    /// them codes, refresh tokens and their access tokens), its grant-less access tokens
    /// explicitly.
    pub async fn delete_client(&self, client_id: &str) -> Result<(), StoreError> {
        const TOKENS_SQL: &str = "DELETE FROM access_tokens WHERE client_id = $1";
        const CLIENT_SQL: &str = "DELETE FROM clients WHERE client_id = $1";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(TOKENS_SQL).bind(client_id).execute(&mut *tx).await?;
            sqlx::query(CLIENT_SQL).bind(client_id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Stores (or refreshes) the client behind a Client ID Metadata Document, so that its
    /// grants can refer to it like to any other client.
    pub async fn upsert_document_client(&self, client: &Client) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO clients (client_id, secret_digest, \
                           registration_token_digest, metadata, created_at) \
                           VALUES ($1, NULL, NULL, $2, $3) \
                           ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata";
        let metadata = to_json("clients.metadata", &client.metadata)?;
        on_pool!(self, pool => sqlx::query(SQL)
            .bind(&client.client_id)
            .bind(&metadata)
            .bind(client.created_at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(())
    }
}
