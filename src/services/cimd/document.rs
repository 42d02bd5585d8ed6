//! The rules of Client ID Metadata Documents: which `client_id` is a Client Identifier URL
//! (CIMD §3) and what a fetched document must say (CIMD §4, MCP 2025-11-25).

use crate::oauth::client::{AuthMethod, ClientMetadata, RegistrationRequest};
use crate::oauth::error::OAuthError;
use crate::oauth::grant_type::GrantType;
use crate::oauth::issuer::is_loopback;
use crate::oauth::redirect_uri::RedirectSchemes;
use crate::oauth::rules;
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

/// A valid document: the client's metadata, and what in the document was ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub metadata: ClientMetadata,
    /// Members or values the document declares that this server does not support and left
    /// out, in words: a client is not made unusable by them.
    pub ignored: Vec<String>,
}

/// Validates a fetched document for `client_id` and returns the client's metadata.
pub fn parse_document(
    client_id: &str,
    body: &[u8],
    schemes: RedirectSchemes,
) -> Result<Document, OAuthError> {
    check_document(client_id, body, schemes).map_err(|error| match error.rule_id() {
        Some(_) => error,
        None => error.rule(&rules::CIMD_4),
    })
}

fn check_document(
    client_id: &str,
    body: &[u8],
    schemes: RedirectSchemes,
) -> Result<Document, OAuthError> {
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
    // The document's default is `none`, not RFC 7591's client_secret_basic. A document
    // client is public, or authenticates with private_key_jwt and the keys its document
    // names (CIMD §6.2, checklist CIMD-12): never with a shared secret, since anyone can
    // read the document (CIMD §4.1).
    let method = request
        .token_endpoint_auth_method
        .get_or_insert_with(|| AuthMethod::None.as_str().to_owned());
    if AuthMethod::parse(method).is_some_and(AuthMethod::uses_secret) {
        return Err(invalid(format!(
            "token_endpoint_auth_method '{method}' is not possible for a metadata document \
             client: shared secrets are forbidden (CIMD §4.1); use 'none' (a public client \
             with PKCE) or 'private_key_jwt' with jwks or jwks_uri"
        )));
    }
    let private_key_jwt = method == AuthMethod::PrivateKeyJwt.as_str();
    // Documents are published once for every authorization server a client talks to, so
    // they declare grant types some servers have and others do not, or that this client
    // cannot use here (claude.ai's public client declares the JWT bearer grant, which needs
    // a confidential client). Those are left out rather than refused: the client can still
    // do everything this server offers it.
    let public = method == AuthMethod::None.as_str();
    let mut ignored = Vec::new();
    if let Some(grants) = request.grant_types.as_mut() {
        grants.retain(|grant| match GrantType::parse(grant) {
            None => {
                ignored.push(format!(
                    "grant type '{grant}' (this server supports {})",
                    GrantType::supported_names().join(", ")
                ));
                false
            }
            Some(known) if public && known.needs_confidential_client() => {
                ignored.push(format!(
                    "grant type '{grant}' (it needs a confidential client, and this document \
                     declares token_endpoint_auth_method 'none')"
                ));
                false
            }
            Some(_) => true,
        });
        if grants.is_empty() {
            return Err(invalid(format!(
                "none of its grant types is one this server supports ({}); it declares {}",
                GrantType::supported_names().join(", "),
                ignored.join(", ")
            )));
        }
    }
    let metadata = request.validate_under(schemes).map_err(|e| {
        let keys = e.rule_id() == Some(rules::CA_7.id);
        let error = invalid(e.description.into_owned());
        if private_key_jwt && keys {
            error.rule(&rules::CIMD_12)
        } else {
            error
        }
    })?;
    Ok(Document { metadata, ignored })
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
        let metadata = parse_document(URL, &doc(""), RedirectSchemes::Native)
            .unwrap()
            .metadata;
        assert_eq!(metadata.token_endpoint_auth_method, AuthMethod::None);
        assert_eq!(metadata.client_name.as_deref(), Some("Example MCP Client"));
    }

    /// ChatGPT's document authenticates with private_key_jwt and the keys at its jwks_uri
    /// (CIMD-12); it also lists the methods it supports, which is not registration metadata.
    #[test]
    fn cimd_12_a_document_may_use_private_key_jwt() {
        let document = parse_document(
            URL,
            &doc(r#","token_endpoint_auth_method":"private_key_jwt",
                "token_endpoint_auth_methods_supported":["none","private_key_jwt"],
                "jwks_uri":"https://app.example.com/oauth/jwks.json""#),
            RedirectSchemes::Native,
        )
        .unwrap();
        assert_eq!(
            document.metadata.token_endpoint_auth_method,
            AuthMethod::PrivateKeyJwt
        );
        assert_eq!(
            document.metadata.jwks_uri.as_deref(),
            Some("https://app.example.com/oauth/jwks.json")
        );
        let error = parse_document(
            URL,
            &doc(r#","token_endpoint_auth_method":"private_key_jwt""#),
            RedirectSchemes::Native,
        )
        .unwrap_err();
        assert_eq!(error.rule_id(), Some("CIMD-12"));
    }

    /// claude.ai's document declares the JWT bearer grant, VS Code's the device grant:
    /// both are left out, and what was left out is said.
    #[test]
    fn unsupported_grant_types_are_ignored_not_refused() {
        let document = parse_document(
            URL,
            &doc(r#","grant_types":["authorization_code","refresh_token",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "urn:ietf:params:oauth:grant-type:device_code"]"#),
            RedirectSchemes::Native,
        )
        .unwrap();
        // The device grant is one this server has; the JWT bearer grant needs a
        // confidential client, and this document's is public.
        assert_eq!(
            document.metadata.grant_types,
            [
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::DeviceCode
            ]
        );
        assert_eq!(document.ignored.len(), 1, "{:?}", document.ignored);
        assert!(
            document.ignored[0].contains("urn:ietf:params:oauth:grant-type:jwt-bearer"),
            "{:?}",
            document.ignored
        );
        let error = parse_document(
            URL,
            &doc(r#","grant_types":["urn:ietf:params:oauth:grant-type:jwt-bearer","implicit"]"#),
            RedirectSchemes::Native,
        )
        .unwrap_err();
        assert!(
            error.description.contains("none of its grant types"),
            "{error}"
        );
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
            (doc(r#","token_endpoint_auth_method":"client_secret_post""#), "shared secrets"),
            (doc(r#","token_endpoint_auth_method":"private_key_jwt""#), "must register its public keys"),
            (doc(r#","client_secret":"s""#), "client secret"),
            (doc(r#","redirect_uris":["http://evil.example/cb"]"#), "non-loopback"),
        ] {
            let err = parse_document(URL, &body, RedirectSchemes::Native).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidClient);
            assert!(err.description.contains(why), "{why}: {}", err.description);
        }
    }
}
