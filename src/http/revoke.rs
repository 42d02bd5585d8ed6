//! `POST /revoke` (RFC 7009; checklist OPT-2): a client revokes one of its own tokens.
//! Revoking a refresh token revokes its whole grant, access tokens included; revoking an
//! access token revokes that token. Unknown tokens get `200` too (§2.2).

use super::client_auth;
use super::error::ApiError;
use super::form::OAuthForm;
use crate::oauth::endpoints;
use crate::oauth::error::OAuthError;
use crate::oauth::event::EventType;
use crate::oauth::rules;
use crate::services::events;
use crate::services::presented_token::PresentedToken;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

pub async fn revoke(
    State(app): State<AppState>,
    headers: HeaderMap,
    OAuthForm(params): OAuthForm,
) -> Result<StatusCode, ApiError> {
    let client = client_auth::authenticate(&app, &headers, &params, endpoints::REVOKE).await?;
    let token = params.require("token")?;
    let presented =
        PresentedToken::find(token, &app.keys, app.issuer.as_str(), &app.store, app.now()).await?;
    events::detail("token", presented.kind());
    if let Some(flow) = presented.flow() {
        events::set_flow(flow);
    }
    if presented
        .client_id()
        .is_some_and(|owner| owner != client.client_id)
    {
        // §2.1: the server verifies that the token was issued to the requesting client
        // and refuses the request otherwise.
        return Err(OAuthError::unauthorized_client(
            "this token was issued to another client; a client can only revoke its own tokens",
        )
        .rule(&rules::OPT_2)
        .into());
    }
    let now = app.now();
    match presented {
        PresentedToken::Access { claims, .. } => {
            app.store.revoke_access_token(&claims.jti, now).await?;
        }
        PresentedToken::Refresh(grant) => {
            app.store.revoke_grant(&grant.grant_id, now).await?;
            events::step(EventType::FamilyRevoked, |event| {
                event.description = Some(
                    "the client revoked its refresh token: the grant and every token issued \
                     from it were revoked (RFC 7009 §2.1)"
                        .to_owned(),
                );
                event.detail("grant_id", grant.grant_id.as_str());
            });
        }
        PresentedToken::Expired(_) | PresentedToken::Unknown => {}
    }
    Ok(StatusCode::OK)
}
