//! Faults that act when a request arrives (issue 14): a status with its RFC error body, a
//! 429 with `Retry-After`, a delay, a dropped connection, a proxy's HTML page, a truncated
//! body; each delivered exactly as declared, only as often as declared, and recorded where
//! the events are.

use crate::helpers::{Backend, CALLBACK, TestApp, assert_oauth_error};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Counts as listed by the control API: (matched, fired).
async fn counts(app: &TestApp, name: &str) -> (u64, u64) {
    let fault = app.fault(name).await;
    (
        fault["matched"].as_u64().unwrap(),
        fault["fired"].as_u64().unwrap(),
    )
}

/// A token endpoint that is down once: 503 `temporarily_unavailable` with the RFC body, the
/// code left unspent (the request never reached the handler), the next request served.
async fn a_status_fault_answers_its_rfc_error_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_fault(json!({"name": "down", "endpoint": "token",
        "grant_type": "authorization_code", "status": 503, "times": 1}))
        .await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;

    let response = app.redeem(&client.client_id, &code).await;
    assert!(response.headers().get("retry-after").is_none());
    assert_eq!(response.headers()["cache-control"], "no-store");
    let description = assert_oauth_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
    )
    .await;
    assert_eq!(
        description,
        "temporarily_unavailable injected by Tollgate (fault 'down')"
    );
    let tokens = app.redeemed(&client.client_id, &code).await;
    assert!(tokens["access_token"].is_string(), "the code was not spent");
    assert_eq!(counts(&app, "down").await, (2, 1));

    // Recorded: the request's event is the refusal and names the fault; the
    // fault.injected event says what it did.
    let requests: Vec<Value> = app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e["type"] == "token.request")
        .collect();
    assert_eq!(requests[0]["outcome"], "rejected");
    assert_eq!(requests[0]["error"], "temporarily_unavailable");
    assert_eq!(requests[0]["details"]["fault"], "down");
    assert_eq!(requests[1]["outcome"], "ok");
    assert!(requests[1]["details"].get("fault").is_none());
    let injected = app.injected().await;
    assert_eq!(injected.len(), 1);
    assert_eq!(injected[0]["client_id"], client.client_id);
    assert_eq!(injected[0]["flow"], requests[0]["flow"]);
    assert_eq!(
        injected[0]["details"],
        json!({"fault": "down", "action": "status 503 temporarily_unavailable",
            "fault_endpoint": "token", "matching_request": 1})
    );
    assert_eq!(
        injected[0]["description"],
        "fault 'down' injected on the 1st request that matched it: status 503 \
         temporarily_unavailable"
    );
}

