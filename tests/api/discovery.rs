//! Metadata, JWKS and CORS (MD-1..MD-20, SEC-3).

use crate::helpers::{
    Backend, TestApp, assert_error_page, assert_oauth_error, jwt_payload, run_tollgate,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;

async fn get_json(app: &TestApp, url: &str) -> (StatusCode, String, Value) {
    let response = app.http.get(url).send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, content_type, body)
}

/// MD-1, MD-3, MD-5, MD-6, MD-7, MD-12, MD-13, MD-14, MD-16; MD-15: refresh tokens are not
/// gated on `offline_access`, so it is not advertised.
async fn md_1_oauth_metadata_is_complete_and_exact(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, content_type, doc) = get_json(
        &app,
        &format!("http://{}/.well-known/oauth-authorization-server", app.addr),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(doc["issuer"], format!("http://{}", app.addr));
    assert_eq!(doc["authorization_endpoint"], app.url("/authorize"));
    assert_eq!(doc["token_endpoint"], app.url("/token"));
    assert_eq!(doc["registration_endpoint"], app.url("/register"));
    assert_eq!(doc["jwks_uri"], app.url("/jwks.json"));
    assert_eq!(doc["revocation_endpoint"], app.url("/revoke"));
    assert_eq!(doc["introspection_endpoint"], app.url("/introspect"));
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code"
        ]),
        "token exchange and the JWT bearer grant only once configured"
    );
    assert_eq!(
        doc["device_authorization_endpoint"],
        app.url("/device_authorization")
    );
    assert!(doc.get("authorization_grant_profiles_supported").is_none());
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "none",
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    // RFC 8414 §2, the MCP client-credentials extension: the assertion algorithms.
    for endpoint in ["token", "revocation", "introspection"] {
        assert_eq!(
            doc[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
            serde_json::json!(["RS256", "PS256", "ES256", "EdDSA"])
        );
    }
    // MD-16: no member is an empty array.
    for (name, value) in doc.as_object().unwrap() {
        assert_ne!(value, &serde_json::json!([]), "{name} is empty");
    }
    // Without configured resources there is no scope list to advertise.
    assert!(doc.get("scopes_supported").is_none());
}

/// MD-8: the OpenID document carries the OIDC-required members and the same issuer.
async fn md_8_openid_configuration_has_the_oidc_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, _, doc) = get_json(&app, &app.url("/.well-known/openid-configuration")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], app.issuer);
    assert_eq!(doc["jwks_uri"], app.url("/jwks.json"));
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
}

/// MD-2, MD-9: an issuer with a path is served at every URL MCP clients probe, and its
/// endpoints live under the path.
async fn md_2_md_9_path_issuer_is_served_at_every_probe_url(backend: Backend) {
    let app = TestApp::builder(backend).issuer_path("/t1").spawn().await;
    assert_eq!(app.issuer, format!("http://{}/t1", app.addr));
    for path in [
        "/.well-known/oauth-authorization-server/t1",
        "/.well-known/openid-configuration/t1",
        "/t1/.well-known/openid-configuration",
    ] {
        let (status, _, doc) = get_json(&app, &format!("http://{}{path}", app.addr)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(doc["issuer"], app.issuer, "{path}");
        assert_eq!(
            doc["token_endpoint"],
            format!("http://{}/t1/token", app.addr)
        );
    }
    // The root documents belong to no issuer here (MD-18).
    let (status, _, _) = get_json(
        &app,
        &format!("http://{}/.well-known/oauth-authorization-server", app.addr),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // And the flow works under the path.
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    assert_eq!(
        crate::helpers::jwt_payload(tokens["access_token"].as_str().unwrap())["iss"],
        app.issuer
    );
}

/// MD-17 and the style rule "a test fetches every URL the metadata advertises".
async fn md_17_every_advertised_endpoint_is_served(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = app.metadata().await;
    let jwks = app
        .http
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
    let authorize = app
        .http
        .get(doc["authorization_endpoint"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    // Without parameters: the HTML error page, not a 404.
    assert_error_page(authorize, StatusCode::BAD_REQUEST).await;
    for (member, error) in [
        ("token_endpoint", "invalid_request"),
        ("registration_endpoint", "invalid_client_metadata"),
        ("revocation_endpoint", "invalid_request"),
        ("introspection_endpoint", "invalid_request"),
        ("device_authorization_endpoint", "invalid_request"),
    ] {
        let response = app
            .http
            .post(doc[member].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_oauth_error(response, StatusCode::BAD_REQUEST, error).await;
    }
}

/// JWKS: public keys only, `kid` = RFC 7638 thumbprint (computed here by jsonwebtoken).
async fn jwks_publishes_public_keys_with_thumbprint_kids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let jwks = app.jwks().await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(
            key.get(private).is_none(),
            "private member {private} published"
        );
    }
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "RS256");
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.clone()).unwrap();
    let thumbprint = jwk
        .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
        .unwrap();
    assert_eq!(key["kid"], thumbprint);
}

/// MD-18: unknown well-known paths are 404, never a page or a redirect.
async fn md_18_unknown_well_known_paths_are_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in [
        "/.well-known/oauth-authorization-server/nope",
        "/.well-known/oauth-protected-resource",
        "/nope",
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

/// MD-19: discovery with the headers the MCP SDKs send.
async fn md_19_mcp_protocol_version_header_is_tolerated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let plain = app.metadata().await;
    let response = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), plain);
}

