//! Form bodies of the back-channel endpoints (token, revocation, introspection).

use super::error::ApiError;
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

/// The parameters of a back-channel request, read from its form body. A body of another
/// type is refused with RFC 6749 error JSON; a body that cannot be read (too large, cut
/// off) keeps the framework's status, which `error::explain_framework_errors` explains.
#[derive(Debug)]
pub struct OAuthForm(pub Params);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let is_form = has_media_type(request.headers(), FORM);
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !is_form {
            return Err(ApiError::from(not_a_form()).into_response());
        }
        Ok(OAuthForm(Params::parse(&body)))
    }
}

/// The back-channel endpoints take only this (OAuth 2.1 §3.2.2, RFC 7009 §2.1, RFC 7662 §2.1).
const FORM: &str = "application/x-www-form-urlencoded";

fn not_a_form() -> OAuthError {
    OAuthError::invalid_request(
        "send the parameters as an application/x-www-form-urlencoded body (OAuth 2.1 §3.2.2)",
    )
    .rule(&crate::oauth::rules::TK_1)
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
            assert!(has_media_type(&with_type(ok), FORM), "{ok}");
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
            assert!(!has_media_type(&with_type(bad), FORM), "{bad}");
        }
        assert!(!has_media_type(&HeaderMap::new(), FORM));
    }
}
