//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP
//! 2025-11-25 "Client ID Metadata Documents"; checklist CIMD-1..CIMD-14): a `client_id`
//! that is a URL names a JSON document, published by the client, that holds its metadata.
//! These are the rules; fetching them safely is `crate::cimd`.

use super::client::{AuthMethod, ClientMetadata, RegistrationRequest};
use super::error::OAuthError;
use super::issuer::is_loopback;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use url::Url;

/// CIMD -01 §6.6: documents are small; anything bigger is refused.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;

/// What a `client_id` is, as far as metadata documents go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentUrl {
    /// Not a document URL: a client id registered some other way.
    No,
    /// A Client Identifier URL (CIMD §3) whose document may be fetched.
    Yes,
    /// Meant as a document URL, but it breaks a rule of CIMD §3; says which.
    Invalid(&'static str),
}

/// Classifies `client_id`: an `https` URL with a path is a Client Identifier URL (CIMD §3),
/// and so, when local development is allowed, is an `http` URL on a loopback host. Such a
/// URL must not have user information (it would be sent to the host), a fragment, or `.`
/// or `..` path segments (which `Url` resolves away, so the raw string is checked).
pub fn classify(client_id: &str, allow_http_loopback: bool) -> DocumentUrl {
    let Ok(url) = Url::parse(client_id) else {
        return DocumentUrl::No;
    };
    let (authority, path) = split_raw(client_id);
    // The path as written: `/a/..` has one, though `Url` resolves it to `/`.
    let has_path = !path.is_empty() && path != "/";
    let candidate = match url.scheme() {
        "https" => has_path,
        "http" => allow_http_loopback && has_path && is_loopback(&url),
        _ => false,
    };
    if !candidate {
        return DocumentUrl::No;
    }
    if authority.contains('@') || !url.username().is_empty() || url.password().is_some() {
        return DocumentUrl::Invalid(
            "a client identifier URL must not contain user information (user:password@) \
             (CIMD §3)",
        );
    }
    if url.fragment().is_some() || client_id.contains('#') {
        return DocumentUrl::Invalid(
            "a client identifier URL must not contain a fragment (#...) (CIMD §3)",
        );
    }
    if path.split(['/', '\\']).any(is_dot_segment) {
        return DocumentUrl::Invalid(
            "a client identifier URL must not contain '.' or '..' path segments (CIMD §3)",
        );
    }
    DocumentUrl::Yes
}

/// Whether `client_id` names a metadata document that may be fetched.
pub fn is_document_url(client_id: &str, allow_http_loopback: bool) -> bool {
    classify(client_id, allow_http_loopback) == DocumentUrl::Yes
}