/// MD-20: CORS preflight on the JSON endpoints allows `mcp-protocol-version`; the
/// authorization endpoint has no CORS.
async fn md_20_cors_on_json_endpoints_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (path, method) in [
        ("/.well-known/oauth-authorization-server", "GET"),
        ("/.well-known/openid-configuration", "GET"),
        ("/jwks.json", "GET"),
        ("/token", "POST"),
        ("/register", "POST"),
        ("/revoke", "POST"),
        ("/introspect", "POST"),
    ] {
        let response = app
            .http
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("Origin", "http://localhost:6274")
            .header("Access-Control-Request-Method", method)
            .header(
                "Access-Control-Request-Headers",
                "mcp-protocol-version, content-type",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], "*", "{path}");
        let allowed = headers["access-control-allow-headers"].to_str().unwrap();
        assert!(
            allowed.contains("mcp-protocol-version"),
            "{path}: {allowed}"
        );
    }
    // The actual responses, errors included, carry the header too, or a browser client
    // cannot read them.
    let client = app.public_client().await;
    let registration_uri = client.body["registration_client_uri"].as_str().unwrap();
    for (method, url) in [
        (
            reqwest::Method::GET,
            app.url("/.well-known/oauth-authorization-server"),
        ),
        (reqwest::Method::GET, app.url("/jwks.json")),
        (reqwest::Method::POST, app.url("/token")),
        (reqwest::Method::POST, app.url("/register")),
        (reqwest::Method::POST, app.url("/revoke")),
        (reqwest::Method::POST, app.url("/introspect")),
        (reqwest::Method::GET, registration_uri.to_owned()),
    ] {
        let response = app
            .http
            .request(method, &url)
            .header("Origin", "http://localhost:6274")
            .header("MCP-Protocol-Version", "2025-11-25")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("access-control-allow-origin"),
            Some(&reqwest::header::HeaderValue::from_static("*")),
            "{url}: {}",
            response.status()
        );
    }
    let response = app
        .http
        .get(app.url("/authorize"))
        .header("Origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

/// SEC-3: the issuer is configuration, not the Host header.
async fn sec_3_issuer_ignores_the_host_header(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap();
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], app.issuer);
    assert!(!doc.to_string().contains("evil.example"));

    // A whole flow sent with a forged Host and forwarding headers: the callback's `iss` and
    // the access token's `iss` are still the configured issuer.
    let mut forged = reqwest::header::HeaderMap::new();
    for (name, value) in [
        ("host", "evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
        ("forwarded", "host=evil.example;proto=https"),
    ] {
        forged.insert(name, value.parse().unwrap());
    }
    let mut app = app;
    app.http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .no_proxy()
        .default_headers(forged)
        .build()
        .unwrap();
    let client = app.public_client().await;
    let callback = app.approve(&client.client_id, &[]).await;
    assert_eq!(callback.one("iss"), app.issuer);
    let tokens = app.redeemed(&client.client_id, &callback.one("code")).await;
    assert_eq!(
        jwt_payload(tokens["access_token"].as_str().unwrap())["iss"],
        app.issuer
    );
}

