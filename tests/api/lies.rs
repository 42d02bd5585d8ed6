//! The protocol lies a strict client must catch (issue 14), each told exactly as declared
//! and only as often; and faults of Tollgate's own fetch of metadata documents.

use crate::helpers::{
    Backend, CALLBACK, DocumentServer, RESOURCE, TestApp, assert_error_page, assert_oauth_error,
    jwt_header, jwt_payload,
};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tollgate::testing::VerifyError;

const WRONG_ISSUER: &str = "https://wrong-issuer.invalid";

/// RFC 9207: the authorization response without `iss`, then with another issuer's; only
/// redirects back to the client count, the consent page does not.
async fn the_authorization_response_lies_about_iss(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    app.add_fault(
        json!({"name": "no iss", "endpoint": "authorize", "lie": "iss_missing",
        "times": 1}),
    )
    .await;
    app.add_fault(
        json!({"name": "other iss", "endpoint": "authorize", "lie": "iss_wrong",
        "times": 1}),
    )
    .await;
    let first = app.approve(&client.client_id, &[]).await;
    first.assert_redirects_to(CALLBACK, &["code", "state"]);
    let second = app.approve(&client.client_id, &[]).await;
    second.assert_redirects_to(CALLBACK, &["code", "state", "iss"]);
    assert_eq!(second.one("iss"), WRONG_ISSUER);
    let third = app.approve(&client.client_id, &[]).await;
    assert_eq!(third.one("iss"), app.issuer);
    // Only the response lied: its code is good.
    app.redeemed(&client.client_id, &first.one("code")).await;
    let faults = app.faults().await;
    let counts: Vec<(&Value, &Value)> = faults
        .iter()
        .map(|f| (&f["matched"], &f["fired"]))
        .collect();
    assert_eq!(counts, [(&json!(3), &json!(1)), (&json!(3), &json!(1))]);
}

/// RFC 6749 §4.1.2.1: an error where the code would be (state and iss kept); error
/// redirects do not count.
async fn the_authorization_response_carries_an_error_instead_of_the_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    app.add_fault(json!({"name": "busy", "endpoint": "authorize",
        "error": "temporarily_unavailable", "times": 1}))
        .await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    let denied = app.decide(&form, "deny", "dev").await;
    let denied = crate::helpers::Callback::from_response(&denied);
    assert_eq!(denied.one("error"), "access_denied");
    let callback = app.approve(&client.client_id, &[]).await;
    callback.assert_redirects_to(CALLBACK, &["error", "error_description", "state", "iss"]);
    assert_eq!(callback.one("error"), "temporarily_unavailable");
    assert_eq!(
        callback.one("error_description"),
        "temporarily_unavailable injected by Tollgate (fault 'busy')"
    );
    assert_eq!(callback.one("state"), "st1");
    assert_eq!(callback.one("iss"), app.issuer);
    assert!(
        app.approve(&client.client_id, &[])
            .await
            .get("code")
            .is_some()
    );
    let fault = app.fault("busy").await;
    assert_eq!((&fault["matched"], &fault["fired"]), (&json!(2), &json!(1)));
    let decision = app.last_event("fault.injected").await;
    assert_eq!(decision["client_id"], client.client_id);
    assert!(decision["flow"].is_string());
}

/// RFC 8414 §3.3: a metadata document naming another issuer; both well-known documents
/// are the metadata endpoint. Nothing else in it changes.
async fn the_metadata_names_another_issuer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let truthful = app.metadata().await;
    app.add_fault(json!({"name": "impostor", "endpoint": "metadata",
        "lie": "issuer_mismatch", "times": 2}))
        .await;
    let mut lying = app.metadata().await;
    assert_eq!(lying["issuer"], WRONG_ISSUER);
    lying["issuer"] = truthful["issuer"].clone();
    assert_eq!(lying, truthful, "only the issuer differs");
    let openid: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openid["issuer"], WRONG_ISSUER);
    assert_eq!(app.metadata().await, truthful);
}

/// RFC 7517: a JWKS without the key that signs the tokens.
async fn the_jwks_lacks_the_signing_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let previous = app.jwks().await["keys"][0]["kid"].clone();
    app.control_ok(Method::POST, "/keys/rotate", None).await;
    let token = app.tokens(&client.client_id).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let kid = jwt_header(&token)["kid"].clone();
    app.add_fault(
        json!({"name": "keyless", "endpoint": "jwks", "lie": "jwks_missing_key",
        "times": 1}),
    )
    .await;
    let lying = app.jwks().await;
    let kids: Vec<&Value> = lying["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["kid"])
        .collect();
    assert_eq!(kids, [&previous], "the retired key only");
    let verified = tollgate::testing::verify_access_token_at(
        &lying,
        &app.issuer,
        &token,
        RESOURCE,
        app.server_now().await,
    );
    assert_eq!(
        verified.unwrap_err(),
        VerifyError::UnknownKey(kid.as_str().map(str::to_owned))
    );
    assert!(
        app.verify_access_token(&token, RESOURCE).await.is_ok(),
        "once only"
    );
}

