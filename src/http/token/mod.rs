//! `POST /token` (OAuth 2.1 §3.2): parse the form once, authenticate the client once, then
//! hand over to the grant type's module.

mod authorization_code;
mod client_credentials;
mod refresh_token;

use super::client_auth;
use super::error::ApiError;
use super::form::form_params;
use crate::oauth::access_token::{AccessTokenClaims, TYP};
use crate::oauth::client::{
    AUTHORIZATION_CODE, CLIENT_CREDENTIALS, REFRESH_TOKEN, SUPPORTED_GRANT_TYPES,
};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::scope::{OFFLINE_ACCESS, Scope};
use crate::secret::Secret;
use crate::state::{App, AppState};
use crate::store::{IssuedTokens, NewAccessToken, NewRefreshToken};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;

/// The successful token response (OAuth 2.1 §3.2.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// OpenID Connect, when `openid` was granted to the code flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

pub async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TokenResponse>, ApiError> {
    let params = form_params(&headers, &body)?;
    let grant_type = params.require("grant_type")?;
    let grant = match grant_type {
        AUTHORIZATION_CODE => Grant::AuthorizationCode,
        REFRESH_TOKEN => Grant::RefreshToken,
        CLIENT_CREDENTIALS => Grant::ClientCredentials,
        other => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type '{other}' is not supported; supported: {}",
                    SUPPORTED_GRANT_TYPES.join(", ")
                ),
            )
            .into());
        }
    };
    let client = client_auth::authenticate(&app, &headers, &params).await?;
    if !client.metadata.allows_grant(grant_type) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client did not register the {grant_type} grant; its grant_types are {:?}",
            client.metadata.grant_types
        ))
        .into());
    }
    let response = match grant {
        Grant::AuthorizationCode => authorization_code::exchange(&app, &client, &params).await?,
        Grant::RefreshToken => refresh_token::exchange(&app, &client, &params).await?,
        Grant::ClientCredentials => client_credentials::exchange(&app, &client, &params).await?,
    };
    Ok(Json(response))
}

enum Grant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

/// What a grant type decided to issue.
struct TokenGrant<'a> {
    client_id: &'a str,
    subject: &'a str,
    scope: &'a Scope,
    audience: Vec<String>,
    with_refresh_token: bool,
    /// Whether `subject` is a user (whose configured extra claims go into the token), as
    /// opposed to a client acting for itself.
    subject_is_user: bool,
}

/// Signs the access token and makes the refresh token for a grant, returning the response
/// and what the store must record. Nothing is recorded here: the caller records it together
/// with spending the code or refresh token, atomically.
fn mint(app: &App, grant: TokenGrant<'_>) -> Result<(TokenResponse, IssuedTokens), ApiError> {
    let now = app.now();
    let ttl = app.config.access_token_ttl.as_secs();
    let ttl_secs = i64::try_from(ttl).unwrap_or(i64::MAX);
    let access_scope = grant.scope.for_access_token();
    let mut claims = AccessTokenClaims::issue(
        app.issuer.as_str(),
        grant.subject,
        grant.client_id,
        grant.audience,
        (!access_scope.is_empty()).then(|| access_scope.to_string()),
        now,
        ttl_secs,
    );
    if grant.subject_is_user {
        if let Some(user) = app.user(grant.subject) {
            claims.extra = user.claims.clone();
        }
    }
    let access_token = app.keys.sign(TYP, &claims)?;
    let refresh = grant.with_refresh_token.then(Secret::generate);
    let refresh_ttl = i64::try_from(app.config.refresh_token_ttl.as_secs()).unwrap_or(i64::MAX);
    let issued = IssuedTokens {
        access: NewAccessToken {
            jti: claims.jti,
            client_id: claims.client_id,
            expires_at: claims.exp,
        },
        refresh: refresh.as_ref().map(|token| NewRefreshToken {
            token_digest: token.digest(),
            expires_at: now.saturating_add(refresh_ttl),
        }),
    };
    let response = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        // offline_access is granted only where a refresh token comes with it (RFC 6749
        // §5.1: `scope` is what was granted).
        scope: match &refresh {
            Some(_) => Some(grant.scope.clone()),
            None => Some(grant.scope.without(OFFLINE_ACCESS)),
        }
        .filter(|scope| !scope.is_empty())
        .map(|scope| scope.to_string()),
        refresh_token: refresh.map(|token| token.expose().to_owned()),
        id_token: None,
    };
    Ok((response, issued))
}
