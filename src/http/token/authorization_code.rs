//! `grant_type=authorization_code` (OAuth 2.1 §4.1.3; checklist TK-3..TK-8): redeem the code
//! once, with its PKCE verifier, for the resources and scope the user approved.

use super::{replayed, revoked_family};
use crate::http::error::ApiError;
use crate::oauth::client::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::grant::{Refusal, replayed_code};
use crate::oauth::grant_type::GrantType;
use crate::oauth::params::Params;
use crate::oauth::resource;
use crate::oauth::rules;
use crate::oauth::scope::{OPENID, Scope};
use crate::oauth::token_response::TokenResponse;
use crate::secret::token_digest;
use crate::services::events;
use crate::services::tokens::{Subject, TokenGrant};
use crate::state::App;
use crate::store::Spent;

/// A verifier that does not match may be the verifier of another authorization: a client
/// that keeps one verifier for several sign-ins, or mixes up two. Say which, if one is known.
async fn other_flows_verifier(app: &App, error: OAuthError) -> Result<OAuthError, ApiError> {
    let computed = match &error.explanation {
        Some(explanation) if error.rule_id() == Some(rules::TK_3.id) => {
            explanation.received.clone()
        }
        _ => None,
    };
    let Some(computed) = computed else {
        return Ok(error);
    };
    let Some((flow, client_id)) = app.store.flow_of_challenge(&computed).await? else {
        return Ok(error);
    };
    let which = match flow {
        Some(flow) => format!("flow {flow}"),
        None => "another flow".to_owned(),
    };
    Ok(error.hint(Some(format!(
        "this code_verifier belongs to another authorization ({which}, client '{client_id}'): \
         send the verifier made for the request that produced this code"
    ))))
}

pub async fn exchange(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, ApiError> {
    let code_digest = token_digest(params.require("code")?);
    let Some(grant) = app.store.code_grant(&code_digest).await? else {
        return Err(OAuthError::invalid_grant(
            "the authorization code is not one this server issued",
        )
        .into());
    };
    if let Some(flow) = &grant.flow_id {
        events::set_flow(flow);
    }
    events::set_user(&grant.subject);
    let now = app.now();
    let redirect_uri = params.get("redirect_uri")?;
    let verifier = params.get("code_verifier")?;
    match grant.check_redemption(&client.client_id, redirect_uri, verifier, now) {
        Ok(()) => {}
        Err(Refusal::Refuse(error)) => return Err(other_flows_verifier(app, error).await?.into()),
        Err(Refusal::RevokeFamily(error)) => {
            replayed("authorization_code", &error);
            app.store.revoke_grant(&grant.grant_id, now).await?;
            tracing::warn!(client_id = %client.client_id, "authorization code replayed; grant revoked");
            revoked_family(&grant.grant_id, "the authorization code was used again");
            return Err(error.into());
        }
    }
    let audience = resource::narrow(params.all("resource")?, &grant.resources)?;
    let scope = Scope::from_stored(&grant.scope);
    let mut issued = app.tokens.issue(
        TokenGrant {
            grant_type: GrantType::AuthorizationCode,
            client_id: &client.client_id,
            subject: Subject::User(&grant.subject),
            scope: &scope,
            audience,
            with_refresh_token: client.metadata.allows_grant(GrantType::RefreshToken),
            act: None,
        },
        now,
    )?;
    if scope.contains(OPENID) {
        issued.response.id_token = Some(app.tokens.id_token(&grant, now)?);
    }
    match app
        .store
        .redeem_code(&code_digest, &grant.grant_id, now, &issued.records)
        .await?
    {
        Spent::Issued => {
            issued.record();
            Ok(issued.response)
        }
        Spent::Replayed => {
            let error = replayed_code();
            replayed("authorization_code", &error);
            revoked_family(
                &grant.grant_id,
                "the authorization code was used twice at once",
            );
            Err(error.into())
        }
        Spent::NoLongerValid => Err(OAuthError::invalid_grant(
            "the authorization code expired or was revoked while it was being redeemed",
        )
        .into()),
    }
}
