//! Token exchange (RFC 8693; checklist OPT-5, TX-1..TX-4): the token types, the declared
//! policy of who may exchange what for what, and the `act` claim of delegation.

use super::error::OAuthError;
use super::rules;
use super::scope::Scope;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// RFC 8693 §3 token type identifiers.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const REFRESH_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:refresh_token";
pub const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// One `[[token_exchange]]` rule of the configuration: `client` may exchange an access token
/// whose audience is `subject_audience` (the client's own resource: the user's token that
/// reached it) for a token for `target` (a resource URI or a logical audience name, RFC 8693
/// §2.1), with at most `scopes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRule {
    pub client: String,
    pub subject_audience: String,
    pub target: String,
    /// The scopes the new token may carry: all of them when the request names none. Empty:
    /// the new token carries no scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// What an exchange asks for, as far as the policy is concerned.
#[derive(Debug)]
pub struct ExchangeRequest<'a> {
    pub client_id: &'a str,
    /// The `aud` of the subject token.
    pub subject_audience: &'a [String],
    /// Every `resource` and `audience` parameter.
    pub targets: Vec<&'a str>,
    pub scope: Scope,
}

/// What the policy allows: one target and the scope of the new token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeDecision {
    pub target: String,
    pub scope: Scope,
}

/// Applies the `[[token_exchange]]` rules to a request; each refusal says which rule
/// refused and what the rules would allow.
pub fn decide(
    rules: &[ExchangeRule],
    request: &ExchangeRequest<'_>,
) -> Result<ExchangeDecision, OAuthError> {
    let client = request.client_id;
    let mine: Vec<&ExchangeRule> = rules.iter().filter(|r| r.client == client).collect();
    if mine.is_empty() {
        return Err(OAuthError::unauthorized_client(format!(
            "no [[token_exchange]] rule names client '{client}', so it may not exchange tokens \
             (RFC 8693 §5: the server decides who may)"
        ))
        .rule(&rules::TX_1));
    }
    let for_subject: Vec<&ExchangeRule> = mine
        .iter()
        .copied()
        .filter(|r| request.subject_audience.contains(&r.subject_audience))
        .collect();
    if for_subject.is_empty() {
        let accepted: Vec<&str> = mine.iter().map(|r| r.subject_audience.as_str()).collect();
        return Err(OAuthError::invalid_request(format!(
            "the subject token's audience is {:?}, but the [[token_exchange]] rules of '{client}' \
             accept only subject tokens for {accepted:?}: exchange the token a user sent to \
             this client (RFC 8693 §2.2.2)",
            request.subject_audience
        ))
        .rule(&rules::TX_2)
        .compared(accepted.join(" "), request.subject_audience.join(" ")));
    }
    let allowed: Vec<&str> = for_subject.iter().map(|r| r.target.as_str()).collect();
    let target = match request.targets.as_slice() {
        [one] => *one,
        [] if allowed.len() == 1 => allowed[0],
        [] => {
            return Err(OAuthError::invalid_request(format!(
                "name the target with resource or audience; the rules of '{client}' allow \
                 {allowed:?} (RFC 8693 §2.1)"
            ))
            .rule(&rules::TX_3));
        }
        _ => {
            return Err(OAuthError::invalid_target(format!(
                "ask for one target per exchange, not {:?} (RFC 8693 §2.2.2)",
                request.targets
            ))
            .rule(&rules::TX_3));
        }
    };
    let Some(rule) = for_subject.iter().find(|r| r.target == target) else {
        return Err(OAuthError::invalid_target(format!(
            "no [[token_exchange]] rule lets '{client}' exchange a token for {:?} into one for \
             '{target}'; its rules allow {allowed:?} (RFC 8693 §2.2.2)",
            request.subject_audience
        ))
        .rule(&rules::TX_3)
        .compared(allowed.join(" "), target));
    };
    let offered = Scope::from_stored(&rule.scopes.join(" "));
    let scope = if request.scope.is_empty() {
        offered
    } else if request.scope.is_covered_by(&offered) {
        request.scope.clone()
    } else {
        let extra: Vec<&str> = request.scope.not_covered_by(&offered).collect();
        return Err(OAuthError::invalid_scope(format!(
            "the [[token_exchange]] rule of '{client}' for '{target}' allows the scopes \
             '{offered}', not {}",
            extra.join(" ")
        ))
        .rule(&rules::TX_3)
        .compared(offered.to_string(), request.scope.to_string()));
    };
    Ok(ExchangeDecision {
        target: target.to_owned(),
        scope,
    })
}

