//! Dynamic client registration (RFC 7591; DCR-1..DCR-9).

use crate::helpers::{Backend, CALLBACK, RESOURCE, TestApp, VERIFIER, assert_oauth_error};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;

/// DCR-1, DCR-5, DCR-7, DCR-8: the MCP-shaped registration.
async fn dcr_1_public_client_gets_its_metadata_back_without_a_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .register(&json!({
            "client_name": "My MCP Client",
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "foo": "bar"
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    let client_id = body["client_id"].as_str().unwrap();
    assert!(!client_id.is_empty());
    assert!(!client_id.starts_with("https://"), "CIMD-13");
    assert_eq!(body["redirect_uris"], json!([CALLBACK]));
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["application_type"], "native");
    assert_eq!(body["client_name"], "My MCP Client");
    assert!(body["client_id_issued_at"].is_i64());
    assert!(body.get("client_secret").is_none());
    assert!(body.get("client_secret_expires_at").is_none());
    assert!(
        body.get("foo").is_none(),
        "unknown members are ignored, not stored"
    );
}

/// DCR-2: a confidential client gets a high-entropy secret and its expiry.
async fn dcr_2_confidential_client_gets_a_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.confidential_client("client_secret_post").await;
    let secret = client.client_secret.unwrap();
    assert!(secret.len() >= 43, "256 bits of entropy");
    assert_eq!(client.body["client_secret_expires_at"], 0);
    assert_eq!(
        client.body["token_endpoint_auth_method"],
        "client_secret_post"
    );
    let other = app.confidential_client("client_secret_post").await;
    assert_ne!(other.client_secret.unwrap(), secret);
}

/// DCR-3: https, loopback http or a native app's scheme (tests/api/native_redirects.rs),
/// never with a fragment.
async fn dcr_3_bad_redirect_uris_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for uri in [
        "http://evil.example/cb",
        "https://x.example/cb#f",
        "javascript:alert(1)",
        "myapp:callback",
        "not a uri",
    ] {
        let response = app
            .register(&json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}))
            .await;
        let description =
            assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_redirect_uri").await;
        assert!(description.contains(uri), "{description}");
    }
}

/// DCR-4: inconsistent or unsupported metadata.
async fn dcr_4_inconsistent_metadata_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for body in [
        json!({"redirect_uris": [CALLBACK], "grant_types": ["authorization_code"], "response_types": ["token"]}),
        json!({"redirect_uris": [CALLBACK], "grant_types": ["implicit"]}),
        json!({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": CALLBACK}),
    ] {
        let response = app.register(&body).await;
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
    }
}

/// DCR-6: RFC 7591 defaults apply when members are omitted.
async fn dcr_6_defaults_are_applied_and_stated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.register_ok(&json!({"redirect_uris": [CALLBACK]})).await;
    assert_eq!(
        client.body["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert_eq!(client.body["grant_types"], json!(["authorization_code"]));
    assert_eq!(client.body["response_types"], json!(["code"]));
    assert!(client.client_secret.is_some());
}

/// DCR-9: registration is open but rate-limited per address.
async fn dcr_9_registration_is_rate_limited(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.registration.per_minute = 3)
        .spawn()
        .await;
    let body = json!({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"});
    for _ in 0..3 {
        assert_eq!(app.register(&body).await.status(), StatusCode::CREATED);
    }
    let response = app.register(&body).await;
    assert!(response.headers().get("retry-after").is_some());
    assert_oauth_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    )
    .await;
}

/// Registration can be closed; the metadata then stops advertising it (MD-10).
async fn md_10_closed_registration_is_not_advertised(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.registration.open = false)
        .spawn()
        .await;
    assert!(app.metadata().await.get("registration_endpoint").is_none());
    let response = app.register(&json!({"redirect_uris": [CALLBACK]})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// Bodies that are not JSON client metadata get a precise error.
async fn registration_requires_a_json_object(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http
        .post(app.url("/register"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("redirect_uris=x")
        .send()
        .await
        .unwrap();
    let description =
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
    assert!(description.contains("application/json"), "{description}");
    let response = app
        .http
        .post(app.url("/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
}

/// SEC-4: a native app that registers a shared-secret method gets its per-instance secret
/// (RFC 8252 §8.4) and must present it, but it stays a public client: no
/// client_credentials, no introspection, and its refresh tokens rotate.
async fn sec_4_a_native_app_with_a_secret_is_treated_as_public(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .register(&json!({
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic",
            "application_type": "native"
        }))
        .await;
    let description =
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
    assert!(
        description.contains("native app is a public client"),
        "{description}"
    );

    let native = app
        .register_ok(&json!({
            "client_name": "Native app",
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "client_secret_basic",
            "application_type": "native"
        }))
        .await;
    let secret = native.client_secret.clone().unwrap();
    let post = |path: &str, form: Vec<(&str, String)>| {
        app.http
            .post(app.url(path))
            .basic_auth(&native.client_id, Some(&secret))
            .form(&form)
            .send()
    };
    let code = app.code(&native.client_id).await;
    let response = post(
        "/token",
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("code_verifier", VERIFIER.to_owned()),
            ("redirect_uri", CALLBACK.to_owned()),
            ("resource", RESOURCE.to_owned()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: serde_json::Value = response.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Its secret does not make it a caller that introspection trusts.
    let response = post("/introspect", vec![("token", access)]).await.unwrap();
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // Refresh tokens rotate, and a reused one is refused, as for any public client.
    let refresh_with = |token: &str| {
        post(
            "/token",
            vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", token.to_owned()),
            ],
        )
    };
    let response = refresh_with(&refresh).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let rotated: serde_json::Value = response.json().await.unwrap();
    assert_ne!(rotated["refresh_token"], refresh.as_str());
    let reused = refresh_with(&refresh).await.unwrap();
    assert_oauth_error(reused, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

on_both_backends!(
    dcr_1_public_client_gets_its_metadata_back_without_a_secret,
    dcr_2_confidential_client_gets_a_secret,
    dcr_3_bad_redirect_uris_are_refused,
    dcr_4_inconsistent_metadata_is_refused,
    dcr_6_defaults_are_applied_and_stated,
    dcr_9_registration_is_rate_limited,
    md_10_closed_registration_is_not_advertised,
    registration_requires_a_json_object,
    sec_4_a_native_app_with_a_secret_is_treated_as_public,
);