/// Another `aud` (RFC 8707), and an `expires_in` that differs from `exp`: told by the one
/// token issuer, to the grant they are declared for.
async fn the_token_response_lies_about_aud_and_expiry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    app.add_fault(
        json!({"name": "elsewhere", "endpoint": "token", "lie": "wrong_audience",
        "grant_type": "authorization_code", "times": 1}),
    )
    .await;
    app.add_fault(json!({"name": "longer", "endpoint": "token",
        "lie": "expires_in_mismatch", "expires_in": 3600, "grant_type": "refresh_token"}))
        .await;
    let tokens = app.tokens(&client.client_id).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        jwt_payload(access)["aud"],
        "https://wrong-audience.invalid/mcp"
    );
    assert_eq!(
        app.verify_access_token(access, RESOURCE).await.unwrap_err(),
        VerifyError::WrongAudience
    );
    assert_eq!(tokens["expires_in"], 300, "that fault is for refreshes");
    let issued = app.last_event("token.issued").await;
    assert_eq!(
        issued["details"]["aud"],
        json!(["https://wrong-audience.invalid/mcp"])
    );

    let refreshed = app
        .refresh(
            &client.client_id,
            tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    let refreshed: Value = refreshed.json().await.unwrap();
    let claims = jwt_payload(refreshed["access_token"].as_str().unwrap());
    assert_eq!(refreshed["expires_in"], 3600);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    assert_eq!(claims["aud"], RESOURCE, "once only");
    // Without expires_in, an hour more than the token lives.
    app.control_ok(Method::DELETE, "/faults/longer", None).await;
    app.add_fault(json!({"endpoint": "token", "lie": "expires_in_mismatch", "times": 1}))
        .await;
    let again = app.tokens(&client.client_id).await;
    assert_eq!(again["expires_in"], 3900);
}

/// A refresh that does not rotate: the same refresh token comes back and stays valid;
/// once the fault is spent, rotation (and reuse detection) are back.
async fn a_refresh_that_does_not_rotate(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let client = app.public_client().await;
    app.add_fault(
        json!({"name": "sticky", "endpoint": "token", "lie": "refresh_not_rotated",
        "grant_type": "refresh_token", "times": 1}),
    )
    .await;
    let tokens = app.tokens(&client.client_id).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let first: Value = app
        .refresh(&client.client_id, refresh_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["refresh_token"], refresh_token);
    assert_ne!(first["access_token"], tokens["access_token"]);
    let active = app
        .introspect(
            &app.resource_server(),
            first["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(active["active"], true);
    let second: Value = app
        .refresh(&client.client_id, refresh_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(second["refresh_token"], refresh_token, "rotated again");
    let reuse = app.refresh(&client.client_id, refresh_token, &[]).await;
    assert_oauth_error(reuse, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// A server that accepts loopback metadata documents, with a short fetch timeout.
async fn documents_app(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .config(|c| {
            c.cimd.allow_http_loopback = true;
            c.cimd.timeout = Duration::from_millis(700);
        })
        .spawn()
        .await
}

/// The error page an authorization request of document client `url` gets; must say each
/// of `why`.
async fn refused(app: &TestApp, url: &str, why: &[&str]) {
    let params = app.authorize_params(url, &[("redirect_uri", "http://localhost:51353/callback")]);
    let page = assert_error_page(app.get_authorize(&params).await, StatusCode::BAD_REQUEST).await;
    for why in why {
        assert!(page.contains(why), "the page should say '{why}':\n{page}");
    }
}

/// `cimd-fetch`: the client's document server failing as declared, in order; the next
/// fetch reaches it again.
async fn the_document_fetch_fails_as_declared(backend: Backend) {
    let app = documents_app(backend).await;
    let docs = DocumentServer::start().await;
    docs.publish("client.json", "no-store");
    let url = docs.url("client.json");
    for fault in [
        json!({"name": "404", "endpoint": "cimd-fetch", "client_id": url, "status": 404,
            "nth": 1}),
        json!({"name": "cut off", "endpoint": "cimd-fetch", "drop": true, "nth": 2}),
        json!({"name": "hang", "endpoint": "cimd-fetch", "delay": "3s", "nth": 3}),
        json!({"name": "portal", "endpoint": "cimd-fetch", "body": "html", "status": 200,
            "nth": 4}),
        json!({"name": "half", "endpoint": "cimd-fetch", "body": "truncated", "nth": 5}),
    ] {
        app.add_fault(fault).await;
    }
    refused(
        &app,
        &url,
        &[
            "it answered 404; only 200 counts",
            "(injected by fault &#39;404&#39;)",
        ],
    )
    .await;
    assert_eq!(docs.hits("client.json"), 0, "never asked");
    refused(&app, &url, &["the connection was closed before a response"]).await;
    let started = Instant::now();
    refused(&app, &url, &["it did not answer within 700ms"]).await;
    assert!(started.elapsed() >= Duration::from_millis(700));
    refused(&app, &url, &["not JSON", "it is an HTML page"]).await;
    assert_eq!(docs.hits("client.json"), 0);
    refused(&app, &url, &["the body was cut in half"]).await;
    assert_eq!(docs.hits("client.json"), 1, "the real document, cut");
    let params = app.authorize_params(&url, &[("redirect_uri", "http://localhost:51353/callback")]);
    assert_eq!(app.get_authorize(&params).await.status(), StatusCode::OK);
    let actions: Vec<Value> = app
        .injected()
        .await
        .iter()
        .map(|e| e["details"]["action"].clone())
        .collect();
    assert_eq!(
        actions,
        [
            "status 404",
            "connection dropped",
            "delay 3s",
            "HTML error page with status 200",
            "body truncated"
        ]
    );
}

on_both_backends!(
    the_authorization_response_lies_about_iss,
    the_authorization_response_carries_an_error_instead_of_the_code,
    the_metadata_names_another_issuer,
    the_jwks_lacks_the_signing_key,
    the_token_response_lies_about_aud_and_expiry,
    a_refresh_that_does_not_rotate,
    the_document_fetch_fails_as_declared,
);
