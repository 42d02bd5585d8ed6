//! Near-misses: the mistakes developers really make, recognised from what was expected and
//! what was received, and explained in plain words. A hint goes into the event log beside
//! the refusal; the refusal itself stays as strict as the rule.

use super::redirect_uri;
use super::rules::{self, Rule};
use url::Url;

/// What a URI the server expected (a registered redirect URI, a granted resource) and the
/// one the request sent differ in, when they differ in one way that is a classic mistake.
pub fn uri_near_miss<'a>(
    expected: impl IntoIterator<Item = &'a str>,
    received: &str,
) -> Option<String> {
    expected
        .into_iter()
        .find_map(|expected| one_uri_near_miss(expected, received))
}

fn one_uri_near_miss(expected: &str, received: &str) -> Option<String> {
    if expected == received {
        return None;
    }
    let (Ok(want), Ok(got)) = (Url::parse(expected), Url::parse(received)) else {
        return None;
    };
    let same_except = |change: &dyn Fn(&mut Url)| {
        let mut adjusted = got.clone();
        change(&mut adjusted);
        adjusted.as_str() == want.as_str()
    };
    let loopback = ["localhost", "127.0.0.1", "[::1]"];
    let (want_host, got_host) = (want.host_str()?, got.host_str()?);
    if want_host != got_host && loopback.contains(&want_host) && loopback.contains(&got_host) {
        let swapped = same_except(&|url| {
            let _ = url.set_host(Some(want_host));
        });
        if swapped {
            return Some(format!(
                "'{got_host}' is not '{want_host}': URIs are compared as strings, and \
                 localhost, 127.0.0.1 and [::1] are three different strings. Use the one that \
                 was registered, '{expected}'"
            ));
        }
    }
    if want.as_str().trim_end_matches('/') == got.as_str().trim_end_matches('/')
        && expected.ends_with('/') != received.ends_with('/')
    {
        let which = if received.ends_with('/') {
            "has a trailing slash that the expected one does not have"
        } else {
            "lacks the trailing slash of the expected one"
        };
        return Some(format!(
            "'{received}' {which}; a slash makes a different URI. Send exactly '{expected}'"
        ));
    }
    if want.scheme() != got.scheme()
        && same_except(&|url| {
            let _ = url.set_scheme(want.scheme());
        })
    {
        return Some(format!(
            "the scheme differs: '{}' was sent where '{}' is expected ('{expected}')",
            got.scheme(),
            want.scheme()
        ));
    }
    // `Url` drops a default port, so an explicit ':443' or ':80' compares equal after
    // parsing while the strings differ.
    if want.as_str() == got.as_str() {
        return Some(format!(
            "'{received}' and '{expected}' differ only in how they are written (a default port \
             written out, upper-case letters in the scheme or host): they are compared as \
             strings, so send '{expected}' exactly"
        ));
    }
    if want.port() != got.port()
        && same_except(&|url| {
            let _ = url.set_port(want.port());
        })
    {
        return Some(
            if loopback.contains(&want_host) && want.scheme() == "http" {
                // Never at the authorization endpoint, which accepts any port here: this is a
                // token request's redirect_uri or a resource, compared exactly.
                format!(
                    "only the port differs from '{expected}': any port is accepted for an http \
                     loopback redirect URI at the authorization endpoint (RFC 8252 §7.3), but \
                     here the value must be exactly '{expected}', port included (a token \
                     request repeats the redirect_uri of its authorization request)"
                )
            } else {
                format!(
                    "only the port differs from '{expected}': any port is allowed only for http \
                 URIs on a loopback host (RFC 8252 §7.3), not for '{want_host}'"
                )
            },
        );
    }
    None
}

/// What a request to a path that is not served most likely meant, and the rule its URL
/// broke where one applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misdirected {
    pub rule: Option<&'static Rule>,
    pub hint: String,
}

