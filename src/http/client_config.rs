//! The client configuration endpoint (RFC 7592; checklist OPT-3): `GET`, `PUT` and
//! `DELETE` on the `registration_client_uri`, authorised by the registration access token
//! returned at registration.

use super::error::ApiError;
use super::register::{ClientInformation, parse_metadata};
use crate::oauth::client::RegistrationRequest;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::secret::{digest_matches, verify_stored_secret};
use crate::state::{App, AppState};
use crate::store::Client;
use axum::Json;
use axum::body::Bytes;
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

pub async fn read(
    State(app): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let client = authorised_client(&app, &client_id, &headers).await?;
    Ok(Json(ClientInformation::of(&app, &client)).into_response())
}

pub async fn update(
    State(app): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let client = authorised_client(&app, &client_id, &headers).await?;
    let document: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        OAuthError::invalid_client_metadata(format!("the body is not a JSON object: {e}"))
    })?;
    if document.get("client_id").and_then(|v| v.as_str()) != Some(client.client_id.as_str()) {
        return Err(OAuthError::invalid_request(
            "an update must include this client's client_id (RFC 7592 §2.2)",
        )
        .into());
    }
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
    app.store
        .update_client_metadata(&client.client_id, &metadata)
        .await?;
    let updated = Client { metadata, ..client };
    Ok(Json(ClientInformation::of(&app, &updated)).into_response())
}

pub async fn delete(
    State(app): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let client = authorised_client(&app, &client_id, &headers).await?;
    app.store.delete_client(&client.client_id).await?;
    tracing::info!(client_id = %client.client_id, "deleted a client and revoked its grants");
    Ok(StatusCode::NO_CONTENT)
}

/// The client named in the path, if the request carries its registration access token.
/// Every failure is the same 401 (RFC 7592 §2.1: also for a client that does not exist).
async fn authorised_client(
    app: &App,
    client_id: &str,
    headers: &HeaderMap,
) -> Result<Client, ApiError> {
    let invalid =
        |why: &'static str| ApiError::OAuth(OAuthError::new(ErrorCode::InvalidToken, why));
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            invalid("send the registration access token as 'Authorization: Bearer <token>'")
        })?;
    let client = app.store.client(client_id).await?;
    match client {
        Some(client)
            if client
                .registration_token_digest
                .as_deref()
                .is_some_and(|digest| digest_matches(token.trim(), digest)) =>
        {
            Ok(client)
        }
        _ => Err(invalid(
            "the registration access token is not valid for this client, or the client does \
             not exist",
        )),
    }
}
