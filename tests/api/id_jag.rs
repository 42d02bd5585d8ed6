//! Enterprise-Managed Authorization (the MCP `ext-auth` extension; draft-ietf-oauth-identity-
//! assertion-authz-grant; checklist OPT-5, JAG-1..JAG-6) with two Tollgates, as the draft's
//! §8.3 wants: one the enterprise IdP, which exchanges a user's ID token for an ID-JAG, the
//! other the MCP server's authorization server, which accepts the ID-JAG with the JWT bearer
//! grant.

use crate::helpers::{
    Backend, CALLBACK, ID_JAG_TYPE, ID_TOKEN_TYPE, JWT_BEARER, RESOURCE, TestApp, TestDb, VERIFIER,
    assert_oauth_error, jwt_header, jwt_payload,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::Arc;
use tokio::net::TcpListener;
use tollgate::config::DeclaredClient;
use tollgate::oauth::id_jag::{IssueRule, TrustedIssuer};

const IDP_CLIENT: &str = "idp-client";
const RAS_CLIENT: &str = "ras-client";
const SECRET: &str = "secret";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// An authorization server the IdP also maps, other than the one under test.
const ELSEWHERE: &str = "http://127.0.0.1:1/elsewhere";

struct Enterprise {
    idp: TestApp,
    ras: TestApp,
}

/// The IdP and the MCP authorization server, each knowing the other's issuer; the latter on
/// `db` when given (to start a second instance on it).
async fn enterprise(backend: Backend, db: Option<Arc<TestDb>>) -> Enterprise {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ras_issuer = format!("http://{}", listener.local_addr().unwrap());
    let idp = idp(backend, &ras_issuer).await;
    let mut ras = TestApp::builder(backend).listener(listener);
    if let Some(db) = db {
        ras = ras.on_db(db);
    }
    let ras = ras.config(|c| as_config(c, &idp.issuer)).spawn().await;
    Enterprise { idp, ras }
}

async fn idp(backend: Backend, ras_issuer: &str) -> TestApp {
    let ras_issuer = ras_issuer.to_owned();
    TestApp::builder(backend)
        .config(move |c| {
            let mut client = DeclaredClient::confidential(IDP_CLIENT, SECRET);
            client.redirect_uris = vec![CALLBACK.to_owned()];
            client.grant_types = vec!["authorization_code".into(), EXCHANGE.into()];
            c.clients.push(client);
            let mut other = DeclaredClient::confidential("other-idp-client", SECRET);
            other.redirect_uris = vec![CALLBACK.to_owned()];
            other.grant_types = vec!["authorization_code".into(), EXCHANGE.into()];
            c.clients.push(other);
            let rule = |audience: &str| IssueRule {
                client: IDP_CLIENT.into(),
                audience: audience.into(),
                resource: RESOURCE.into(),
                client_id: Some(RAS_CLIENT.into()),
                scopes: vec!["mcp:tools".into(), "mcp:admin".into()],
            };
            c.id_jag.issue = vec![rule(&ras_issuer), rule(ELSEWHERE)];
        })
        .spawn()
        .await
}

fn as_config(c: &mut tollgate::Config, idp_issuer: &str) {
    for id in [RAS_CLIENT, "ras-other"] {
        let mut client = DeclaredClient::confidential(id, SECRET);
        client.grant_types = vec![JWT_BEARER.to_owned()];
        c.clients.push(client);
    }
    c.resources = vec![tollgate::oauth::resource::Resource::with_scopes(
        RESOURCE,
        &["mcp:tools", "mcp:admin"],
    )];
    c.id_jag.trust = vec![TrustedIssuer {
        issuer: idp_issuer.to_owned(),
        jwks_url: None,
    }];
}

/// The user signs in at the IdP with OpenID Connect; returns the ID token and the access
/// token of `client`.
async fn sign_in(idp: &TestApp, client: &str) -> (String, String) {
    let code = idp
        .approve(client, &[("scope", "openid mcp:tools"), ("resource", "")])
        .await
        .one("code");
    let response = idp
        .http
        .post(idp.url("/token"))
        .basic_auth(client, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    (
        body["id_token"].as_str().unwrap().to_owned(),
        body["access_token"].as_str().unwrap().to_owned(),
    )
}

/// Leg 1 (draft §4.3): the IdP exchanges `subject` for an ID-JAG.
async fn request_id_jag(idp: &TestApp, subject: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("requested_token_type", ID_JAG_TYPE),
        ("subject_token", subject),
        ("subject_token_type", ID_TOKEN_TYPE),
        ("resource", RESOURCE),
    ];
    form.extend_from_slice(extra);
    idp.token_exchange(IDP_CLIENT, SECRET, &form).await
}

async fn id_jag(e: &Enterprise, extra: &[(&str, &str)]) -> String {
    let (id_token, _) = sign_in(&e.idp, IDP_CLIENT).await;
    let mut form = extra.to_vec();
    if !form.iter().any(|(name, _)| *name == "audience") {
        form.push(("audience", e.ras.issuer.as_str()));
    }
    let response = request_id_jag(&e.idp, &id_token, &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Leg 2 (draft §4.4): the JWT bearer grant at the MCP authorization server.
async fn present(
    ras: &TestApp,
    client: &str,
    assertion: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("grant_type", JWT_BEARER), ("assertion", assertion)];
    form.extend_from_slice(extra);
    ras.http
        .post(ras.url("/token"))
        .basic_auth(client, Some(SECRET))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// OPT-5: the whole flow: metadata of both roles, the ID-JAG's header and claims, the access
/// token for the MCP server, no refresh token, and the same ID-JAG refused the second time.
async fn opt_5_an_id_jag_from_the_idp_buys_an_access_token_at_the_mcp_authorization_server(
    backend: Backend,
) {
    let e = enterprise(backend, None).await;
    let idp_metadata = e.idp.metadata().await;
    assert_eq!(
        idp_metadata["identity_chaining_requested_token_types_supported"][0],
        ID_JAG_TYPE
    );
    assert!(
        idp_metadata
            .get("authorization_grant_profiles_supported")
            .is_none()
    );
    let ras_metadata = e.ras.metadata().await;
    assert_eq!(
        ras_metadata["authorization_grant_profiles_supported"][0],
        "urn:ietf:params:oauth:grant-profile:id-jag"
    );
    assert!(
        ras_metadata["grant_types_supported"]
            .to_string()
            .contains(JWT_BEARER)
    );

    let (id_token, _) = sign_in(&e.idp, IDP_CLIENT).await;
    let response = request_id_jag(
        &e.idp,
        &id_token,
        &[
            ("audience", &e.ras.issuer),
            ("scope", "mcp:tools files:read"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["issued_token_type"], ID_JAG_TYPE);
    assert_eq!(body["token_type"], "N_A");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "mcp:tools", "a subset of what was asked");
    let assertion = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_header(assertion)["typ"], "oauth-id-jag+jwt");
    let claims = jwt_payload(assertion);
    assert_eq!(claims["iss"], e.idp.issuer);
    assert_eq!(claims["aud"], e.ras.issuer);
    assert_eq!(claims["sub"], "dev");
    assert_eq!(claims["client_id"], RAS_CLIENT);
    assert_eq!(claims["resource"], RESOURCE);
    assert!(
        claims["jti"].is_string()
            && claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() == 300
    );

    let granted = present(&e.ras, RAS_CLIENT, assertion, &[("resource", RESOURCE)]).await;
    assert_eq!(granted.status(), StatusCode::OK);
    let granted: Value = granted.json().await.unwrap();
    assert_eq!(granted["token_type"], "Bearer");
    assert_eq!(granted["scope"], "mcp:tools");
    assert!(granted.get("refresh_token").is_none());
    let access = e
        .ras
        .verify_access_token(granted["access_token"].as_str().unwrap(), RESOURCE)
        .await
        .unwrap();
    assert_eq!(access["sub"], "dev");
    assert_eq!(access["client_id"], RAS_CLIENT);

    let replay = present(&e.ras, RAS_CLIENT, assertion, &[]).await;
    let why = assert_oauth_error(replay, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(why.contains("used before"), "{why}");

    // Each half records its step in its own event log (issue 12), naming the assertion by
    // its jti, never its value.
    let issued = e.idp.last_event("id_jag.issued").await;
    let accepted = e.ras.last_event("id_jag.accepted").await;
    for event in [&issued, &accepted] {
        assert_eq!(event["outcome"], "ok", "{event:#}");
        assert!(!event.to_string().contains(assertion), "{event:#}");
    }
    assert!(
        issued.to_string().contains(claims["jti"].as_str().unwrap()),
        "{issued:#}"
    );
}

/// JAG-5: the `jti` is single-use across instances sharing a database and an issuer (a
/// deployment behind a load balancer), and an expired ID-JAG is refused.
async fn jag_5_an_id_jag_is_used_once_across_instances(backend: Backend) {
    let db = TestDb::new(backend).await;
    let e = enterprise(backend, Some(Arc::clone(&db))).await;
    let issuer = e.ras.issuer.clone();
    let idp_issuer = e.idp.issuer.clone();
    let second = TestApp::builder(backend)
        .on_db(db)
        .config(move |c| {
            as_config(c, &idp_issuer);
            c.issuer = Some(issuer);
        })
        .spawn()
        .await;
    assert_eq!(second.issuer, e.ras.issuer);
    let assertion = id_jag(&e, &[]).await;
    assert_eq!(
        present(&e.ras, RAS_CLIENT, &assertion, &[]).await.status(),
        StatusCode::OK
    );
    let replay = present(&second, RAS_CLIENT, &assertion, &[]).await;
    let why = assert_oauth_error(replay, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(why.contains("used before"), "{why}");
    e.ras.clock.advance(301);
    let expired = present(&e.ras, RAS_CLIENT, &id_jag(&e, &[]).await, &[]).await;
    let why = assert_oauth_error(expired, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(why.contains("expired"), "{why}");
}

/// JAG-1, JAG-2: what the IdP refuses: an ID token of another client, an access token, an
/// expired ID token, a missing or unmapped audience, an unpaired resource, a client without
/// a rule.
async fn jag_1_jag_2_the_idp_exchanges_only_its_id_tokens_under_its_rules(backend: Backend) {
    let e = enterprise(backend, None).await;
    let (id_token, access_token) = sign_in(&e.idp, IDP_CLIENT).await;
    let (foreign, _) = sign_in(&e.idp, "other-idp-client").await;
    let ras = e.ras.issuer.as_str();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            foreign.as_str(),
            vec![("audience", ras)],
            "invalid_grant",
            "Audience validation failed",
        ),
        (
            access_token.as_str(),
            vec![("audience", ras)],
            "invalid_grant",
            "not an ID token",
        ),
        (
            id_token.as_str(),
            vec![],
            "invalid_request",
            "audience is required",
        ),
        (
            id_token.as_str(),
            vec![("audience", "http://127.0.0.1:2/unknown")],
            "invalid_target",
            "do not map",
        ),
        (
            id_token.as_str(),
            vec![("audience", ras), ("resource", "http://127.0.0.1:3/mcp")],
            "invalid_target",
            "7.6.1",
        ),
        (
            id_token.as_str(),
            vec![("audience", ras), ("scope", "files:read")],
            "invalid_scope",
            "none of the scopes",
        ),
        (
            id_token.as_str(),
            vec![("audience", e.idp.issuer.as_str())],
            "invalid_target",
            "its own ID-JAGs",
        ),
    ];
    for (subject, extra, error, says) in cases {
        let mut form = vec![
            ("requested_token_type", ID_JAG_TYPE),
            ("subject_token", subject),
            ("subject_token_type", ID_TOKEN_TYPE),
        ];
        form.extend(extra.iter().copied());
        if !form.iter().any(|(k, _)| *k == "resource") {
            form.push(("resource", RESOURCE));
        }
        let response = e.idp.token_exchange(IDP_CLIENT, SECRET, &form).await;
        let why = assert_oauth_error(response, StatusCode::BAD_REQUEST, error).await;
        assert!(why.contains(says), "{says}: {why}");
    }
    let wrong_type = e
        .idp
        .token_exchange(
            IDP_CLIENT,
            SECRET,
            &[
                ("requested_token_type", ID_JAG_TYPE),
                ("subject_token", &id_token),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
                ("audience", ras),
            ],
        )
        .await;
    assert_oauth_error(wrong_type, StatusCode::BAD_REQUEST, "invalid_request").await;
    let no_rule = e
        .idp
        .token_exchange(
            "other-idp-client",
            SECRET,
            &[
                ("requested_token_type", ID_JAG_TYPE),
                ("subject_token", &foreign),
                ("subject_token_type", ID_TOKEN_TYPE),
                ("audience", ras),
            ],
        )
        .await;
    assert_oauth_error(no_rule, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    e.idp.clock.advance(301);
    let expired = request_id_jag(&e.idp, &id_token, &[("audience", ras)]).await;
    let why = assert_oauth_error(expired, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(why.contains("expired"), "{why}");
}

/// JAG-3, JAG-4, JAG-6: what the MCP authorization server refuses, each with
/// `invalid_grant` (EMA §7.6.2) unless it is the scope.
async fn jag_3_jag_4_jag_6_the_mcp_authorization_server_checks_every_claim(backend: Backend) {
    let e = enterprise(backend, None).await;
    let (_, idp_access_token) = sign_in(&e.idp, IDP_CLIENT).await;
    let stranger = idp(backend, &e.ras.issuer).await;
    let (stranger_id_token, _) = sign_in(&stranger, IDP_CLIENT).await;
    let untrusted = request_id_jag(
        &stranger,
        &stranger_id_token,
        &[("audience", &e.ras.issuer)],
    )
    .await;
    let untrusted: Value = untrusted.json().await.unwrap();
    let good = id_jag(&e, &[]).await;
    let elsewhere = id_jag(&e, &[("audience", ELSEWHERE)]).await;
    for (client, assertion, extra, says) in [
        (RAS_CLIENT, "not-a-jwt", vec![], "not a signed JWT"),
        (RAS_CLIENT, idp_access_token.as_str(), vec![], "typ"),
        (
            RAS_CLIENT,
            untrusted["access_token"].as_str().unwrap(),
            vec![],
            "not an identity provider this server trusts",
        ),
        (RAS_CLIENT, elsewhere.as_str(), vec![], "aud"),
        (
            "ras-other",
            good.as_str(),
            vec![],
            "issued for client 'ras-client'",
        ),
        (
            RAS_CLIENT,
            good.as_str(),
            vec![("resource", "http://127.0.0.1:4/mcp")],
            "resource claim",
        ),
    ] {
        let response = present(&e.ras, client, assertion, &extra).await;
        let why = assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
        assert!(why.contains(says), "{says}: {why}");
    }
    let scope = present(&e.ras, RAS_CLIENT, &good, &[("scope", "files:read")]).await;
    assert_oauth_error(scope, StatusCode::BAD_REQUEST, "invalid_scope").await;
    // Nothing above spent the good one.
    assert_eq!(
        present(&e.ras, RAS_CLIENT, &good, &[]).await.status(),
        StatusCode::OK
    );
    // Without a trusted IdP the grant is not offered at all.
    assert!(
        e.idp.metadata().await["grant_types_supported"]
            .to_string()
            .find(JWT_BEARER)
            .is_none()
    );
}

on_both_backends!(
    opt_5_an_id_jag_from_the_idp_buys_an_access_token_at_the_mcp_authorization_server,
    jag_5_an_id_jag_is_used_once_across_instances,
    jag_1_jag_2_the_idp_exchanges_only_its_id_tokens_under_its_rules,
    jag_3_jag_4_jag_6_the_mcp_authorization_server_checks_every_claim,
);
