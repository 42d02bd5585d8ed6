//! The public keys of `private_key_jwt` clients (RFC 7591 §2): inline in their metadata
//! (`jwks`), or published at their `jwks_uri`, which is fetched like a Client ID Metadata
//! Document (the same SSRF-safe fetcher, `cimd.timeout` and `cimd.allow_http_loopback`)
//! and cached per its cache headers, at most `cimd.max_cache`. A client that rotated its
//! keys sends a `kid` the cached set lacks: the set is then fetched again, at most every
//! [`REFETCH_AFTER_SECS`].

use super::cimd::cache::DocumentCache;
use super::cimd::{SafeFetcher, lock};
use crate::config::CimdConfig;
use crate::oauth::client::{ClientMetadata, jwks};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A key set larger than this is not one client's keys.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Reuse a key set without cache headers for this long.
const DEFAULT_CACHE: Duration = Duration::from_secs(300);

/// An unknown `kid` fetches the set again only if the cached copy is at least this old, so
/// that assertions naming made-up key ids cannot make the server fetch on every request.
pub const REFETCH_AFTER_SECS: i64 = 10;

/// Key sets kept at once; `jwks_uri` values come from registrations anyone can make.
const MAX_CACHED_SETS: usize = 1024;

#[derive(Debug, Clone)]
struct Cached {
    jwks: Arc<Value>,
    fetched_at: i64,
}

/// Where a client's keys come from.
pub struct ClientKeys {
    http: SafeFetcher,
    max_cache: Duration,
    cache: Mutex<DocumentCache<Cached>>,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeys")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// A client's key set, and whether it was fetched for this request.
#[derive(Debug, Clone)]
pub struct KeySet {
    pub jwks: Arc<Value>,
    /// Fetched from `jwks_uri` just now (not inline, not from the cache).
    pub fetched: bool,
}

impl ClientKeys {
    pub fn new(config: &CimdConfig) -> Self {
        ClientKeys {
            http: SafeFetcher::new(config),
            max_cache: config.max_cache,
            cache: Mutex::new(DocumentCache::new(MAX_CACHED_SETS)),
        }
    }

    /// The keys of the client with `metadata` at `now`. With `again`, a `jwks_uri` set
    /// cached for [`REFETCH_AFTER_SECS`] or longer is fetched anew. Errors say why in words.
    pub async fn of(
        &self,
        metadata: &ClientMetadata,
        now: i64,
        again: bool,
    ) -> Result<KeySet, String> {
        if let Some(inline) = &metadata.jwks {
            return Ok(KeySet {
                jwks: Arc::new(inline.clone()),
                fetched: false,
            });
        }
        let Some(uri) = metadata.jwks_uri.as_deref() else {
            return Err("the client registered no keys (jwks or jwks_uri)".to_owned());
        };
        if let Some(cached) = lock(&self.cache).get(uri, now) {
            if !again || now - cached.fetched_at < REFETCH_AFTER_SECS {
                return Ok(KeySet {
                    jwks: cached.jwks,
                    fetched: false,
                });
            }
        }
        let jwks = self
            .fetch(uri, now)
            .await
            .map_err(|why| format!("its jwks_uri {uri} could not be used: {why}"))?;
        Ok(KeySet {
            jwks,
            fetched: true,
        })
    }

    async fn fetch(&self, uri: &str, now: i64) -> Result<Arc<Value>, String> {
        let url = url::Url::parse(uri).map_err(|e| e.to_string())?;
        match url.scheme() {
            "https" => {}
            "http" if self.http.allows_loopback() && crate::oauth::issuer::is_loopback(&url) => {}
            "http" => {
                return Err("an http jwks_uri is fetched only on a loopback host with \
                     cimd.allow_http_loopback"
                    .to_owned());
            }
            other => return Err(format!("the scheme '{other}' is not https")),
        }
        let fetched = self
            .http
            .get(uri, MAX_JWKS_BYTES, now, DEFAULT_CACHE, self.max_cache)
            .await
            .map_err(String::from)?;
        let jwks: Value =
            serde_json::from_slice(&fetched.body).map_err(|e| format!("it is not JSON ({e})"))?;
        jwks::check_jwks(&jwks)?;
        let jwks = Arc::new(jwks);
        let mut cache = lock(&self.cache);
        if fetched.lifetime.is_zero() {
            cache.remove(uri);
        } else {
            let seconds = i64::try_from(fetched.lifetime.as_secs()).unwrap_or(i64::MAX);
            let cached = Cached {
                jwks: Arc::clone(&jwks),
                fetched_at: now,
            };
            cache.insert(uri, cached, now.saturating_add(seconds), now);
        }
        Ok(jwks)
    }
}
