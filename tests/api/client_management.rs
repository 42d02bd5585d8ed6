//! Client management with the registration access token (RFC 7592, OPT-3).

use crate::helpers::{Backend, CALLBACK, RegisteredClient, TestApp, assert_oauth_error};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn management(client: &RegisteredClient) -> (String, String) {
    (
        client.body["registration_client_uri"]
            .as_str()
            .unwrap()
            .to_owned(),
        client.body["registration_access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// OPT-3: registration returns the configuration URI and token; GET shows the client
/// without its credentials; every other token is refused with 401.
async fn opt_3_read_with_the_registration_access_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.confidential_client("client_secret_basic").await;
    let (uri, token) = management(&client);
    assert_eq!(uri, app.url(&format!("/register/{}", client.client_id)));
    let response = app.http.get(&uri).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["client_id"], client.client_id);
    assert_eq!(body["redirect_uris"], json!([CALLBACK]));
    assert_eq!(body["registration_client_uri"], uri);
    assert!(body.get("client_secret").is_none());
    assert!(body.get("registration_access_token").is_none());

    let other = app.public_client().await;
    let (other_uri, other_token) = management(&other);
    for (url, bearer) in [
        (uri.as_str(), Some("wrong")),
        (uri.as_str(), None),
        (uri.as_str(), Some(other_token.as_str())),
        (&*app.url("/register/no-such-client"), Some(token.as_str())),
    ] {
        let mut request = app.http.get(url);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    assert_eq!(
        app.http
            .get(&other_uri)
            .bearer_auth(&other_token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

/// OPT-3: PUT replaces the metadata; omitted members are removed; the RFC's rules about
/// client_id, server-owned members and the secret hold.
async fn opt_3_update_replaces_the_metadata(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let (uri, token) = management(&client);
    let new_callback = "http://127.0.0.1:53682/new-callback";
    let put = |body: Value| {
        let (uri, token) = (uri.clone(), token.clone());
        let http = app.http.clone();
        async move {
            http.put(uri)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let response = put(json!({
        "client_id": client.client_id,
        "redirect_uris": [new_callback],
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "none"
    }))
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["redirect_uris"], json!([new_callback]));
    assert!(
        body.get("client_name").is_none(),
        "omitted members are removed"
    );
    // The change is in force.
    let old = app
        .get_authorize(&app.authorize_params(&client.client_id, &[]))
        .await;
    assert_eq!(old.status(), StatusCode::BAD_REQUEST);
    app.approve(&client.client_id, &[("redirect_uri", new_callback)])
        .await
        .one("code");

    for (body, error) in [
        (
            json!({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"}),
            "invalid_request",
        ),
        (
            json!({"client_id": client.client_id, "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none", "client_id_issued_at": 1}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_id": client.client_id, "redirect_uris": ["http://evil.example/cb"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_id": client.client_id, "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "client_secret_basic"}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_id": client.client_id, "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none", "client_secret": "mine"}),
            "invalid_client_metadata",
        ),
    ] {
        assert_oauth_error(put(body).await, StatusCode::BAD_REQUEST, error).await;
    }
}

/// OPT-3: DELETE removes the client and revokes everything issued to it.
async fn opt_3_delete_revokes_the_clients_grants(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let (uri, token) = management(&client);
    let tokens = app.tokens(&client.client_id).await;
    let response = app
        .http
        .delete(&uri)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(&resource_server, access).await["active"],
        false
    );
    let refresh = app
        .refresh(
            &client.client_id,
            tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_oauth_error(refresh, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let read = app.http.get(&uri).bearer_auth(&token).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::UNAUTHORIZED);
    let page = app
        .get_authorize(&app.authorize_params(&client.client_id, &[]))
        .await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);

    // Tokens a machine client got without a grant go too.
    let machine = app
        .register_ok(&json!({
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic"
        }))
        .await;
    let body: Value = app
        .client_credentials(&machine.client_id, machine.client_secret.as_deref(), &[])
        .await
        .json()
        .await
        .unwrap();
    let (uri, token) = management(&machine);
    app.http
        .delete(&uri)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(&resource_server, access).await["active"],
        false
    );
}

on_both_backends!(
    opt_3_read_with_the_registration_access_token,
    opt_3_update_replaces_the_metadata,
    opt_3_delete_revokes_the_clients_grants,
);
