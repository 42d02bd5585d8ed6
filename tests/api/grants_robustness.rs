//! Malformed requests to the grants beyond the browser are client errors with the RFC code,
//! never a server error (OPT-4, OPT-5).

use crate::helpers::{
    Backend, DEVICE_CODE, JWT_BEARER, TOKEN_EXCHANGE, TestApp, assert_oauth_error,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use tollgate::config::DeclaredClient;

async fn opt_4_opt_5_malformed_grant_requests_are_client_errors(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            let mut machine = DeclaredClient::confidential("machine", "secret");
            machine.grant_types = vec![TOKEN_EXCHANGE.into(), JWT_BEARER.into()];
            c.clients.push(machine);
        })
        .spawn()
        .await;
    let device = app.device_client().await;
    let json_body = app
        .http
        .post(app.url("/device_authorization"))
        .json(&serde_json::json!({"client_id": device.client_id}))
        .send()
        .await
        .unwrap();
    assert_oauth_error(json_body, StatusCode::BAD_REQUEST, "invalid_request").await;
    let no_client = app
        .http
        .post(app.url("/device_authorization"))
        .form(&[("scope", "x")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(no_client, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let bad_scope = app
        .device_authorization(&device.client_id, &[("scope", "a\"b")])
        .await;
    assert_oauth_error(bad_scope, StatusCode::BAD_REQUEST, "invalid_scope").await;
    let no_code = app
        .token(&[
            ("grant_type", DEVICE_CODE),
            ("client_id", &device.client_id),
        ])
        .await;
    assert_oauth_error(no_code, StatusCode::BAD_REQUEST, "invalid_request").await;
    let nul = app
        .token(&[
            ("grant_type", DEVICE_CODE),
            ("client_id", &device.client_id),
            ("device_code", "a\u{0}"),
        ])
        .await;
    assert_oauth_error(nul, StatusCode::BAD_REQUEST, "invalid_request").await;
    let page = app.device_page("\u{7f}\u{0}").await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);

    for (form, error) in [
        (vec![("subject_token", "x")], "invalid_request"),
        (
            vec![
                ("subject_token", "a.b.c"),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("subject_token", "x"),
                ("subject_token_type", "y"),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:id-jag",
                ),
            ],
            "invalid_request",
        ),
    ] {
        let response = app.token_exchange("machine", "secret", &form).await;
        assert_oauth_error(response, StatusCode::BAD_REQUEST, error).await;
    }
    let untrusted = app
        .http
        .post(app.url("/token"))
        .basic_auth("machine", Some("secret"))
        .form(&[("grant_type", JWT_BEARER), ("assertion", "%%%")])
        .send()
        .await
        .unwrap();
    let why =
        assert_oauth_error(untrusted, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    assert!(why.contains("trusts no identity provider"), "{why}");
}

on_both_backends!(opt_4_opt_5_malformed_grant_requests_are_client_errors);
