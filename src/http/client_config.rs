//! The client configuration endpoint (RFC 7592; checklist OPT-3): `GET`, `PUT` and
//! `DELETE` on the `registration_client_uri`, authorised by the registration access token
//! returned at registration. Every read and update answers with the next token and retires
//! the one presented (RFC 7592 §5): the response must carry a token (§3), and Tollgate keeps
//! only digests, so it cannot show the old one again.

use super::error::ApiError;
use super::register::{ClientInformation, require_json};
use crate::oauth::client::Client;
use crate::oauth::client::update::{ClientUpdate, secret_not_current};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::rules;
use crate::secret::{Secret, digest_matches, verify_stored_secret};
use crate::services::events;
use crate::state::{App, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

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
    let update = ClientUpdate::parse(&body, &client)?;
    if let Some(secret) = &update.client_secret {
        let matches = match (secret.as_str(), client.secret_digest.as_deref()) {
            (Some(secret), Some(stored)) => verify_stored_secret(secret, stored).await,
            _ => false,
        };
        if !matches {
            return Err(secret_not_current().into());
        }
    }
    let metadata = update.apply(&client, app.config.registration.redirect_schemes)?;
    answer_with_next_token(&app, Client { metadata, ..client }, true).await
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
    ApiError::OAuth(
        OAuthError::new(
            ErrorCode::InvalidToken,
            "the registration access token is not valid for this client, or the client does \
             not exist",
        )
        .rule(&rules::OPT_3)
        .hint(Some(
            "each GET and PUT answers with a new registration_access_token and retires the one \
             used (RFC 7592 §5): keep the newest one"
                .to_owned(),
        )),
    )
}

/// The client named in the path, if the request carries its registration access token.
/// Every failure is the same 401 (RFC 7592 §2.1: also for a client that does not exist).
async fn authorised_client(
    app: &App,
    client_id: ClientIdPath,
    headers: &HeaderMap,
) -> Result<Client, ApiError> {
    let token = bearer_token(headers).ok_or_else(|| {
        ApiError::BearerTokenMissing(
            OAuthError::new(
                ErrorCode::InvalidToken,
                "this request carries no registration access token: send the one from the \
             registration response as 'Authorization: Bearer <token>' (RFC 7592 §2)",
            )
            .rule(&rules::OPT_3),
        )
    })?;
    let Ok(Path(client_id)) = client_id else {
        return Err(token_not_valid());
    };
    events::set_client(&client_id);
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
