//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP
//! 2025-11-25 "Client ID Metadata Documents"; checklist CIMD-1..CIMD-14): a `client_id` that
//! is a URL names a JSON document, published by the client, that holds its metadata. The
//! rules are in [`document`], the lifetime and the cache in [`cache`], the address filter in
//! [`address`]; this module fetches.
//!
//! A metadata document URL is chosen by whoever starts an authorization request, so the
//! fetch is an SSRF risk (CIMD -01 §6.5). Hence: the address is checked after DNS resolution
//! (a name cannot smuggle in a private address) and for IP literals before connecting; no
//! redirects are followed; only `200` counts; the body is cut off at 5 KB; the whole fetch
//! has a short timeout. Valid documents are cached as their `Cache-Control` allows, up to a
//! bound in time (`cimd.max_cache`) and in number; failures and invalid documents are never
//! cached, so a fix takes effect at once.

use crate::clock::Clock;
use crate::config::CimdConfig;
pub mod address;
pub mod cache;
pub mod document;

use crate::oauth::client::ClientMetadata;
use crate::oauth::error::OAuthError;
use crate::oauth::redirect_uri::RedirectSchemes;
use address::may_connect;
use cache::{CacheHeaders, DocumentCache, cache_lifetime};
use document::{Document, MAX_DOCUMENT_BYTES, parse_document};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::{Host, Url};

/// Reuse a document without cache headers for this long.
const DEFAULT_CACHE: Duration = Duration::from_secs(300);

/// The most documents kept at once. Document URLs come from unauthenticated requests, so
/// without a bound anyone could grow the cache by naming new URLs; a real deployment sees
/// a handful of client applications.
const MAX_CACHED_DOCUMENTS: usize = 1024;

pub struct DocumentFetcher {
    /// `registration.redirect_schemes`, which documents' redirect URIs follow too.
    redirect_schemes: RedirectSchemes,
    /// Made on the first fetch: building it reads the system's CA certificates, which
    /// took about as long as the rest of start-up together.
    http: tokio::sync::OnceCell<reqwest::Client>,
    timeout: Duration,
    allow_loopback: bool,
    max_cache: Duration,
    cache: Mutex<DocumentCache<ClientMetadata>>,
}

impl std::fmt::Debug for DocumentFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentFetcher")
            .field("allow_loopback", &self.allow_loopback)
            .finish_non_exhaustive()
    }
}

/// Resolves names with the system resolver and refuses any that resolve to an address a
/// fetch may not reach.
struct GuardedResolver {
    allow_loopback: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !may_connect(a.ip(), allow_loopback)) {
                return Err(format!(
                    "{host} resolves to {}, a private, loopback or otherwise special-use \
                     address that Tollgate does not fetch from (SSRF protection, CIMD §6.5)",
                    bad.ip()
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl DocumentFetcher {
    pub fn new(config: &CimdConfig, redirect_schemes: RedirectSchemes) -> Self {
        DocumentFetcher {
            redirect_schemes,
            http: tokio::sync::OnceCell::new(),
            timeout: config.timeout,
            allow_loopback: config.allow_http_loopback,
            max_cache: config.max_cache,
            cache: Mutex::new(DocumentCache::new(MAX_CACHED_DOCUMENTS)),
        }
    }

    /// The HTTP client: no redirects, no proxy, a timeout, and a resolver that refuses
    /// special-use addresses.
    async fn http(&self) -> Result<&reqwest::Client, reqwest::Error> {
        self.http
            .get_or_try_init(|| async {
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(self.timeout)
                    .no_proxy()
                    .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
                    .dns_resolver(Arc::new(GuardedResolver {
                        allow_loopback: self.allow_loopback,
                    }))
                    .build()
            })
            .await
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
        if let Some(metadata) = self.lock().get(url, now) {
            return Ok((metadata, None));
        }
        let (Document { metadata, ignored }, lifetime) = self.fetch(url, now).await?;
        let mut cache = self.lock();
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
        self.lock().remove(url);
    }

    async fn fetch(&self, url: &str, now: i64) -> Result<(Document, Duration), OAuthError> {
        let failed = |why: String| {
            OAuthError::invalid_client(format!(
                "the client metadata document at {url} could not be used: {why}"
            ))
        };
        let parsed = Url::parse(url).map_err(|e| failed(e.to_string()))?;
        // IP literals never reach the resolver, so they are checked here.
        let literal = match parsed.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal.filter(|ip| !may_connect(*ip, self.allow_loopback)) {
            return Err(failed(format!(
                "{ip} is a private, loopback or otherwise special-use address that Tollgate \
                 does not fetch from (SSRF protection, CIMD §6.5)"
            )));
        }
        let http = self
            .http()
            .await
            .map_err(|e| failed(format!("this server cannot make HTTPS requests ({e})")))?;
        let mut response = http
            .get(parsed)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| failed(error_chain(&e)))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(failed(format!(
                "it answered {}; only 200 counts and redirects are not followed (CIMD §4)",
                response.status()
            )));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
        };
        let headers = CacheHeaders {
            cache_control: header(reqwest::header::CACHE_CONTROL),
            expires: header(reqwest::header::EXPIRES),
            date: header(reqwest::header::DATE),
            age: header(reqwest::header::AGE),
        };
        let lifetime = cache_lifetime(headers, now, DEFAULT_CACHE, self.max_cache);
        let too_big = || {
            failed(format!(
                "it is larger than {MAX_DOCUMENT_BYTES} bytes (CIMD §6.6)"
            ))
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        let document = parse_document(url, &body, self.redirect_schemes)?;
        Ok((document, lifetime))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DocumentCache<ClientMetadata>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An error and its causes on one line: reqwest's own message rarely says what happened.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
