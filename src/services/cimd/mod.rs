//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP
//! 2025-11-25 "Client ID Metadata Documents"; checklist CIMD-1..CIMD-14): a `client_id` that
//! is a URL names a JSON document, published by the client, that holds its metadata. The
//! rules are in [`document`], the lifetime and the cache in [`cache`], the address filter in
//! [`address`], the SSRF-safe fetch in [`fetch`] (which clients' `jwks_uri` fetches use
//! too); this module fetches documents and caches them.
//!
//! A metadata document URL is chosen by whoever starts an authorization request, so the
//! fetch is an SSRF risk (CIMD -01 §6.5): see [`fetch`]. The body is cut off at 5 KB. Valid
//! documents are cached as their `Cache-Control` allows, up to a bound in time
//! (`cimd.max_cache`) and in number; failures and invalid documents are never cached, so a
//! fix takes effect at once.

pub mod address;
pub mod cache;
pub mod document;
pub mod fetch;

use super::faults::{Facts, FaultTable, Firing, proxy_error_page};
use crate::clock::Clock;
use crate::config::CimdConfig;
use crate::config::faults::{Effect, FaultEndpoint};
use crate::oauth::client::ClientMetadata;
use crate::oauth::error::OAuthError;
use crate::oauth::redirect_uri::RedirectSchemes;
use cache::DocumentCache;
use document::{Document, MAX_DOCUMENT_BYTES, parse_document};
pub use fetch::SafeFetcher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Reuse a document without cache headers for this long.
const DEFAULT_CACHE: Duration = Duration::from_secs(300);

/// The most documents kept at once. Document URLs come from unauthenticated requests, so
/// without a bound anyone could grow the cache by naming new URLs; a real deployment sees
/// a handful of client applications.
const MAX_CACHED_DOCUMENTS: usize = 1024;

pub struct DocumentFetcher {
    /// `registration.redirect_schemes`, which documents' redirect URIs follow too.
    redirect_schemes: RedirectSchemes,
    http: SafeFetcher,
    max_cache: Duration,
    cache: Mutex<DocumentCache<ClientMetadata>>,
    /// Faults at `cimd-fetch`: the document server failing, as the client would see it.
    faults: Arc<FaultTable>,
}

impl std::fmt::Debug for DocumentFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentFetcher")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl DocumentFetcher {
    pub fn new(
        config: &CimdConfig,
        redirect_schemes: RedirectSchemes,
        faults: Arc<FaultTable>,
    ) -> Self {
        DocumentFetcher {
            faults,
            redirect_schemes,
            http: SafeFetcher::new(config),
            max_cache: config.max_cache,
            cache: Mutex::new(DocumentCache::new(MAX_CACHED_DOCUMENTS)),
        }
    }

    /// The metadata behind a document URL, from the cache or freshly fetched. A fetched
    /// one comes with what the document declared and this server ignored (so the caller can
    /// store the new version and say so); one from the cache with `None`.
    pub async fn metadata(
        &self,
        url: &str,
        clock: &dyn Clock,
    ) -> Result<(ClientMetadata, Option<Vec<String>>), OAuthError> {
        let now = clock.now();
        if let Some(metadata) = lock(&self.cache).get(url, now) {
            return Ok((metadata, None));
        }
        let facts = Facts {
            grant_type: None,
            client_id: Some(url),
        };
        let fault = self.faults.fire(FaultEndpoint::CimdFetch, facts, |_| true);
        let (Document { metadata, ignored }, lifetime) = match &fault {
            None => self.fetch(url, now, false).await?,
            Some(firing) => self.fetch_with(firing, url, now).await?,
        };
        let mut cache = lock(&self.cache);
        if lifetime.is_zero() {
            cache.remove(url);
        } else {
            let seconds = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
            cache.insert(url, metadata.clone(), now.saturating_add(seconds), now);
        }
        Ok((metadata, Some(ignored)))
    }

    /// Drops the cached document of `url`, so that the next use fetches it again.
    pub fn forget(&self, url: &str) {
        lock(&self.cache).remove(url);
    }

    /// Drops every cached document.
    pub fn forget_all(&self) {
        lock(&self.cache).clear();
    }

    /// A fetch that an injected fault fails, delays or truncates (issue 14). The failures
    /// read like the real ones, plus the fault's name.
    async fn fetch_with(
        &self,
        firing: &Firing,
        url: &str,
        now: i64,
    ) -> Result<(Document, Duration), OAuthError> {
        let fault = &firing.fault;
        let timeout = self.http.timeout();
        let injected = |why: String| {
            OAuthError::invalid_client(format!(
                "the client metadata document at {url} could not be used: {why} (injected by \
                 fault '{}')",
                fault.name
            ))
        };
        if let Some(delay) = fault.delay {
            tokio::time::sleep(delay.min(timeout)).await;
            if delay >= timeout {
                return Err(injected(format!(
                    "it did not answer within {}",
                    crate::config::duration::format(&timeout)
                )));
            }
        }
        let status = |status: u16| {
            injected(format!(
                "it answered {status}; only 200 counts and redirects are not followed (CIMD §4)"
            ))
        };
        match &fault.effect {
            Effect::Respond { status: code, .. } => Err(status(*code)),
            Effect::Html { status: code, .. } if *code != 200 => Err(status(*code)),
            Effect::Html { .. } => {
                let page = proxy_error_page(200, &fault.name);
                let error = parse_document(url, page.as_bytes(), self.redirect_schemes)
                    .err()
                    .unwrap_or_else(|| OAuthError::invalid_client("not a document"));
                Err(noted(error, "it is an HTML page", &fault.name))
            }
            Effect::Drop => Err(injected(
                "the connection was closed before a response".to_owned(),
            )),
            Effect::Truncate => self
                .fetch(url, now, true)
                .await
                .map_err(|error| noted(error, "the body was cut in half", &fault.name)),
            _ => self.fetch(url, now, false).await,
        }
    }

    /// The document at `url` and how long it may be reused; `truncate` cuts the body in
    /// half first (an injected fault).
    async fn fetch(
        &self,
        url: &str,
        now: i64,
        truncate: bool,
    ) -> Result<(Document, Duration), OAuthError> {
        let mut fetched = self
            .http
            .get(url, MAX_DOCUMENT_BYTES, now, DEFAULT_CACHE, self.max_cache)
            .await
            .map_err(|why| {
                OAuthError::invalid_client(format!(
                    "the client metadata document at {url} could not be used: {why}"
                ))
            })?;
        if truncate {
            fetched.body.truncate(fetched.body.len() / 2);
        }
        let document = parse_document(url, &fetched.body, self.redirect_schemes)?;
        Ok((document, fetched.lifetime))
    }
}

/// `error`, saying which fault made it so.
fn noted(error: OAuthError, what: &str, fault: &str) -> OAuthError {
    OAuthError {
        description: format!(
            "{} ({what}: injected by fault '{fault}')",
            error.description
        )
        .into(),
        ..error
    }
}

/// A cache's lock; a panic elsewhere leaves the cache usable.
pub fn lock<T>(cache: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
