//! Property tests of every parser a request reaches (issue 20): form bodies, redirect URIs,
//! scopes, resources, registration JSON, HTTP Basic credentials and JWTs presented to
//! introspection. Each one must never panic on any input, and keep the invariants stated
//! beside it.
//!
//! A normal `cargo test` runs 64 cases per property; `TOLLGATE_PROPTEST_CASES=100000`
//! runs the big run (`.ci/run` does, once).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use proptest::test_runner::Config;
use std::sync::OnceLock;
use tollgate::http::client_auth::basic_client_id;
use tollgate::keys::{KeyRecord, KeyRing, KeySet, SigningKey};
use tollgate::oauth::access_token::AccessTokenClaims;
use tollgate::oauth::client::RegistrationRequest;
use tollgate::oauth::params::Params;
use tollgate::oauth::redirect_uri::{self, RedirectSchemes};
use tollgate::oauth::resource;
use tollgate::oauth::scope::Scope;

fn config() -> Config {
    let cases = std::env::var("TOLLGATE_PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64);
    Config {
        cases,
        // Failures are reported with the input; no files are written next to the tests.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Strings made mostly of the characters URLs, forms and headers are built from, so that
/// generated inputs reach past the first check; plus any character now and then.
fn urlish() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        8 => "[a-zA-Z0-9]{1,8}",
        6 => prop::sample::select(vec![
            "https://", "http://", "http://127.0.0.1", "http://[::1]", "http://localhost",
            "cursor://", "com.example.app:/", ":", "/", "//", "\\", "@", "?", "#", "%", "%2F",
            "%00", "%65", ".", "..", "[", "]", "+", "&", "=", " ", "\t", "\n", ":99999",
            ":65535", ":0", ":80", "xn--", "\u{feff}", "ä", "example.com", "a.example",
        ]).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(config())]

    /// Form bodies and queries (`oauth::params`): any bytes parse; a value sent once comes
    /// back as sent, refused only for control characters; a repeated name is an error.
    #[test]
    fn form_bodies(
        body in prop::collection::vec(any::<u8>(), 0..300),
        name in "[a-z_]{1,12}",
        value in any::<String>(),
    ) {
        let params = Params::parse(&body);
        for name in ["client_id", "redirect_uri", "scope", "state", "resource", "code"] {
            let _ = params.get(name);
            let _ = params.all(name);
        }
        let _ = params.to_json();
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(&name, &value)
            .finish();
        let parsed = Params::parse(encoded.as_bytes());
        match parsed.get(&name) {
            Ok(Some(got)) => prop_assert_eq!(got, value.as_str()),
            Ok(None) => prop_assert!(value.is_empty()),
            Err(_) => prop_assert!(value.chars().any(char::is_control)),
        }
        let twice = format!("{encoded}&{encoded}");
        prop_assert!(value.is_empty() || Params::parse(twice.as_bytes()).get(&name).is_err());
    }

    /// Redirect URIs: whatever registration accepts leads where it reads (the URL parser
    /// gives it back unchanged), matches itself, and resolves to itself.
    #[test]
    fn redirect_uris(uri in urlish(), other in urlish()) {
        for schemes in [RedirectSchemes::Native, RedirectSchemes::McpStrict] {
            if redirect_uri::validate_for_registration(&uri, schemes).is_ok() {
                let parsed = url::Url::parse(&uri).unwrap();
                prop_assert_eq!(parsed.as_str(), uri.as_str());
                prop_assert!(redirect_uri::round_trips(&uri));
                prop_assert!(redirect_uri::matches(&uri, &uri));
                let registered = vec![uri.clone()];
                prop_assert_eq!(
                    redirect_uri::resolve(&registered, Some(&uri)).unwrap(),
                    uri.clone()
                );
                prop_assert!(redirect_uri::check_allowed(&uri, schemes).is_ok());
                // Another URI matches only if it is the same or a loopback port variant.
                if redirect_uri::matches(&uri, &other) && other != uri {
                    prop_assert!(redirect_uri::is_loopback(&uri) && redirect_uri::is_loopback(&other));
                }
            }
        }
        let _ = redirect_uri::destination(&uri);
        let _ = redirect_uri::display_host(&uri);
    }

    /// Scopes: any string parses or is refused; a parsed scope is printable ASCII tokens
    /// without duplicates and parses again to itself. The generated tokens are RFC 6749
    /// scope-tokens that are also well-formed colon paths (SCP-1: non-empty segments, `*`
    /// only as a whole last segment), so each must parse.
    #[test]
    fn scopes(
        value in any::<String>(),
        tokens in prop::collection::vec(
            "[!#-)+-9;-\\[\\]-~]{1,5}(:[!#-)+-9;-\\[\\]-~]{1,5}){0,2}(:\\*)?",
            0..6,
        ),
    ) {
        if let Ok(scope) = Scope::parse(Some(&value)) {
            let again = Scope::parse(Some(&scope.to_string())).unwrap();
            prop_assert_eq!(&again, &scope);
        }
        let joined = tokens.join(" ");
        let scope = Scope::parse(Some(&joined)).unwrap();
        for token in &tokens {
            prop_assert!(scope.contains(token));
        }
    }

    /// Resources (RFC 8707): any value is accepted or refused without a panic; an accepted
    /// one is what the token's audience will be.
    #[test]
    fn resources(values in prop::collection::vec(urlish(), 0..4)) {
        if let Ok(resources) = resource::resolve_requested(
            values.iter().map(String::as_str),
            &[],
            "https://as.example/",
        ) {
            for value in &values {
                prop_assert!(resources.iter().any(|r| resource::equivalent(r, value)));
            }
        }
    }

    /// Registration JSON (RFC 7591): any bytes and any JSON are read or refused without a
    /// panic; accepted metadata only has redirect URIs that lead where they read.
    #[test]
    fn registration_json(
        body in prop::collection::vec(any::<u8>(), 0..200),
        uris in prop::collection::vec(urlish(), 0..3),
        name in any::<String>(),
        method in prop::sample::select(vec!["none", "client_secret_basic", "private_key_jwt", "x"]),
        grants in prop::collection::vec(
            prop::sample::select(vec!["authorization_code", "refresh_token", "client_credentials", "implicit"]),
            0..3,
        ),
    ) {
        let _ = RegistrationRequest::from_json(serde_json::from_slice(&body)).map(|r| r.validate());
        let json = serde_json::json!({
            "redirect_uris": uris,
            "client_name": name,
            "token_endpoint_auth_method": method,
            "grant_types": grants,
        });
        if let Ok(metadata) = RegistrationRequest::from_json(serde_json::from_value(json))
            .and_then(RegistrationRequest::validate)
        {
            for uri in &metadata.redirect_uris {
                prop_assert!(redirect_uri::round_trips(uri), "{}", uri);
            }
        }
    }

    /// HTTP Basic credentials (OAuth 2.1 §2.4.1): any header value is read or refused
    /// without a panic; form-encoded credentials give back the client id.
    #[test]
    fn basic_credentials(raw in any::<String>(), id in any::<String>(), secret in any::<String>()) {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&raw) {
            headers.insert(header::AUTHORIZATION, value);
            let _ = basic_client_id(&headers);
        }
        let encode = |part: &str| url::form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>();
        let credentials = STANDARD.encode(format!("{}:{}", encode(&id), encode(&secret)));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {credentials}")).unwrap(),
        );
        let read = basic_client_id(&headers);
        if id.chars().any(char::is_control) || secret.chars().any(char::is_control) {
            prop_assert_eq!(read, None);
        } else {
            prop_assert_eq!(read, Some(id));
        }
    }

    /// JWTs presented to introspection: any string is verified or refused without a panic,
    /// and no change to a real token yields other claims than the ones signed.
    #[test]
    fn presented_jwts(
        garbage in any::<String>(),
        position in any::<prop::sample::Index>(),
        replacement in prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/".chars().collect::<Vec<_>>()
        ),
    ) {
        let (ring, token, claims) = signed();
        prop_assert!(ring.verify::<AccessTokenClaims>(&garbage, ISSUER).is_err() || garbage == *token);
        let mut changed: Vec<char> = token.chars().collect();
        let at = position.index(changed.len());
        changed[at] = replacement;
        let changed: String = changed.into_iter().collect();
        if let Ok(verified) = ring.verify::<AccessTokenClaims>(&changed, ISSUER) {
            prop_assert_eq!(&verified, claims);
        }
    }
}

const ISSUER: &str = "https://as.example";

/// A key ring with one key, a token it signed, and that token's claims (made once).
fn signed() -> &'static (KeyRing, String, AccessTokenClaims) {
    static SIGNED: OnceLock<(KeyRing, String, AccessTokenClaims)> = OnceLock::new();
    SIGNED.get_or_init(|| {
        let (_, pem) = SigningKey::generate().unwrap();
        let set = KeySet::from_records([KeyRecord {
            kid: "k1",
            private_key_pem: &pem,
            active: true,
            created_at: 0,
        }])
        .unwrap();
        let ring = KeyRing::new(set);
        let claims: AccessTokenClaims = serde_json::from_value(serde_json::json!({
            "iss": ISSUER,
            "sub": "alice",
            "aud": "http://127.0.0.1:8000/mcp",
            "exp": 4_000_000_000_i64,
            "iat": 1_700_000_000,
            "jti": "j1",
            "client_id": "c1",
            "scope": "mcp:tools",
        }))
        .unwrap();
        let token = ring.sign("at+jwt", &claims).unwrap();
        (ring, token, claims)
    })
}
