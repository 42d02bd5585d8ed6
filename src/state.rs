//! Everything a request handler needs, in one value passed through axum's `State`. Nothing
//! is global, so several servers can run in one process (the test fixture relies on it).

use crate::cimd::DocumentFetcher;
use crate::clock::Clock;
use crate::config::{Config, User};
use crate::keys::KeyRing;
use crate::oauth::cimd::{self, DocumentUrl};
use crate::oauth::client::{Client, ClientPolicy, ClientSource};
use crate::oauth::error::OAuthError;
use crate::oauth::issuer::Issuer;
use crate::oauth::metadata::{Features, Metadata};
use crate::oauth::resource;
use crate::services::declarations::SecretsChecked;
use crate::services::throttle::{FailureThrottle, RateLimiter};
use crate::services::users::Users;
use crate::store::{Store, StoreError};
use bytes::Bytes;
use std::sync::Arc;

pub type AppState = Arc<App>;

#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub issuer: Issuer,
    pub store: Store,
    pub keys: KeyRing,
    pub clock: Arc<dyn Clock>,
    /// `dev` plus the configured users.
    pub users: Users,
    /// The audience of tokens requested without a `resource`.
    pub default_audience: String,
    /// The metadata documents, serialised once (they never change while running).
    pub oauth_metadata: Bytes,
    pub openid_metadata: Bytes,
    pub registration_limiter: RateLimiter,
    pub client_auth_throttle: FailureThrottle,
    /// Fetches Client ID Metadata Documents; `None` when they are switched off.
    pub cimd: Option<DocumentFetcher>,
    /// Whether the stored secrets of declared clients have been checked against the
    /// configuration since start-up (`crate::services::declarations`).
    pub declared_secrets: SecretsChecked,
}

/// Why a `client_id` does not lead to a usable client.
#[derive(Debug)]
pub enum ClientError {
    /// No such client.
    Unknown,
    /// Its metadata document could not be fetched or is invalid; the error says why.
    Document(OAuthError),
    Store(StoreError),
}

impl From<StoreError> for ClientError {
    fn from(error: StoreError) -> Self {
        ClientError::Store(error)
    }
}

impl App {
    pub fn new(
        mut config: Config,
        issuer: Issuer,
        store: Store,
        keys: KeyRing,
        clock: Arc<dyn Clock>,
        cimd: Option<DocumentFetcher>,
        declared_secrets: SecretsChecked,
    ) -> Self {
        let users = Users::new(config.all_users());
        // Secrets given in clear stay only where they are needed: passwords in `users`
        // (hashed soon after start), client secrets in the database (hashed by `seed`,
        // which keeps its own copy until it has checked the stored hashes).
        for user in &mut config.users {
            user.password = None;
        }
        for client in &mut config.clients {
            client.secret = None;
        }
        let features = Features {
            registration_open: config.registration.open,
            client_id_metadata_documents: cimd.is_some(),
            scopes: configured_scopes(&config),
        };
        let oauth_metadata = serialise(&Metadata::oauth(&issuer, &features));
        let openid_metadata = serialise(&Metadata::openid(&issuer, &features));
        let default_audience = resource::default_audience(&config.resources, issuer.as_str());
        let registration_limiter = RateLimiter::per_minute(config.registration.per_minute);
        let client_auth_throttle =
            FailureThrottle::per_minute(config.client_auth_failures_per_minute);
        App {
            users,
            config,
            issuer,
            store,
            keys,
            clock,
            default_audience,
            oauth_metadata,
            openid_metadata,
            registration_limiter,
            client_auth_throttle,
            cimd,
            declared_secrets,
        }
    }

    /// Whether `client_id` is the URL of a Client ID Metadata Document.
    pub fn is_document_client(&self, client_id: &str) -> bool {
        self.cimd.is_some()
            && cimd::is_document_url(client_id, self.config.cimd.allow_http_loopback)
    }

    /// The client a `client_id` names: a registered one from the store, or, for a URL, the
    /// one its metadata document describes.
    pub async fn client(&self, client_id: &str) -> Result<Client, ClientError> {
        let allow_http_loopback = self.config.cimd.allow_http_loopback;
        if let Some(fetcher) = &self.cimd {
            match cimd::classify(client_id, allow_http_loopback) {
                DocumentUrl::Yes => return self.document_client(fetcher, client_id).await,
                DocumentUrl::Invalid(why) => {
                    return Err(ClientError::Document(OAuthError::invalid_client(format!(
                        "client_id '{client_id}' is not a usable client identifier URL: {why}"
                    ))));
                }
                DocumentUrl::No => {}
            }
        }
        let client = self
            .store
            .client(client_id)
            .await?
            .ok_or(ClientError::Unknown)?;
        if client.source == ClientSource::Document {
            // Stored while document clients were accepted; the configuration now refuses
            // this URL, and a stored copy must not outlive that decision.
            let why = if self.cimd.is_none() {
                "this server does not accept Client ID Metadata Document clients \
                 (cimd.enabled is false)"
            } else {
                "this server accepts http metadata document URLs only with \
                 cimd.allow_http_loopback"
            };
            return Err(ClientError::Document(OAuthError::invalid_client(format!(
                "client_id '{client_id}' is a metadata document URL, and {why}"
            ))));
        }
        Ok(client)
    }

    /// The client a metadata document describes, fetched (or from the cache) and stored.
    ///
    /// Grants and pending requests refer to their client's row, so a document served from
    /// the cache must still have one. The row can go while the document is cached (`tollgate
    /// clients remove`, another instance), hence the check on a cache hit: one primary-key
    /// read, no write. A missing row is taken as "forget this client": the cached document
    /// is dropped, fetched again and stored again.
    async fn document_client(
        &self,
        fetcher: &DocumentFetcher,
        client_id: &str,
    ) -> Result<Client, ClientError> {
        let clock = self.clock.as_ref();
        let (mut metadata, mut fetched) = fetcher
            .metadata(client_id, clock)
            .await
            .map_err(ClientError::Document)?;
        if !fetched {
            match self.store.client_source(client_id).await? {
                Some(ClientSource::Document) => {}
                Some(_) => return Err(taken()),
                None => {
                    fetcher.forget(client_id);
                    (metadata, fetched) = fetcher
                        .metadata(client_id, clock)
                        .await
                        .map_err(ClientError::Document)?;
                }
            }
        }
        let client = Client {
            client_id: client_id.to_owned(),
            secret_digest: None,
            registration_token_digest: None,
            metadata,
            created_at: self.now(),
            source: ClientSource::Document,
            policy: ClientPolicy::default(),
        };
        if fetched && !self.store.upsert_owned_client(&client).await? {
            return Err(taken());
        }
        Ok(client)
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn user(&self, subject: &str) -> Option<&User> {
        self.users.get(subject)
    }
}

fn taken() -> ClientError {
    ClientError::Document(OAuthError::invalid_client(
        "this client id is taken by a client registered another way",
    ))
}

/// Every scope of every configured resource, for `scopes_supported`.
fn configured_scopes(config: &Config) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in config.resources.iter().flat_map(|r| r.scopes.iter()) {
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    scopes
}

fn serialise(metadata: &Metadata) -> Bytes {
    // A struct of strings and string lists always serialises.
    serde_json::to_vec(metadata).unwrap_or_default().into()
}
