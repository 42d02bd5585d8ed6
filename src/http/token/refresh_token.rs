//! `grant_type=refresh_token` (OAuth 2.1 §4.3; checklist TK-16..TK-18): every use rotates
//! the token; using a rotated token again revokes the whole grant; scope and resources can
//! only narrow.

use super::revoked_family;
use crate::http::error::ApiError;
use crate::oauth::client::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::grant::{Refusal, reused_refresh_token, still_allowed};
use crate::oauth::params::Params;
use crate::oauth::resource;
use crate::oauth::scope::Scope;
use crate::oauth::token_response::TokenResponse;
use crate::secret::token_digest;
use crate::services::events;
use crate::services::tokens::{Subject, TokenGrant};
use crate::state::App;
use crate::store::Spent;

pub async fn exchange(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, ApiError> {
    let token_digest = token_digest(params.require("refresh_token")?);
    let Some(grant) = app.store.refresh_grant(&token_digest).await? else {
        return Err(
            OAuthError::invalid_grant("the refresh token is not one this server issued").into(),
        );
    };
    if let Some(flow) = &grant.flow_id {
        events::set_flow(flow);
    }
    events::set_user(&grant.subject);
    let now = app.now();
    match grant.check_use(&client.client_id, now) {
        Ok(()) => {}
        Err(Refusal::Refuse(error)) => return Err(error.into()),
        Err(Refusal::RevokeFamily(error)) => {
            app.store.revoke_grant(&grant.grant_id, now).await?;
            tracing::warn!(client_id = %client.client_id, "refresh token reused; grant revoked");
            revoked_family(&grant.grant_id, "the refresh token was used again");
            return Err(error.into());
        }
    }
    let (scope, explicit) = grant.requested_scope(Scope::parse(params.get("scope")?)?)?;
    let audience = resource::narrow(params.all("resource")?, &grant.resources)?;
    // The configuration may have changed since consent: the user may be gone, and the
    // resources or the client's allowed scopes may offer less.
    if app.user(&grant.subject).is_none() {
        app.store.revoke_grant(&grant.grant_id, now).await?;
        revoked_family(&grant.grant_id, "its user no longer exists");
        return Err(OAuthError::invalid_grant(format!(
            "user '{}' no longer exists on this server, so the grant made in their name has \
             been revoked",
            grant.subject
        ))
        .into());
    }
    resource::resolve_requested(
        audience.iter().map(String::as_str),
        &app.config.resources,
        &app.default_audience,
    )?;
    let scope = still_allowed(
        scope,
        explicit,
        &audience,
        &app.config.resources,
        &client.policy.allowed_scopes,
    )?;
    let issued = app.tokens.issue(
        TokenGrant {
            client_id: &client.client_id,
            subject: Subject::User(&grant.subject),
            scope: &scope,
            audience,
            with_refresh_token: true,
            act: None,
        },
        now,
    )?;
    match app
        .store
        .rotate_refresh_token(&token_digest, &grant.grant_id, now, &issued.records)
        .await?
    {
        Spent::Issued => {
            issued.record();
            Ok(issued.response)
        }
        Spent::Replayed => {
            revoked_family(&grant.grant_id, "the refresh token was used twice at once");
            Err(reused_refresh_token().into())
        }
        Spent::NoLongerValid => Err(OAuthError::invalid_grant(
            "the refresh token expired or was revoked while it was being used",
        )
        .into()),
    }
}
