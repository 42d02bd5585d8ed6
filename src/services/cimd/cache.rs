//! How long a fetched document may be reused (RFC 9111 freshness and age), and the cache
//! that keeps documents for that long, bounded in number.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

/// The response headers that decide how long a fetched document may be reused.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheHeaders<'a> {
    pub cache_control: Option<&'a str>,
    pub expires: Option<&'a str>,
    pub date: Option<&'a str>,
    pub age: Option<&'a str>,
}

/// How long a fetched document may be reused, counted from `now`, the moment the request
/// was sent, and capped at `max`.
///
/// The freshness lifetime (RFC 9111 §4.2.1): `no-store`/`no-cache`/`private` mean not at
/// all; `max-age` is honoured; without it, `Expires` minus `Date` (or minus `now`, without
/// a `Date`), where an `Expires` that is not a valid date means already expired (§5.3);
/// without either, `default`. What is left of it is the lifetime less the response's
/// current age (§4.2.3), which at receipt is its `Age` plus the time the request took;
/// counting from the moment the request was sent adds the latter. The "apparent age" (now
/// minus `Date`) is not used: it is only as good as the agreement of two clocks, which is
/// also why `Expires` is measured against `Date`.
pub fn cache_lifetime(
    headers: CacheHeaders<'_>,
    now: i64,
    default: Duration,
    max: Duration,
) -> Duration {
    let mut max_age = None;
    for directive in headers.cache_control.unwrap_or_default().split(',') {
        let lower = directive.trim().to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" || lower == "private" {
            return Duration::ZERO;
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            // An invalid max-age is stale (RFC 9111 §4.2.1 "invalid ... stale").
            max_age = Some(seconds.trim_matches('"').parse::<u64>().unwrap_or(0));
        }
    }
    let freshness = match (max_age, headers.expires) {
        (Some(seconds), _) => Duration::from_secs(seconds),
        (None, Some(expires)) => {
            let received = headers.date.and_then(parse_http_date).unwrap_or(now);
            let seconds = parse_http_date(expires).map_or(0, |at| at.saturating_sub(received));
            Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
        }
        (None, None) => default,
    };
    let age = headers.age.and_then(parse_age).unwrap_or(0);
    freshness.saturating_sub(Duration::from_secs(age)).min(max)
}

/// The largest age RFC 9111 §1.2.2 asks a cache to represent; bigger values count as it.
const MAX_AGE_SECONDS: u64 = 1 << 31;

/// The seconds of an `Age` field value (RFC 9111 §5.1): a list-based value counts by its
/// first member; a value that is not `delta-seconds` (§1.2.2: digits only) is ignored;
/// one too large for the arithmetic counts as 2^31.
pub fn parse_age(value: &str) -> Option<u64> {
    let first = value.split(',').next().unwrap_or_default().trim();
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        first
            .parse::<u64>()
            .map_or(MAX_AGE_SECONDS, |seconds| seconds.min(MAX_AGE_SECONDS)),
    )
}

/// An HTTP date (RFC 9110 §5.6.7: IMF-fixdate, and the two obsolete formats a recipient must
/// also accept) as unix seconds. A date that does not parse makes an `Expires` mean "already
/// expired", which is the safe reading (RFC 9111 §5.3).
pub fn parse_http_date(text: &str) -> Option<i64> {
    let time = httpdate::parse_http_date(text.trim()).ok()?;
    let seconds = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(seconds).ok()
}

/// Fetched documents by URL with the time they stop being fresh, at most `capacity` of
/// them. Inserting first drops every expired entry, then, if the cache is still full, the
/// one that would expire soonest: a document that is fetched again costs one request,
/// while a cache without a bound costs memory that anyone can claim.
#[derive(Debug)]
pub struct DocumentCache<V> {
    entries: HashMap<String, Cached<V>>,
    capacity: usize,
}

#[derive(Debug)]
struct Cached<V> {
    value: V,
    expires_at: i64,
}

