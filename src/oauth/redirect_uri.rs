//! Redirect URI policy: what may be registered (checklist DCR-3) and how a request's
//! `redirect_uri` is matched against the registered values (AZ-3, AZ-4).
//!
//! Matching is simple string comparison (RFC 3986 §6.2.1, OAuth 2.1 §4.1.1), never prefix or
//! pattern matching. The one exception is the loopback rule of RFC 8252 §7.3 / OAuth 2.1
//! §8.4.2: native apps listen on an ephemeral port, so for `http` URIs on a loopback host the
//! port may differ while everything else must still be byte-identical.
//!
//! What may be registered: `https`, `http` on a loopback host, and (unless the server is
//! set to the MCP text's stricter rule) the private-use URI schemes of native apps (RFC 8252
//! §7.1), which real MCP clients use: Cursor registers `cursor://anysphere.cursor-mcp/...`,
//! VS Code `vscode://...`. Those are matched exactly like any other redirect URI.

use super::error::OAuthError;
use super::{hints, rules};
use serde::{Deserialize, Serialize};
use url::Url;

/// Hosts that count as loopback for redirect URIs. `localhost` is included because real MCP
/// clients register it (Claude Code, VS Code), although OAuth 2.1 calls it NOT RECOMMENDED.
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// Schemes that are never a redirect URI, whatever the setting: they run code or read
/// files in the browser (`javascript`, `vbscript`, `data`, `file`), or name the browser's
/// own documents rather than an application (`about`, `blob`, `filesystem`, `view-source`).
const NEVER: [&str; 8] = [
    "javascript",
    "vbscript",
    "data",
    "file",
    "about",
    "blob",
    "filesystem",
    "view-source",
];

/// Which redirect URIs registration accepts (`registration.redirect_schemes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedirectSchemes {
    /// `https`, `http` on a loopback host, and the private-use schemes of native apps
    /// (RFC 8252 §7.1): `cursor:`, `vscode:`, `com.example.app:`.
    #[default]
    Native,
    /// The MCP text's rule (Communication Security): `https`, or `http` on a loopback host,
    /// only. For teams that want to see which clients break under it.
    McpStrict,
}

impl RedirectSchemes {
    pub fn as_str(self) -> &'static str {
        match self {
            RedirectSchemes::Native => "native",
            RedirectSchemes::McpStrict => "mcp-strict",
        }
    }
}

/// What kind of place a redirect URI sends the browser to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination<'a> {
    /// An `https` URL.
    Web,
    /// `http` on a loopback host: a program on this computer listening on a port.
    Loopback,
    /// A private-use URI scheme (RFC 8252 §7.1): the application on this computer that
    /// registered the scheme with the operating system.
    App { scheme: &'a str },
}

/// Where `uri` sends the browser, if it is a URI this server could redirect to at all.
pub fn destination(uri: &str) -> Option<Destination<'_>> {
    let scheme = uri.split_once(':')?.0;
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Some(Destination::Web),
        "http" if is_loopback(uri) => Some(Destination::Loopback),
        _ if is_private_use_scheme(scheme) => Some(Destination::App { scheme }),
        _ => None,
    }
}

/// A scheme that can only be an application's: valid RFC 3986 §3.1 syntax, in the form the
/// URI parser produces (lower case), and none of the schemes browsers handle themselves.
fn is_private_use_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
        && !NEVER.contains(&scheme)
        && !matches!(scheme, "http" | "https")
}

/// Checks one redirect URI a client wants to register (checklist DCR-3), under the server's
/// `registration.redirect_schemes`.
pub fn validate_for_registration(uri: &str, schemes: RedirectSchemes) -> Result<(), OAuthError> {
    check_for_registration(uri, schemes).map_err(|error| match error.rule_id() {
        Some(_) => error,
        None => error.rule(&rules::DCR_3),
    })
}

fn check_for_registration(uri: &str, schemes: RedirectSchemes) -> Result<(), OAuthError> {
    // URL parsing would quietly drop or percent-encode these, and the URI the client later
    // sends must match what was registered, character for character.
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI {uri:?} contains a space or a control character; a URI has neither \
             (RFC 3986 §2)"
        )));
    }
    let parsed = Url::parse(uri).map_err(|e| {
        OAuthError::invalid_redirect_uri(format!(
            "redirect URI '{uri}' is not an absolute URI ({e}); OAuth 2.1 §2.3.1 requires \
             absolute URIs"
        ))
    })?;
    if uri.contains('#') {
        return Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI '{uri}' contains a fragment, which is not allowed (OAuth 2.1 §2.3.1)"
        )));
    }
    check_scheme(uri, &parsed, schemes)?;
    check_destination(uri, &parsed)
}

