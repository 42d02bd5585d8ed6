//! `POST /register`: open dynamic client registration (RFC 7591; checklist DCR-1..DCR-9).
//! The response includes the RFC 7592 registration access token and configuration URI.

use super::client_ip;
use super::error::ApiError;
use super::form::has_media_type;
use crate::oauth::client::{Client, ClientPolicy, ClientSource};
use crate::oauth::client::{ClientMetadata, RegistrationRequest};
use crate::oauth::endpoints;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::rules;
use crate::secret::Secret;
use crate::services::events;
use crate::state::{App, AppState};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Registration bodies are small; anything bigger is not client metadata.
const MAX_BODY: usize = 64 * 1024;

/// The client information response (RFC 7591 §3.2.1 with the RFC 7592 §3 members).
#[derive(Serialize)]
pub struct ClientInformation<'a> {
    pub client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<&'a str>,
    pub client_id_issued_at: i64,
    /// RFC 7591 §3.2.1: required when a secret is issued; 0 means it never expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<&'a str>,
    pub registration_client_uri: String,
    #[serde(flatten)]
    pub metadata: &'a ClientMetadata,
}

impl<'a> ClientInformation<'a> {
    /// What the configuration endpoint shows of a stored client: no credentials, they are
    /// only shown once, at registration.
    pub fn of(app: &App, client: &'a Client) -> Self {
        ClientInformation {
            client_id: &client.client_id,
            client_secret: None,
            client_id_issued_at: client.created_at,
            client_secret_expires_at: client.secret_digest.as_ref().map(|_| 0),
            registration_access_token: None,
            registration_client_uri: registration_client_uri(app, &client.client_id),
            metadata: &client.metadata,
        }
    }
}

/// RFC 7592 §3: where a registered client manages its registration.
pub fn registration_client_uri(app: &App, client_id: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    format!("{}/{encoded}", app.issuer.endpoint(endpoints::REGISTER))
}

pub async fn register(State(app): State<AppState>, request: Request) -> Result<Response, ApiError> {
    if let Some(ip) = client_ip(&request) {
        app.registration_limiter
            .check(&ip)
            .map_err(|retry_after| ApiError::RateLimited {
                retry_after,
                error: OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    format!(
                        "too many registrations from {ip}: the limit is {} per minute; retry \
                         after {retry_after} s",
                        app.config.registration.per_minute
                    ),
                )
                .rule(&rules::DCR_9),
            })?;
    }
    require_json(request.headers())?;
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| {
            OAuthError::invalid_client_metadata(format!(
                "the registration request body is larger than {MAX_BODY} bytes"
            ))
        })?;
    let metadata = RegistrationRequest::from_json(serde_json::from_slice(&body))?
        .validate_under(app.config.registration.redirect_schemes)?;

    // A UUID never starts with "https://", so it cannot be confused with a Client ID
    // Metadata Document URL (checklist CIMD-13).
    let client_id = uuid::Uuid::new_v4().to_string();
    let secret = metadata
        .token_endpoint_auth_method
        .uses_secret()
        .then(Secret::generate);
    let registration_token = Secret::generate();
    let client = Client {
        client_id,
        secret_digest: secret.as_ref().map(Secret::digest),
        registration_token_digest: Some(registration_token.digest()),
        metadata,
        created_at: app.now(),
        source: ClientSource::Dynamic,
        policy: ClientPolicy::default(),
    };
    app.store.insert_client(&client).await?;
    tracing::info!(client_id = %client.client_id, "registered a client");
    events::set_client(&client.client_id);
    events::detail(
        "metadata",
        serde_json::to_value(&client.metadata).unwrap_or_default(),
    );

    let body = ClientInformation {
        client_secret: secret.as_ref().map(Secret::expose),
        registration_access_token: Some(registration_token.expose()),
        ..ClientInformation::of(&app, &client)
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Client metadata is a JSON document (RFC 7591 §3.1, RFC 7592 §2.2); a form or text body is
/// refused rather than guessed at.
pub fn require_json(headers: &HeaderMap) -> Result<(), OAuthError> {
    if has_media_type(headers, "application/json") {
        Ok(())
    } else {
        Err(OAuthError::invalid_client_metadata(
            "send the client metadata as a JSON object with Content-Type: application/json \
             (RFC 7591 §3.1)",
        )
        .rule(&rules::DCR_1))
    }
}
