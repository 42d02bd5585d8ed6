//! OpenID Connect: the discovery document advertises ID tokens signed with RS256
//! (checklist MD-8), so a code flow that is granted `openid` gets one (OIDC Core §3.1.3.3).

use crate::helpers::{Backend, Callback, TestApp};
use crate::on_both_backends;
use serde_json::{Value, json};

/// Verifies an ID token with the published keys, for `audience`, and returns its claims:
/// RS256 and `typ` `JWT` (an ID token is not an access token), issued by this server.
async fn verified_id_token(app: &TestApp, token: &str, audience: &str) -> Value {
    app.verify_id_token(token, audience)
        .await
        .unwrap_or_else(|e| panic!("the ID token does not verify: {e}"))
}

async fn the_openid_scope_gets_an_id_token(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            let mut alice = tollgate::config::User::named("alice");
            alice
                .claims
                .insert("email".to_owned(), json!("alice@example.test"));
            c.users = vec![alice];
        })
        .spawn()
        .await;
    let metadata: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );

    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(
            &client.client_id,
            &[("scope", "openid mcp:tools"), ("nonce", "n-0S6_WzA2Mj")],
        ))
        .await;
    let response = app.decide(&form, "approve", "alice").await;
    let code = Callback::from_response(&response).one("code");
    let body = app.redeemed(&client.client_id, &code).await;
    assert_eq!(body["scope"], "openid mcp:tools");
    let claims =
        verified_id_token(&app, body["id_token"].as_str().unwrap(), &client.client_id).await;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["email"], "alice@example.test");
    let iat = claims["iat"].as_i64().unwrap();
    let auth_time = claims["auth_time"].as_i64().unwrap();
    assert!(auth_time <= iat && iat - auth_time < 60, "{claims}");
    // openid concerns this server, so the MCP server's access token does not carry it.
    let access = crate::helpers::jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(access["scope"], "mcp:tools");

    // Without openid, no ID token; without a nonce, none in the token.
    let body = app.tokens(&client.client_id).await;
    assert!(body.get("id_token").is_none(), "{body}");
    let callback = app.approve(&client.client_id, &[("scope", "openid")]).await;
    let body = app.redeemed(&client.client_id, &callback.one("code")).await;
    let claims =
        verified_id_token(&app, body["id_token"].as_str().unwrap(), &client.client_id).await;
    assert!(claims.get("nonce").is_none(), "{claims}");
}

/// `openid` is the server's own scope: allowed even when the resources declare their scopes.
async fn openid_is_allowed_beside_configured_resource_scopes(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.resources = vec![tollgate::oauth::resource::Resource::with_scopes(
                crate::helpers::RESOURCE,
                &["mcp:tools"],
            )];
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let callback = app
        .approve(&client.client_id, &[("scope", "openid mcp:tools")])
        .await;
    let body = app.redeemed(&client.client_id, &callback.one("code")).await;
    assert!(body["id_token"].is_string(), "{body}");
}

on_both_backends!(
    the_openid_scope_gets_an_id_token,
    openid_is_allowed_beside_configured_resource_scopes,
);
