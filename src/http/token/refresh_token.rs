//! `grant_type=refresh_token` (OAuth 2.1 §4.3; checklist TK-16..TK-18): every use rotates
//! the token; using a rotated token again revokes the whole grant; scope and resources can
//! only narrow.

use super::{TokenGrant, TokenResponse, mint};
use crate::http::error::ApiError;
use crate::oauth::client::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::resource;
use crate::oauth::scope::{Scope, check_client_allows};
use crate::secret::token_digest;
use crate::state::App;
use crate::store::Spent;

const REUSED: &str = "this refresh token was already used; refresh tokens rotate on every use, \
                      so its whole grant has been revoked as a precaution (OAuth 2.1 §4.3.1)";

pub async fn exchange(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, ApiError> {
    let token = params.require("refresh_token")?;
    let token_digest = token_digest(token);
    let Some(grant) = app.store.refresh_grant(&token_digest).await? else {
        return Err(
            OAuthError::invalid_grant("the refresh token is not one this server issued").into(),
        );
    };
    if grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client (OAuth 2.1 §4.3.1)",
        )
        .into());
    }
    let now = app.now();
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the refresh token's grant has been revoked").into());
    }
    if grant.rotated_at.is_some() {
        app.store.revoke_grant(&grant.grant_id, now).await?;
        tracing::warn!(client_id = %client.client_id, "refresh token reused; grant revoked");
        return Err(OAuthError::invalid_grant(REUSED).into());
    }
    if grant.expires_at <= now {
        return Err(OAuthError::invalid_grant("the refresh token has expired").into());
    }
    let granted = Scope::from_stored(&grant.scope);
    let requested = Scope::parse(params.get("scope")?)?;
    let explicit = !requested.is_empty();
    let scope = if requested.is_empty() {
        granted
    } else if requested.is_subset_of(&granted) {
        requested
    } else {
        let extra: Vec<&str> = requested.missing_from(&granted).collect();
        return Err(OAuthError::invalid_scope(format!(
            "a refresh cannot add scope: {} was not granted (granted: '{granted}'; OAuth 2.1 \
             §4.3.1)",
            extra.join(" ")
        ))
        .into());
    };
    let audience = resource::narrow(params.all("resource")?, &grant.resources)?;
    // The configuration may have changed since consent (an edited seed file, a restart):
    // a refresh issues only what it would still allow today.
    if app.user(&grant.subject).is_none() {
        app.store.revoke_grant(&grant.grant_id, now).await?;
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
    let scope = still_allowed(scope, explicit, &audience, app, client)?;
    let (response, issued) = mint(
        app,
        TokenGrant {
            client_id: &client.client_id,
            subject: &grant.subject,
            scope: &scope,
            audience,
            subject_is_user: true,
            with_refresh_token: true,
        },
    )?;
    match app
        .store
        .rotate_refresh_token(&token_digest, &grant.grant_id, now, &issued)
        .await?
    {
        Spent::Issued => Ok(response),
        Spent::Replayed => Err(OAuthError::invalid_grant(REUSED).into()),
        Spent::NoLongerValid => Err(OAuthError::invalid_grant(
            "the refresh token expired or was revoked while it was being used",
        )
        .into()),
    }
}

/// The part of `scope` that the resources and the client's allowed scopes still offer. A
/// scope the client asked for explicitly must still be offered (the usual `invalid_scope`);
/// a grant's own scope that is no longer offered is dropped, and the response's `scope` says
/// so (OAuth 2.1 §3.2.3), unless nothing is left.
fn still_allowed(
    scope: Scope,
    explicit: bool,
    audience: &[String],
    app: &App,
    client: &Client,
) -> Result<Scope, OAuthError> {
    let allows = |scope: &Scope| {
        resource::check_scope(scope, audience, &app.config.resources)
            .and_then(|()| check_client_allows(scope, &client.policy.allowed_scopes))
    };
    if explicit {
        allows(&scope)?;
        return Ok(scope);
    }
    let kept = scope
        .iter()
        .filter(|token| allows(&Scope::from_stored(token)).is_ok())
        .collect::<Vec<_>>()
        .join(" ");
    let kept = Scope::from_stored(&kept);
    if kept.is_empty() && !scope.is_empty() {
        return Err(OAuthError::invalid_grant(format!(
            "none of the grant's scope '{scope}' is offered any more (the server's resources \
             or this client's allowed scopes changed); authorize again"
        )));
    }
    Ok(kept)
}
