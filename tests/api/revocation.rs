//! Revocation (RFC 7009, OPT-2) and introspection (RFC 7662, OPT-1).

use crate::helpers::{Backend, RESOURCE, TestApp, assert_oauth_error};
use crate::on_both_backends;
use reqwest::StatusCode;

/// OPT-1: a live access token and a live refresh token are described; anything else is
/// just inactive.
async fn opt_1_introspection_describes_live_tokens(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let access = tokens["access_token"].as_str().unwrap();

    let answer = app.introspect(&resource_server, access).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["iss"], app.issuer);
    assert_eq!(answer["sub"], "dev");
    assert_eq!(answer["aud"], RESOURCE);
    assert_eq!(answer["scope"], "mcp:tools");
    assert_eq!(answer["client_id"], client.client_id);
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer["exp"].as_i64().unwrap() > answer["iat"].as_i64().unwrap());

    let answer = app
        .introspect(&resource_server, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "refresh_token");
    assert_eq!(answer["client_id"], client.client_id);
    assert_eq!(answer["aud"], RESOURCE);

    for garbage in ["abc", "a.b.c", &format!("{access}x")] {
        let answer = app.introspect(&resource_server, garbage).await;
        assert_eq!(answer, serde_json::json!({"active": false}), "{garbage}");
    }
    // A token signed by someone else (another Tollgate) is foreign.
    let other = TestApp::spawn(backend).await;
    let other_client = other.public_client().await;
    let foreign = other.tokens(&other_client.client_id).await;
    let answer = app
        .introspect(&resource_server, foreign["access_token"].as_str().unwrap())
        .await;
    assert_eq!(answer, serde_json::json!({"active": false}));
    // Expired.
    app.clock.advance(301);
    assert_eq!(
        app.introspect(&resource_server, access).await["active"],
        false
    );
}

/// OPT-1 (RFC 7662 §2.1, §4): open registration gives anyone a confidential client, so a
/// caller learns about the tokens issued to itself, and about other clients' tokens only
/// when it is a declared resource server; otherwise they look like unknown tokens.
async fn opt_1_introspection_shows_other_clients_tokens_only_to_resource_servers(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let registered = app
        .register_ok(&serde_json::json!({
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic",
            "application_type": "web"
        }))
        .await;
    for token in [access, refresh] {
        assert_eq!(
            app.introspect(&registered, token).await,
            serde_json::json!({"active": false}),
            "another client's token"
        );
    }
    let response = app
        .client_credentials(
            &registered.client_id,
            registered.client_secret.as_deref(),
            &[("resource", RESOURCE)],
        )
        .await;
    let body: serde_json::Value = response.json().await.unwrap();
    let own = body["access_token"].as_str().unwrap();
    let answer = app.introspect(&registered, own).await;
    assert_eq!(answer["active"], true, "its own token");
    assert_eq!(answer["client_id"], registered.client_id);

    let resource_server = app.resource_server();
    for (token, owner) in [
        (access, &client.client_id),
        (refresh, &client.client_id),
        (own, &registered.client_id),
    ] {
        let answer = app.introspect(&resource_server, token).await;
        assert_eq!(answer["active"], true);
        assert_eq!(answer["client_id"], owner.as_str());
    }
}

/// OPT-1 (RFC 7662 §2.2): a refresh token that was revoked, rotated away or has expired
/// is inactive, even though the store still knows it.
async fn opt_1_inactive_refresh_tokens(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .config(|c| c.refresh_token_ttl = std::time::Duration::from_secs(3600))
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let is_active = |token: String| {
        let resource_server = &resource_server;
        let app = &app;
        async move { app.introspect(resource_server, &token).await["active"] == true }
    };
    let refresh_of =
        |tokens: &serde_json::Value| tokens["refresh_token"].as_str().unwrap().to_owned();

    // Revoked.
    let revoked = refresh_of(&app.tokens(&client.client_id).await);
    assert!(is_active(revoked.clone()).await);
    let response = app.revoke(&client.client_id, &revoked).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!is_active(revoked).await, "revoked");

    // Rotated: the old token is spent, its successor is active.
    let rotated = refresh_of(&app.tokens(&client.client_id).await);
    let response = app.refresh(&client.client_id, &rotated, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let successor = refresh_of(&response.json().await.unwrap());
    assert!(!is_active(rotated).await, "rotated");
    assert!(is_active(successor.clone()).await);

    // Expired (refresh_token_ttl is an hour).
    app.clock.advance(3601);
    assert!(!is_active(successor).await, "expired");
}

