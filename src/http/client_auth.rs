//! Client authentication at the token, revocation and introspection endpoints (OAuth 2.1
//! §2.4, §3.2.1): public clients send `client_id` only; confidential clients authenticate by
//! the method they registered: their secret (`client_secret_basic`, `client_secret_post`)
//! or a JWT signed with their private key (`private_key_jwt`, RFC 7523 §2.2). Exactly one
//! method per request (RFC 6749 §2.3).

use crate::http::error::ApiError;
use crate::oauth::client::AuthMethod;
use crate::oauth::client::{Client, ClientSource};
use crate::oauth::client_assertion::{ASSERTION_TYPE, Assertion};
use crate::oauth::endpoints;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::rules;
use crate::secret::{is_argon2_hash, verify_stored_secret};
use crate::services::client_assertion::{self, AssertionError};
use crate::services::clients::ClientError;
use crate::services::events;
use crate::services::throttle::{Attempt, Attempted};
use crate::state::App;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

/// What the request presented.
struct Presented<'a> {
    client_id: String,
    secret: Option<String>,
    /// A client assertion, read but not verified (`private_key_jwt`).
    assertion: Option<Assertion>,
    method: AuthMethod,
    /// Kept to compare with a `client_id` in the body.
    body_client_id: Option<&'a str>,
    /// The Basic secret as sent, when form-decoding changed it: a wrong one then gets the
    /// hint that the client may not have encoded its credentials.
    undecoded_secret: Option<String>,
}

/// Authenticates the calling client of the endpoint at `endpoint` (a path of
/// `oauth::endpoints`), or says exactly why not.
pub async fn authenticate(
    app: &App,
    headers: &HeaderMap,
    params: &Params,
    endpoint: &str,
) -> Result<Client, ApiError> {
    let presented = presented(headers, params)?;
    events::set_client(&presented.client_id);
    events::detail("client_authentication", presented.method.as_str());
    let mut client = find_client(app, &presented.client_id).await?;
    if client.source == ClientSource::Declared && !app.declared_secrets.is_done() {
        // Its stored secret may be from an older configuration file until the check that
        // start-up left running has finished; then it is read again.
        app.declared_secrets
            .wait()
            .await
            .map_err(|e| ApiError::Internal(Box::new(e)))?;
        client = find_client(app, &presented.client_id).await?;
    }
    if let Some(body_id) = presented.body_client_id {
        if body_id != presented.client_id {
            return Err(OAuthError::invalid_request(
                "the client_id in the body differs from the one in the Authorization header",
            )
            .into());
        }
    }
    let registered = client.metadata.token_endpoint_auth_method;
    if let Some(assertion) = presented.assertion {
        return authenticate_assertion(app, client, &assertion, endpoint).await;
    }
    let Some(secret) = presented.secret else {
        return match registered {
            AuthMethod::None => Ok(client),
            AuthMethod::PrivateKeyJwt => Err(OAuthError::invalid_client(format!(
                "this client registered private_key_jwt: authenticate with a JWT signed with \
                 its private key, sent as client_assertion with client_assertion_type \
                 {ASSERTION_TYPE} (RFC 7523 §2.2)"
            ))
            .rule(&rules::TK_10)
            .compared(registered.as_str(), presented.method.as_str())
            .into()),
            _ => Err(OAuthError::invalid_client(format!(
                "this is a confidential client: authenticate with its secret using \
                 {registered}, the method it registered"
            ))
            .rule(&rules::TK_10)
            .compared(registered.as_str(), presented.method.as_str())
            .into()),
        };
    };
    if !registered.is_confidential() {
        return Err(OAuthError::invalid_client(
            "this is a public client (token_endpoint_auth_method 'none'): send client_id \
             without a secret or Authorization header",
        )
        .rule(&rules::TK_9)
        .compared("none", presented.method.as_str())
        .into());
    }
    if registered != presented.method {
        return Err(OAuthError::invalid_client(format!(
            "this client registered token_endpoint_auth_method '{registered}' but \
             authenticated with '{}'",
            presented.method
        ))
        .rule(&rules::TK_10)
        .compared(registered.as_str(), presented.method.as_str())
        .into());
    }
    let attempt = throttled(app, &client.client_id)?;
    let Some(stored) = client.secret_digest.as_deref() else {
        return Err(wrong_secret());
    };
    if is_argon2_hash(stored) {
        // Observable in the event log: one verification per attempt, never two (issue 20).
        events::detail("argon2_verifications", 1);
    }
    if !verify_stored_secret(&secret, stored).await {
        // Dropping the attempt leaves it counted as a failure.
        if presented.undecoded_secret.is_some() {
            return Err(maybe_not_form_encoded());
        }
        return Err(wrong_secret());
    }
    attempt.succeeded();
    Ok(client)
}

