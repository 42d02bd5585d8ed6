//! How errors reach the wire on the JSON endpoints (token, registration, revocation,
//! introspection): RFC 6749 §5.2 error JSON with the status the RFCs assign, and for
//! failures that are not the client's fault, a logged cause and a bare `server_error`.

use crate::keys::KeyError;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::services::events;
use crate::store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug)]
pub enum ApiError {
    /// The client's mistake.
    OAuth(OAuthError),
    /// Too many requests from one source; `Retry-After` in seconds.
    RateLimited { retry_after: u64, error: OAuthError },
    /// No bearer token at all where one is needed. The challenge names only the scheme:
    /// "if the request lacks any authentication information ... the resource server SHOULD
    /// NOT include an error code" (RFC 6750 §3.1). The body still explains, as every error
    /// body here does, for the developer reading it.
    BearerTokenMissing(OAuthError),
    /// Ours: a database outage, a key that cannot sign.
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'a str,
    pub error_description: String,
    /// RFC 6749 §5.2: a page about this error, for the developer: its event in the console.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
}

impl From<OAuthError> for ApiError {
    fn from(error: OAuthError) -> Self {
        ApiError::OAuth(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Internal(Box::new(error))
    }
}

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> Self {
        ApiError::Internal(Box::new(error))
    }
}

/// The HTTP status for an error code on a JSON endpoint.
pub fn status_for(code: ErrorCode) -> StatusCode {
    // A 401 must carry WWW-Authenticate (RFC 9110 §15.5.2): `json_error` adds it.
    StatusCode::from_u16(code.json_status()).unwrap_or(StatusCode::BAD_REQUEST)
}

/// An error and its causes on one line, each message once: a wrapper whose message
/// already quotes its cause (`database error: {0}`) does not get it repeated.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !chain.contains(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        source = cause.source();
    }
    chain
}

/// Logs an internal error with its cause chain. Clients see only `server_error`.
pub fn log_internal(error: &(dyn std::error::Error + 'static)) {
    tracing::error!(error = %cause_chain(error), "request failed on the server side");
}

/// How long a client is asked to wait (`Retry-After`) when the database is unavailable.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// What an internal failure is answered with, once logged (one line).
pub enum InternalFailure {
    /// The database cannot be reached: 503 `temporarily_unavailable` with `Retry-After`.
    Unavailable { error: OAuthError, retry_after: u64 },
    /// Anything else: 500 `server_error`.
    Other(OAuthError),
}

/// Logs an internal failure once and says how to answer it. A database outage is a
/// warning, not an error of this server, and the client may retry.
pub fn internal_failure(cause: &(dyn std::error::Error + 'static)) -> InternalFailure {
    if crate::store::unavailable_in_chain(cause) {
        tracing::warn!(
            error = %cause_chain(cause),
            "the database is unavailable; answered 503 temporarily_unavailable"
        );
        InternalFailure::Unavailable {
            error: OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                format!(
                    "the server cannot reach its database at the moment; retry in \
                     {UNAVAILABLE_RETRY_AFTER_SECS} s"
                ),
            ),
            retry_after: UNAVAILABLE_RETRY_AFTER_SECS,
        }
    } else {
        log_internal(cause);
        InternalFailure::Other(OAuthError::new(
            ErrorCode::ServerError,
            "the server failed to handle this request; the cause is in its log",
        ))
    }
}

/// The error JSON of an injected fault (issue 14), with the status the fault declared.
pub fn injected(status: StatusCode, error: &OAuthError) -> Response {
    refusal(status, error)
}

/// The error JSON of a refusal, recorded as the refusal of the request's event.
fn refusal(status: StatusCode, error: &OAuthError) -> Response {
    let error_uri = events::reject(error);
    json_error(status, error, error_uri)
}

fn json_error(status: StatusCode, error: &OAuthError, error_uri: Option<String>) -> Response {
    let body = ErrorBody {
        error: error.code.as_str(),
        error_description: error.wire_description(),
        error_uri,
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let challenge = match error.code {
            ErrorCode::InvalidToken => r#"Bearer error="invalid_token""#,
            _ => r#"Basic realm="tollgate", charset="UTF-8""#,
        };
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::OAuth(error) => refusal(status_for(error.code), &error),
            ApiError::RateLimited { retry_after, error } => {
                let mut response = refusal(StatusCode::TOO_MANY_REQUESTS, &error);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                response
            }
            ApiError::BearerTokenMissing(error) => {
                let mut response = refusal(StatusCode::UNAUTHORIZED, &error);
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    // RFC 6750 §3: the scheme is followed by at least one auth-param.
                    HeaderValue::from_static(r#"Bearer realm="tollgate""#),
                );
                response
            }
            ApiError::Internal(cause) => match internal_failure(cause.as_ref()) {
                InternalFailure::Unavailable { error, retry_after } => {
                    let mut response = refusal(StatusCode::SERVICE_UNAVAILABLE, &error);
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                    response
                }
                InternalFailure::Other(error) => refusal(StatusCode::INTERNAL_SERVER_ERROR, &error),
            },
        }
    }
}

/// The most a request body may hold (axum's default limit, named so the error can say it).
pub const BODY_LIMIT_BYTES: usize = 2 * 1024 * 1024;

/// Axum and tower answer some failures themselves (a method an endpoint does not take, a
/// body over the limit, a timeout, a malformed path) with an empty or plain-text body. This
/// turns them into the same RFC 6749 error JSON as every other error, keeping the status and
/// headers (`Allow` on a 405), so a developer reads why the request failed.
pub async fn explain_framework_errors(response: Response) -> Response {
    let status = response.status();
    let already_explained = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.starts_with("application/json") || value.starts_with("text/html")
        });
    if !(status.is_client_error() || status == StatusCode::REQUEST_TIMEOUT) || already_explained {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let description = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!(
            "this endpoint does not accept that HTTP method; it accepts {}",
            parts
                .headers
                .get(header::ALLOW)
                .and_then(|allow| allow.to_str().ok())
                .unwrap_or("other methods")
        ),
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "the request body is larger than {} MiB, the most this server accepts",
            BODY_LIMIT_BYTES / (1024 * 1024)
        ),
        StatusCode::REQUEST_TIMEOUT => "the request did not complete within 30 seconds".to_owned(),
        _ => {
            // The framework's own explanation, as far as it goes.
            let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
            match String::from_utf8_lossy(&text).trim() {
                "" => "the request is malformed".to_owned(),
                text => text.to_owned(),
            }
        }
    };
    let explained = json_error(status, &OAuthError::invalid_request(description), None);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, explained.into_body())
}
