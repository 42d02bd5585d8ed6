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
//! (`cimd.max_cache`) and in number; error answers and invalid documents are never cached
//! (CIMD-6), so a fix takes effect at once.
//!
//! What one requester can make the server do is bounded (issue 20, item 5): every fetch
//! (a cache miss) counts against the requesting address's registration budget
//! (`registration.per_minute`, DCR-9), since a document client is registered by its first
//! fetch; concurrent requests for one URL share one fetch (single flight); and a fetch that
//! got no answer at all (a refused address, no connection, a timeout) is remembered for
//! [`FAILURE_CACHE`], so a document server that is down is not asked again by every request.
//! An answer, even an error, is not remembered (CIMD-6 forbids caching errors).

pub mod address;
pub mod cache;
pub mod document;
pub mod fetch;

use super::faults::{Facts, FaultTable, Firing, proxy_error_page};
use crate::clock::Clock;
use crate::config::CimdConfig;
use crate::config::faults::{Effect, FaultEndpoint};
use crate::oauth::client::ClientMetadata;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::redirect_uri::RedirectSchemes;
use crate::oauth::rules;
use crate::services::throttle::{self, RateLimiter};
use cache::DocumentCache;
use document::{Document, MAX_DOCUMENT_BYTES, parse_document};
pub use fetch::SafeFetcher;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

/// Reuse a document without cache headers for this long.
const DEFAULT_CACHE: Duration = Duration::from_secs(300);

/// The most documents kept at once. Document URLs come from unauthenticated requests, so
/// without a bound anyone could grow the cache by naming new URLs; a real deployment sees
/// a handful of client applications.
const MAX_CACHED_DOCUMENTS: usize = 1024;

/// How long a fetch that got no answer is remembered (see the module comment).
pub const FAILURE_CACHE: Duration = Duration::from_secs(5);

/// At most this many remembered failures; more are dropped, oldest first.
const MAX_FAILURES: usize = 1024;

/// The budget document fetches count against: open registration's, per address.
#[derive(Debug)]
pub struct Limit {
    pub limiter: Arc<RateLimiter>,
    /// `registration.per_minute`, for the refusal.
    pub per_minute: u32,
}

/// What a fetch gave: the document's metadata and what it declared that was ignored.
type Outcome = Result<(ClientMetadata, Vec<String>), OAuthError>;

