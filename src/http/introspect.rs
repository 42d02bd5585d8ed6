//! `POST /introspect` (RFC 7662; checklist OPT-1): a confidential client asks whether a
//! token is active and what it grants.
//!
//! Who may learn what (RFC 7662 §2.1 "to prevent token scanning attacks, the endpoint MUST
//! also require some form of authorization", §4): open registration hands anyone a
//! confidential client, so being one is not enough. A caller learns about the tokens issued
//! to itself; about other clients' tokens only if it is declared a resource server
//! (`introspection = true` on a configured or CLI-added client). Everything else is
//! `{"active": false}`, exactly like an unknown token, so the answer says nothing.

use super::client_auth;
use super::error::ApiError;
use super::form::OAuthForm;
use crate::oauth::access_token::Audience;
use crate::oauth::endpoints;
use crate::oauth::error::OAuthError;
use crate::oauth::scope::Scope;
use crate::oauth::{hints, rules};
use crate::services::events;
use crate::services::presented_token::PresentedToken;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;

#[derive(Debug, Serialize, Default)]
pub struct Introspection {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<Audience>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
}

pub async fn introspect(
    State(app): State<AppState>,
    headers: HeaderMap,
    OAuthForm(params): OAuthForm,
) -> Result<Json<Introspection>, ApiError> {
    let caller = client_auth::authenticate(&app, &headers, &params, endpoints::INTROSPECT).await?;
    if !caller.metadata.is_confidential() {
        return Err(OAuthError::invalid_client(
            "introspection needs an authenticated caller: use the credentials of a \
             confidential client (not a public client or a native app), such as one \
             registered for the resource server (RFC 7662 §2.1)",
        )
        .rule(&rules::OPT_1)
        .into());
    }
    let token = params.require("token")?;
    let now = app.now();
    let presented =
        PresentedToken::find(token, &app.keys, app.issuer.as_str(), &app.store, app.now()).await?;
    events::detail("token", presented.kind());
    if let Some(flow) = presented.flow() {
        events::set_flow(flow);
    }
    let may_see = caller.policy.introspection
        || presented
            .client_id()
            .is_some_and(|owner| owner == caller.client_id);
    if !may_see {
        events::detail("active", false);
        events::hint(format!(
            "'{}' may introspect only the tokens issued to itself, and this one was issued to \
             another client, so the answer is active=false (RFC 7662 §4). A resource server \
             that introspects every client's tokens is declared with introspection = true",
            caller.client_id
        ));
        return Ok(Json(Introspection::default()));
    }
    if let Some(why) = inactive(&presented, now) {
        events::hint(why);
    }
    let answer = match presented {
        PresentedToken::Access { claims, record } if record.is_active(now) => Introspection {
            active: true,
            iss: Some(claims.iss),
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            scope: claims.scope,
            client_id: Some(claims.client_id),
            token_type: Some("Bearer"),
            jti: Some(claims.jti),
        },
        PresentedToken::Refresh(grant) if grant.is_active(now) => {
            let scope = Scope::from_stored(&grant.scope);
            Introspection {
                active: true,
                iss: Some(app.issuer.as_str().to_owned()),
                sub: Some(grant.subject),
                aud: Some(Audience::from_list(grant.resources)),
                exp: Some(grant.expires_at),
                iat: Some(grant.issued_at),
                scope: (!scope.is_empty()).then(|| scope.to_string()),
                client_id: Some(grant.client_id),
                token_type: Some("refresh_token"),
                jti: None,
            }
        }
        // Revoked, expired, rotated or unknown: nothing more is said (§2.2).
        _ => Introspection::default(),
    };
    events::detail("active", answer.active);
    Ok(Json(answer))
}

/// Why a token is not active, in words for the event log (the caller learns only
/// `active: false`, RFC 7662 §2.2).
fn inactive(presented: &PresentedToken, now: i64) -> Option<String> {
    let ago = |at: i64| hints::span(now - at);
    match presented {
        PresentedToken::Expired(claims) => Some(format!(
            "this access token expired {} ago (exp {}); ask for a new one with the refresh \
             token",
            ago(claims.exp),
            claims.exp
        )),
        PresentedToken::Access { record, .. } => match (record.revoked_at, record.grant_revoked_at)
        {
            (Some(at), _) => Some(format!("this access token was revoked {} ago", ago(at))),
            (None, Some(at)) => Some(format!(
                "the grant of this access token was revoked {} ago (a reused code or refresh \
                 token, a revoked refresh token, or a removed client), and every token of it \
                 with it",
                ago(at)
            )),
            (None, None) if record.expires_at <= now => Some(format!(
                "this access token expired {} ago",
                ago(record.expires_at)
            )),
            (None, None) => None,
        },
        PresentedToken::Refresh(grant) => match (grant.revoked_at, grant.rotated_at) {
            (Some(at), _) => Some(format!(
                "this refresh token's grant was revoked {} ago",
                ago(at)
            )),
            (None, Some(at)) => Some(format!(
                "this refresh token was used {} ago and replaced by a new one; only the newest \
                 refresh token is active",
                ago(at)
            )),
            (None, None) if grant.expires_at <= now => Some(format!(
                "this refresh token expired {} ago",
                ago(grant.expires_at)
            )),
            (None, None) => None,
        },
        PresentedToken::Unknown => Some(
            "this server did not issue this token, or it is malformed, or it was signed with a \
             key that is no longer published"
                .to_owned(),
        ),
    }
}
