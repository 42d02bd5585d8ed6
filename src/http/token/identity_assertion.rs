//! The IdP's half of Enterprise-Managed Authorization: token exchange of an OpenID Connect
//! ID token for an Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-
//! assertion-authz-grant §4.3; MCP ext-auth "Enterprise-Managed Authorization" §4; checklist
//! OPT-5, JAG-1, JAG-2). The request names `requested_token_type=...:id-jag`, the MCP
//! authorization server as `audience` and the MCP server as `resource`; the answer is
//! `{"issued_token_type": "...:id-jag", "access_token": <ID-JAG>, "token_type": "N_A"}`.
//! As the draft's example does, a subject token that cannot be used is `invalid_grant`.

use crate::http::error::ApiError;
use crate::oauth::client::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::event::EventType;
use crate::oauth::exchange::ID_TOKEN_TYPE;
use crate::oauth::id_jag::{self, LIFETIME_SECS};
use crate::oauth::id_token::{self, PresentedIdToken};
use crate::oauth::params::Params;
use crate::oauth::rules;
use crate::oauth::scope::Scope;
use crate::oauth::token_response::TokenResponse;
use crate::services::events;
use crate::services::tokens::IdJagFor;
use crate::state::App;

pub async fn issue(app: &App, client: &Client, params: &Params) -> Result<TokenResponse, ApiError> {
    let subject_type = params.require("subject_token_type")?;
    if subject_type != ID_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(format!(
            "subject_token_type '{subject_type}' cannot be exchanged for an ID-JAG here: send \
             the ID token of the user's sign-in ({ID_TOKEN_TYPE}) (draft-ietf-oauth-identity-\
             assertion-authz-grant §4.3)"
        ))
        .rule(&rules::JAG_1)
        .into());
    }
    let token = params.require("subject_token")?;
    let presented: PresentedIdToken = app
        .keys
        .verify_typed(token, app.issuer.as_str(), id_token::TYP)
        .map_err(|e| {
            OAuthError::invalid_grant(format!(
                "the subject_token is not an ID token this server issued: {e}"
            ))
            .rule(&rules::JAG_1)
        })?;
    let now = app.now();
    if presented.exp <= now {
        return Err(OAuthError::invalid_grant(format!(
            "the ID token expired {} s ago; sign in again for a fresh one",
            now - presented.exp
        ))
        .rule(&rules::JAG_1)
        .into());
    }
    // Draft §4.3.3: "the IdP MUST validate that the audience of the assertion ... matches
    // the `client_id` of the client authentication of the request."
    let audience = presented.aud.to_list();
    if !audience.contains(&client.client_id) {
        return Err(OAuthError::invalid_grant(format!(
            "Audience validation failed: the ID token was issued to {audience:?}, not to '{}', \
             which authenticated (draft-ietf-oauth-identity-assertion-authz-grant §4.3.3)",
            client.client_id
        ))
        .rule(&rules::JAG_1)
        .compared(client.client_id.as_str(), audience.join(" "))
        .into());
    }
    events::set_user(&presented.sub);
    if app.user(&presented.sub).is_none() {
        return Err(OAuthError::invalid_grant(format!(
            "user '{}' no longer exists on this server",
            presented.sub
        ))
        .rule(&rules::JAG_1)
        .into());
    }
    let resources = params.all("resource")?;
    if resources.len() > 1 {
        return Err(OAuthError::invalid_request(
            "an ID-JAG is for one MCP server: send one resource",
        )
        .rule(&rules::JAG_2)
        .into());
    }
    let decision = id_jag::decide_issue(
        &app.config.id_jag.issue,
        &client.client_id,
        params.get("audience")?,
        resources.first().copied(),
        &Scope::parse(params.get("scope")?)?,
        app.issuer.as_str(),
    )?;
    let (assertion, claims) = app.tokens.id_jag(
        IdJagFor {
            subject: &presented.sub,
            auth_time: presented.auth_time,
            decision: &decision,
        },
        now,
    )?;
    events::step(EventType::AssertionIssued, |event| {
        event.detail("jti", claims.jti.as_str());
        event.detail("aud", decision.audience.as_str());
        event.detail("resource", decision.resource.as_str());
        event.detail("client_id", decision.client_id.as_str());
        event.detail("scope", decision.scope.to_string());
        event.detail("expires_at", claims.exp);
    });
    Ok(TokenResponse {
        access_token: assertion,
        issued_token_type: Some(id_jag::TOKEN_TYPE),
        // EMA §4.2: "N_A (because this is not an OAuth access token.)"
        token_type: "N_A",
        expires_in: LIFETIME_SECS.unsigned_abs(),
        scope: (!decision.scope.is_empty()).then(|| decision.scope.to_string()),
        refresh_token: None,
        id_token: None,
    })
}
