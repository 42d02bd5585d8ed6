//! Fetching a small JSON document from a URL someone else chose: a Client ID Metadata
//! Document, or a client's `jwks_uri`. Either URL arrives in an unauthenticated request, so
//! the fetch is an SSRF risk (CIMD -01 §6.5): the address is checked after DNS resolution
//! (a name cannot smuggle in a private address) and for IP literals before connecting; no
//! redirects are followed; only `200` counts; the body is cut off at a size; the whole
//! fetch has a short timeout. How long the result may be reused follows its cache headers.

use super::address::{may_connect, refusal, special_use};
use super::cache::{CacheHeaders, cache_lifetime};
use crate::config::CimdConfig;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// The HTTP client for URLs from requests (`cimd.timeout`, `cimd.allow_http_loopback`).
pub struct SafeFetcher {
    /// Made on the first fetch: building it reads the system's CA certificates, which
    /// took about as long as the rest of start-up together.
    http: tokio::sync::OnceCell<reqwest::Client>,
    timeout: Duration,
    allow_loopback: bool,
}

impl std::fmt::Debug for SafeFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafeFetcher")
            .field("allow_loopback", &self.allow_loopback)
            .finish_non_exhaustive()
    }
}

/// Why a fetch failed, and whether the server answered at all: an answer (an error status,
/// a body too big) is never cached (CIMD-6); a fetch that got no answer (refused address,
/// no connection, timeout) may be, briefly.
#[derive(Debug, Clone)]
pub struct FetchFailure {
    pub why: String,
    pub answered: bool,
}

impl FetchFailure {
    fn unanswered(why: String) -> Self {
        FetchFailure {
            why,
            answered: false,
        }
    }

    fn answered(why: String) -> Self {
        FetchFailure {
            why,
            answered: true,
        }
    }
}

impl From<FetchFailure> for String {
    fn from(failure: FetchFailure) -> String {
        failure.why
    }
}

/// A fetched body, and how long it may be reused from the moment the request was sent.
#[derive(Debug)]
pub struct Fetched {
    pub body: Vec<u8>,
    pub lifetime: Duration,
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
            for addr in &addrs {
                if let Some(special) = special_use(addr.ip()) {
                    if !(special.loopback && allow_loopback) {
                        let why = refusal(addr.ip(), special);
                        return Err(format!("{host} resolves to {why}").into());
                    }
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl SafeFetcher {
    pub fn new(config: &CimdConfig) -> Self {
        SafeFetcher {
            http: tokio::sync::OnceCell::new(),
            timeout: config.timeout,
            allow_loopback: config.allow_http_loopback,
        }
    }

    /// Whether fetches may go to loopback addresses (`cimd.allow_http_loopback`).
    /// How long a whole fetch may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn allows_loopback(&self) -> bool {
        self.allow_loopback
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

    /// GETs `url` (sent at `now`) and returns its body, at most `max_bytes`, with how long
    /// it may be reused (`default` without cache headers, never more than `max_cache`); or
    /// why not, in words.
    pub async fn get(
        &self,
        url: &str,
        max_bytes: usize,
        now: i64,
        default: Duration,
        max_cache: Duration,
    ) -> Result<Fetched, FetchFailure> {
        let parsed = Url::parse(url).map_err(|e| FetchFailure::unanswered(e.to_string()))?;
        // IP literals never reach the resolver, so they are checked here.
        let literal = match parsed.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal.filter(|ip| !may_connect(*ip, self.allow_loopback)) {
            if let Some(special) = special_use(ip) {
                return Err(FetchFailure::unanswered(refusal(ip, special)));
            }
        }
        let http = self.http().await.map_err(|e| {
            FetchFailure::unanswered(format!("this server cannot make HTTPS requests ({e})"))
        })?;
        let mut response = http
            .get(parsed)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| FetchFailure::unanswered(error_chain(&e)))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchFailure::answered(format!(
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
        let lifetime = cache_lifetime(headers, now, default, max_cache);
        let too_big =
            || FetchFailure::answered(format!("it is larger than {max_bytes} bytes (CIMD §6.6)"));
        if response
            .content_length()
            .is_some_and(|len| len > max_bytes as u64)
        {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchFailure::answered(error_chain(&e)))?
        {
            if body.len() + chunk.len() > max_bytes {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, lifetime })
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
