//! Form bodies of the back-channel endpoints (token, revocation, introspection).

use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use axum::http::{HeaderMap, header};

/// Parses an `application/x-www-form-urlencoded` body; any other content type is refused
/// (OAuth 2.1 §3.2.2, RFC 7009 §2.1, RFC 7662 §2.1).
pub fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::invalid_request(
            "send the parameters as an application/x-www-form-urlencoded body \
             (OAuth 2.1 §3.2.2)",
        ));
    }
    Ok(Params::parse(body))
}
