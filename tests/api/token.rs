//! The token endpoint: code exchange and refresh (TK-1..TK-19, SEC-4).

use crate::helpers::{
    Backend, CALLBACK, RESOURCE, TestApp, VERIFIER, assert_oauth_error, jwt_header, jwt_payload,
};
use crate::on_both_backends;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tollgate::testing::VerifyError;

/// TK-1, TK-2, TK-9 (and AZ-8: S256 works end to end): a public client redeems its code
/// with client_id only.
async fn tk_1_tk_2_code_exchange(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let response = app.redeem(&client.client_id, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300, "TK-14: five minutes by default");
    assert_eq!(body["scope"], "mcp:tools");
    assert!(body["access_token"].as_str().unwrap().len() > 100);
    assert!(
        body["refresh_token"].is_string(),
        "TK-19: the client registered refresh_token"
    );
}

/// TK-13, MD-17: an RFC 9068 JWT, verifiable with the published JWKS.
async fn tk_13_access_token_is_an_rfc_9068_jwt(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let body = app.tokens(&client.client_id).await;
    let token = body["access_token"].as_str().unwrap();
    let header = jwt_header(token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    let claims = app.verify_access_token(token, RESOURCE).await.unwrap();
    assert_eq!(claims["iss"], app.issuer);
    assert_eq!(claims["aud"], RESOURCE, "aud is the resource exactly");
    assert_eq!(claims["sub"], "dev");
    assert_eq!(claims["client_id"], client.client_id);
    assert_eq!(claims["scope"], "mcp:tools");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 300);
    // A tampered token does not verify.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload = jwt_payload(token);
    payload["sub"] = json!("admin");
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
    assert_eq!(
        app.verify_access_token(&parts.join("."), RESOURCE).await,
        Err(VerifyError::BadSignature)
    );
}

/// TK-3: a wrong verifier is invalid_grant and does not burn the code.
async fn tk_3_wrong_verifier_is_invalid_grant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let response = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            (
                "code_verifier",
                "aBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
            ("client_id", &client.client_id),
        ])
        .await;
    let description = assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("code_verifier"), "{description}");
    assert_eq!(
        app.redeem(&client.client_id, &code).await.status(),
        StatusCode::OK
    );
}

/// TK-4: the verifier is required.
async fn tk_4_missing_verifier_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let response = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client.client_id),
        ])
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

/// TK-5: a replayed code is refused and the tokens issued from it are revoked.
async fn tk_5_code_replay_revokes_the_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let first = app.redeemed(&client.client_id, &code).await;
    let refresh_token = first["refresh_token"].as_str().unwrap();
    // A replay that fails for its own reasons (a wrong verifier, another client) revokes
    // nothing: it does not prove the code leaked (OAuth 2.1 §4.1.3 checks come first).
    let wrong_verifier = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &"x".repeat(43)),
            ("client_id", &client.client_id),
        ])
        .await;
    assert_oauth_error(wrong_verifier, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let other = app.public_client().await;
    let foreign = app.redeem(&other.client_id, &code).await;
    assert_oauth_error(foreign, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let still_live: Value = app
        .refresh(&client.client_id, refresh_token, &[])
        .await
        .json()
        .await
        .unwrap();
    let refresh_token = still_live["refresh_token"]
        .as_str()
        .expect("the grant survives replays that fail on their own");
    // The genuine replay revokes the grant, including the rotated refresh token.
    let replay = app.redeem(&client.client_id, &code).await;
    let description = assert_oauth_error(replay, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("already used"), "{description}");
    let refresh = app.refresh(&client.client_id, refresh_token, &[]).await;
    let description = assert_oauth_error(refresh, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("revoked"), "{description}");
}

/// TK-5 (second half) and TK-6: a code presented by another client is refused without
/// revoking anything.
async fn tk_6_a_code_belongs_to_its_client(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let other = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let response = app.redeem(&other.client_id, &code).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        app.redeem(&client.client_id, &code).await.status(),
        StatusCode::OK
    );
}