/// The raw authority and path of an absolute URL, as written (no normalisation). A `\`
/// ends the authority too: the WHATWG parser `Url` follows reads it as `/`.
fn split_raw(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map_or("", |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    match rest.find(['/', '\\']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    }
}

/// `.` and `..`, also percent-encoded (RFC 3986 §2.3 and §5.2.4; the WHATWG URL standard
/// resolves `%2e` the same way).
fn is_dot_segment(segment: &str) -> bool {
    matches!(
        segment.to_ascii_lowercase().as_str(),
        "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."
    )
}

/// Validates a fetched document for `client_id` and returns the client's metadata.
pub fn parse_document(client_id: &str, body: &[u8]) -> Result<ClientMetadata, OAuthError> {
    let invalid = |why: String| {
        OAuthError::invalid_client(format!(
            "the client metadata document at {client_id} is not valid: {why}"
        ))
    };
    let document: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON ({e})")))?;
    let object = document
        .as_object()
        .ok_or_else(|| invalid("it is not a JSON object".to_owned()))?;
    // CIMD §4.1: simple string comparison, no normalisation.
    match object.get("client_id").and_then(|v| v.as_str()) {
        Some(id) if id == client_id => {}
        Some(id) => {
            return Err(invalid(format!(
                "its client_id is '{id}', but it must be exactly the document's URL"
            )));
        }
        None => return Err(invalid("client_id is missing".to_owned())),
    }
    // MCP 2025-11-25: client_id, client_name and redirect_uris are required, with values
    // (a `null` is no better than a missing member).
    match object.get("client_name") {
        Some(serde_json::Value::String(name)) if !name.trim().is_empty() => {}
        Some(other) => {
            return Err(invalid(format!(
                "client_name must be a non-empty string, not {other}"
            )));
        }
        None => return Err(invalid("client_name is missing".to_owned())),
    }
    match object.get("redirect_uris") {
        Some(serde_json::Value::Array(uris))
            if !uris.is_empty() && uris.iter().all(serde_json::Value::is_string) => {}
        Some(other) => {
            return Err(invalid(format!(
                "redirect_uris must be a non-empty array of redirect URI strings, not {other}"
            )));
        }
        None => return Err(invalid("redirect_uris is missing".to_owned())),
    }
    // CIMD §4.1: no shared secrets for a client anyone can claim to be.
    if object.contains_key("client_secret") || object.contains_key("client_secret_expires_at") {
        return Err(invalid(
            "it contains a client secret, which a metadata document must never do".to_owned(),
        ));
    }
    let mut request: RegistrationRequest =
        serde_json::from_value(document.clone()).map_err(|e| invalid(e.to_string()))?;
    // The document's default is `none`, not RFC 7591's client_secret_basic; and `none` is
    // the only method Tollgate takes from a document (it has no private_key_jwt yet), so
    // the generic "use client_secret_basic" advice of registration would mislead here.
    let method = request
        .token_endpoint_auth_method
        .get_or_insert_with(|| AuthMethod::None.as_str().to_owned());
    if method != AuthMethod::None.as_str() {
        return Err(invalid(format!(
            "token_endpoint_auth_method '{method}' is not supported for a metadata document \
             client: Tollgate accepts only 'none' (a public client with PKCE); shared secrets \
             are forbidden (CIMD §4.1) and private_key_jwt is not implemented"
        )));
    }
    let metadata = request
        .validate()
        .map_err(|e| invalid(e.description.into_owned()))?;
    Ok(metadata)
}

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

/// Parses an IMF-fixdate (RFC 9110 §5.6.7), `Sun, 06 Nov 1994 08:49:37 GMT`, into unix
/// seconds. The obsolete formats are not accepted: a date that does not parse makes an
/// `Expires` mean "already expired", which is the safe reading.
pub fn parse_http_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_weekday, rest) = text.trim().split_once(", ")?;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let number = |digits: &str, len: usize| -> Option<i64> {
        (digits.len() == len && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    };
    let day = number(day, 2)?;
    let month = i64::try_from(MONTHS.iter().position(|m| m == month)?).ok()? + 1;
    let year = number(year, 4)?;
    let clock: Vec<&str> = time.split(':').collect();
    let [hour, minute, second] = clock.as_slice() else {
        return None;
    };
    let (hour, minute, second) = (number(hour, 2)?, number(minute, 2)?, number(second, 2)?);
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Whether a fetch may connect to `ip`. Only globally routable unicast addresses qualify
/// (CIMD -01 §6.5: no private, loopback, link-local or other special-use addresses), except
/// loopback when local development is allowed.
pub fn may_connect(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => may_connect_v4(v4, allow_loopback),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return may_connect_v4(v4, allow_loopback);
            }
            may_connect_v6(v6, allow_loopback)
        }
    }
}

fn may_connect_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0                               // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0)       // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99)     // 6to4 relay anycast (RFC 7526)
        || (a == 198 && (18..20).contains(&b))  // benchmarking
        || a >= 240; // reserved
    !special
}