/// OPT-1: only an authenticated, confidential caller may introspect.
async fn opt_1_introspection_requires_a_confidential_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let token = tokens["access_token"].as_str().unwrap();
    let anonymous = app
        .http
        .post(app.url("/introspect"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(anonymous, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let public = app
        .http
        .post(app.url("/introspect"))
        .form(&[("token", token), ("client_id", client.client_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_oauth_error(public, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

/// TK-5: after a code replay, the access token issued for the code is inactive too.
async fn tk_5_replayed_code_deactivates_its_access_token(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let first = app.redeemed(&client.client_id, &code).await;
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(&resource_server, access).await["active"],
        true
    );
    let replay = app.redeem(&client.client_id, &code).await;
    assert_oauth_error(replay, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        app.introspect(&resource_server, access).await["active"],
        false
    );
}

/// OPT-2: revoking a refresh token revokes the grant, access tokens included.
async fn opt_2_revoking_a_refresh_token_revokes_the_family(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let response = app.revoke(&client.client_id, refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let after = app.refresh(&client.client_id, refresh, &[]).await;
    assert_oauth_error(after, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(&resource_server, access).await["active"],
        false
    );
}

/// OPT-2: revoking an access token revokes only that token.
async fn opt_2_revoking_an_access_token(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        app.revoke(&client.client_id, access).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.introspect(&resource_server, access).await["active"],
        false
    );
    let refreshed = app
        .refresh(
            &client.client_id,
            tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}

/// OPT-2: the access tokens a refresh issued belong to the grant too; revoking the current
/// refresh token revokes them and the ones from before the rotation.
async fn opt_2_revocation_reaches_access_tokens_issued_by_refreshes(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let first = app.tokens(&client.client_id).await;
    let response = app
        .refresh(
            &client.client_id,
            first["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let second: serde_json::Value = response.json().await.unwrap();
    let accesses = [&first, &second].map(|t| t["access_token"].as_str().unwrap().to_owned());
    for access in &accesses {
        assert_eq!(
            app.introspect(&resource_server, access).await["active"],
            true
        );
    }
    let refresh = second["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.revoke(&client.client_id, refresh).await.status(),
        StatusCode::OK
    );
    for access in &accesses {
        assert_eq!(
            app.introspect(&resource_server, access).await["active"],
            false,
            "every access token of the grant"
        );
    }
}

/// OPT-2 (RFC 7009 §2.1): a client cannot revoke another client's access token.
async fn opt_2_another_clients_access_token_is_not_revoked(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let other = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let access = tokens["access_token"].as_str().unwrap();
    let response = app.revoke(&other.client_id, access).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    assert_eq!(
        app.introspect(&resource_server, access).await["active"],
        true,
        "the refused request revoked nothing"
    );
}

/// OPT-2: unknown tokens get 200; another client's token is refused; the caller must
/// identify itself.
async fn opt_2_revocation_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let other = app.public_client().await;
    assert_eq!(
        app.revoke(&client.client_id, "abc").await.status(),
        StatusCode::OK
    );
    let tokens = app.tokens(&client.client_id).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let foreign = app.revoke(&other.client_id, refresh).await;
    assert_oauth_error(foreign, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    // Still usable: the refused request did nothing.
    assert_eq!(
        app.refresh(&client.client_id, refresh, &[]).await.status(),
        StatusCode::OK
    );
    let anonymous = app
        .http
        .post(app.url("/revoke"))
        .form(&[("token", "abc")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(anonymous, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

/// OPT-1 (RFC 7662 §2.1: `token` is REQUIRED): an authenticated request without it is
/// 400 invalid_request naming the parameter, not an "inactive" answer.
async fn opt_1_introspection_without_a_token(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let caller = app.resource_server();
    for form in [vec![], vec![("token_type_hint", "access_token")]] {
        let response = app
            .http
            .post(app.url("/introspect"))
            .basic_auth(&caller.client_id, caller.client_secret.as_deref())
            .form(&form)
            .send()
            .await
            .unwrap();
        let description =
            assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(
            description.contains("'token' is missing"),
            "{form:?}: {description}"
        );
    }
}

/// OPT-2 (RFC 7009 §2.1): `token_type_hint` only helps a lookup: "If the server is unable
/// to locate the token using the given hint, it MUST extend its search across all of its
/// supported token types." Tollgate tells the kinds apart by themselves (a JWT and an
/// opaque value cannot be confused) and reads no hint: the right one, the wrong one and a
/// value RFC 7009 does not register all revoke the token with 200. An unknown value is
/// ignored, not answered with unsupported_token_type (§2.2.1).
async fn opt_2_token_type_hint_never_stops_the_lookup(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let revoke = |token: String, hint: &'static str| {
        let client_id = client.client_id.clone();
        let app = &app;
        async move {
            app.revoke_with(&client_id, &token, &[("token_type_hint", hint)])
                .await
        }
    };
    for hint in ["access_token", "refresh_token", "id_token", "no-such-type"] {
        // The access token, and then the refresh token of another grant, with this hint.
        let tokens = app.tokens(&client.client_id).await;
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let response = revoke(access.clone(), hint).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "access token, hint {hint}"
        );
        assert_eq!(response.text().await.unwrap(), "", "RFC 7009 §2.2");
        assert_eq!(
            app.introspect(&resource_server, &access).await["active"],
            false,
            "access token revoked with hint {hint}"
        );

        let tokens = app.tokens(&client.client_id).await;
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let response = revoke(refresh.clone(), hint).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "refresh token, hint {hint}"
        );
        let after = app.refresh(&client.client_id, &refresh, &[]).await;
        assert_oauth_error(after, StatusCode::BAD_REQUEST, "invalid_grant").await;
    }
}

on_both_backends!(
    opt_1_introspection_describes_live_tokens,
    opt_1_introspection_without_a_token,
    opt_2_token_type_hint_never_stops_the_lookup,
    opt_1_introspection_shows_other_clients_tokens_only_to_resource_servers,
    opt_1_introspection_requires_a_confidential_caller,
    opt_1_inactive_refresh_tokens,
    tk_5_replayed_code_deactivates_its_access_token,
    opt_2_revoking_a_refresh_token_revokes_the_family,
    opt_2_revoking_an_access_token,
    opt_2_revocation_rules,
    opt_2_revocation_reaches_access_tokens_issued_by_refreshes,
    opt_2_another_clients_access_token_is_not_revoked,
);
