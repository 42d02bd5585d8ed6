//! Applying the clients a configuration file declares to the database, idempotently: a
//! restart with the same file changes nothing, an edited file updates what it declares and
//! removes the clients it no longer declares, and clients registered any other way are left
//! alone.
//!
//! A secret declared in clear is stored as its argon2 hash. Whether the file still declares
//! the secret that hash was made from can only be known by an argon2 verification, which
//! costs tens of milliseconds per client: too slow to do before the server is ready, which
//! must take a few milliseconds on an existing database. So at start-up a stored hash is
//! kept as it is, and [`SecretCheck`] verifies it in the background once the server is
//! serving, rewriting the ones the file changed. Until it has finished, authentication of a
//! declared client waits for it ([`SecretsChecked::wait`]), so an old secret never works
//! after the file changed it, and a new one works from the first request.
//!
//! Rejected: storing beside the hash a fast fingerprint of the secret (SHA-256 with a salt,
//! or an HMAC keyed with a key kept in the same database). These secrets are chosen by
//! people, and whoever can read the database could test guesses against the fingerprint at
//! SHA-256 speed, which is exactly what argon2 is there to prevent.

use crate::config::{Config, DeclaredClient};
use crate::oauth::client::{Client, ClientSource};
use crate::oauth::error::OAuthError;
use crate::secret::{
    Secret, hash_chosen_secret, is_argon2_hash, verify_chosen_secret, with_argon2,
};
use crate::store::{Store, StoreError};
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum DeclarationError {
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

/// Writes the declared clients. Returns what it wrote and the check of the stored secret
/// hashes it kept without verifying them, to run once the server is up.
pub async fn apply(
    store: &Store,
    config: &Config,
    now: i64,
) -> Result<(Applied, SecretCheck), DeclarationError> {
    let mut applied = Applied::default();
    let mut check = SecretCheck::default();
    for declared in &config.clients {
        let existing = store.client(&declared.client_id).await?;
        if existing
            .as_ref()
            .is_some_and(|c| c.source != ClientSource::Declared)
        {
            return Err(DeclarationError::Taken(declared.client_id.clone()));
        }
        let client = Client {
            client_id: declared.client_id.clone(),
            secret_digest: secret_digest(declared, existing.as_ref(), &mut check).await?,
            registration_token_digest: None,
            metadata: declared
                .registration_request()
                .validate_under(config.registration.redirect_schemes)
                .map_err(|e: OAuthError| DeclarationError::Invalid {
                    client_id: declared.client_id.clone(),
                    reason: e.description.into_owned(),
                })?,
            created_at: existing.as_ref().map_or(now, |c| c.created_at),
            source: ClientSource::Declared,
            policy: declared.policy(),
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
            return Err(DeclarationError::Taken(declared.client_id.clone()));
        }
        applied.written += 1;
    }
    for stale in store.clients_from(ClientSource::Declared).await? {
        if !config
            .clients
            .iter()
            .any(|c| c.client_id == stale.client_id)
        {
            store.delete_client(&stale.client_id).await?;
            applied.removed += 1;
        }
    }
    Ok((applied, check))
}

/// The stored form of a declared client's secret. A secret in clear is kept as an argon2
/// hash. When an argon2 hash is stored already, it is kept for now and `check` will verify
/// it against the secret; only a client that had no such hash is hashed here (its first
/// start, or a public client made confidential).
async fn secret_digest(
    declared: &DeclaredClient,
    existing: Option<&Client>,
    check: &mut SecretCheck,
) -> Result<Option<String>, DeclarationError> {
    if let Some(hash) = &declared.secret_hash {
        return Ok(Some(hash.clone()));
    }
    let Some(secret) = &declared.secret else {
        return Ok(None);
    };
    let stored = existing
        .and_then(|c| c.secret_digest.clone())
        .filter(|d| is_argon2_hash(d));
    if let Some(stored) = stored {
        check.pending.push(Unverified {
            client_id: declared.client_id.clone(),
            secret: secret.clone(),
            stored: stored.clone(),
        });
        return Ok(Some(stored));
    }
    let secret = secret.clone();
    with_argon2(move || hash_chosen_secret(secret.expose()))
        .await
        .ok_or_else(|| DeclarationError::Hash("the hashing task panicked".to_owned()))?
        .map(Some)
        .map_err(DeclarationError::Hash)
}

/// Stored hashes of declared secrets that start-up kept without verifying.
#[derive(Debug, Default)]
pub struct SecretCheck {
    pending: Vec<Unverified>,
}

#[derive(Debug)]
struct Unverified {
    client_id: String,
    secret: Secret,
    stored: String,
}

impl SecretCheck {
    /// Starts the check on a background task; the returned value says when it is done.
    pub fn spawn(self, store: Store) -> SecretsChecked {
        if self.pending.is_empty() {
            return SecretsChecked::done();
        }
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let outcome = match self.run(&store).await {
                Ok(0) => true,
                Ok(rewritten) => {
                    tracing::info!(rewritten, "stored the changed secrets of declared clients");
                    true
                }
                Err(error) => {
                    tracing::error!(%error, "checking the secrets of declared clients failed");
                    false
                }
            };
            let _ = tx.send(Some(outcome));
        });
        SecretsChecked(rx)
    }

    /// Verifies each kept hash and replaces the ones that no longer match; returns how many
    /// it replaced.
    pub async fn run(self, store: &Store) -> Result<usize, DeclarationError> {
        let mut rewritten = 0;
        for unverified in self.pending {
            let Unverified {
                client_id,
                secret,
                stored,
            } = unverified;
            let check = stored.clone();
            let replacement = with_argon2(move || {
                if verify_chosen_secret(secret.expose(), &check) {
                    Ok(None)
                } else {
                    hash_chosen_secret(secret.expose()).map(Some)
                }
            })
            .await
            .ok_or_else(|| DeclarationError::Hash("the hashing task panicked".to_owned()))?
            .map_err(DeclarationError::Hash)?;
            if let Some(hash) = replacement {
                // Conditional on the hash it checked: if another instance replaced it
                // meanwhile, that one is just as current.
                if store
                    .replace_declared_secret(&client_id, &stored, &hash)
                    .await?
                {
                    rewritten += 1;
                }
            }
        }
        Ok(rewritten)
    }
}

/// Whether the background [`SecretCheck`] has finished: `None` while it runs, then whether
/// it succeeded.
#[derive(Debug, Clone)]
pub struct SecretsChecked(watch::Receiver<Option<bool>>);

/// The check could not finish (the database failed); the server log says why.
#[derive(Debug, thiserror::Error)]
#[error("the secrets of the declared clients could not be checked against the database")]
pub struct CheckFailed;

impl SecretsChecked {
    /// Nothing to check.
    pub fn done() -> Self {
        let (_, rx) = watch::channel(Some(true));
        SecretsChecked(rx)
    }

    pub fn is_done(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// Waits until the check has finished.
    pub async fn wait(&self) -> Result<(), CheckFailed> {
        let mut rx = self.0.clone();
        match rx.wait_for(Option::is_some).await.map(|state| *state) {
            Ok(Some(true)) => Ok(()),
            _ => Err(CheckFailed),
        }
    }
}