/// Issue 20, item 8: a redirect URI must lead exactly where it reads. Browsers follow the
/// WHATWG URL parser, which the `url` crate implements: `https:///cb` goes to `https://cb/`,
/// `https://evil.example\@good.example/cb` to `evil.example`, `https://%65vil.example/` to
/// `evil.example`. A URI is accepted only if parsing gives it back unchanged (its normalised
/// form), so the string that is stored and compared exactly (OAuth 2.1 §4.1.1, RFC 9700
/// §2.1) is also where the browser goes, and the consent page's host is the real one. User
/// information is refused too: no redirect URI needs it, and it puts a second host name in
/// front of the real one.
fn check_destination(uri: &str, parsed: &Url) -> Result<(), OAuthError> {
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI '{uri}' contains user information (before '@'); a redirect URI \
             never needs it, and it hides which host the browser goes to (RFC 3986 §3.2.1)"
        )));
    }
    if parsed.as_str() != uri {
        let host = parsed.host_str().unwrap_or("no host");
        return Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI '{uri}' does not lead where it reads: a browser parses it as \
             '{parsed}' (host: {host}). Redirect URIs are compared as strings, so register \
             the URI in that form and send it that way (OAuth 2.1 §4.1.1; RFC 3986 §6.2.1)"
        ))
        .compared(parsed.as_str(), uri));
    }
    Ok(())
}

/// Whether `uri` is its own normalised form (see [`check_destination`]).
pub fn round_trips(uri: &str) -> bool {
    Url::parse(uri).is_ok_and(|parsed| check_destination(uri, &parsed).is_ok())
}

fn check_scheme(uri: &str, parsed: &Url, schemes: RedirectSchemes) -> Result<(), OAuthError> {
    let scheme = parsed.scheme();
    // The parser lower-cases the scheme; the URI is compared as written, so a client that
    // registers `Cursor://` must send `Cursor://`. Classify by what was written.
    let written = uri.split_once(':').map_or(scheme, |(written, _)| written);
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(uri) => Ok(()),
        "http" => Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI '{uri}' uses http on a non-loopback host; redirect URIs must use \
             https, or http on 127.0.0.1, [::1] or localhost (MCP authorization, \
             Communication Security)"
        ))),
        _ if NEVER.contains(&scheme) => Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI '{uri}' uses the scheme '{scheme}', which is never a redirect URI: \
             it would run code or open a document in the browser instead of returning to an \
             application. Use https, http on a loopback host, or your application's own \
             scheme (RFC 8252 §7.1)"
        ))),
        _ if schemes == RedirectSchemes::McpStrict => {
            Err(OAuthError::invalid_redirect_uri(format!(
                "redirect URI '{uri}' uses the private-use scheme '{scheme}' (RFC 8252 §7.1), \
                 which this server refuses because registration.redirect_schemes is \
                 \"mcp-strict\": only https, or http on 127.0.0.1, [::1] or localhost, is \
                 allowed (MCP authorization, Communication Security). With \
                 registration.redirect_schemes = \"native\" (the default) native apps' schemes \
                 are accepted"
            ))
            .compared(
                "https, or http on a loopback host (registration.redirect_schemes = \
                 \"mcp-strict\")",
                uri,
            ))
        }
        _ if written != scheme => Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI '{uri}' writes its scheme '{written}' with upper-case letters; \
             schemes are case-insensitive but redirect URIs are compared as strings, so \
             register it as '{scheme}' and send it that way (RFC 3986 §3.1)"
        ))),
        // A private-use scheme needs a path (`com.example.app:/callback`, RFC 8252 §7.1, or
        // `cursor://host/path`): response parameters go into its query.
        _ if parsed.cannot_be_a_base() => Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI '{uri}' has no path after its scheme; a native app's redirect URI \
             looks like '{scheme}:/callback' or '{scheme}://host/callback' (RFC 8252 §7.1)"
        ))),
        _ => Ok(()),
    }
}

/// Whether this server still accepts `uri` as a redirect URI under `schemes`: a client
/// registered while native schemes were accepted keeps its URIs, but they are not used
/// once the setting says "mcp-strict".
///
/// A URI registered before redirect URIs had to round-trip (issue 20, item 8) is not used
/// either. A loopback URI is exempt: it matched a registered one with only its port
/// changed, and that port is a valid one (AZ-4), so it leads where it reads.
pub fn check_allowed(uri: &str, schemes: RedirectSchemes) -> Result<(), OAuthError> {
    match (destination(uri), schemes) {
        (Some(Destination::App { .. }), RedirectSchemes::McpStrict) | (None, _) => {
            validate_for_registration(uri, schemes)
        }
        (Some(Destination::Loopback), _) => Ok(()),
        _ if !round_trips(uri) => validate_for_registration(uri, schemes),
        _ => Ok(()),
    }
}

