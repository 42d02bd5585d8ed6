//! Token exchange (RFC 8693; checklist OPT-5, TX-1..TX-4): an MCP server exchanges the token
//! a user sent it for a token for a backend API, under the `[[token_exchange]]` rules.

use crate::helpers::{
    ACCESS_TOKEN_TYPE, Backend, RESOURCE, TestApp, assert_oauth_error, jwt_payload,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tollgate::config::DeclaredClient;
use tollgate::oauth::exchange::ExchangeRule;

const API: &str = "http://127.0.0.1:7000/api";
const DOWNSTREAM: &str = "urn:example:audit-log";
const MCP_SERVER: &str = "mcp-server";
const SECRET: &str = "mcp-server-secret";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// A Tollgate where `mcp-server` may exchange tokens for `RESOURCE` into tokens for `API`,
/// and `gateway` tokens for `API` into tokens for `DOWNSTREAM`.
async fn spawn(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .config(|c| {
            for id in [MCP_SERVER, "gateway", "bystander"] {
                let mut client = DeclaredClient::confidential(id, SECRET);
                client.grant_types = vec![EXCHANGE.to_owned(), "client_credentials".to_owned()];
                c.clients.push(client);
            }
            c.token_exchange = vec![
                ExchangeRule {
                    client: MCP_SERVER.into(),
                    subject_audience: RESOURCE.into(),
                    target: API.into(),
                    scopes: vec!["api:read".into(), "api:write".into()],
                },
                ExchangeRule {
                    client: "gateway".into(),
                    subject_audience: API.into(),
                    target: DOWNSTREAM.into(),
                    scopes: vec![],
                },
            ];
        })
        .with_resource_server()
        .spawn()
        .await
}

/// A user's access token for `RESOURCE`, with the refresh token of its grant.
async fn user_token(app: &TestApp) -> (String, String) {
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    (
        tokens["access_token"].as_str().unwrap().to_owned(),
        tokens["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn exchange(
    app: &TestApp,
    client: &str,
    subject: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
    ];
    form.extend_from_slice(extra);
    app.token_exchange(client, SECRET, &form).await
}

/// OPT-5: the exchanged token keeps `sub`, is for the target with the rule's scopes, names
/// the MCP server in `act`; a second exchange nests the first actor; revoking the user's
/// grant makes every exchanged token inactive.
async fn opt_5_an_mcp_server_exchanges_a_users_token_for_a_backend_token(backend: Backend) {
    let app = spawn(backend).await;
    let metadata = app.metadata().await;
    assert!(
        metadata["grant_types_supported"]
            .to_string()
            .contains(EXCHANGE)
    );
    let (subject, refresh) = user_token(&app).await;
    let response = exchange(&app, MCP_SERVER, &subject, &[("resource", API)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api:read api:write");
    assert!(body.get("refresh_token").is_none());
    let exchanged = body["access_token"].as_str().unwrap();
    let claims = app.verify_access_token(exchanged, API).await.unwrap();
    assert_eq!(claims["sub"], "dev");
    assert_eq!(claims["client_id"], MCP_SERVER);
    assert_eq!(claims["act"], json!({"sub": MCP_SERVER}));

    let narrowed = exchange(
        &app,
        MCP_SERVER,
        &subject,
        &[("audience", API), ("scope", "api:read")],
    )
    .await;
    let narrowed: Value = narrowed.json().await.unwrap();
    assert_eq!(narrowed["scope"], "api:read");

    let again = exchange(&app, "gateway", exchanged, &[]).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    let chained = jwt_payload(again["access_token"].as_str().unwrap());
    assert_eq!(chained["aud"], DOWNSTREAM);
    assert_eq!(
        chained["act"],
        json!({"sub": "gateway", "act": {"sub": MCP_SERVER}})
    );
    assert!(chained.get("scope").is_none());

    let rs = app.resource_server();
    assert_eq!(app.introspect(&rs, exchanged).await["active"], true);
    let public = jwt_payload(&subject)["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.revoke(&public, &refresh).await.status(), StatusCode::OK);
    assert_eq!(
        app.introspect(&rs, exchanged).await["active"],
        false,
        "the subject's grant was revoked"
    );
    assert_eq!(
        app.introspect(&rs, again["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
    let refused = exchange(&app, MCP_SERVER, &subject, &[]).await;
    let why = assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(why.contains("revoked"), "{why}");
}

/// TX-1: only confidential clients a rule names may exchange; a public client cannot even
/// register the grant.
async fn tx_1_only_clients_a_rule_names_may_exchange(backend: Backend) {
    let app = spawn(backend).await;
    let (subject, _) = user_token(&app).await;
    let stranger = exchange(&app, "bystander", &subject, &[]).await;
    let why = assert_oauth_error(stranger, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    assert!(
        why.contains("no [[token_exchange]] rule names client 'bystander'"),
        "{why}"
    );
    let public = app
        .register(&json!({
            "grant_types": [EXCHANGE], "token_endpoint_auth_method": "none",
        }))
        .await;
    assert_eq!(public.status(), StatusCode::BAD_REQUEST);
    let code_client = app.confidential_client("client_secret_basic").await;
    let unregistered = app
        .http
        .post(app.url("/token"))
        .basic_auth(&code_client.client_id, code_client.client_secret.as_deref())
        .form(&[
            ("grant_type", EXCHANGE),
            ("subject_token", &subject),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(unregistered, StatusCode::BAD_REQUEST, "unauthorized_client").await;
}

/// TX-2: the subject token is an active access token of this server, of the type named,
/// for an audience the rule names; otherwise `invalid_request` (RFC 8693 §2.2.2).
async fn tx_2_the_subject_token_must_be_acceptable(backend: Backend) {
    let app = spawn(backend).await;
    let (subject, _) = user_token(&app).await;
    let machine = app
        .client_credentials(
            MCP_SERVER,
            Some(SECRET),
            &[("resource", "http://127.0.0.1:9999/mcp")],
        )
        .await;
    let machine: Value = machine.json().await.unwrap();
    for (form, says) in [
        (
            vec![
                ("subject_token", "garbage"),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
            ],
            "not an access token this server issued",
        ),
        (
            vec![
                ("subject_token", subject.as_str()),
                ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ],
            "is not accepted here",
        ),
        (
            vec![
                ("subject_token", machine["access_token"].as_str().unwrap()),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
            ],
            "audience",
        ),
        (
            vec![("subject_token_type", ACCESS_TOKEN_TYPE)],
            "subject_token",
        ),
        (
            vec![
                ("subject_token", subject.as_str()),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:saml2",
                ),
            ],
            "requested_token_type",
        ),
    ] {
        let response = app.token_exchange(MCP_SERVER, SECRET, &form).await;
        let why = assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(why.contains(says), "{says}: {why}");
    }
    app.clock.advance(301);
    let expired = exchange(&app, MCP_SERVER, &subject, &[]).await;
    let why = assert_oauth_error(expired, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(why.contains("expired"), "{why}");
}

/// TX-3: the target and the scope are the rule's, else `invalid_target` / `invalid_scope`
/// saying what the rule allows.
async fn tx_3_target_and_scope_are_the_rules(backend: Backend) {
    let app = spawn(backend).await;
    let (subject, _) = user_token(&app).await;
    let elsewhere = exchange(
        &app,
        MCP_SERVER,
        &subject,
        &[("resource", "http://127.0.0.1:7001/other")],
    )
    .await;
    let why = assert_oauth_error(elsewhere, StatusCode::BAD_REQUEST, "invalid_target").await;
    assert!(why.contains(API), "the allowed targets are named: {why}");
    let two = exchange(
        &app,
        MCP_SERVER,
        &subject,
        &[("resource", API), ("audience", DOWNSTREAM)],
    )
    .await;
    assert_oauth_error(two, StatusCode::BAD_REQUEST, "invalid_target").await;
    let wider = exchange(
        &app,
        MCP_SERVER,
        &subject,
        &[("scope", "api:read api:admin")],
    )
    .await;
    let why = assert_oauth_error(wider, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(why.contains("api:admin"), "{why}");
    // SCP-1: the rule's scopes cover by the tree; the token carries what was asked.
    let below = exchange(&app, MCP_SERVER, &subject, &[("scope", "api:read:orders")]).await;
    assert_eq!(below.status(), StatusCode::OK);
    let below: Value = below.json().await.unwrap();
    assert_eq!(
        jwt_payload(below["access_token"].as_str().unwrap())["scope"],
        "api:read:orders"
    );
    let above = exchange(&app, MCP_SERVER, &subject, &[("scope", "api")]).await;
    let why = assert_oauth_error(above, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(why.ends_with("not api"), "{why}");
}

/// TX-4: an actor token is an active access token of this server, sent with its type; the
/// actor it names becomes `act`.
async fn tx_4_an_actor_token_names_the_actor(backend: Backend) {
    let app = spawn(backend).await;
    let (subject, _) = user_token(&app).await;
    let agent = app.client_credentials("bystander", Some(SECRET), &[]).await;
    let agent: Value = agent.json().await.unwrap();
    let actor = agent["access_token"].as_str().unwrap();
    let acted = exchange(
        &app,
        MCP_SERVER,
        &subject,
        &[
            ("actor_token", actor),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
        ],
    )
    .await;
    assert_eq!(acted.status(), StatusCode::OK);
    let acted: Value = acted.json().await.unwrap();
    assert_eq!(
        jwt_payload(acted["access_token"].as_str().unwrap())["act"],
        json!({"sub": "bystander"})
    );
    for extra in [
        vec![("actor_token", actor)],
        vec![("actor_token_type", ACCESS_TOKEN_TYPE)],
        vec![
            ("actor_token", "garbage"),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
        ],
        vec![
            ("actor_token", actor),
            ("actor_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ],
    ] {
        let refused = exchange(&app, MCP_SERVER, &subject, &extra).await;
        let why = assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(why.contains("actor_token"), "{why}");
    }
}

on_both_backends!(
    opt_5_an_mcp_server_exchanges_a_users_token_for_a_backend_token,
    tx_1_only_clients_a_rule_names_may_exchange,
    tx_2_the_subject_token_must_be_acceptable,
    tx_3_target_and_scope_are_the_rules,
    tx_4_an_actor_token_names_the_actor,
);
