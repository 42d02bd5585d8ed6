//! Form bodies of the back-channel endpoints (token, revocation, introspection).

use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use axum::http::{HeaderMap, header};

/// Parses an `application/x-www-form-urlencoded` body; any other content type is refused
/// (OAuth 2.1 §3.2.2, RFC 7009 §2.1, RFC 7662 §2.1).
pub fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    if !has_media_type(headers, "application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "send the parameters as an application/x-www-form-urlencoded body \
             (OAuth 2.1 §3.2.2)",
        ));
    }
    Ok(Params::parse(body))
}

/// Whether the request's `Content-Type` is `media_type`, with any parameters such as
/// `charset` (RFC 9110 §8.3.1: the type and subtype are case-insensitive).
pub fn has_media_type(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(media_type))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_form_media_type_with_or_without_parameters() {
        for ok in [
            "application/x-www-form-urlencoded",
            "Application/X-WWW-Form-URLEncoded; charset=UTF-8",
            " application/x-www-form-urlencoded ;charset=utf-8",
        ] {
            assert!(form_params(&with_type(ok), b"a=b").is_ok(), "{ok}");
        }
    }

    #[test]
    fn other_media_types_are_refused() {
        for bad in [
            "application/x-www-form-urlencodedXYZ",
            "application/json",
            "multipart/form-data; boundary=x",
            "",
        ] {
            assert!(form_params(&with_type(bad), b"a=b").is_err(), "{bad}");
        }
        assert!(form_params(&HeaderMap::new(), b"a=b").is_err());
    }
}
