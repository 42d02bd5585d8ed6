//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693; checklist OPT-5,
//! TX-1..TX-4). Two uses: delegation, where a confidential client (an MCP server) exchanges
//! the access token a user sent it for a token for another service, with an `act` claim
//! naming it (§4.1), under the `[[token_exchange]]` rules; and, with
//! `requested_token_type=urn:ietf:params:oauth:token-type:id-jag`, the IdP's half of
//! Enterprise-Managed Authorization (`identity_assertion.rs`).
//!
//! Errors follow RFC 8693 §2.2.2: an invalid or unacceptable subject or actor token is
//! `invalid_request`, a target the policy refuses `invalid_target`; a client no rule names is
//! `unauthorized_client`, a scope beyond the rule `invalid_scope`.

use super::identity_assertion;
use crate::http::error::ApiError;
use crate::oauth::access_token::AccessTokenClaims;
use crate::oauth::client::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::exchange::{self, ACCESS_TOKEN_TYPE, ExchangeRequest};
use crate::oauth::grant::AccessTokenRecord;
use crate::oauth::grant_type::GrantType;
use crate::oauth::id_jag;
use crate::oauth::params::Params;
use crate::oauth::rules::{self, Rule};
use crate::oauth::scope::Scope;
use crate::oauth::token_response::TokenResponse;
use crate::services::events;
use crate::services::presented_token::PresentedToken;
use crate::services::tokens::{Subject, TokenGrant};
use crate::state::App;

pub async fn exchange(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, ApiError> {
    if !client.metadata.is_confidential() {
        return Err(OAuthError::unauthorized_client(
            "token exchange is for confidential clients: the exchanging party must prove who \
             it is (RFC 8693 §2.1, §5; MCP Enterprise-Managed Authorization §7.7)",
        )
        .rule(&rules::TX_1)
        .into());
    }
    // Each exchange is a flow of its own.
    events::set_flow(&uuid::Uuid::now_v7().to_string());
    let requested_type = params.get("requested_token_type")?;
    events::detail(
        "requested_token_type",
        requested_type.unwrap_or(ACCESS_TOKEN_TYPE),
    );
    match requested_type {
        None | Some(ACCESS_TOKEN_TYPE) => delegate(app, client, params).await,
        Some(id_jag::TOKEN_TYPE) => identity_assertion::issue(app, client, params).await,
        Some(other) => Err(OAuthError::invalid_request(format!(
            "requested_token_type '{other}' is not issued here: ask for {ACCESS_TOKEN_TYPE} \
             (delegation) or {} (an identity assertion) (RFC 8693 §2.1)",
            id_jag::TOKEN_TYPE
        ))
        .rule(&rules::OPT_5)
        .into()),
    }
}

/// RFC 8693 delegation: the new token keeps the subject's `sub`, is for the target the rule
/// allows, and names the acting party in `act`.
async fn delegate(app: &App, client: &Client, params: &Params) -> Result<TokenResponse, ApiError> {
    let subject_type = params.require("subject_token_type")?;
    if subject_type != ACCESS_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(format!(
            "subject_token_type '{subject_type}' is not accepted here: exchange an access token \
             of this server ({ACCESS_TOKEN_TYPE}) (RFC 8693 §2.1)"
        ))
        .rule(&rules::TX_2)
        .into());
    }
    let now = app.now();
    let (subject, record) = active_access_token(
        app,
        params.require("subject_token")?,
        "subject_token",
        &rules::TX_2,
        now,
    )
    .await?;
    events::set_user(&subject.sub);
    let actor = match (params.get("actor_token")?, params.get("actor_token_type")?) {
        (None, None) => client.client_id.clone(),
        (Some(token), Some(ACCESS_TOKEN_TYPE)) => {
            active_access_token(app, token, "actor_token", &rules::TX_4, now)
                .await?
                .0
                .sub
        }
        (Some(_), Some(other)) => {
            return Err(OAuthError::invalid_request(format!(
                "actor_token_type '{other}' is not accepted here: the actor token is an access \
                 token of this server ({ACCESS_TOKEN_TYPE})"
            ))
            .rule(&rules::TX_4)
            .into());
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "actor_token_type is REQUIRED when actor_token is present (RFC 8693 §2.1)",
            )
            .rule(&rules::TX_4)
            .into());
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "actor_token_type MUST NOT be sent without actor_token (RFC 8693 §2.1)",
            )
            .rule(&rules::TX_4)
            .into());
        }
    };
    let subject_audience = subject.aud.to_list();
    let mut targets = params.all("resource")?;
    targets.extend(params.all("audience")?);
    let decision = exchange::decide(
        &app.config.token_exchange,
        &ExchangeRequest {
            client_id: &client.client_id,
            subject_audience: &subject_audience,
            targets,
            scope: Scope::parse(params.get("scope")?)?,
        },
    )?;
    let act = exchange::act_claim(&actor, subject.act.as_ref());
    events::detail("act", act.clone());
    let mut issued = app.tokens.issue(
        TokenGrant {
            grant_type: GrantType::TokenExchange,
            client_id: &client.client_id,
            subject: Subject::User(&subject.sub),
            scope: &decision.scope,
            audience: vec![decision.target],
            with_refresh_token: false,
            act: Some(act),
        },
        now,
    )?;
    issued.response.issued_token_type = Some(ACCESS_TOKEN_TYPE);
    // Of the subject token's grant: revoking the user's grant revokes what was exchanged
    // from it too.
    app.store
        .insert_access_token(&issued.records.access, record.grant_id.as_deref(), now)
        .await?;
    issued.record();
    Ok(issued.response)
}

/// An access token this server issued that is still active, or `invalid_request` saying why
/// not (RFC 8693 §2.2.2).
async fn active_access_token(
    app: &App,
    token: &str,
    parameter: &str,
    rule: &'static Rule,
    now: i64,
) -> Result<(AccessTokenClaims, AccessTokenRecord), ApiError> {
    let refused = |why: String| -> ApiError {
        OAuthError::invalid_request(format!("{parameter} {why} (RFC 8693 §2.2.2)"))
            .rule(rule)
            .into()
    };
    match PresentedToken::find(token, &app.keys, app.issuer.as_str(), &app.store, now).await? {
        PresentedToken::Access { claims, record } if record.is_active(now) => Ok((claims, record)),
        PresentedToken::Access { .. } => Err(refused("was revoked, or its grant was".to_owned())),
        PresentedToken::Expired(claims) => {
            Err(refused(format!("expired {} s ago", now - claims.exp)))
        }
        PresentedToken::Refresh(_) => Err(refused(
            "is a refresh token; exchange an access token".to_owned(),
        )),
        PresentedToken::Unknown => Err(refused(
            "is not an access token this server issued".to_owned(),
        )),
    }
}