fn may_connect_v6(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let segments = ip.segments();
    let special = ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00     // unique local
        || (segments[0] & 0xffc0) == 0xfe80     // link-local
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x0064 && segments[1] == 0xff9b) // NAT64, may reach private v4
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]) // discard-only
        || segments[..6] == [0; 6]              // IPv4-compatible ::/96 (RFC 4291 §2.5.5.1)
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo, tunnels to any v4 (RFC 4380)
        || (segments[0] == 0x2002); // 6to4, may embed private v4
    !special
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    const URL: &str = "https://app.example.com/oauth/client-metadata.json";

    fn doc(extra: &str) -> Vec<u8> {
        format!(
            r#"{{"client_id":"{URL}","client_name":"Example MCP Client",
            "redirect_uris":["http://127.0.0.1:3000/callback","http://localhost:3000/callback"]{extra}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn document_urls_are_https_with_a_path() {
        assert!(is_document_url(URL, false));
        assert!(!is_document_url("https://app.example.com", false));
        assert!(!is_document_url("https://app.example.com/", false));
        assert!(!is_document_url("http://127.0.0.1:3000/c.json", false));
        assert!(is_document_url("http://127.0.0.1:3000/c.json", true));
        assert!(!is_document_url("http://example.com/c.json", true));
        assert!(!is_document_url("5f4c2a3e-uuid", true));
    }

    #[test]
    fn cimd_3_url_rules() {
        let invalid = |id: &str| match classify(id, true) {
            DocumentUrl::Invalid(why) => why,
            other => panic!("{id}: {other:?}"),
        };
        for id in [
            "https://user:pass@app.example.com/c.json",
            "https://user@app.example.com/c.json",
            "https://@app.example.com/c.json",
            "http://u:p@127.0.0.1:3000/c.json",
        ] {
            assert!(invalid(id).contains("user information"), "{id}");
        }
        for id in [
            "https://app.example.com/c.json#x",
            "https://app.example.com/c.json#",
        ] {
            assert!(invalid(id).contains("fragment"), "{id}");
        }
        for id in [
            "https://app.example.com/a/../c.json",
            "https://app.example.com/./c.json",
            "https://app.example.com/a/..",
            "https://app.example.com/a/%2e%2E/c.json",
            "https://app.example.com/a/.%2e/c.json",
            "https://app.example.com/a\\..\\c.json",
            "http://127.0.0.1:3000/a/../c.json",
        ] {
            assert!(invalid(id).contains("'..' path segments"), "{id}");
        }
        // Dots inside a segment, a query (only SHOULD NOT) and a port are fine.
        for id in [
            "https://app.example.com/.well-known/c.json",
            "https://app.example.com/a..b/c.json",
            "https://app.example.com/c.json?v=1",
            "https://app.example.com:8443/c.json",
        ] {
            assert_eq!(classify(id, false), DocumentUrl::Yes, "{id}");
        }
        // Not document URLs at all: looked up as registered clients.
        assert_eq!(
            classify("http://u:p@example.com/c.json", true),
            DocumentUrl::No
        );
        assert_eq!(classify("my-client", true), DocumentUrl::No);
    }

    #[test]
    fn the_mcp_example_document_is_valid() {
        let metadata = parse_document(URL, &doc("")).unwrap();
        assert_eq!(metadata.token_endpoint_auth_method, AuthMethod::None);
        assert_eq!(metadata.client_name.as_deref(), Some("Example MCP Client"));
    }

    #[test]
    fn invalid_documents_are_refused() {
        for (body, why) in [
            (b"<html>".to_vec(), "not JSON"),
            (b"[]".to_vec(), "not a JSON object"),
            (br#"{"client_id":"https://other.example/c.json","client_name":"x","redirect_uris":["https://a/cb"]}"#.to_vec(), "exactly"),
            (format!(r#"{{"client_id":"{URL}","redirect_uris":["https://a/cb"]}}"#).into_bytes(), "client_name"),
            (format!(r#"{{"client_id":"{URL}","client_name":"x"}}"#).into_bytes(), "redirect_uris"),
            (format!(r#"{{"client_id":"{URL}","client_name":null,"redirect_uris":["https://a/cb"]}}"#).into_bytes(), "client_name must be a non-empty string"),
            (format!(r#"{{"client_id":"{URL}","client_name":" ","redirect_uris":["https://a/cb"]}}"#).into_bytes(), "client_name must be a non-empty string"),
            (format!(r#"{{"client_id":"{URL}","client_name":"x","redirect_uris":null}}"#).into_bytes(), "redirect_uris must be a non-empty array"),
            (format!(r#"{{"client_id":"{URL}","client_name":"x","redirect_uris":[]}}"#).into_bytes(), "redirect_uris must be a non-empty array"),
            (format!(r#"{{"client_id":"{URL}","client_name":"x","redirect_uris":"https://a/cb"}}"#).into_bytes(), "redirect_uris must be a non-empty array"),
            (format!(r#"{{"client_id":"{URL}","client_name":"x","redirect_uris":[null]}}"#).into_bytes(), "redirect_uris must be a non-empty array"),
            (doc(r#","token_endpoint_auth_method":"client_secret_basic""#), "shared secrets"),
            (doc(r#","token_endpoint_auth_method":"private_key_jwt""#), "private_key_jwt is not implemented"),
            (doc(r#","client_secret":"s""#), "client secret"),
            (doc(r#","redirect_uris":["http://evil.example/cb"]"#), "non-loopback"),
        ] {
            let err = parse_document(URL, &body).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidClient);
            assert!(err.description.contains(why), "{why}: {}", err.description);
        }
    }

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
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_global_addresses_may_be_fetched() {
        for blocked in [
            "10.0.0.5",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            // Tunnelling and transition ranges that can carry traffic to any v4 address.
            "::a00:1",
            "::7f00:1",
            "::5db8:d822",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2002:a00:1::1",
            "2002:5db8:d822::1",
            "192.88.99.1",
            "::ffff:192.88.99.1",
        ] {
            assert!(!may_connect(blocked.parse().unwrap(), false), "{blocked}");
        }
        for allowed in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "2001:4860:4860::8888",
        ] {
            assert!(may_connect(allowed.parse().unwrap(), false), "{allowed}");
        }
        assert!(may_connect("127.0.0.1".parse().unwrap(), true));
        assert!(
            !may_connect("10.0.0.5".parse().unwrap(), true),
            "only loopback is relaxed"
        );
    }
}
