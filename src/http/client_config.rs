//! The client configuration endpoint (RFC 7592; checklist OPT-3): `GET`, `PUT` and
//! `DELETE` on the `registration_client_uri`, authorised by the registration access token
//! returned at registration. Every read and update answers with the next token and retires
//! the one presented (RFC 7592 §5): the response must carry a token (§3), and Tollgate keeps
//! only digests, so it cannot show the old one again.

use super::error::ApiError;
use super::register::{ClientInformation, parse_metadata, require_json};
use crate::oauth::client::Client;
use crate::oauth::client::RegistrationRequest;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::secret::{Secret, digest_matches, verify_stored_secret};
use crate::state::{App, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Members a client must not send in an update (RFC 7592 §2.2): the server owns them.
const SERVER_OWNED: [&str; 4] = [
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

/// The client id in the path. One that does not decode (percent-encoded bytes that are not
/// UTF-8) names no client, so it gets the same 401 as an unknown one, not axum's plain-text
/// 400.
type ClientIdPath = Result<Path<String>, PathRejection>;

pub async fn read(
    State(app): State<AppState>,
    client_id: ClientIdPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let client = authorised_client(&app, client_id, &headers).await?;
    answer_with_next_token(&app, client, false).await
}

pub async fn update(
    State(app): State<AppState>,
    client_id: ClientIdPath,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let client = authorised_client(&app, client_id, &headers).await?;
    require_json(&headers)?;
    let document: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        OAuthError::invalid_client_metadata(format!("the body is not a JSON object: {e}"))
    })?;
    check_client_id(document.get("client_id"), &client.client_id)?;
    if let Some(member) = SERVER_OWNED.iter().find(|m| document.get(**m).is_some()) {
        return Err(OAuthError::invalid_client_metadata(format!(
            "'{member}' is set by the server and must not be sent in an update \
             (RFC 7592 §2.2)"
        ))
        .into());
    }
    if let Some(secret) = document.get("client_secret") {
        let matches = match (secret.as_str(), client.secret_digest.as_deref()) {
            (Some(secret), Some(stored)) => verify_stored_secret(secret, stored).await,
            _ => false,
        };
        if !matches {
            return Err(OAuthError::invalid_client_metadata(
                "client_secret does not match the current secret; a client cannot choose its \
                 own secret (RFC 7592 §2.2)",
            )
            .into());
        }
    }
    let metadata = parse_metadata(serde_json::from_value::<RegistrationRequest>(document))?;
    if metadata.token_endpoint_auth_method != client.metadata.token_endpoint_auth_method {
        return Err(OAuthError::invalid_client_metadata(format!(
            "token_endpoint_auth_method cannot change from '{}' to '{}'; register a new \
             client instead",
            client.metadata.token_endpoint_auth_method, metadata.token_endpoint_auth_method
        ))
        .into());
    }
    answer_with_next_token(&app, Client { metadata, ..client }, true).await
}

/// RFC 7592 §2.2: "The client MUST include its client_id field in the request, and it MUST
/// be the same as its currently issued client identifier."
fn check_client_id(sent: Option<&serde_json::Value>, expected: &str) -> Result<(), OAuthError> {
    let why = match sent {
        Some(serde_json::Value::String(id)) if id == expected => return Ok(()),
        None => format!("an update must include this client's client_id, '{expected}'"),
        Some(serde_json::Value::String(id)) => format!(
            "the update's client_id is '{id}', but this is client '{expected}': an update \
             cannot change a client's id, and this URL updates only '{expected}'"
        ),
        Some(other) => format!("client_id must be this client's id, '{expected}', not {other}"),
    };
    Err(OAuthError::invalid_request(format!(
        "{why} (RFC 7592 §2.2)"
    )))
}

pub async fn delete(
    State(app): State<AppState>,
    client_id: ClientIdPath,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let client = authorised_client(&app, client_id, &headers).await?;
    app.store.delete_client(&client.client_id).await?;
    tracing::info!(client_id = %client.client_id, "deleted a client and revoked its grants");
    Ok(StatusCode::NO_CONTENT)
}

/// Stores a new registration access token for `client` in place of the one it was
/// authorised with (and its metadata too, for an update), and answers with the client
/// information response showing the new token. Of two requests made with one token, the
/// second finds it already replaced and gets the same 401 as for any invalid token.
async fn answer_with_next_token(
    app: &App,
    client: Client,
    metadata_changed: bool,
) -> Result<Response, ApiError> {
    let Some(current) = client.registration_token_digest.as_deref() else {
        return Err(token_not_valid());
    };
    let next = Secret::generate();
    let rotated = app
        .store
        .rotate_registration_token(
            &client.client_id,
            current,
            &next.digest(),
            metadata_changed.then_some(&client.metadata),
        )
        .await?;
    if !rotated {
        return Err(token_not_valid());
    }
    let body = ClientInformation {
        registration_access_token: Some(next.expose()),
        ..ClientInformation::of(app, &client)
    };
    Ok(Json(body).into_response())
}

fn token_not_valid() -> ApiError {
    ApiError::OAuth(OAuthError::new(
        ErrorCode::InvalidToken,
        "the registration access token is not valid for this client, or the client does not \
         exist",
    ))
}

/// The client named in the path, if the request carries its registration access token.
/// Every failure is the same 401 (RFC 7592 §2.1: also for a client that does not exist).
async fn authorised_client(
    app: &App,
    client_id: ClientIdPath,
    headers: &HeaderMap,
) -> Result<Client, ApiError> {
    let token = bearer_token(headers).ok_or_else(|| {
        ApiError::BearerTokenMissing(OAuthError::new(
            ErrorCode::InvalidToken,
            "this request carries no registration access token: send the one from the \
             registration response as 'Authorization: Bearer <token>' (RFC 7592 §2)",
        ))
    })?;
    let Ok(Path(client_id)) = client_id else {
        return Err(token_not_valid());
    };
    match app.store.client(&client_id).await? {
        Some(client)
            if client
                .registration_token_digest
                .as_deref()
                .is_some_and(|digest| digest_matches(token, digest)) =>
        {
            Ok(client)
        }
        _ => Err(token_not_valid()),
    }
}

/// The token of `Authorization: Bearer <token>`. The scheme is case-insensitive
/// (RFC 9110 §11.1), so `bearer` and `BEARER` work too.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    #[test]
    fn an_update_names_this_client() {
        assert_eq!(check_client_id(Some(&json!("c1")), "c1"), Ok(()));
        let refused = |sent: Option<serde_json::Value>| {
            let error = check_client_id(sent.as_ref(), "c1").unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            error.description.into_owned()
        };
        assert!(refused(None).contains("must include this client's client_id, 'c1'"));
        let other = refused(Some(json!("c2")));
        assert!(
            other.contains("client_id is 'c2', but this is client 'c1'"),
            "{other}"
        );
        assert!(refused(Some(json!(7))).contains("not 7"));
    }

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "Bearer  abc "] {
            assert_eq!(bearer_token(&with_auth(value)), Some("abc"), "{value}");
        }
        for value in ["Basic abc", "Bearer", "Bearer ", "Bearerabc"] {
            assert_eq!(bearer_token(&with_auth(value)), None, "{value}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