pub struct DocumentFetcher {
    /// `registration.redirect_schemes`, which documents' redirect URIs follow too.
    redirect_schemes: RedirectSchemes,
    http: SafeFetcher,
    max_cache: Duration,
    cache: Mutex<DocumentCache<ClientMetadata>>,
    /// Faults at `cimd-fetch`: the document server failing, as the client would see it.
    faults: Arc<FaultTable>,
    limit: Limit,
    /// The fetch in progress for each URL, which concurrent requests wait for.
    in_flight: Mutex<HashMap<String, Arc<OnceCell<Outcome>>>>,
    /// Fetches that got no answer, until when (seconds) they are not tried again.
    failures: Mutex<HashMap<String, (i64, OAuthError)>>,
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
        limit: Limit,
    ) -> Self {
        DocumentFetcher {
            faults,
            limit,
            in_flight: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
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
        if let Some(error) = self.remembered_failure(url, now) {
            return Err(error);
        }
        // Single flight: the first request for a URL fetches, the others wait for it and
        // share what it got. The entry goes when the flight ends; later requests find the
        // document in the cache (or fetch again, for one that may not be cached).
        let flight = Arc::clone(lock(&self.in_flight).entry(url.to_owned()).or_default());
        let outcome = flight
            .get_or_init(|| self.fetch_counted(url, now))
            .await
            .clone();
        let mut in_flight = lock(&self.in_flight);
        if in_flight
            .get(url)
            .is_some_and(|current| Arc::ptr_eq(current, &flight))
        {
            in_flight.remove(url);
        }
        outcome.map(|(metadata, ignored)| (metadata, Some(ignored)))
    }

    /// A failure remembered for `url` and still in force at `now`.
    fn remembered_failure(&self, url: &str, now: i64) -> Option<OAuthError> {
        let mut failures = lock(&self.failures);
        match failures.get(url) {
            Some((until, error)) if *until > now => Some(error.clone()),
            Some(_) => {
                failures.remove(url);
                None
            }
            None => None,
        }
    }

    /// One fetch, counted against the requester's registration budget, with its result
    /// cached: a document as its headers allow, a failure without an answer briefly.
    async fn fetch_counted(&self, url: &str, now: i64) -> Outcome {
        if let Some(requester) = throttle::requester() {
            self.limit
                .limiter
                .check(&requester)
                .map_err(|retry_after| {
                    OAuthError::new(
                        ErrorCode::TemporarilyUnavailable,
                        format!(
                            "too many new clients from {requester}: each metadata document fetch \
                         registers its client, and registrations are limited to {} a minute \
                         per address; retry after {retry_after} s",
                            self.limit.per_minute
                        ),
                    )
                    .rule(&rules::DCR_9)
                })?;
        }
        let facts = Facts {
            grant_type: None,
            client_id: Some(url),
        };
        let fault = self.faults.fire(FaultEndpoint::CimdFetch, facts, |_| true);
        let fetched = match &fault {
            None => self.fetch(url, now, false).await,
            Some(firing) => self.fetch_with(firing, url, now).await,
        };
        let (Document { metadata, ignored }, lifetime) = match fetched {
            Ok(fetched) => fetched,
            Err(Failed { error, answered }) => {
                if !answered {
                    let seconds = i64::try_from(FAILURE_CACHE.as_secs()).unwrap_or(i64::MAX);
                    let mut failures = lock(&self.failures);
                    if failures.len() >= MAX_FAILURES {
                        failures.retain(|_, (until, _)| *until > now);
                        if failures.len() >= MAX_FAILURES {
                            failures.clear();
                        }
                    }
                    failures.insert(url.to_owned(), (now.saturating_add(seconds), error.clone()));
                }
                return Err(error);
            }
        };
        let mut cache = lock(&self.cache);
        if lifetime.is_zero() {
            cache.remove(url);
        } else {
            let seconds = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
            cache.insert(url, metadata.clone(), now.saturating_add(seconds), now);
        }
        Ok((metadata, ignored))
    }

    /// Drops the cached document of `url`, so that the next use fetches it again.
    pub fn forget(&self, url: &str) {
        lock(&self.cache).remove(url);
        lock(&self.failures).remove(url);
    }

    /// Drops every cached document.
    pub fn forget_all(&self) {
        lock(&self.cache).clear();
        lock(&self.failures).clear();
    }

    /// A fetch that an injected fault fails, delays or truncates (issue 14). The failures
    /// read like the real ones, plus the fault's name.
    async fn fetch_with(
        &self,
        firing: &Firing,
        url: &str,
        now: i64,
    ) -> Result<(Document, Duration), Failed> {
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
                return Err(Failed {
                    error: injected(format!(
                        "it did not answer within {}",
                        crate::config::duration::format(&timeout)
                    )),
                    answered: true,
                });
            }
        }
        let status = |status: u16| {
            injected(format!(
                "it answered {status}; only 200 counts and redirects are not followed (CIMD §4)"
            ))
        };
        let answered = |error: OAuthError| Failed {
            error,
            answered: true,
        };
        match &fault.effect {
            Effect::Respond { status: code, .. } => Err(answered(status(*code))),
            Effect::Html { status: code, .. } if *code != 200 => Err(answered(status(*code))),
            Effect::Html { .. } => {
                let page = proxy_error_page(200, &fault.name);
                let error = parse_document(url, page.as_bytes(), self.redirect_schemes)
                    .err()
                    .unwrap_or_else(|| OAuthError::invalid_client("not a document"));
                Err(answered(noted(error, "it is an HTML page", &fault.name)))
            }
            // Injected failures are never remembered: a test that clears the fault expects
            // the next request to fetch.
            Effect::Drop => Err(answered(injected(
                "the connection was closed before a response".to_owned(),
            ))),
            Effect::Truncate => self.fetch(url, now, true).await.map_err(|failed| {
                answered(noted(failed.error, "the body was cut in half", &fault.name))
            }),
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
    ) -> Result<(Document, Duration), Failed> {
        let mut fetched = self
            .http
            .get(url, MAX_DOCUMENT_BYTES, now, DEFAULT_CACHE, self.max_cache)
            .await
            .map_err(|failure| Failed {
                error: OAuthError::invalid_client(format!(
                    "the client metadata document at {url} could not be used: {}",
                    failure.why
                )),
                answered: failure.answered,
            })?;
        if truncate {
            fetched.body.truncate(fetched.body.len() / 2);
        }
        let document =
            parse_document(url, &fetched.body, self.redirect_schemes).map_err(|error| Failed {
                error,
                answered: true,
            })?;
        Ok((document, fetched.lifetime))
    }
}

/// A fetch that failed, and whether the document server answered (see [`FetchFailure`]).
struct Failed {
    error: OAuthError,
    answered: bool,
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
