//! Identity Assertion JWT Authorization Grants (ID-JAG): draft-ietf-oauth-identity-assertion-
//! authz-grant (-04, as cited by the MCP extension) and the MCP `ext-auth` extension
//! "Enterprise-Managed Authorization" (`io.modelcontextprotocol/enterprise-managed-
//! authorization`, specification/stable/enterprise-managed-authorization.mdx). Checklist
//! OPT-5, JAG-1..JAG-6.
//!
//! Tollgate plays both authorization servers of the draft: the IdP, which exchanges an
//! OpenID Connect ID token for an ID-JAG (§4.3), and the MCP server's authorization server,
//! which accepts an ID-JAG with the JWT bearer grant (RFC 7523, §4.4). Draft §8.3: "the IdP
//! MUST NOT issue access tokens in response to an ID-JAG it issued itself", so the two roles
//! are two issuers (two `tollgate serve` processes).

use super::access_token::Audience;
use super::error::OAuthError;
use super::rules;
use super::scope::Scope;
use serde::{Deserialize, Serialize};

/// Draft §3.1: "The `typ` of the JWT indicated in the JWT header MUST be `oauth-id-jag+jwt`."
pub const TYP: &str = "oauth-id-jag+jwt";
/// Draft §9.2: the token type of `requested_token_type` and `issued_token_type`.
pub const TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// Draft §7.2: `authorization_grant_profiles_supported` of the MCP authorization server.
pub const GRANT_PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
/// EMA §7.4.2: "ID-JAGs MUST be short-lived"; the draft's examples use five minutes.
pub const LIFETIME_SECS: i64 = 300;
/// Clock skew allowed on `iat` between two issuers' clocks.
pub const LEEWAY_SECS: i64 = 60;

/// Whether a JOSE `typ` names an ID-JAG: compared case-insensitively, with or without the
/// `application/` prefix (RFC 7515 §4.1.9).
pub fn is_id_jag_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|typ| {
        let typ = typ.to_ascii_lowercase();
        typ == TYP || typ.strip_prefix("application/") == Some(TYP)
    })
}

/// One `[[id_jag.issue]]` rule (IdP role): `client` (an IdP client whose users signed in with
/// OpenID Connect) may get ID-JAGs for the MCP authorization server `audience` (its issuer)
/// and its MCP server `resource`, naming itself `client_id` there (draft §5: the client's id
/// at the resource authorization server may differ), with at most `scopes`. EMA §7.6.1: "The
/// IdP MUST maintain a mapping of valid `(audience, resource)` pairs".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRule {
    pub client: String,
    pub audience: String,
    pub resource: String,
    /// The client's id at the MCP authorization server; its id here when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The scopes an ID-JAG may carry; empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// One `[[id_jag.trust]]` entry (MCP authorization server role): an IdP whose ID-JAGs are
/// accepted, verified with its JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    pub issuer: String,
    /// Where its keys are; `{issuer}/jwks.json` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
}

impl TrustedIssuer {
    pub fn jwks_url(&self) -> String {
        self.jwks_url
            .clone()
            .unwrap_or_else(|| format!("{}/jwks.json", self.issuer.trim_end_matches('/')))
    }
}

/// The `resource` claim: "either a single URI or an array of URIs" (draft §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Resources {
    One(String),
    Many(Vec<String>),
}

impl Resources {
    pub fn to_list(&self) -> Vec<String> {
        match self {
            Resources::One(one) => vec![one.clone()],
            Resources::Many(many) => many.clone(),
        }
    }
}

/// The claims of an ID-JAG (draft §3.1; EMA §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdJagClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    /// The client's id at the MCP authorization server.
    pub client_id: String,
    pub jti: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resources>,
    /// Space-separated, like an access token's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Draft §3.1: "It is RECOMMENDED that the ID-JAG contain an `email`".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// What the IdP decided to put in an ID-JAG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueDecision {
    pub audience: String,
    pub resource: String,
    pub client_id: String,
    pub scope: Scope,
}

