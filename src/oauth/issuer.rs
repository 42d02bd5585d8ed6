//! The issuer identifier (RFC 8414 §2): one configured string, emitted byte for byte in the
//! metadata, the RFC 9207 `iss` response parameter and the JWT `iss` claim. It is never
//! derived from a request's `Host` header (RFC 8414 §6.2, checklist SEC-3).

use std::fmt;
use std::net::IpAddr;
use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    value: String,
    /// The path component without a trailing slash: "" or "/tenant1".
    path: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid issuer '{value}': {reason}")]
pub struct InvalidIssuer {
    value: String,
    reason: &'static str,
}

impl Issuer {
    /// Validates an issuer. `https` is required except on loopback hosts, where `http` is
    /// allowed for local development (checklist §5 item 3), and, when
    /// `allow_insecure_http` is set, on any host (for containers that reach each other by
    /// service name in a demo stack).
    pub fn parse(value: &str, allow_insecure_http: bool) -> Result<Self, InvalidIssuer> {
        let invalid = |reason| InvalidIssuer {
            value: value.to_owned(),
            reason,
        };
        let url = Url::parse(value).map_err(|_| invalid("it is not an absolute URL"))?;
        if url.query().is_some() || value.contains('?') {
            return Err(invalid("an issuer must not have a query (RFC 8414 §2)"));
        }
        if url.fragment().is_some() || value.contains('#') {
            return Err(invalid("an issuer must not have a fragment (RFC 8414 §2)"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("an issuer must not contain user information"));
        }
        if value.ends_with('/') {
            return Err(invalid(
                "remove the trailing '/': clients compare the issuer character for character \
                 with the one they derived the metadata URL from (RFC 8414 §3.3)",
            ));
        }
        match url.scheme() {
            "https" => {}
            "http" if allow_insecure_http || is_loopback(&url) => {}
            "http" => {
                return Err(invalid(
                    "http is only allowed for loopback hosts (127.0.0.1, [::1], localhost); \
                     use https, or set allow_insecure_issuer for a private demo network",
                ));
            }
            _ => return Err(invalid("the scheme must be https (or http on loopback)")),
        }
        // `Url` would normalise (lower-case the host, drop a default port); the issuer must
        // stay exactly as configured, so only check that normalisation would not change it.
        if url.as_str().trim_end_matches('/') != value {
            return Err(invalid(
                "write it in normalised form (lower-case scheme and host, no default port, \
                 no dot segments): clients compare it character for character",
            ));
        }
        let path = url.path().trim_end_matches('/').to_owned();
        Ok(Issuer {
            value: value.to_owned(),
            path,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The issuer's path, "" when it has none. Every endpoint lives under it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The absolute URL of an endpoint given by its path relative to the issuer.
    pub fn endpoint(&self, route: &str) -> String {
        format!("{}{}", self.value, route)
    }

    /// The scheme, host and port, without the path.
    pub fn origin(&self) -> &str {
        &self.value[..self.value.len() - self.path.len()]
    }

    /// Whether the issuer itself runs on a loopback host.
    pub fn is_loopback(&self) -> bool {
        Url::parse(&self.value).is_ok_and(|u| is_loopback(&u))
    }
}

/// Whether a URL's host is `localhost` or a loopback address.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_http_and_https() {
        for ok in [
            "http://127.0.0.1:9000",
            "http://localhost:9000",
            "http://[::1]:9000",
            "https://auth.example.com",
            "https://auth.example.com/tenant1",
        ] {
            assert!(Issuer::parse(ok, false).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_clients_would_not_match() {
        for bad in [
            "http://127.0.0.1:9000/",
            "https://auth.example.com/t1/",
            "https://Auth.example.com",
            "https://auth.example.com:443",
            "https://auth.example.com?x=1",
            "https://auth.example.com#x",
            "http://auth.example.com",
            "ftp://127.0.0.1",
            "127.0.0.1:9000",
        ] {
            assert!(Issuer::parse(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn insecure_http_needs_the_explicit_setting() {
        assert!(Issuer::parse("http://tollgate:9000", false).is_err());
        assert!(Issuer::parse("http://tollgate:9000", true).is_ok());
    }

    #[test]
    fn path_and_endpoints() {
        let issuer = Issuer::parse("https://auth.example.com/t1", false).unwrap();
        assert_eq!(issuer.path(), "/t1");
        assert_eq!(issuer.origin(), "https://auth.example.com");
        assert_eq!(
            issuer.endpoint("/token"),
            "https://auth.example.com/t1/token"
        );
        let root = Issuer::parse("http://127.0.0.1:9000", false).unwrap();
        assert_eq!(root.path(), "");
        assert_eq!(root.origin(), "http://127.0.0.1:9000");
    }
}
