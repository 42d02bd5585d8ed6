//! Applies the clients a configuration file declares to the database, idempotently: a
//! restart with the same file changes nothing, an edited file updates what it declares and
//! removes the clients it no longer declares, and clients registered any other way are left
//! alone.

use crate::config::{ClientSeed, Config};
use crate::oauth::error::OAuthError;
use crate::secret::{hash_chosen_secret, is_argon2_hash, verify_chosen_secret};
use crate::store::{Client, ClientSource, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("client '{client_id}': {reason}")]
    Invalid { client_id: String, reason: String },
    #[error(
        "client '{0}' is declared in the configuration, but a client with that id was \
         registered another way; rename one of them"
    )]
    Taken(String),
    #[error("hashing a client secret failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What applying the file did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub written: usize,
    pub removed: usize,
}

pub async fn apply(store: &Store, config: &Config, now: i64) -> Result<Applied, SeedError> {
    let mut applied = Applied::default();
    for seed in &config.clients {
        let existing = store.client(&seed.client_id).await?;
        if existing
            .as_ref()
            .is_some_and(|c| c.source != ClientSource::Seed)
        {
            return Err(SeedError::Taken(seed.client_id.clone()));
        }
        let client = Client {
            client_id: seed.client_id.clone(),
            secret_digest: secret_digest(seed, existing.as_ref()).await?,
            registration_token_digest: None,
            metadata: seed
                .registration_request()
                .validate()
                .map_err(|e: OAuthError| SeedError::Invalid {
                    client_id: seed.client_id.clone(),
                    reason: e.description.into_owned(),
                })?,
            created_at: existing.as_ref().map_or(now, |c| c.created_at),
            source: ClientSource::Seed,
            policy: seed.policy(),
        };
        let unchanged = existing.as_ref().is_some_and(|old| {
            old.secret_digest == client.secret_digest
                && old.metadata == client.metadata
                && old.policy == client.policy
        });
        if unchanged {
            continue;
        }
        if !store.upsert_owned_client(&client).await? {
            return Err(SeedError::Taken(seed.client_id.clone()));
        }
        applied.written += 1;
    }
    for stale in store.clients_from(ClientSource::Seed).await? {
        if !config
            .clients
            .iter()
            .any(|c| c.client_id == stale.client_id)
        {
            store.delete_client(&stale.client_id).await?;
            applied.removed += 1;
        }
    }
    Ok(applied)
}

/// The stored form of a declared client's secret. A secret in clear is kept as an argon2
/// hash; when the stored hash already matches it, that hash is kept, so a restart rewrites
/// nothing (the check costs one argon2 verification per confidential client).
async fn secret_digest(
    seed: &ClientSeed,
    existing: Option<&Client>,
) -> Result<Option<String>, SeedError> {
    if let Some(hash) = &seed.secret_hash {
        return Ok(Some(hash.clone()));
    }
    let Some(secret) = &seed.secret else {
        return Ok(None);
    };
    let secret = secret.expose().to_owned();
    let stored = existing
        .and_then(|c| c.secret_digest.clone())
        .filter(|d| is_argon2_hash(d));
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) if verify_chosen_secret(&secret, &stored) => Ok(stored),
        _ => hash_chosen_secret(&secret),
    })
    .await
    .map_err(|e| SeedError::Hash(e.to_string()))?
    .map(Some)
    .map_err(SeedError::Hash)
}