/// Applies the `[[id_jag.issue]]` rules to a token exchange for an ID-JAG (draft §4.3.3:
/// "Apply policy to `resource`/`scope` ... MAY grant a subset").
pub fn decide_issue(
    issue_rules: &[IssueRule],
    client_id: &str,
    audience: Option<&str>,
    resource: Option<&str>,
    requested: &Scope,
    own_issuer: &str,
) -> Result<IssueDecision, OAuthError> {
    let Some(audience) = audience else {
        return Err(OAuthError::invalid_request(
            "audience is required: the issuer identifier of the MCP server's authorization \
             server (draft-ietf-oauth-identity-assertion-authz-grant §4.3)",
        )
        .rule(&rules::JAG_2));
    };
    if audience == own_issuer {
        return Err(OAuthError::invalid_target(
            "the audience is this server itself, which must not accept its own ID-JAGs \
             (draft-ietf-oauth-identity-assertion-authz-grant §8.3): run the MCP server's \
             authorization server as another issuer",
        )
        .rule(&rules::JAG_3));
    }
    let mine: Vec<&IssueRule> = issue_rules
        .iter()
        .filter(|r| r.client == client_id)
        .collect();
    if mine.is_empty() {
        return Err(OAuthError::unauthorized_client(format!(
            "no [[id_jag.issue]] rule names client '{client_id}', so it may not get identity \
             assertions"
        ))
        .rule(&rules::JAG_2));
    }
    let for_audience: Vec<&IssueRule> = mine
        .iter()
        .copied()
        .filter(|r| r.audience == audience)
        .collect();
    if for_audience.is_empty() {
        let known: Vec<&str> = mine.iter().map(|r| r.audience.as_str()).collect();
        return Err(OAuthError::invalid_target(format!(
            "the [[id_jag.issue]] rules of '{client_id}' do not map the audience '{audience}'; \
             they allow {known:?} (MCP Enterprise-Managed Authorization §7.6.1)"
        ))
        .rule(&rules::JAG_2)
        .compared(known.join(" "), audience));
    }
    let resources: Vec<&str> = for_audience.iter().map(|r| r.resource.as_str()).collect();
    let rule = match resource {
        Some(resource) => for_audience
            .iter()
            .find(|r| r.resource == resource)
            .ok_or_else(|| {
                OAuthError::invalid_target(format!(
                    "'{audience}' is not the authorization server of the resource '{resource}' for \
                 '{client_id}': its [[id_jag.issue]] rules pair it with {resources:?} (MCP \
                 Enterprise-Managed Authorization §7.6.1)"
                ))
                .rule(&rules::JAG_2)
                .compared(resources.join(" "), resource)
            })?,
        None if for_audience.len() == 1 => &for_audience[0],
        None => {
            return Err(OAuthError::invalid_request(format!(
                "name the MCP server with resource; '{audience}' serves {resources:?}"
            ))
            .rule(&rules::JAG_2));
        }
    };
    let offered = Scope::from_stored(&rule.scopes.join(" "));
    let scope = if requested.is_empty() {
        offered
    } else {
        let kept = requested.covered_by(&offered);
        if kept.is_empty() {
            return Err(OAuthError::invalid_scope(format!(
                "none of the scopes '{requested}' may go into an ID-JAG for '{}': the rule \
                 allows '{offered}'",
                rule.resource
            ))
            .rule(&rules::JAG_2)
            .compared(offered.to_string(), requested.to_string()));
        }
        kept
    };
    Ok(IssueDecision {
        audience: rule.audience.clone(),
        resource: rule.resource.clone(),
        client_id: rule
            .client_id
            .clone()
            .unwrap_or_else(|| client_id.to_owned()),
        scope,
    })
}