/// Finds the registered URI that `requested` matches, if any.
pub fn find_match<'a>(registered: &'a [String], requested: &str) -> Option<&'a String> {
    registered
        .iter()
        .find(|candidate| matches(candidate, requested))
}

/// Whether a requested redirect URI matches one registered value.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    // RFC 8252 §7.3: any port on a loopback http URI.
    match (
        split_http_authority(registered),
        split_http_authority(requested),
    ) {
        (Some(reg), Some(req)) => {
            is_loopback_host(reg.host) && reg.host == req.host && reg.rest == req.rest
        }
        _ => false,
    }
}

/// The redirect URI a request names, or the client's only one when it names none
/// (OAuth 2.1 §4.1.1: optional when exactly one is registered).
pub fn resolve(registered: &[String], requested: Option<&str>) -> Result<String, OAuthError> {
    match requested {
        Some(requested) => find_match(registered, requested)
            .map(|_| requested.to_owned())
            .ok_or_else(|| {
                if let Some(port) = invalid_loopback_port(requested) {
                    return OAuthError::invalid_request(format!(
                        "redirect_uri '{requested}' names port {port}, which is not a TCP \
                         port (1 to 65535). A loopback redirect URI may use any port (RFC \
                         8252 §7.3), but a real one: use the port your client listens on"
                    ))
                    .rule(&rules::AZ_4)
                    .compared("a port from 1 to 65535", port);
                }
                OAuthError::invalid_request(format!(
                    "redirect_uri '{requested}' is not registered for this client; registered: \
                     {}. Matching is exact (OAuth 2.1 §4.1.1); only the port of an http \
                     loopback URI may differ (RFC 8252 §7.3)",
                    list(registered)
                ))
                .rule(&rules::AZ_3)
                .compared(list(registered), requested)
                .hint(hints::uri_near_miss(
                    registered.iter().map(String::as_str),
                    requested,
                ))
            }),
        None => match registered {
            [only] => Ok(only.clone()),
            _ => Err(OAuthError::invalid_request(format!(
                "redirect_uri is required because this client has {} registered redirect URIs \
                 ({}) (OAuth 2.1 §4.1.1)",
                registered.len(),
                list(registered)
            ))
            .rule(&rules::AZ_3)),
        },
    }
}

fn list(uris: &[String]) -> String {
    if uris.is_empty() {
        return "none".to_owned();
    }
    uris.iter()
        .map(|u| format!("'{u}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The host of a redirect URI for display on the consent page.
pub fn display_host(uri: &str) -> String {
    Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| uri.to_owned())
}

fn is_loopback_host(host: &str) -> bool {
    LOOPBACK_HOSTS.contains(&host)
}

struct HttpParts<'a> {
    host: &'a str,
    /// Everything after the authority: path, query and fragment, as sent.
    rest: &'a str,
}

/// Splits an `http://host[:port]rest` string without normalising it, so the comparison stays
/// a comparison of what the client sent.
fn split_http_authority(uri: &str) -> Option<HttpParts<'_>> {
    let after_scheme = uri.strip_prefix("http://")?;
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let (authority, rest) = after_scheme.split_at(authority_end);
    if authority.contains('@') {
        return None;
    }
    let host = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, port) = authority.split_at(close + 1);
        if !port.is_empty() && !is_port(port) {
            return None;
        }
        host
    } else {
        match authority.split_once(':') {
            Some((host, port)) if is_port(&format!(":{port}")) => host,
            Some(_) => return None,
            None => authority,
        }
    };
    Some(HttpParts { host, rest })
}

/// `:PORT` with a TCP port, 1 to 65535 (issue 20, item 7: `:99999` was accepted).
fn is_port(colon_port: &str) -> bool {
    colon_port.strip_prefix(':').is_some_and(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|port| port > 0)
    })
}

/// The port of an `http` URI on a loopback host when it is digits but no TCP port
/// (`http://127.0.0.1:99999/cb`).
fn invalid_loopback_port(uri: &str) -> Option<&str> {
    let after_scheme = uri.strip_prefix("http://")?;
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let authority = &after_scheme[..authority_end];
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if host.starts_with('[') == host.ends_with(']') => (host, port),
        _ => return None,
    };
    (is_loopback_host(host)
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && !is_port(&format!(":{port}")))
    .then_some(port)
}