/// For a well-known or endpoint path that is not served: what the client most likely meant.
/// `issuer_path` is the issuer's path ("" or "/tenant").
pub fn misdirected_path(path: &str, issuer: &str, issuer_path: &str) -> Option<Misdirected> {
    const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
    const OPENID: &str = "/.well-known/openid-configuration";
    const PRM: &str = "/.well-known/oauth-protected-resource";
    let explained = |rule, hint| Some(Misdirected { rule, hint });
    let metadata_url = format!("{}{AS_METADATA}{issuer_path}", origin(issuer));
    if path.starts_with(PRM) {
        let hint = format!(
            "{path} is protected resource metadata (RFC 9728), which the MCP server publishes, \
             not the authorization server. The MCP server's 401 names its metadata URL; that \
             document names this authorization server, whose metadata is at {metadata_url}"
        );
        return explained(None, hint);
    }
    for well_known in [AS_METADATA, OPENID] {
        if let Some(rest) = path.strip_prefix(well_known) {
            if rest == format!("{issuer_path}/") || (issuer_path.is_empty() && rest == "/") {
                let hint = format!(
                    "this metadata URL was built from the issuer with a trailing slash, \
                     '{issuer}/'; the issuer is '{issuer}' without one, and \
                     authorization_servers in the protected resource metadata must name it \
                     character for character (RFC 8414 §3.3). The metadata is at \
                     {metadata_url}"
                );
                return explained(Some(&rules::MD_3), hint);
            }
            let hint = format!(
                "no authorization server metadata at {path}; for the issuer '{issuer}' it is at \
                 {metadata_url} (RFC 8414 §3.1 inserts the well-known string before the \
                 issuer's path)"
            );
            return explained(Some(&rules::MD_9), hint);
        }
        if let Some(prefix) = path.strip_suffix(well_known) {
            if !prefix.is_empty() && prefix != issuer_path {
                let hint = format!(
                    "no metadata for an issuer with the path '{prefix}'; this server's issuer \
                     is '{issuer}', and its metadata is at {metadata_url}"
                );
                return explained(Some(&rules::MD_9), hint);
            }
        }
    }
    let endpoint = path.rsplit('/').next().unwrap_or_default();
    (!endpoint.is_empty()).then(|| Misdirected {
        rule: None,
        hint: format!(
            "there is no endpoint at {path}; this server's endpoints are listed in its \
             metadata, {metadata_url} (the {endpoint} endpoint is most likely \
             {issuer}/{endpoint})"
        ),
    })
}

fn origin(issuer: &str) -> String {
    Url::parse(issuer).map_or_else(
        |_| issuer.to_owned(),
        |url| url.origin().ascii_serialization(),
    )
}

/// A `client_id` that no registered client has: whether it looks like something else.
pub fn unknown_client(
    client_id: &str,
    documents_on: bool,
    http_loopback_on: bool,
) -> Option<String> {
    let url = Url::parse(client_id).ok()?;
    match url.scheme() {
        "https" if !documents_on => Some(format!(
            "'{client_id}' looks like the URL of a Client ID Metadata Document, but this server \
             does not accept them (cimd.enabled is false): register the client first, or turn \
             cimd.enabled on"
        )),
        "http" if !redirect_uri::is_loopback(client_id) => Some(format!(
            "'{client_id}' looks like the URL of a Client ID Metadata Document on http; \
             documents are fetched over https only (CIMD §3), and over http only from a \
             loopback host with cimd.allow_http_loopback, for local development"
        )),
        "http" if !documents_on => Some(format!(
            "'{client_id}' looks like the URL of a Client ID Metadata Document on http, but \
             this server does not accept them (cimd.enabled is false): register the client \
             first, or turn on cimd.enabled and cimd.allow_http_loopback"
        )),
        "http" if !http_loopback_on => Some(format!(
            "'{client_id}' looks like the URL of a Client ID Metadata Document on http; this \
             server accepts http document URLs only with cimd.allow_http_loopback (on a \
             loopback issuer and bind), so it looked for a registered client of that name"
        )),
        _ => None,
    }
}