/// The `act` claim of a delegated token (RFC 8693 §4.1): the current actor, with the actors
/// before it nested inside ("the outermost act claim represents the current actor while
/// nested act claims represent prior actors").
pub fn act_claim(actor: &str, prior: Option<&Value>) -> Value {
    match prior {
        Some(prior) => json!({ "sub": actor, "act": prior }),
        None => json!({ "sub": actor }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    const MCP: &str = "http://127.0.0.1:8000/mcp";
    const API: &str = "http://127.0.0.1:7000/api";

    fn rules() -> Vec<ExchangeRule> {
        vec![ExchangeRule {
            client: "mcp-server".into(),
            subject_audience: MCP.into(),
            target: API.into(),
            scopes: vec!["api:read".into(), "api:write".into()],
        }]
    }

    fn request<'a>(
        client: &'a str,
        aud: &'a [String],
        targets: Vec<&'a str>,
        scope: &str,
    ) -> ExchangeRequest<'a> {
        ExchangeRequest {
            client_id: client,
            subject_audience: aud,
            targets,
            scope: Scope::from_stored(scope),
        }
    }

    #[test]
    fn opt_5_tx_3_the_rule_decides_target_and_scope() {
        let aud = vec![MCP.to_owned()];
        let decided = decide(&rules(), &request("mcp-server", &aud, vec![], "")).unwrap();
        assert_eq!(decided.target, API);
        assert_eq!(decided.scope.to_string(), "api:read api:write");
        let narrowed = decide(
            &rules(),
            &request("mcp-server", &aud, vec![API], "api:read"),
        )
        .unwrap();
        assert_eq!(narrowed.scope.to_string(), "api:read");
        let wider = decide(
            &rules(),
            &request("mcp-server", &aud, vec![API], "api:admin"),
        )
        .unwrap_err();
        assert_eq!(wider.code, ErrorCode::InvalidScope);
        let elsewhere = decide(
            &rules(),
            &request("mcp-server", &aud, vec!["urn:other"], ""),
        )
        .unwrap_err();
        assert_eq!(elsewhere.code, ErrorCode::InvalidTarget);
        assert!(elsewhere.description.contains(API), "{elsewhere}");
    }

    #[test]
    fn tx_3_scp_1_an_exchange_narrows_down_the_rules_tree() {
        let aud = vec![MCP.to_owned()];
        let below = decide(
            &rules(),
            &request("mcp-server", &aud, vec![API], "api:read:orders"),
        )
        .unwrap();
        assert_eq!(below.scope.to_string(), "api:read:orders");
        let above = decide(&rules(), &request("mcp-server", &aud, vec![API], "api")).unwrap_err();
        assert_eq!(above.code, ErrorCode::InvalidScope);
        assert!(above.description.ends_with("not api"), "{above}");
    }

    #[test]
    fn tx_1_tx_2_who_may_exchange_which_tokens() {
        let aud = vec![MCP.to_owned()];
        let stranger = decide(&rules(), &request("other", &aud, vec![], "")).unwrap_err();
        assert_eq!(stranger.code, ErrorCode::UnauthorizedClient);
        let foreign = vec!["http://127.0.0.1:9999/mcp".to_owned()];
        let wrong_subject =
            decide(&rules(), &request("mcp-server", &foreign, vec![], "")).unwrap_err();
        assert_eq!(wrong_subject.code, ErrorCode::InvalidRequest);
        assert_eq!(wrong_subject.rule_id(), Some("TX-2"));
    }

    #[test]
    fn act_claims_nest_prior_actors() {
        assert_eq!(act_claim("a", None), json!({"sub": "a"}));
        let prior = json!({"sub": "b"});
        assert_eq!(
            act_claim("a", Some(&prior)),
            json!({"sub": "a", "act": {"sub": "b"}})
        );
    }
}