/// `private_key_jwt` (RFC 7523 §2.2, §3): the assertion must come from a client that
/// registered the method, and name this server as its audience: the issuer, the token
/// endpoint (which RFC 7523 §3 and OpenID Connect Core §9 suggest for every endpoint), or
/// the endpoint it was sent to.
async fn authenticate_assertion(
    app: &App,
    client: Client,
    assertion: &Assertion,
    endpoint: &str,
) -> Result<Client, ApiError> {
    let registered = client.metadata.token_endpoint_auth_method;
    if registered != AuthMethod::PrivateKeyJwt {
        return Err(OAuthError::invalid_client(format!(
            "this client registered token_endpoint_auth_method '{registered}' but \
             authenticated with a client assertion (private_key_jwt)"
        ))
        .rule(&rules::TK_10)
        .compared(registered.as_str(), AuthMethod::PrivateKeyJwt.as_str())
        .into());
    }
    let attempt = throttled(app, &client.client_id)?;
    let (issuer, token_url, endpoint_url) = (
        app.issuer.as_str(),
        app.issuer.endpoint(endpoints::TOKEN),
        app.issuer.endpoint(endpoint),
    );
    let audiences = [issuer, token_url.as_str(), endpoint_url.as_str()];
    match client_assertion::authenticate(
        &app.client_keys,
        &app.store,
        &client,
        assertion,
        &audiences,
        app.now(),
    )
    .await
    {
        Ok(_) => {
            attempt.succeeded();
            Ok(client)
        }
        Err(AssertionError::Refused(error)) => Err(error.into()),
        Err(AssertionError::Store(error)) => Err(error.into()),
    }
}

/// A failed authentication counts against the client's budget unless the attempt is
/// marked as succeeded (brute-force protection, OAuth 2.1 §2.4.1).
fn throttled<'a>(app: &'a App, client_id: &'a str) -> Result<Attempt<'a>, ApiError> {
    app.client_auth_throttle
        .attempt(Attempted::ClientSecret(client_id))
        .map_err(|retry_after| ApiError::RateLimited {
            retry_after,
            error: OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                format!(
                    "too many failed authentications for this client; try again in \
                     {retry_after} s (brute-force protection, OAuth 2.1 §2.4.1)"
                ),
            )
            .rule(&rules::SEC_2),
        })
}

/// A wrong secret that form-decoding changed ('+', '%'): the client may have sent its
/// right secret without form-encoding it, which the MCP TypeScript SDK does. Whether the
/// secret as sent is right could only be known by a second argon2 verification, which
/// would double the cost of every such wrong guess (issue 20, item 9), so the answer says
/// what to check instead of checking it.
fn maybe_not_form_encoded() -> ApiError {
    OAuthError::invalid_client(
        "client authentication failed: wrong client secret, as read after form-decoding. \
         Credentials in HTTP Basic are application/x-www-form-urlencoded before base64 (RFC \
         6749 §2.3.1): if the secret is right as sent, send a '+' in it as %2B and a '%' as \
         %25",
    )
    .rule(&rules::TK_10)
    .hint(Some(
        "the secret changes when form-decoded: if it is right as sent, the Basic credentials \
         were not form-encoded before base64: encode the client id and the secret with \
         application/x-www-form-urlencoded first (the MCP TypeScript SDK does not)"
            .to_owned(),
    ))
    .into()
}

fn wrong_secret() -> ApiError {
    OAuthError::invalid_client("client authentication failed: wrong client secret")
        .rule(&rules::TK_10)
        .into()
}

async fn find_client(app: &App, client_id: &str) -> Result<Client, ApiError> {
    match app.clients.find(client_id).await {
        Ok(client) => Ok(client),
        Err(ClientError::Unknown) => Err(OAuthError::invalid_client(format!(
            "no client with client_id '{client_id}' is registered here"
        ))
        .rule(&rules::TK_9)
        .hint(app.clients.unknown_client_hint(client_id))
        .into()),
        Err(ClientError::Document(error)) => Err(error.into()),
        Err(ClientError::Store(error)) => Err(error.into()),
    }
}