/// The statuses the issue names, each with its RFC body and headers: 429 with
/// `Retry-After`, 500 `server_error`, 400 `invalid_grant` on a refresh, 401
/// `invalid_client` with its challenge.
async fn statuses_retry_after_and_challenges(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    for fault in [
        json!({"name": "slow down", "endpoint": "token", "grant_type": "refresh_token",
            "status": 429, "retry_after": "7s", "nth": 1}),
        json!({"name": "refused", "endpoint": "token", "grant_type": "refresh_token",
            "error": "invalid_grant", "nth": 2}),
        json!({"name": "broken", "endpoint": "register", "status": 500, "times": 1}),
        json!({"name": "who", "endpoint": "introspect", "status": 401, "times": 1}),
    ] {
        app.add_fault(fault).await;
    }
    let failed = app
        .register(&json!({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"}))
        .await;
    assert_oauth_error(failed, StatusCode::INTERNAL_SERVER_ERROR, "server_error").await;
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let limited = app.refresh(&client.client_id, refresh_token, &[]).await;
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_oauth_error(
        limited,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    )
    .await;
    let refused = app.refresh(&client.client_id, refresh_token, &[]).await;
    assert!(refused.headers().get("retry-after").is_none());
    assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_grant").await;
    // Neither reached the handler: the refresh token is still unspent, and works.
    let refreshed = app.refresh(&client.client_id, refresh_token, &[]).await;
    assert_eq!(refreshed.status(), StatusCode::OK);

    let introspection = app
        .http
        .post(app.url("/introspect"))
        .basic_auth("resource-server", Some("resource-server-secret"))
        .form(&[("token", tokens["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        introspection.headers()["www-authenticate"],
        r#"Basic realm="tollgate", charset="UTF-8""#
    );
    assert_oauth_error(introspection, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let names: Vec<String> = app
        .injected()
        .await
        .iter()
        .map(|e| e["details"]["fault"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["broken", "slow down", "refused", "who"]);
}

/// A delay holds the real response back at least as long as declared; then it is served.
async fn a_delay_holds_the_response_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_fault(json!({"name": "slow", "endpoint": "jwks", "delay": "400ms", "times": 1}))
        .await;
    let started = Instant::now();
    let jwks = app.jwks().await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1, "the real JWKS");
    // A delay before a status.
    app.add_fault(
        json!({"name": "slow 503", "endpoint": "token", "delay": "300ms",
        "status": 503, "times": 1}),
    )
    .await;
    let started = Instant::now();
    let response = app.token(&[("grant_type", "client_credentials")]).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(counts(&app, "slow").await, (1, 1));
}

/// A dropped connection: no status line at all; the next request is served.
async fn a_dropped_connection_sends_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_fault(json!({"name": "gone", "endpoint": "token", "drop": true, "times": 1}))
        .await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let error = app
        .http
        .post(app.url("/token"))
        .form(&[("grant_type", "authorization_code"), ("code", &code)])
        .send()
        .await
        .expect_err("no response");
    assert!(error.is_request() || error.is_connect(), "{error:?}");
    let tokens = app.redeemed(&client.client_id, &code).await;
    assert!(tokens["access_token"].is_string());
    let injected = app.injected().await;
    assert_eq!(injected[0]["details"]["action"], "connection dropped");
}

/// A proxy's HTML page instead of JSON, with the declared status and Retry-After.
async fn a_proxy_page_instead_of_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_fault(json!({"name": "proxy", "endpoint": "token", "body": "html",
        "status": 503, "retry_after": 30, "times": 1}))
        .await;
    app.add_fault(
        json!({"name": "bad gateway", "endpoint": "metadata", "body": "html",
        "times": 1}),
    )
    .await;
    let response = app.token(&[("grant_type", "client_credentials")]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["content-type"], "text/html");
    assert_eq!(response.headers()["retry-after"], "30");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("<title>503 Service Temporarily Unavailable</title>"),
        "{page}"
    );
    assert!(serde_json::from_str::<Value>(&page).is_err());
    let response = app
        .http
        .get(format!(
            "http://{}/.well-known/oauth-authorization-server",
            app.addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains("502 Bad Gateway"));
    assert_eq!(app.metadata().await["issuer"], app.issuer, "once only");
}

/// A truncated body: the real response, half of it, with a Content-Length that says so.
/// The handler did run: the code is spent, and using it again is a replay.
async fn a_truncated_body_is_half_the_real_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_fault(
        json!({"name": "cut", "endpoint": "token", "body": "truncated",
        "times": 1}),
    )
    .await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let response = app.redeem(&client.client_id, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    let length: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = response.text().await.unwrap();
    assert_eq!(body.len(), length);
    assert!(body.starts_with(r#"{"access_token":""#), "{body}");
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");
    let replay = app.redeem(&client.client_id, &code).await;
    assert_oauth_error(replay, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// `grant_type` and `client_id` pick the requests a fault applies to: the client from the
/// form, from HTTP Basic, from the query of an authorization request.
async fn filters_pick_the_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mine = app.public_client().await;
    let other = app.public_client().await;
    let confidential = app.confidential_client("client_secret_basic").await;
    app.add_fault(
        json!({"name": "mine", "endpoint": "token", "client_id": mine.client_id,
        "grant_type": "refresh_token", "status": 503}),
    )
    .await;
    app.add_fault(json!({"name": "basic", "endpoint": "token",
        "client_id": confidential.client_id, "drop": true}))
        .await;
    app.add_fault(json!({"name": "page", "endpoint": "authorize",
        "client_id": other.client_id, "status": 503}))
        .await;

    let my_tokens = app.tokens(&mine.client_id).await;
    let response = app
        .refresh(
            &mine.client_id,
            my_tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    let page = app
        .get_authorize(&app.authorize_params(&other.client_id, &[]))
        .await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("temporarily_unavailable")
    );

    let secret = confidential.client_secret.clone().unwrap();
    let sent = app
        .http
        .post(app.url("/token"))
        .basic_auth(&confidential.client_id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await;
    assert!(sent.is_err(), "dropped");
    assert_eq!(
        counts(&app, "mine").await,
        (1, 1),
        "only its client's refresh"
    );
    assert_eq!(counts(&app, "page").await, (1, 1));
    assert_eq!(counts(&app, "basic").await, (1, 1));
}

on_both_backends!(
    a_status_fault_answers_its_rfc_error_once,
    statuses_retry_after_and_challenges,
    a_delay_holds_the_response_back,
    a_dropped_connection_sends_nothing,
    a_proxy_page_instead_of_json,
    a_truncated_body_is_half_the_real_one,
    filters_pick_the_requests,
);
