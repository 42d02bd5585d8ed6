//! `POST /token` (OAuth 2.1 §3.2): parse the form once, authenticate the client once, then
//! hand over to the grant type's module. Every grant mints through the one token issuer
//! (`services::tokens`).

mod authorization_code;
mod client_credentials;
mod device_code;
mod identity_assertion;
mod jwt_bearer;
mod refresh_token;
mod token_exchange;

use super::client_auth;
use super::error::ApiError;
use super::form::OAuthForm;
use crate::oauth::endpoints;
use crate::oauth::error::OAuthError;
use crate::oauth::event::{EventType, Outcome};
use crate::oauth::grant_type::GrantType;
use crate::oauth::token_response::TokenResponse;
use crate::services::events;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;

pub async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    OAuthForm(params): OAuthForm,
) -> Result<Json<TokenResponse>, ApiError> {
    let grant_type = params.require("grant_type")?;
    events::detail("grant_type", grant_type);
    let grant_type = GrantType::requested(grant_type)?;
    let client = client_auth::authenticate(&app, &headers, &params, endpoints::TOKEN).await?;
    client.metadata.require_grant(grant_type)?;
    let response = match grant_type {
        GrantType::AuthorizationCode => {
            authorization_code::exchange(&app, &client, &params).await?
        }
        GrantType::RefreshToken => refresh_token::exchange(&app, &client, &params).await?,
        GrantType::ClientCredentials => {
            client_credentials::exchange(&app, &client, &params).await?
        }
        GrantType::DeviceCode => device_code::exchange(&app, &client, &params).await?,
        GrantType::TokenExchange => token_exchange::exchange(&app, &client, &params).await?,
        GrantType::JwtBearer => jwt_bearer::exchange(&app, &client, &params).await?,
    };
    Ok(Json(response))
}

/// Records that a spent `credential` (`authorization_code` or `refresh_token`) was presented
/// again, with the refusal that explains it; the family's revocation follows.
fn replayed(credential: &str, error: &OAuthError) {
    events::step(EventType::Replay, |event| {
        event.reject(error);
        event.detail("credential", credential);
    });
}

/// Records that a grant and every token of its family were revoked, and why.
fn revoked_family(grant_id: &str, why: &str) {
    events::step(EventType::FamilyRevoked, |event| {
        event.outcome = Outcome::Rejected;
        event.description = Some(format!(
            "the grant and every code, refresh token and access token issued from it were \
             revoked: {why}"
        ));
        event.detail("grant_id", grant_id);
    });
}