fn presented<'a>(headers: &HeaderMap, params: &'a Params) -> Result<Presented<'a>, OAuthError> {
    let body_client_id = params.get("client_id")?;
    let body_secret = params.get("client_secret")?;
    let assertion_type = params.get("client_assertion_type")?;
    let assertion = params.get("client_assertion")?;
    let basic = basic_credentials(headers)?;
    let used: Vec<&str> = [
        basic.as_ref().map(|_| "the Authorization header"),
        body_secret.map(|_| "client_secret"),
        assertion.map(|_| "client_assertion"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if used.len() > 1 {
        return Err(OAuthError::invalid_request(format!(
            "the client authenticated more than once ({}); use exactly one method (RFC 6749 \
             §2.3)",
            used.join(" and ")
        )));
    }
    if let Some(token) = assertion {
        let assertion = Assertion::read(assertion_type, token)?;
        let client_id = assertion.client_id()?.to_owned();
        // RFC 7521 §4.2: a client_id sent too must name the client of the assertion.
        if let Some(body_id) = body_client_id.filter(|id| *id != client_id) {
            return Err(OAuthError::invalid_client(format!(
                "client_id is '{body_id}' but the client assertion is from '{client_id}' (its \
                 sub); they must name the same client (RFC 7521 §4.2)"
            ))
            .rule(&rules::CA_2)
            .compared(client_id.as_str(), body_id));
        }
        return Ok(Presented {
            client_id,
            secret: None,
            assertion: Some(assertion),
            method: AuthMethod::PrivateKeyJwt,
            body_client_id: None,
            undecoded_secret: None,
        });
    }
    if assertion_type.is_some() {
        return Err(OAuthError::invalid_client(
            "client_assertion_type came without a client_assertion (RFC 7521 §4.2)",
        )
        .rule(&rules::CA_1));
    }
    match (basic, body_secret) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "the client authenticated twice (Authorization header and client_secret); use \
             exactly one method (RFC 6749 §2.3)",
        )),
        (Some(basic), None) => Ok(Presented {
            client_id: basic.client_id,
            secret: Some(basic.secret),
            assertion: None,
            method: AuthMethod::ClientSecretBasic,
            body_client_id,
            undecoded_secret: basic.undecoded_secret,
        }),
        (None, secret) => {
            let client_id = body_client_id.ok_or_else(|| {
                OAuthError::invalid_client(
                    "no client authentication: send client_id (public clients) or the client's \
                     credentials (OAuth 2.1 §3.2.1)",
                )
            })?;
            Ok(Presented {
                client_id: client_id.to_owned(),
                method: if secret.is_some() {
                    AuthMethod::ClientSecretPost
                } else {
                    AuthMethod::None
                },
                secret: secret.map(str::to_owned),
                assertion: None,
                body_client_id: None,
                undecoded_secret: None,
            })
        }
    }
}

/// The client id of an `Authorization: Basic` header, if it has a well-formed one.
pub fn basic_client_id(headers: &HeaderMap) -> Option<String> {
    basic_credentials(headers)
        .ok()
        .flatten()
        .map(|credentials| credentials.client_id)
}

/// Credentials from an `Authorization: Basic` header.
#[derive(Debug, PartialEq, Eq)]
struct BasicCredentials {
    client_id: String,
    secret: String,
    /// The secret before form-decoding, when that changed it.
    undecoded_secret: Option<String>,
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (OAuth 2.1 §2.4.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<BasicCredentials>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        OAuthError::invalid_client(
            "the Authorization header is not valid HTTP Basic client credentials: expected \
             'Basic ' + base64(urlencode(client_id) ':' urlencode(client_secret)) \
             (OAuth 2.1 §2.4.1)",
        )
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    // Control characters are refused like malformed input: no client id or secret has them.
    let unescape = |part: &str| {
        percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .ok()
            .filter(|s| !s.chars().any(char::is_control))
            .map(|s| s.into_owned())
            .ok_or_else(malformed)
    };
    let decoded_secret = unescape(secret)?;
    Ok(Some(BasicCredentials {
        client_id: unescape(id)?,
        undecoded_secret: (decoded_secret != secret).then(|| secret.to_owned()),
        secret: decoded_secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn oauth_2_1_basic_example_decodes() {
        let headers = with_auth("Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3");
        assert_eq!(
            basic_credentials(&headers).unwrap(),
            Some(BasicCredentials {
                client_id: "s6BhdRkqt3".to_owned(),
                secret: "7Fjfp0ZBr1KtDRbnfVdmIw".to_owned(),
                undecoded_secret: None,
            })
        );
    }

    #[test]
    fn basic_parts_are_form_urlencoded() {
        let encoded = STANDARD.encode("my%3Aclient:p%40ss+word");
        let headers = with_auth(&format!("Basic {encoded}"));
        assert_eq!(
            basic_credentials(&headers).unwrap(),
            Some(BasicCredentials {
                client_id: "my:client".to_owned(),
                secret: "p@ss word".to_owned(),
                undecoded_secret: Some("p%40ss+word".to_owned()),
            })
        );
        let with_nul = STANDARD.encode("a%00:b");
        assert!(basic_credentials(&with_auth(&format!("Basic {with_nul}"))).is_err());
    }

    #[test]
    fn other_schemes_and_garbage_are_invalid_client() {
        for bad in ["Bearer abc", "Basic !!!", "Basic"] {
            assert!(basic_credentials(&with_auth(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let params = Params::parse(b"client_id=a&client_secret=b");
        let headers = with_auth("Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3");
        assert!(presented(&headers, &params).is_err());
    }
}
