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
use crate::oauth::error::OAuthError;
use crate::oauth::scope::Scope;
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
    let caller = client_auth::authenticate(&app, &headers, &params).await?;
    if !caller.metadata.is_confidential() {
        return Err(OAuthError::invalid_client(
            "introspection needs an authenticated caller: use the credentials of a \
             confidential client (not a public client or a native app), such as one \
             registered for the resource server (RFC 7662 §2.1)",
        )
        .into());
    }
    let token = params.require("token")?;
    let now = app.now();
    let presented =
        PresentedToken::find(token, &app.keys, app.issuer.as_str(), &app.store, app.now()).await?;
    let may_see = caller.policy.introspection
        || presented
            .client_id()
            .is_some_and(|owner| owner == caller.client_id);
    if !may_see {
        return Ok(Json(Introspection::default()));
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
    Ok(Json(answer))
}