/// TK-7: redirect_uri, when sent, must be the one of the authorization request.
async fn tk_7_redirect_uri_is_enforced_when_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let response = app
        .exchange(
            &client.client_id,
            &code,
            &[("redirect_uri", "http://127.0.0.1:53682/other")],
        )
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let response = app.exchange(&client.client_id, &code, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// TK-8, TK-15: resource at the token endpoint must be within the grant.
async fn tk_8_token_resource_must_be_granted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let response = app
        .exchange(
            &client.client_id,
            &code,
            &[("resource", "http://127.0.0.1:8001/other")],
        )
        .await;
    let description = assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_target").await;
    assert!(description.contains(RESOURCE), "{description}");
}

/// TK-10: confidential clients with Basic (form-urlencoded parts) and with post; a wrong
/// secret is a 401 with WWW-Authenticate; the registered method is enforced.
async fn tk_10_confidential_client_authentication(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let basic = app.confidential_client("client_secret_basic").await;
    let secret = basic.client_secret.clone().unwrap();
    let code = app.code(&basic.client_id).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", CALLBACK),
    ];
    let wrong = app
        .http
        .post(app.url("/token"))
        .basic_auth(&basic.client_id, Some("wrong-secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let challenge = wrong.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Basic"), "{challenge}");
    assert_oauth_error(wrong, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // client_secret_post for a client that registered Basic.
    let mismatched = app
        .exchange(&basic.client_id, &code, &[("client_secret", &secret)])
        .await;
    let description =
        assert_oauth_error(mismatched, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(description.contains("client_secret_basic"), "{description}");
    // No secret at all.
    let missing = app.redeem(&basic.client_id, &code).await;
    assert_oauth_error(missing, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // The right secret, Basic, with both parts form-urlencoded (they need no escaping).
    let ok = app
        .http
        .post(app.url("/token"))
        .basic_auth(&basic.client_id, Some(&secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let post = app.confidential_client("client_secret_post").await;
    let code = app.code(&post.client_id).await;
    let ok = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("client_id", &post.client_id),
            ("client_secret", post.client_secret.as_deref().unwrap()),
        ])
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
}

/// TK-9: a public client that sends a secret is refused, with a description that says so.
async fn tk_9_public_clients_send_no_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let response = app
        .exchange(&client.client_id, &code, &[("client_secret", "anything")])
        .await;
    let description =
        assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(description.contains("public client"), "{description}");
}

/// TK-11, TK-12: error codes for malformed requests; unknown parameters are ignored,
/// repeated ones refused.
async fn tk_11_tk_12_malformed_token_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let id = client.client_id.as_str();
    let response = app.token(&[("grant_type", "foo"), ("client_id", id)]).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    let response = app.token(&[("client_id", id)]).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = app
        .token(&[("grant_type", "authorization_code"), ("client_id", id)])
        .await;
    let description =
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(description.contains("'code'"), "{description}");
    let response = app
        .token(&[("grant_type", "authorization_code"), ("code", "nope")])
        .await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let response = app
        .http
        .post(app.url("/token"))
        .json(&json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    let code = app.code(id).await;
    let repeated = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("client_id", id),
        ])
        .await;
    assert_oauth_error(repeated, StatusCode::BAD_REQUEST, "invalid_request").await;
    let extra = app.exchange(id, &code, &[("foo", "bar")]).await;
    assert_eq!(extra.status(), StatusCode::OK);
}

/// AZ-12: codes expire after 60 seconds.
async fn az_12_codes_expire_after_a_minute(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    app.clock.advance(61);
    let response = app.redeem(&client.client_id, &code).await;
    let description = assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("expired"), "{description}");
}

/// TK-14: the access token lifetime is configurable.
async fn tk_14_access_token_lifetime_is_configurable(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.access_token_ttl = std::time::Duration::from_secs(60))
        .spawn()
        .await;
    let client = app.public_client().await;
    let body = app.tokens(&client.client_id).await;
    assert_eq!(body["expires_in"], 60);
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
}

