//! The control API (issue 14): move the server's clock, revoke or expire the tokens of a
//! client, a user or a flow, rotate the key, reset to the declared configuration.

use crate::helpers::{
    Backend, Callback, DocumentServer, RegisteredClient, TestApp, assert_oauth_error, jwt_header,
    jwt_payload, time_ms,
};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tollgate::config::DeclaredClient;

/// Tokens for `client` approved by `user` on the consent page; with the flow they belong to.
async fn tokens_as(app: &TestApp, client: &str, user: &str) -> (Value, String) {
    let form = app.consent_form(&app.authorize_params(client, &[])).await;
    let callback = Callback::from_response(&app.decide(&form, "approve", user).await);
    let tokens = app.redeemed(client, &callback.one("code")).await;
    let flow = app.last_event("token.issued").await["flow"]
        .as_str()
        .unwrap()
        .to_owned();
    (tokens, flow)
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

/// Whether the resource server sees `token` as active.
async fn active(app: &TestApp, token: &str) -> bool {
    app.introspect(&app.resource_server(), token).await["active"] == true
}

/// Codes, consent forms, access and refresh tokens expire as if the time had passed; new
/// tokens carry the moved time; so do the events and the cache of metadata documents.
async fn advancing_the_clock_expires_what_time_would(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .config(|c| {
            c.refresh_token_ttl = Duration::from_secs(3600);
            c.cimd.allow_http_loopback = true;
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let id = client.client_id.as_str();
    let code = app.code(id).await;
    let before = app.server_now().await;
    assert_eq!(app.advance("2m").await, before + 120);
    let expired = app.redeem(id, &code).await;
    let description = assert_oauth_error(expired, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("expired"), "{description}");

    let form = app.consent_form(&app.authorize_params(id, &[])).await;
    app.advance("11m").await;
    let late = app.decide(&form, "approve", "dev").await;
    let page = late.text().await.unwrap();
    assert!(page.contains("This form had expired"), "{page}");
    assert_ne!(
        crate::helpers::hidden_field(&page, "request_id"),
        form.request_id,
        "shown again, renewed"
    );

    let tokens = app.tokens(id).await;
    let now = app.server_now().await;
    let claims = jwt_payload(text(&tokens["access_token"]));
    let iat = claims["iat"].as_i64().unwrap();
    assert!(
        (now - 1..=now).contains(&iat),
        "iat {iat} follows the server's clock {now}"
    );
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 300);
    assert!(active(&app, text(&tokens["access_token"])).await);
    app.advance("6m").await;
    assert!(!active(&app, text(&tokens["access_token"])).await);
    app.advance("1h").await;
    let refresh = app.refresh(id, text(&tokens["refresh_token"]), &[]).await;
    let description = assert_oauth_error(refresh, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("expired"), "{description}");

    let clock = app.control_ok(Method::GET, "/clock", None).await;
    assert_eq!(clock["offset_seconds"], 120 + 660 + 360 + 3600);
    assert_eq!(clock["offset"], "79m");
    let advanced = app.last_event("control").await;
    assert_eq!(advanced["details"]["operation"], "clock.advance");
    assert_eq!(advanced["details"]["by"], "1h");
    assert!(
        time_ms(&advanced) >= (before + 4740) * 1000,
        "events follow the clock"
    );

    // Cached metadata documents age with the clock.
    let docs = DocumentServer::start().await;
    docs.publish("cached.json", "max-age=60");
    let url = docs.url("cached.json");
    let params = app.authorize_params(&url, &[("redirect_uri", "http://localhost:51353/callback")]);
    for _ in 0..2 {
        assert_eq!(app.get_authorize(&params).await.status(), StatusCode::OK);
    }
    assert_eq!(docs.hits("cached.json"), 1);
    app.advance("61s").await;
    assert_eq!(app.get_authorize(&params).await.status(), StatusCode::OK);
    assert_eq!(docs.hits("cached.json"), 2, "fetched again after max-age");
}

/// Revoking: a flow's grant, a user's grants, a client's grants and grant-less tokens;
/// nobody else's.
async fn revoking_the_tokens_of_a_flow_a_user_or_a_client(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .config(|c| c.users.push(tollgate::config::User::named("alice")))
        .spawn()
        .await;
    let a = app.public_client().await;
    let b = app.public_client().await;
    let (first, first_flow) = tokens_as(&app, &a.client_id, "dev").await;
    let (second, _) = tokens_as(&app, &a.client_id, "dev").await;
    let (alices, _) = tokens_as(&app, &b.client_id, "alice").await;
    let machine = machine_client(&app).await;
    let minted = client_credentials(&app, &machine).await;

    let revoked = app
        .control_ok(Method::POST, "/revoke", Some(json!({"flow": first_flow})))
        .await;
    assert_eq!(
        revoked,
        json!({"flow": first_flow, "grants": 1, "codes": 0, "refresh_tokens": 0,
            "access_tokens": 1})
    );
    assert!(!active(&app, text(&first["access_token"])).await);
    assert!(!active(&app, text(&first["refresh_token"])).await);
    assert!(active(&app, text(&second["access_token"])).await);
    let refused = app
        .refresh(&a.client_id, text(&first["refresh_token"]), &[])
        .await;
    assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let revoked = app
        .control_ok(Method::POST, "/revoke", Some(json!({"user": "alice"})))
        .await;
    assert_eq!(
        (&revoked["grants"], &revoked["access_tokens"]),
        (&json!(1), &json!(1))
    );
    assert!(!active(&app, text(&alices["access_token"])).await);
    assert!(active(&app, text(&second["access_token"])).await);

    let revoked = app
        .control_ok(
            Method::POST,
            "/revoke",
            Some(json!({"client_id": machine.client_id})),
        )
        .await;
    assert_eq!(
        (&revoked["grants"], &revoked["access_tokens"]),
        (&json!(0), &json!(1))
    );
    assert!(!active(&app, &minted).await);
    let revoked = app
        .control_ok(
            Method::POST,
            "/revoke",
            Some(json!({"client_id": a.client_id})),
        )
        .await;
    assert_eq!(revoked["grants"], 1, "the first grant was revoked already");
    assert!(!active(&app, text(&second["refresh_token"])).await);

    let event = app.last_event("control").await;
    assert_eq!(event["details"]["operation"], "tokens.revoke");
    assert_eq!(event["client_id"], a.client_id);
}

async fn machine_client(app: &TestApp) -> RegisteredClient {
    app.register_ok(
        &json!({"grant_types": ["client_credentials"], "response_types": [],
        "token_endpoint_auth_method": "client_secret_basic", "application_type": "web"}),
    )
    .await
}

async fn client_credentials(app: &TestApp, client: &RegisteredClient) -> String {
    let response = app
        .client_credentials(&client.client_id, client.client_secret.as_deref(), &[])
        .await;
    let body: Value = response.json().await.unwrap();
    text(&body["access_token"]).to_owned()
}

/// Expiring: unspent codes, refresh tokens and access tokens of the owner, now.
async fn expiring_the_tokens_of_a_flow_a_user_or_a_client(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let client = app.public_client().await;
    let other = app.public_client().await;
    let (tokens, flow) = tokens_as(&app, &client.client_id, "dev").await;
    let (others, _) = tokens_as(&app, &other.client_id, "dev").await;
    let code = app.code(&client.client_id).await;

    let expired = app
        .control_ok(Method::POST, "/expire", Some(json!({"flow": flow})))
        .await;
    assert_eq!(
        expired,
        json!({"flow": flow, "grants": 0, "codes": 0, "refresh_tokens": 1, "access_tokens": 1})
    );
    let refused = app
        .refresh(&client.client_id, text(&tokens["refresh_token"]), &[])
        .await;
    let description = assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("expired"), "{description}");
    assert!(!active(&app, text(&tokens["access_token"])).await);

    let expired = app
        .control_ok(
            Method::POST,
            "/expire",
            Some(json!({"client_id": client.client_id})),
        )
        .await;
    assert_eq!(expired["codes"], 1, "{expired}");
    let late = app.redeem(&client.client_id, &code).await;
    let description = assert_oauth_error(late, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("expired"), "{description}");
    assert!(active(&app, text(&others["access_token"])).await);
    let expired = app
        .control_ok(Method::POST, "/expire", Some(json!({"user": "dev"})))
        .await;
    assert_eq!(
        (&expired["refresh_tokens"], &expired["access_tokens"]),
        (&json!(1), &json!(1))
    );
    assert!(!active(&app, text(&others["refresh_token"])).await);
}

/// A new signing key now: the JWKS publishes both, new tokens carry the new `kid`.
async fn rotating_the_key_now(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let before = app.jwks().await["keys"][0]["kid"].clone();
    let rotated = app.control_ok(Method::POST, "/keys/rotate", None).await;
    assert_eq!(rotated["previous_kid"], before);
    assert_ne!(rotated["kid"], before);
    let mut kids: Vec<String> = app.jwks().await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| text(&k["kid"]).to_owned())
        .collect();
    kids.sort();
    let mut expected = vec![text(&rotated["kid"]).to_owned(), text(&before).to_owned()];
    expected.sort();
    assert_eq!(
        kids, expected,
        "both published (in either order: made in the same second)"
    );
    let token = app.tokens(&client.client_id).await;
    assert_eq!(
        jwt_header(text(&token["access_token"]))["kid"],
        rotated["kid"]
    );
    let event = app.last_event("keys.rotate").await;
    assert!(
        text(&event["description"]).contains("(control API)"),
        "{event}"
    );
}

