//! `POST /register`: open dynamic client registration (RFC 7591; checklist DCR-1..DCR-9).

use super::client_ip;
use super::error::ApiError;
use crate::oauth::client::{ClientMetadata, RegistrationRequest};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::secret::Secret;
use crate::state::AppState;
use crate::store::Client;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Registration bodies are small; anything bigger is not client metadata.
const MAX_BODY: usize = 64 * 1024;

#[derive(Serialize)]
struct Registered<'a> {
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
    client_id_issued_at: i64,
    /// RFC 7591 §3.2.1: required when a secret is issued; 0 means it never expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_expires_at: Option<i64>,
    #[serde(flatten)]
    metadata: &'a ClientMetadata,
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
                ),
            })?;
    }
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        return Err(OAuthError::invalid_client_metadata(
            "send the client metadata as a JSON object with Content-Type: application/json \
             (RFC 7591 §3.1)",
        )
        .into());
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| {
            OAuthError::invalid_client_metadata(format!(
                "the registration request body is larger than {MAX_BODY} bytes"
            ))
        })?;
    let registration: RegistrationRequest = serde_json::from_slice(&body).map_err(|e| {
        OAuthError::invalid_client_metadata(format!(
            "the body is not valid client metadata: {e} (RFC 7591 §2)"
        ))
    })?;
    let metadata = registration.validate()?;

    // A UUID never starts with "https://", so it cannot be confused with a Client ID
    // Metadata Document URL (checklist CIMD-13).
    let client_id = uuid::Uuid::new_v4().to_string();
    let secret = metadata
        .token_endpoint_auth_method
        .is_confidential()
        .then(Secret::generate);
    let client = Client {
        client_id,
        secret_digest: secret.as_ref().map(Secret::digest),
        metadata,
        created_at: app.now(),
    };
    app.store.insert_client(&client).await?;
    tracing::info!(client_id = %client.client_id, "registered a client");

    let body = Registered {
        client_id: &client.client_id,
        client_secret: secret.as_ref().map(Secret::expose),
        client_id_issued_at: client.created_at,
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        metadata: &client.metadata,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