/// TK-19: no refresh token for a client that did not register the refresh_token grant.
async fn tk_19_refresh_tokens_only_for_clients_that_registered_the_grant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app
        .register_ok(&json!({
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let body = app.tokens(&client.client_id).await;
    assert!(body.get("refresh_token").is_none());
}

/// TK-16, SEC-4: every refresh rotates; reusing an old token revokes the whole family.
async fn tk_16_refresh_rotation_and_reuse_detection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let first = app.tokens(&client.client_id).await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let second: Value = app
        .refresh(&client.client_id, r1, &[])
        .await
        .json()
        .await
        .unwrap();
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_ne!(first["access_token"], second["access_token"]);
    // Reusing R1: refused, and R2 dies with it.
    let reuse = app.refresh(&client.client_id, r1, &[]).await;
    let description = assert_oauth_error(reuse, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("already used"), "{description}");
    let after = app.refresh(&client.client_id, r2, &[]).await;
    assert_oauth_error(after, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// TK-17, TK-18: a refresh token is bound to its client, cannot widen the scope or the
/// resources, may narrow the scope, and keeps the audience.
async fn tk_17_tk_18_refresh_cannot_widen(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let other = app.public_client().await;
    let body = app
        .tokens_with(&client.client_id, &[("scope", "mcp:tools mcp:read")])
        .await;
    let r1 = body["refresh_token"].as_str().unwrap().to_owned();

    let foreign = app.refresh(&other.client_id, &r1, &[]).await;
    assert_oauth_error(foreign, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let wider = app
        .refresh(&client.client_id, &r1, &[("scope", "mcp:tools mcp:admin")])
        .await;
    let description = assert_oauth_error(wider, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(description.contains("mcp:admin"), "{description}");
    let elsewhere = app
        .refresh(
            &client.client_id,
            &r1,
            &[("resource", "http://127.0.0.1:8001/other")],
        )
        .await;
    assert_oauth_error(elsewhere, StatusCode::BAD_REQUEST, "invalid_target").await;

    // None of the refused attempts used the token up.
    let narrowed = app
        .refresh(&client.client_id, &r1, &[("scope", "mcp:read")])
        .await;
    assert_eq!(narrowed.status(), StatusCode::OK);
    let narrowed: Value = narrowed.json().await.unwrap();
    assert_eq!(narrowed["scope"], "mcp:read");
    let claims = jwt_payload(narrowed["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["scope"], "mcp:read");
    // The new refresh token still carries the whole grant.
    let r2 = narrowed["refresh_token"].as_str().unwrap();
    let full: Value = app
        .refresh(&client.client_id, r2, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(full["scope"], "mcp:tools mcp:read");
}

/// Refresh tokens expire.
async fn refresh_tokens_expire(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.refresh_token_ttl = std::time::Duration::from_secs(3600))
        .spawn()
        .await;
    let client = app.public_client().await;
    let body = app.tokens(&client.client_id).await;
    app.clock.advance(3601);
    let response = app
        .refresh(
            &client.client_id,
            body["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    let description = assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("expired"), "{description}");
}

/// A confidential client refreshes with its credentials.
async fn confidential_clients_refresh_with_their_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.confidential_client("client_secret_basic").await;
    let secret = client.client_secret.clone().unwrap();
    let code = app.code(&client.client_id).await;
    let body: Value = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refreshed = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.client_id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    // Without the secret, no refresh.
    let anonymous = app
        .refresh(
            &client.client_id,
            body["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_oauth_error(anonymous, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

on_both_backends!(
    tk_1_tk_2_code_exchange,
    tk_13_access_token_is_an_rfc_9068_jwt,
    tk_3_wrong_verifier_is_invalid_grant,
    tk_4_missing_verifier_is_refused,
    tk_5_code_replay_revokes_the_tokens,
    tk_6_a_code_belongs_to_its_client,
    tk_7_redirect_uri_is_enforced_when_sent,
    tk_8_token_resource_must_be_granted,
    tk_10_confidential_client_authentication,
    tk_9_public_clients_send_no_secret,
    tk_11_tk_12_malformed_token_requests,
    az_12_codes_expire_after_a_minute,
    tk_14_access_token_lifetime_is_configurable,
    tk_19_refresh_tokens_only_for_clients_that_registered_the_grant,
    tk_16_refresh_rotation_and_reuse_detection,
    tk_17_tk_18_refresh_cannot_widen,
    refresh_tokens_expire,
    confidential_clients_refresh_with_their_secret,
);