/// Whether a redirect URI points at the user's own machine (http on a loopback host).
pub fn is_loopback(uri: &str) -> bool {
    split_http_authority(uri).is_some_and(|parts| is_loopback_host(parts.host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    const CB: &str = "http://127.0.0.1:53682/callback";

    #[test]
    fn exact_match_is_required() {
        let registered = vec![CB.to_owned()];
        for bad in [
            "http://127.0.0.1:53682/callbackX",
            "http://127.0.0.1:53682/Callback",
            "http://127.0.0.1:53682/callback?x=1",
            "http://127.0.0.1:53682/callback#f",
            "http://127.0.0.1:53682/callback/",
            "http://127.0.0.2:53682/callback",
            "https://127.0.0.1:53682/callback",
        ] {
            assert!(
                find_match(&registered, bad).is_none(),
                "{bad} must not match"
            );
        }
        assert!(find_match(&registered, CB).is_some());
    }

    #[test]
    fn loopback_ports_may_vary() {
        let registered = vec![CB.to_owned()];
        assert!(matches(CB, "http://127.0.0.1:61000/callback"));
        assert!(matches(CB, "http://127.0.0.1/callback"));
        assert!(matches(
            "http://[::1]:1/callback",
            "http://[::1]:65000/callback"
        ));
        assert!(matches(
            "http://localhost/callback",
            "http://localhost:51353/callback"
        ));
        assert!(!matches(
            "http://localhost/callback",
            "http://localhost:51353/other"
        ));
        // The host must not change, even between two loopback spellings.
        assert!(!matches(CB, "http://localhost:53682/callback"));
        assert!(find_match(&registered, "http://127.0.0.1:8080/callback").is_some());
    }

    #[test]
    fn ports_do_not_vary_for_https_or_other_hosts() {
        assert!(!matches(
            "https://app.example.com/cb",
            "https://app.example.com:444/cb"
        ));
        assert!(!matches(
            "http://example.com:80/cb",
            "http://example.com:81/cb"
        ));
    }

    #[test]
    fn userinfo_tricks_do_not_match() {
        assert!(!matches(CB, "http://127.0.0.1:1@evil.example/callback"));
    }

    #[test]
    fn dcr_3_registration_allows_https_loopback_http_and_native_schemes() {
        use RedirectSchemes::{McpStrict, Native};
        for ok in [
            "https://client.example.org/cb",
            CB,
            "http://localhost/callback",
            "http://[::1]:9/cb",
        ] {
            assert_eq!(validate_for_registration(ok, Native), Ok(()), "{ok}");
            assert_eq!(validate_for_registration(ok, McpStrict), Ok(()), "{ok}");
        }
        // RFC 8252 §7.1, and what MCP clients really register.
        for native in [
            "com.example.app:/oauth2redirect/example-provider",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "cursor://anysphere.cursor-retrieval/oauth/user-my-server/callback",
            "vscode://vscode.github-authentication/did-authenticate",
            "vscode-insiders://a/cb",
            "windsurf://codeium.windsurf/oauth/callback",
        ] {
            assert_eq!(
                validate_for_registration(native, Native),
                Ok(()),
                "{native}"
            );
            let strict = validate_for_registration(native, McpStrict).unwrap_err();
            assert_eq!(strict.code, ErrorCode::InvalidRedirectUri, "{native}");
            assert!(
                strict
                    .description
                    .contains("registration.redirect_schemes is \"mcp-strict\""),
                "the refusal names the setting: {strict}"
            );
            assert_eq!(strict.rule_id(), Some("DCR-3"));
        }
        for bad in [
            "http://evil.example/cb",
            "https://x/cb#f",
            "javascript:alert(1)",
            "JavaScript://x/%0aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "data://x/cb",
            "file:///etc/passwd",
            "vbscript://x/msgbox",
            "about:blank",
            "blob://x/cb",
            "myapp:callback",
            "Cursor://anysphere.cursor-mcp/oauth/callback",
            "cursor://anysphere.cursor-mcp/oauth/callback#f",
            "/relative",
        ] {
            let err = validate_for_registration(bad, Native).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRedirectUri, "{bad}");
            assert_eq!(err.rule_id(), Some("DCR-3"), "{bad}");
        }
    }

    #[test]
    fn az_4_loopback_ports_are_tcp_ports() {
        let registered = vec![CB.to_owned()];
        for bad in [
            "http://127.0.0.1:99999/callback",
            "http://127.0.0.1:65536/callback",
            "http://127.0.0.1:0/callback",
            "http://[::1]:70000/callback",
            "http://localhost:99999/callback",
        ] {
            assert!(find_match(&registered, bad).is_none(), "{bad}");
            assert!(!is_loopback(bad), "{bad}");
        }
        assert!(find_match(&registered, "http://127.0.0.1:65535/callback").is_some());
        let error = resolve(&registered, Some("http://127.0.0.1:99999/callback")).unwrap_err();
        assert_eq!(error.rule_id(), Some("AZ-4"));
        assert!(error.description.contains("port 99999"), "{error}");
        assert_eq!(
            invalid_loopback_port("http://[::1]:70000/callback"),
            Some("70000")
        );
        assert_eq!(invalid_loopback_port("http://evil.example:99999/cb"), None);
        assert_eq!(invalid_loopback_port(CB), None);
    }

    #[test]
    fn dcr_3_redirect_uris_lead_where_they_read() {
        for bad in [
            "https:///cb",
            "https://evil.example\\@good.example/cb",
            "https://good.example\\evil.example/cb",
            "https://%65vil.example/cb",
            "https://user@good.example/cb",
            "https://good.example:pw@evil.example/cb",
            "https://Good.example/cb",
            "https://good.example",
            "https://good.example:443/cb",
            "https://good.example/a/../cb",
            "https://good.example/c b",
            "https://good.example/cb\tx",
            "http://127.0.0.1:80/cb",
            "http://127.1/cb",
            "cursor://user@anysphere.cursor-mcp/oauth/callback",
        ] {
            let error = validate_for_registration(bad, RedirectSchemes::Native).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRedirectUri, "{bad}");
            assert_eq!(error.rule_id(), Some("DCR-3"), "{bad}");
            assert!(!round_trips(bad), "{bad}");
        }
        let error = validate_for_registration("https:///cb", RedirectSchemes::Native).unwrap_err();
        assert!(error.description.contains("'https://cb/'"), "{error}");
        // Already stored ones are not used at /authorize either.
        assert!(
            check_allowed(
                "https://evil.example\\@good.example/cb",
                RedirectSchemes::Native
            )
            .is_err()
        );
        assert_eq!(
            check_allowed("https://good.example/cb", RedirectSchemes::Native),
            Ok(())
        );
    }

    #[test]
    fn native_redirect_uris_match_exactly() {
        let registered = vec!["cursor://anysphere.cursor-mcp/oauth/callback".to_owned()];
        assert!(find_match(&registered, "cursor://anysphere.cursor-mcp/oauth/callback").is_some());
        for near in [
            "cursor://anysphere.cursor-mcp/oauth/callback/",
            "cursor://anysphere.cursor-mcp:1/oauth/callback",
            "cursor://anysphere.cursor-mcp/oauth/callbackX",
            "cursor://anysphere.cursor-mcp/oauth/callback?x=1",
            "cursorx://anysphere.cursor-mcp/oauth/callback",
        ] {
            assert!(find_match(&registered, near).is_none(), "{near}");
        }
    }

    #[test]
    fn destinations_say_where_the_browser_goes() {
        assert_eq!(destination("https://a.example/cb"), Some(Destination::Web));
        assert_eq!(destination(CB), Some(Destination::Loopback));
        assert_eq!(
            destination("cursor://anysphere.cursor-mcp/oauth/callback"),
            Some(Destination::App { scheme: "cursor" })
        );
        assert_eq!(destination("http://evil.example/cb"), None);
        assert_eq!(destination("javascript:alert(1)"), None);
        assert_eq!(
            check_allowed("cursor://a/cb", RedirectSchemes::McpStrict)
                .unwrap_err()
                .code,
            ErrorCode::InvalidRedirectUri
        );
        assert_eq!(
            check_allowed("cursor://a/cb", RedirectSchemes::Native),
            Ok(())
        );
        assert_eq!(check_allowed(CB, RedirectSchemes::McpStrict), Ok(()));
    }

    #[test]
    fn resolve_names_the_registered_uris_on_mismatch() {
        let registered = vec![CB.to_owned()];
        let err = resolve(&registered, Some("http://127.0.0.1/other")).unwrap_err();
        assert!(err.description.contains(CB), "{}", err.description);
        assert_eq!(resolve(&registered, None).unwrap(), CB);
        let two = vec![CB.to_owned(), "https://a.example/cb".to_owned()];
        assert!(resolve(&two, None).is_err());
    }
}
