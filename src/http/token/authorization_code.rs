//! `grant_type=authorization_code` (OAuth 2.1 §4.1.3; checklist TK-3..TK-8).

use super::{TokenGrant, TokenResponse, mint};
use crate::http::error::ApiError;
use crate::oauth::client::Client;
use crate::oauth::client::REFRESH_TOKEN;
use crate::oauth::error::OAuthError;
use crate::oauth::grant::CodeGrant;
use crate::oauth::id_token::{self, IdTokenClaims};
use crate::oauth::params::Params;
use crate::oauth::pkce::CodeChallenge;
use crate::oauth::resource;
use crate::oauth::scope::{OPENID, Scope};
use crate::secret::token_digest;
use crate::state::App;
use crate::store::Spent;

const REPLAYED: &str = "this authorization code was already used; a code is single-use, so the \
                        tokens issued for it have been revoked (OAuth 2.1 §4.1.3)";

pub async fn exchange(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, ApiError> {
    let code = params.require("code")?;
    let code_digest = token_digest(code);
    let Some(grant) = app.store.code_grant(&code_digest).await? else {
        return Err(OAuthError::invalid_grant(
            "the authorization code is not one this server issued",
        )
        .into());
    };
    // Checks that do not prove possession come first: a request that fails them must not
    // be able to revoke someone else's tokens by replaying their code.
    if grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client (OAuth 2.1 §4.1.3)",
        )
        .into());
    }
    if let Some(redirect_uri) = params.get("redirect_uri")? {
        if redirect_uri != grant.redirect_uri {
            return Err(OAuthError::invalid_grant(format!(
                "redirect_uri '{redirect_uri}' differs from the one in the authorization \
                 request, '{}' (OAuth 2.1 §10.2)",
                grant.redirect_uri
            ))
            .into());
        }
    }
    CodeChallenge::from_stored(grant.code_challenge.clone())
        .verify(params.get("code_verifier")?)?;
    let now = app.now();
    if grant.redeemed_at.is_some() {
        app.store.revoke_grant(&grant.grant_id, now).await?;
        tracing::warn!(client_id = %client.client_id, "authorization code replayed; grant revoked");
        return Err(OAuthError::invalid_grant(REPLAYED).into());
    }
    if grant.revoked_at.is_some() {
        return Err(
            OAuthError::invalid_grant("the authorization behind this code was revoked").into(),
        );
    }
    if grant.expires_at <= now {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired; codes live 60 seconds, so redeem it right \
             after the redirect",
        )
        .into());
    }
    let audience = resource::narrow(params.all("resource")?, &grant.resources)?;
    let scope = Scope::from_stored(&grant.scope);
    let (mut response, issued) = mint(
        app,
        TokenGrant {
            client_id: &client.client_id,
            subject: &grant.subject,
            scope: &scope,
            audience,
            subject_is_user: true,
            with_refresh_token: client.metadata.allows_grant(REFRESH_TOKEN),
        },
    )?;
    if scope.contains(OPENID) {
        response.id_token = Some(id_token(app, &grant)?);
    }
    match app
        .store
        .redeem_code(&code_digest, &grant.grant_id, now, &issued)
        .await?
    {
        Spent::Issued => Ok(response),
        Spent::Replayed => Err(OAuthError::invalid_grant(REPLAYED).into()),
        Spent::NoLongerValid => Err(OAuthError::invalid_grant(
            "the authorization code expired or was revoked while it was being redeemed",
        )
        .into()),
    }
}

/// The OpenID Connect ID token for a redeemed code (OIDC Core §3.1.3.3, §3.1.3.6). It lives
/// as long as an access token.
fn id_token(app: &App, grant: &CodeGrant) -> Result<String, ApiError> {
    let now = app.now();
    let ttl = i64::try_from(app.config.access_token_ttl.as_secs()).unwrap_or(i64::MAX);
    let claims = IdTokenClaims {
        iss: app.issuer.as_str().to_owned(),
        sub: grant.subject.clone(),
        aud: grant.client_id.clone(),
        exp: now.saturating_add(ttl),
        iat: now,
        auth_time: grant.approved_at,
        nonce: grant.nonce.clone(),
        extra: app
            .user(&grant.subject)
            .map(|user| user.claims.clone())
            .unwrap_or_default(),
    };
    Ok(app.keys.sign(id_token::TYP, &claims)?)
}