/// A time span in words: "3 s", "2 min 5 s", "1 h 3 min".
pub fn span(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3599 => match seconds % 60 {
            0 => format!("{} min", seconds / 60),
            rest => format!("{} min {rest} s", seconds / 60),
        },
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

/// A span of milliseconds: below a second in milliseconds (refresh races are that close),
/// else as [`span`].
pub fn span_ms(millis: i64) -> String {
    match millis.max(0) {
        millis @ 0..=999 => format!("{millis} ms"),
        millis @ 1_000..=9_999 if millis % 1000 >= 100 => {
            format!("{}.{} s", millis / 1000, millis % 1000 / 100)
        }
        millis => span(millis / 1000),
    }
}

/// A refresh token used a second time: who used it first, how long before, and what the
/// server's `refresh.reuse` made of it.
pub fn refresh_reuse(
    first_request: &str,
    first_at_ms: i64,
    gap_ms: i64,
    grace: Option<std::time::Duration>,
) -> String {
    let when = format!(
        "this refresh token was first used at {}, {} before this request, which is the second \
         use; the first was request {first_request}",
        super::event::format_time(first_at_ms),
        span_ms(gap_ms)
    );
    match grace {
        None => format!(
            "{when}. Every refresh returns a new refresh token and the old one must be thrown \
             away. If two parts of a client refresh at once, let one refresh and share the \
             result, or set refresh.reuse = \"grace\" on this server to see whether that is \
             what happens"
        ),
        Some(grace) => format!(
            "{when}, which is later than refresh.grace_period ({}) allows, so the grant was \
             revoked as if refresh.reuse were \"strict\"",
            span_ms(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_of_milliseconds_read_well() {
        assert_eq!(span_ms(37), "37 ms");
        assert_eq!(span_ms(1_250), "1.2 s");
        assert_eq!(span_ms(10_000), "10 s");
        assert_eq!(span_ms(2_000), "2 s");
        assert_eq!(span_ms(-5), "0 ms");
        let strict = refresh_reuse("e1", 784_111_777_042, 40, None);
        assert!(
            strict.contains(
                "first used at 1994-11-06T08:49:37.042Z, 40 ms before this request, which is \
                 the second use; the first was request e1"
            ),
            "{strict}"
        );
        assert!(
            strict.contains("refresh.reuse = 'grace'")
                || strict.contains("refresh.reuse = \"grace\"")
        );
        let late = refresh_reuse("e1", 0, 12_000, Some(std::time::Duration::from_secs(10)));
        assert!(late.contains("refresh.grace_period (10 s)"), "{late}");
    }

    fn near(expected: &str, received: &str) -> String {
        uri_near_miss([expected], received).unwrap_or_else(|| panic!("no hint for {received}"))
    }

    #[test]
    fn localhost_is_not_127_0_0_1() {
        let hint = near("http://127.0.0.1:3000/cb", "http://localhost:3000/cb");
        assert!(hint.contains("'localhost' is not '127.0.0.1'"), "{hint}");
    }

    #[test]
    fn trailing_slashes_default_ports_schemes_and_ports() {
        assert!(
            near("https://mcp.example/mcp", "https://mcp.example/mcp/").contains("trailing slash")
        );
        assert!(
            near("https://app.example/cb", "https://app.example:443/cb").contains("default port")
        );
        assert!(near("https://app.example/cb", "http://app.example/cb").contains("scheme differs"));
        assert!(
            near("https://app.example:8443/cb", "https://app.example:9443/cb")
                .contains("not for 'app.example'")
        );
        let loopback = near("http://127.0.0.1:40001/cb", "http://127.0.0.1:53682/cb");
        assert!(
            loopback.contains("here the value must be exactly 'http://127.0.0.1:40001/cb'"),
            "{loopback}"
        );
        assert!(uri_near_miss(["https://a.example/cb"], "https://b.example/cb").is_none());
        assert!(uri_near_miss(["not a url"], "https://b.example/cb").is_none());
    }

    #[test]
    fn misdirected_metadata_urls() {
        let issuer = "http://127.0.0.1:9000";
        let slash =
            misdirected_path("/.well-known/oauth-authorization-server/", issuer, "").unwrap();
        assert!(slash.hint.contains("trailing slash"), "{slash:?}");
        assert_eq!(slash.rule, Some(&rules::MD_3));
        let prm =
            misdirected_path("/.well-known/oauth-protected-resource/mcp", issuer, "").unwrap();
        assert!(prm.hint.contains("MCP server publishes"), "{prm:?}");
        let inserted =
            misdirected_path("/t1/.well-known/oauth-authorization-server", issuer, "").unwrap();
        assert_eq!(inserted.rule, Some(&rules::MD_9));
        let endpoint = misdirected_path("/oauth/token", issuer, "").unwrap();
        assert!(
            endpoint.hint.contains("http://127.0.0.1:9000/token"),
            "{endpoint:?}"
        );
        assert_eq!(endpoint.rule, None);
    }

    #[test]
    fn document_url_client_ids_say_what_would_make_them_work() {
        let hint = |id, documents, loopback| unknown_client(id, documents, loopback);
        let https = "https://app.example/client.json";
        assert!(
            hint(https, false, false)
                .unwrap()
                .contains("cimd.enabled is false")
        );
        assert_eq!(hint(https, true, false), None);
        let local = "http://127.0.0.1:3000/client.json";
        let off = hint(local, false, false).unwrap();
        assert!(
            off.contains("cimd.enabled is false") && off.contains("cimd.allow_http_loopback"),
            "{off}"
        );
        assert!(
            hint(local, true, false)
                .unwrap()
                .contains("only with cimd.allow_http_loopback")
        );
        assert_eq!(hint(local, true, true), None);
        let remote = "http://app.example/client.json";
        for (documents, loopback) in [(true, true), (true, false), (false, false)] {
            let text = hint(remote, documents, loopback).unwrap();
            assert!(text.contains("over https only"), "{text}");
        }
        assert_eq!(hint("my-client", false, false), None);
    }

    #[test]
    fn spans_read_as_words() {
        assert_eq!(span(3), "3 s");
        assert_eq!(span(125), "2 min 5 s");
        assert_eq!(span(3780), "1 h 3 min");
    }
}