/// A configured issuer is used byte for byte, and resources with scopes are advertised.
async fn configured_issuer_and_scopes_are_advertised(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.issuer = Some("http://localhost:9999".to_owned());
            c.resources = vec![tollgate::oauth::resource::Resource::with_scopes(
                "http://127.0.0.1:8000/mcp",
                &["mcp:tools", "mcp:admin"],
            )];
        })
        .spawn()
        .await;
    let doc: Value = app
        .http
        .get(format!(
            "http://{}/.well-known/oauth-authorization-server",
            app.addr
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], "http://localhost:9999");
    assert_eq!(doc["token_endpoint"], "http://localhost:9999/token");
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!(["mcp:tools", "mcp:admin"])
    );
}

/// /healthz answers when the database does, and `tollgate healthcheck` reports it.
async fn health_check_endpoint_and_command(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = format!("http://{}/healthz", app.addr);
    let response = app.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
    let healthy = crate::helpers::run_tollgate(&["healthcheck", "--url", &url], &[]);
    assert!(healthy.status.success());
    let nobody =
        crate::helpers::run_tollgate(&["healthcheck", "--url", "http://127.0.0.1:1/healthz"], &[]);
    assert_eq!(nobody.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("unhealthy"));
}

/// MD-4, SEC-1: the issuer is https (http only on loopback, the development exception of
/// checklist §5), with no query or fragment: `serve` refuses any other before it listens.
/// With an https issuer, every URL the metadata names is https under it.
async fn md_4_sec_1_the_issuer_is_https_without_query_or_fragment(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("t.db").display());
    for (issuer, why) in [
        (
            "http://auth.example.com",
            "http is only allowed for loopback hosts",
        ),
        ("https://auth.example.com?tenant=1", "must not have a query"),
        ("https://auth.example.com#top", "must not have a fragment"),
        ("ftp://auth.example.com", "the scheme must be https"),
    ] {
        let output = run_tollgate(
            &[
                "serve",
                "--issuer",
                issuer,
                "--bind",
                "127.0.0.1:0",
                "--database-url",
                &database_url,
            ],
            &[],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{issuer} was accepted");
        assert!(stderr.contains(why), "{issuer}: {stderr}");
    }

    let app = TestApp::builder(backend)
        .config(|c| c.issuer = Some("https://auth.example.com/t1".to_owned()))
        .spawn()
        .await;
    let url = format!(
        "http://{}/.well-known/oauth-authorization-server/t1",
        app.addr
    );
    let (status, _, doc) = get_json(&app, &url).await;
    assert_eq!(status, StatusCode::OK);
    let urls: Vec<(&String, &Value)> = (doc.as_object().unwrap().iter())
        .filter(|(name, _)| name.ends_with("_endpoint") || name.ends_with("_uri"))
        .collect();
    assert!(urls.len() >= 6, "{doc}");
    for (name, value) in urls {
        let value = value.as_str().unwrap();
        assert!(
            value.starts_with("https://auth.example.com/t1/"),
            "{name}: {value}"
        );
    }
}

on_both_backends!(
    md_4_sec_1_the_issuer_is_https_without_query_or_fragment,
    health_check_endpoint_and_command,
    md_1_oauth_metadata_is_complete_and_exact,
    md_8_openid_configuration_has_the_oidc_members,
    md_2_md_9_path_issuer_is_served_at_every_probe_url,
    md_17_every_advertised_endpoint_is_served,
    jwks_publishes_public_keys_with_thumbprint_kids,
    md_18_unknown_well_known_paths_are_404,
    md_19_mcp_protocol_version_header_is_tolerated,
    md_20_cors_on_json_endpoints_only,
    sec_3_issuer_ignores_the_host_header,
    configured_issuer_and_scopes_are_advertised,
);
