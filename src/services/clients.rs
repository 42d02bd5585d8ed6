//! Which client a `client_id` names: a registered one from the store, or, for a Client
//! Identifier URL, the one its metadata document describes (fetched, cached and stored).

use super::cimd::DocumentFetcher;
use super::cimd::document::{DocumentUrl, classify, is_document_url};
use super::events;
use crate::clock::Clock;
use crate::oauth::client::{Client, ClientMetadata, ClientPolicy, ClientSource};
use crate::oauth::error::OAuthError;
use crate::oauth::event::EventType;
use crate::oauth::hints;
use crate::oauth::rules;
use crate::store::{Store, StoreError};
use std::sync::Arc;

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

/// Finds clients.
#[derive(Debug)]
pub struct Clients {
    store: Store,
    clock: Arc<dyn Clock>,
    /// Fetches Client ID Metadata Documents; `None` when they are switched off.
    documents: Option<DocumentFetcher>,
    /// `cimd.allow_http_loopback`: `http` document URLs on loopback hosts count too.
    allow_http_loopback: bool,
}

impl Clients {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        documents: Option<DocumentFetcher>,
        allow_http_loopback: bool,
    ) -> Self {
        Clients {
            store,
            clock,
            documents,
            allow_http_loopback,
        }
    }

    /// Forgets every cached metadata document (a reset of the control API).
    pub fn forget_documents(&self) {
        if let Some(documents) = &self.documents {
            documents.forget_all();
        }
    }

    /// Whether metadata document clients are accepted at all (`cimd.enabled`).
    pub fn accepts_documents(&self) -> bool {
        self.documents.is_some()
    }

    /// Whether `client_id` is the URL of a Client ID Metadata Document.
    pub fn is_document_client(&self, client_id: &str) -> bool {
        self.documents.is_some() && is_document_url(client_id, self.allow_http_loopback)
    }

    /// What a `client_id` that names no client most likely meant.
    pub fn unknown_client_hint(&self, client_id: &str) -> Option<String> {
        hints::unknown_client(
            client_id,
            self.documents.is_some(),
            self.allow_http_loopback,
        )
    }

    /// The client a `client_id` names: a registered one from the store, or, for a URL, the
    /// one its metadata document describes.
    pub async fn find(&self, client_id: &str) -> Result<Client, ClientError> {
        if let Some(fetcher) = &self.documents {
            match classify(client_id, self.allow_http_loopback) {
                DocumentUrl::Yes => return self.document_client(fetcher, client_id).await,
                DocumentUrl::Invalid(why) => {
                    return Err(ClientError::Document(
                        OAuthError::invalid_client(format!(
                            "client_id '{client_id}' is not a usable client identifier URL: {why}"
                        ))
                        .rule(&rules::CIMD_1),
                    ));
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
            let why = if self.documents.is_none() {
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
        let (mut metadata, mut fetched) = fetch_recorded(fetcher, client_id, clock).await?;
        if !fetched {
            match self.store.client_source(client_id).await? {
                Some(ClientSource::Document) => {}
                Some(_) => return Err(taken()),
                None => {
                    fetcher.forget(client_id);
                    (metadata, fetched) = fetch_recorded(fetcher, client_id, clock).await?;
                }
            }
        }
        let client = Client {
            client_id: client_id.to_owned(),
            secret_digest: None,
            registration_token_digest: None,
            metadata,
            created_at: clock.now(),
            source: ClientSource::Document,
            policy: ClientPolicy::default(),
        };
        if fetched && !self.store.upsert_owned_client(&client).await? {
            return Err(taken());
        }
        Ok(client)
    }
}

/// A document from the cache or the network; a fetch, and its failure, go into the event
/// log (CIMD-4, CIMD-7: a document that cannot be used aborts the authorization).
async fn fetch_recorded(
    fetcher: &DocumentFetcher,
    client_id: &str,
    clock: &dyn Clock,
) -> Result<(ClientMetadata, bool), ClientError> {
    match fetcher.metadata(client_id, clock).await {
        Ok((metadata, fetched)) => {
            if let Some(ignored) = &fetched {
                events::step(EventType::DocumentFetch, |event| {
                    event.client_id = Some(client_id.to_owned());
                    event.detail("url", client_id);
                    event.detail(
                        "metadata",
                        serde_json::to_value(&metadata).unwrap_or_default(),
                    );
                    if !ignored.is_empty() {
                        event.description = Some(format!(
                            "the document was accepted; this server ignored what it does not \
                             support: {}",
                            ignored.join("; ")
                        ));
                        event.detail("ignored", ignored.as_slice());
                    }
                });
            }
            Ok((metadata, fetched.is_some()))
        }
        Err(error) => {
            let error = match error.rule_id() {
                Some(_) => error,
                None => error.rule(&rules::CIMD_7),
            };
            events::step(EventType::DocumentFetch, |event| {
                event.client_id = Some(client_id.to_owned());
                event.detail("url", client_id);
                event.reject(&error);
            });
            Err(ClientError::Document(error))
        }
    }
}

fn taken() -> ClientError {
    ClientError::Document(OAuthError::invalid_client(
        "this client id is taken by a client registered another way",
    ))
}
