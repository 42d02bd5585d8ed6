//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an ID-JAG: the MCP
//! authorization server's half of Enterprise-Managed Authorization (RFC 7523 §2.1;
//! draft-ietf-oauth-identity-assertion-authz-grant §4.4; MCP ext-auth "Enterprise-Managed
//! Authorization" §5, §7; checklist OPT-5, JAG-3..JAG-6). A confidential client presents an
//! ID-JAG from a trusted IdP and gets an access token for the MCP server the ID-JAG names,
//! without a consent screen and without a refresh token (draft §4.4.3: "SHOULD NOT return a
//! Refresh Token"). Every refusal is `invalid_grant`, as EMA §7.6.2 asks.

use crate::http::error::ApiError;
use crate::oauth::client::Client;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::event::EventType;
use crate::oauth::grant_type::GrantType;
use crate::oauth::id_jag;
use crate::oauth::params::Params;
use crate::oauth::resource;
use crate::oauth::rules;
use crate::oauth::scope::{self, Scope};
use crate::oauth::token_response::TokenResponse;
use crate::services::events;
use crate::services::tokens::{Subject, TokenGrant};
use crate::state::App;

pub async fn exchange(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, ApiError> {
    if app.trusted_issuers.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "this server trusts no identity provider ([[id_jag.trust]] is empty), so it accepts \
             no identity assertions",
        )
        .rule(&rules::OPT_5)
        .into());
    }
    if !client.metadata.is_confidential() {
        return Err(OAuthError::unauthorized_client(
            "the JWT bearer grant requires a confidential client \
             (draft-ietf-oauth-identity-assertion-authz-grant §8.1; MCP Enterprise-Managed \
             Authorization §5)",
        )
        .rule(&rules::JAG_4)
        .into());
    }
    events::set_flow(&uuid::Uuid::now_v7().to_string());
    let claims = app
        .trusted_issuers
        .verify(params.require("assertion")?, app.issuer.as_str())
        .await?;
    events::set_user(&claims.sub);
    events::detail("assertion_issuer", claims.iss.as_str());
    let now = app.now();
    id_jag::check_claims(&claims, app.issuer.as_str(), &client.client_id, now)?;
    let requested = params.all("resource")?;
    let audience = id_jag::token_audience(claims.resource.as_ref(), &requested)?
        .unwrap_or_else(|| requested.iter().map(|r| (*r).to_owned()).collect());
    // EMA §7.6.2: "MUST validate that the `resource` claim matches its own registered
    // Resource Identifiers (MCP Servers)".
    let audience = resource::resolve_requested(
        audience.iter().map(String::as_str),
        &app.config.resources,
        &app.default_audience,
    )
    .map_err(|error| OAuthError::invalid_grant(error.description).rule(&rules::JAG_6))?;
    let asserted = id_jag::token_scope(
        claims.scope.as_deref(),
        &Scope::parse(params.get("scope")?)?,
    )?;
    let scope = offered_here(&asserted, &audience, app, client)?;
    // EMA §7.4.2: "MUST implement replay detection by rejecting re-use of the same `jti` for
    // the lifetime of the assertion"; the first use wins across every instance.
    if !app
        .store
        .first_use_of_jti(&claims.iss, &claims.jti, claims.exp)
        .await?
    {
        return Err(OAuthError::invalid_grant(
            "this ID-JAG was used before: an identity assertion is single-use (MCP \
             Enterprise-Managed Authorization §7.4.2); ask the IdP for a fresh one",
        )
        .rule(&rules::JAG_5)
        .into());
    }
    let mut issued = app.tokens.issue(
        TokenGrant {
            grant_type: GrantType::JwtBearer,
            client_id: &client.client_id,
            subject: Subject::User(&claims.sub),
            scope: &scope,
            audience,
            with_refresh_token: false,
            act: None,
        },
        now,
    )?;
    issued.response.scope = (!scope.is_empty()).then(|| scope.to_string());
    app.store
        .insert_access_token(&issued.records.access, None, now)
        .await?;
    events::step(EventType::AssertionAccepted, |event| {
        event.detail("iss", claims.iss.as_str());
        event.detail("jti", claims.jti.as_str());
        event.detail("scope", asserted.to_string());
    });
    issued.record();
    Ok(issued.response)
}

/// The asserted scopes that the resources and the client are offered here (EMA §7.6.2:
/// scopes SHOULD be filtered by those the server knows); refused when none is.
fn offered_here(
    asserted: &Scope,
    audience: &[String],
    app: &App,
    client: &Client,
) -> Result<Scope, OAuthError> {
    let kept: Vec<&str> = asserted
        .iter()
        .filter(|token| {
            let one = Scope::from_stored(token);
            resource::check_scope(&one, audience, &app.config.resources).is_ok()
                && scope::check_client_allows(&one, &client.policy.allowed_scopes).is_ok()
                && !scope::SERVER_SCOPES.contains(token)
        })
        .collect();
    if kept.is_empty() && !asserted.is_empty() {
        return Err(OAuthError::invalid_scope(format!(
            "none of the ID-JAG's scopes '{asserted}' is offered for {audience:?} to this client"
        ))
        .rule(&rules::JAG_6));
    }
    Ok(Scope::from_stored(&kept.join(" ")))
}
