use super::*;
use crate::oauth::error::ErrorCode;

const IDP: &str = "http://127.0.0.1:9001";
const AS: &str = "http://127.0.0.1:9002";
const MCP: &str = "http://127.0.0.1:8000/mcp";

fn issue_rules() -> Vec<IssueRule> {
    vec![IssueRule {
        client: "idp-client".into(),
        audience: AS.into(),
        resource: MCP.into(),
        client_id: Some("ras-client".into()),
        scopes: vec!["mcp:tools".into(), "mcp:admin".into()],
    }]
}

fn claims() -> IdJagClaims {
    IdJagClaims {
        iss: IDP.into(),
        sub: "alice".into(),
        aud: Audience::One(AS.into()),
        client_id: "ras-client".into(),
        jti: "j1".into(),
        exp: 400,
        iat: 100,
        resource: Some(Resources::One(MCP.into())),
        scope: Some("mcp:tools".into()),
        auth_time: None,
        email: None,
    }
}

#[test]
fn jag_2_the_idp_maps_audience_and_resource_and_narrows_scope() {
    let scope = Scope::from_stored("mcp:tools openid");
    let decided = decide_issue(
        &issue_rules(),
        "idp-client",
        Some(AS),
        Some(MCP),
        &scope,
        IDP,
    )
    .unwrap();
    assert_eq!(decided.client_id, "ras-client");
    assert_eq!(
        decided.scope.to_string(),
        "mcp:tools",
        "a subset is granted"
    );
    let none = Scope::default();
    let all = decide_issue(&issue_rules(), "idp-client", Some(AS), None, &none, IDP).unwrap();
    assert_eq!(all.resource, MCP);
    assert_eq!(all.scope.to_string(), "mcp:tools mcp:admin");
    let refused = |client, audience, resource, scope: &str| {
        decide_issue(
            &issue_rules(),
            client,
            audience,
            resource,
            &Scope::from_stored(scope),
            IDP,
        )
        .unwrap_err()
        .code
    };
    assert_eq!(
        refused("other", Some(AS), Some(MCP), ""),
        ErrorCode::UnauthorizedClient
    );
    assert_eq!(
        refused("idp-client", None, Some(MCP), ""),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        refused("idp-client", Some("http://x.invalid"), Some(MCP), ""),
        ErrorCode::InvalidTarget
    );
    assert_eq!(
        refused("idp-client", Some(AS), Some("http://x.invalid/mcp"), ""),
        ErrorCode::InvalidTarget
    );
    assert_eq!(
        refused("idp-client", Some(IDP), Some(MCP), ""),
        ErrorCode::InvalidTarget,
        "§8.3"
    );
    assert_eq!(
        refused("idp-client", Some(AS), Some(MCP), "files:read"),
        ErrorCode::InvalidScope
    );
}

#[test]
fn jag_3_the_typ_is_oauth_id_jag_jwt() {
    assert!(is_id_jag_typ(Some("oauth-id-jag+jwt")));
    assert!(is_id_jag_typ(Some("application/OAuth-ID-JAG+JWT")));
    for other in [None, Some("JWT"), Some("at+jwt"), Some("id-jag+jwt")] {
        assert!(!is_id_jag_typ(other), "{other:?}");
    }
}

#[test]
fn jag_4_jag_5_aud_client_and_time_are_checked() {
    assert_eq!(check_claims(&claims(), AS, "ras-client", 399), Ok(()));
    let one_element = IdJagClaims {
        aud: Audience::Many(vec![AS.into()]),
        ..claims()
    };
    assert_eq!(check_claims(&one_element, AS, "ras-client", 200), Ok(()));
    let refused = |claims: &IdJagClaims, client: &str, now| {
        check_claims(claims, AS, client, now).unwrap_err()
    };
    let two = IdJagClaims {
        aud: Audience::Many(vec![AS.into(), IDP.into()]),
        ..claims()
    };
    assert_eq!(refused(&two, "ras-client", 200).rule_id(), Some("JAG-4"));
    let other = IdJagClaims {
        aud: Audience::One(IDP.into()),
        ..claims()
    };
    assert_eq!(refused(&other, "ras-client", 200).rule_id(), Some("JAG-4"));
    assert_eq!(
        refused(&claims(), "someone-else", 200).rule_id(),
        Some("JAG-4")
    );
    assert_eq!(
        refused(&claims(), "ras-client", 400).rule_id(),
        Some("JAG-5")
    );
    let future = IdJagClaims {
        iat: 300,
        ..claims()
    };
    assert_eq!(refused(&future, "ras-client", 200).rule_id(), Some("JAG-5"));
}

#[test]
fn jag_6_the_resource_claim_binds_the_audience_and_scope_only_narrows() {
    let claim = Resources::One(MCP.into());
    assert_eq!(
        token_audience(Some(&claim), &[]).unwrap(),
        Some(vec![MCP.to_owned()])
    );
    assert_eq!(
        token_audience(Some(&claim), &[MCP]).unwrap(),
        Some(vec![MCP.to_owned()])
    );
    let other = token_audience(Some(&claim), &["http://x.invalid/mcp"]).unwrap_err();
    assert_eq!(other.code, ErrorCode::InvalidGrant);
    assert_eq!(token_audience(None, &[MCP]).unwrap(), None);
    assert_eq!(
        token_scope(Some("a b"), &Scope::default())
            .unwrap()
            .to_string(),
        "a b"
    );
    assert_eq!(
        token_scope(Some("a b"), &Scope::from_stored("b c"))
            .unwrap()
            .to_string(),
        "b"
    );
    assert_eq!(
        token_scope(Some("a"), &Scope::from_stored("c"))
            .unwrap_err()
            .code,
        ErrorCode::InvalidScope
    );
}

#[test]
fn jag_6_scp_1_an_id_jag_scope_covers_narrower_requests() {
    // The IdP's rule and the ID-JAG's scope both cover by the tree.
    let decided = decide_issue(
        &issue_rules(),
        "idp-client",
        Some(AS),
        Some(MCP),
        &Scope::from_stored("mcp:tools:weather mcp"),
        IDP,
    )
    .unwrap();
    assert_eq!(decided.scope.to_string(), "mcp:tools:weather");
    assert_eq!(
        token_scope(
            Some("mcp:tools"),
            &Scope::from_stored("mcp:tools:weather mcp")
        )
        .unwrap()
        .to_string(),
        "mcp:tools:weather"
    );
}