/// The MCP authorization server's checks of a verified ID-JAG's claims (draft §4.4.1; EMA
/// §5, §7.4): the audience is this server, the client is the one that authenticated, and the
/// assertion is current.
pub fn check_claims(
    claims: &IdJagClaims,
    own_issuer: &str,
    client_id: &str,
    now: i64,
) -> Result<(), OAuthError> {
    // Draft §4.4.1: "If the `aud` claim is an array, it MUST contain exactly one element, and
    // that element MUST be the issuer identifier of the Resource Authorization Server."
    let aud_ok = match &claims.aud {
        Audience::One(one) => one == own_issuer,
        Audience::Many(many) => many.len() == 1 && many[0] == own_issuer,
    };
    if !aud_ok {
        let sent = claims.aud.to_list().join(" ");
        return Err(OAuthError::invalid_grant(format!(
            "the ID-JAG's aud is '{sent}', not this server's issuer '{own_issuer}' (one value, \
             draft-ietf-oauth-identity-assertion-authz-grant §4.4.1)"
        ))
        .rule(&rules::JAG_4)
        .compared(own_issuer, sent));
    }
    if claims.client_id != client_id {
        return Err(OAuthError::invalid_grant(format!(
            "the ID-JAG was issued for client '{}', but '{client_id}' presented it \
             (draft-ietf-oauth-identity-assertion-authz-grant §4.4.1)",
            claims.client_id
        ))
        .rule(&rules::JAG_4)
        .compared(claims.client_id.as_str(), client_id));
    }
    if claims.exp <= now {
        return Err(OAuthError::invalid_grant(format!(
            "the ID-JAG expired {} s ago; ask the IdP for a fresh one (MCP Enterprise-Managed \
             Authorization §7.4.2)",
            now - claims.exp
        ))
        .rule(&rules::JAG_5));
    }
    if claims.iat > now + LEEWAY_SECS {
        return Err(OAuthError::invalid_grant(
            "the ID-JAG was issued in the future (iat); are the two servers' clocks apart?",
        )
        .rule(&rules::JAG_5));
    }
    Ok(())
}

/// The audience of the access token issued for an ID-JAG. EMA §5.1: "the issued access token
/// MUST be audience-restricted to the MCP Server identified by the `resource` claim"; a
/// `resource` parameter may only pick among the claim's values (EMA §7.6.2: `invalid_grant`).
/// `None` when the ID-JAG names no resource: the request's resources then decide, as for
/// any grant.
pub fn token_audience(
    claim: Option<&Resources>,
    requested: &[&str],
) -> Result<Option<Vec<String>>, OAuthError> {
    let Some(claim) = claim else {
        return Ok(None);
    };
    let named = claim.to_list();
    if let Some(other) = requested.iter().find(|r| !named.iter().any(|n| n == *r)) {
        return Err(OAuthError::invalid_grant(format!(
            "resource '{other}' is not in the ID-JAG's resource claim {named:?} (MCP \
             Enterprise-Managed Authorization §7.6.2)"
        ))
        .rule(&rules::JAG_6)
        .compared(named.join(" "), *other));
    }
    Ok(Some(if requested.is_empty() {
        named
    } else {
        requested.iter().map(|r| (*r).to_owned()).collect()
    }))
}

/// EMA §7.2.1: "issue access tokens with scopes that are the intersection of the requested
/// scopes and the scopes present in the ID-JAG"; all of the ID-JAG's when none is requested.
pub fn token_scope(claim: Option<&str>, requested: &Scope) -> Result<Scope, OAuthError> {
    let asserted = Scope::from_stored(claim.unwrap_or_default());
    if requested.is_empty() {
        return Ok(asserted);
    }
    // Covered, not equal: an ID-JAG for `mcp:tools` lets a client ask for `mcp:tools:weather`.
    let kept = requested.covered_by(&asserted);
    if kept.is_empty() {
        return Err(OAuthError::invalid_scope(format!(
            "none of the requested scopes '{requested}' is in the ID-JAG's scope '{asserted}'"
        ))
        .rule(&rules::JAG_6)
        .compared(asserted.to_string(), requested.to_string()));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests;