impl<V: Clone> DocumentCache<V> {
    pub fn new(capacity: usize) -> Self {
        DocumentCache {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// The value for `url`, if it is still fresh at `now`.
    pub fn get(&self, url: &str, now: i64) -> Option<V> {
        self.entries
            .get(url)
            .filter(|cached| cached.expires_at > now)
            .map(|cached| cached.value.clone())
    }

    pub fn insert(&mut self, url: &str, value: V, expires_at: i64, now: i64) {
        self.entries.remove(url);
        self.entries.retain(|_, cached| cached.expires_at > now);
        if self.entries.len() >= self.capacity {
            let soonest = self
                .entries
                .iter()
                .min_by_key(|(_, cached)| cached.expires_at)
                .map(|(url, _)| url.clone());
            if let Some(soonest) = soonest {
                self.entries.remove(&soonest);
            }
        }
        if self.capacity > 0 {
            let cached = Cached { value, expires_at };
            self.entries.insert(url.to_owned(), cached);
        }
    }

    pub fn remove(&mut self, url: &str) {
        self.entries.remove(url);
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lifetimes() {
        let (default, max) = (Duration::from_secs(300), Duration::from_secs(3600));
        let now = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
        let lifetime = |cache_control, expires, date| {
            let headers = CacheHeaders {
                cache_control,
                expires,
                date,
                age: None,
            };
            cache_lifetime(headers, now, default, max)
        };
        assert_eq!(lifetime(None, None, None), default);
        assert_eq!(
            lifetime(Some("max-age=60"), None, None),
            Duration::from_secs(60)
        );
        assert_eq!(lifetime(Some("public, max-age=86400"), None, None), max);
        assert_eq!(lifetime(Some("no-store"), None, None), Duration::ZERO);
        assert_eq!(
            lifetime(Some("max-age=60, no-cache"), None, None),
            Duration::ZERO
        );
        assert_eq!(lifetime(Some("max-age=soon"), None, None), Duration::ZERO);
        // RFC 9111 §4.2.1: Expires minus Date, or minus the time of receipt.
        let expires = Some("Sun, 06 Nov 1994 08:51:37 GMT");
        assert_eq!(
            lifetime(None, expires, Some("Sun, 06 Nov 1994 08:49:37 GMT")),
            Duration::from_secs(120)
        );
        assert_eq!(lifetime(None, expires, None), Duration::from_secs(120));
        assert_eq!(
            lifetime(
                Some("public"),
                expires,
                Some("Sun, 06 Nov 1994 08:50:37 GMT")
            ),
            Duration::from_secs(60)
        );
        // max-age wins over Expires; the bound applies to Expires as well.
        assert_eq!(
            lifetime(Some("max-age=10"), expires, None),
            Duration::from_secs(10)
        );
        assert_eq!(
            lifetime(None, Some("Fri, 06 Nov 2099 08:51:37 GMT"), None),
            max
        );
        // In the past, or not a date ("0"): already expired (RFC 9111 §5.3).
        for stale in ["Sun, 06 Nov 1994 08:00:00 GMT", "0", "tomorrow"] {
            assert_eq!(lifetime(None, Some(stale), None), Duration::ZERO, "{stale}");
        }
    }

    #[test]
    fn the_age_of_a_response_shortens_its_lifetime() {
        // RFC 9111 §4.2.3: what is left of the freshness lifetime is what counts.
        let (default, max) = (Duration::from_secs(300), Duration::from_secs(3600));
        let now = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
        let lifetime = |cache_control, expires, age| {
            let headers = CacheHeaders {
                cache_control,
                expires,
                date: Some("Sun, 06 Nov 1994 08:49:37 GMT"),
                age,
            };
            cache_lifetime(headers, now, default, max)
        };
        let max_age = Some("max-age=100");
        assert_eq!(lifetime(max_age, None, Some("99")), Duration::from_secs(1));
        assert_eq!(lifetime(max_age, None, Some("0")), Duration::from_secs(100));
        for stale in ["100", "101", "99999999999999999999999"] {
            assert_eq!(
                lifetime(max_age, None, Some(stale)),
                Duration::ZERO,
                "{stale}"
            );
        }
        // Expires and the default lifetime age the same way.
        let expires = Some("Sun, 06 Nov 1994 08:51:37 GMT"); // Date + 120 s
        assert_eq!(
            lifetime(None, expires, Some("20")),
            Duration::from_secs(100)
        );
        assert_eq!(lifetime(None, None, Some("60")), Duration::from_secs(240));
        // The bound applies to what is left: 86400 - 3600 is still more than an hour.
        assert_eq!(lifetime(Some("max-age=86400"), None, Some("3600")), max);
        assert_eq!(
            lifetime(Some("max-age=86400"), None, Some("84600")),
            Duration::from_secs(1800)
        );
        // RFC 9111 §5.1: a list counts by its first member; an invalid value is ignored.
        assert_eq!(
            lifetime(max_age, None, Some("90, 10")),
            Duration::from_secs(10)
        );
        assert_eq!(
            lifetime(max_age, None, Some(" 90 ")),
            Duration::from_secs(10)
        );
        for ignored in ["", "-5", "1.5", "soon", "0x10", "+5", ", 90"] {
            assert_eq!(
                lifetime(max_age, None, Some(ignored)),
                Duration::from_secs(100),
                "'{ignored}'"
            );
        }
    }

    #[test]
    fn age_values() {
        assert_eq!(parse_age("0"), Some(0));
        assert_eq!(parse_age("3600"), Some(3600));
        assert_eq!(parse_age("007"), Some(7));
        assert_eq!(parse_age("12, 900"), Some(12));
        // RFC 9111 §1.2.2: too large to represent counts as 2^31.
        assert_eq!(parse_age("2147483649"), Some(1 << 31));
        assert_eq!(parse_age("99999999999999999999999"), Some(1 << 31));
        // The obsolete formats that RFC 9110 §5.6.7 says a recipient must accept too.
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
            Some(784_111_777)
        );
        for bad in ["", " ", "-1", "1e3", "ten", "5s", ",5"] {
            assert_eq!(parse_age(bad), None, "'{bad}'");
        }
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT"),
            Some(1_835_481_599)
        );
        // The obsolete formats that RFC 9110 §5.6.7 says a recipient must accept too.
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
            Some(784_111_777)
        );
        for bad in [
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_cache_keeps_fresh_entries_only() {
        let mut cache = DocumentCache::new(4);
        cache.insert("a", 1, 110, 100);
        assert_eq!(cache.get("a", 109), Some(1));
        assert_eq!(cache.get("a", 110), None, "expired at its time");
        cache.insert("a", 2, 200, 150);
        assert_eq!(cache.get("a", 150), Some(2), "replaced");
        cache.remove("a");
        assert_eq!(cache.get("a", 150), None);
    }

    #[test]
    fn inserting_drops_expired_entries() {
        let mut cache = DocumentCache::new(100);
        for i in 0..50 {
            cache.insert(&format!("old-{i}"), i, 110, 100);
        }
        cache.insert("new", 0, 300, 200);
        assert_eq!(cache.entries.len(), 1, "the expired entries went");
        assert_eq!(cache.get("new", 200), Some(0));
    }

    #[test]
    fn the_cache_is_bounded() {
        let mut cache = DocumentCache::new(3);
        // Distinct URLs, none expired: the one expiring soonest makes room.
        for (url, expires_at) in [("a", 500), ("b", 400), ("c", 600), ("d", 700)] {
            cache.insert(url, url, expires_at, 100);
        }
        assert_eq!(cache.entries.len(), 3);
        assert_eq!(cache.get("b", 100), None, "b expired soonest");
        for url in ["a", "c", "d"] {
            assert_eq!(cache.get(url, 100), Some(url));
        }
        // Many more never grow it.
        for i in 0..1000 {
            cache.insert(&format!("u{i}"), "x", 1000 + i, 100);
        }
        assert_eq!(cache.entries.len(), 3);
        // Replacing an entry of a full cache keeps the others.
        cache.insert("u999", "y", 5000, 100);
        assert_eq!(cache.entries.len(), 3);
        assert_eq!(cache.get("u998", 100), Some("x"));
        assert_eq!(cache.get("u999", 100), Some("y"));
    }
}