/// Back to the declared configuration: registered clients, grants, tokens and events go;
/// declared clients stay; the declared faults come back with their counts at zero; the
/// clock goes back to the real time.
async fn a_reset_goes_back_to_the_declared_configuration(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .config(|c| {
            c.clients.push(DeclaredClient::public(
                "declared",
                &[crate::helpers::CALLBACK],
            ));
            c.faults = vec![
                serde_json::from_value(json!({"name": "declared fault",
                    "endpoint": "revoke", "status": 503}))
                .unwrap(),
            ];
        })
        .spawn()
        .await;
    let registered = app.public_client().await;
    let tokens = app.tokens(&registered.client_id).await;
    app.tokens("declared").await;
    app.revoke(&registered.client_id, text(&tokens["refresh_token"]))
        .await;
    app.add_fault(json!({"endpoint": "token", "delay": "1s"}))
        .await;
    app.advance("1h").await;

    let reset = app.control_ok(Method::POST, "/reset", None).await;
    assert_eq!(reset["removed"]["clients"], 1);
    assert_eq!(reset["removed"]["grants"], 2);
    assert_eq!(reset["removed"]["access_tokens"], 2);
    assert!(reset["removed"]["events"].as_u64().unwrap() > 10);
    assert_eq!(reset["clock"]["offset_seconds"], 0);
    assert_eq!(reset["faults"], json!(app.faults().await));
    let faults = app.faults().await;
    assert_eq!(faults.len(), 1);
    assert_eq!(
        (&faults[0]["name"], &faults[0]["matched"]),
        (&json!("declared fault"), &json!(0))
    );

    assert!(!active(&app, text(&tokens["access_token"])).await);
    let unknown = app
        .get_authorize(&app.authorize_params(&registered.client_id, &[]))
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    app.tokens("declared").await;
    let events = app.all_events().await;
    assert_eq!(events[0]["type"], "control");
    assert_eq!(events[0]["details"]["operation"], "reset");
}

/// What the control API refuses, and why.
async fn the_control_api_says_what_is_wrong(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (path, body, why) in [
        ("/clock", json!({}), "say how far to move the clock"),
        (
            "/clock",
            json!({"advance": "0s"}),
            "advance must be more than 0",
        ),
        ("/clock", json!({"advance": "soon"}), "is not a duration"),
        ("/revoke", json!({}), "exactly one of"),
        (
            "/expire",
            json!({"user": "dev", "flow": "x"}),
            "exactly one of",
        ),
        ("/revoke", json!({"client": "x"}), "exactly one of"),
    ] {
        let (status, answer) = app.control(Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert_eq!(answer["error"], "invalid_request");
        assert!(text(&answer["error_description"]).contains(why), "{answer}");
    }
    let (status, answer) = app.control(Method::POST, "/clock", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
}

on_both_backends!(
    advancing_the_clock_expires_what_time_would,
    revoking_the_tokens_of_a_flow_a_user_or_a_client,
    expiring_the_tokens_of_a_flow_a_user_or_a_client,
    rotating_the_key_now,
    a_reset_goes_back_to_the_declared_configuration,
    the_control_api_says_what_is_wrong,
);
