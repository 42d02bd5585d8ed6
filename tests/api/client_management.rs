//! Client management with the registration access token (RFC 7592, OPT-3).

use crate::helpers::{
    Backend, CALLBACK, TestApp, TestDb, assert_error_page, assert_oauth_error,
    client_information as information,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// OPT-3: registration returns the configuration URI and token; GET shows the client
/// without its secret, with a new registration access token that replaces the one used;
/// every other token is refused with 401.
async fn opt_3_read_with_the_registration_access_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.confidential_client("client_secret_basic").await;
    let (uri, token) = client.management();
    assert_eq!(uri, app.url(&format!("/register/{}", client.client_id)));
    let response = app.read_client(&uri, &token).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (body, next) = information(response).await;
    assert_eq!(body["client_id"], client.client_id);
    assert_eq!(body["redirect_uris"], json!([CALLBACK]));
    assert_eq!(body["registration_client_uri"], uri);
    assert!(body.get("client_secret").is_none());
    assert_ne!(next, token, "each read issues a new token");
    let (_, after_next) = information(app.read_client(&uri, &next).await).await;
    assert_ne!(after_next, next);

    let other = app.public_client().await;
    let (other_uri, other_token) = other.management();
    for (url, bearer) in [
        (uri.as_str(), Some("wrong")),
        (uri.as_str(), None),
        // Retired by the reads above.
        (uri.as_str(), Some(token.as_str())),
        (uri.as_str(), Some(next.as_str())),
        (uri.as_str(), Some(other_token.as_str())),
        (
            &*app.url("/register/no-such-client"),
            Some(after_next.as_str()),
        ),
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
    information(app.read_client(&other_uri, &other_token).await).await;
}

/// OPT-3: PUT replaces the metadata; omitted members are removed; the RFC's rules about
/// client_id, server-owned members and the secret hold.
async fn opt_3_update_replaces_the_metadata(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let (uri, token) = client.management();
    let new_callback = "http://127.0.0.1:53682/new-callback";
    let response = app
        .update_client(
            &uri,
            &token,
            &json!({
                "client_id": client.client_id,
                "redirect_uris": [new_callback],
                "grant_types": ["authorization_code"],
                "token_endpoint_auth_method": "none"
            }),
        )
        .await;
    let (body, token) = information(response).await;
    assert_eq!(body["redirect_uris"], json!([new_callback]));
    assert!(
        body.get("client_name").is_none(),
        "omitted members are removed"
    );
    // The change is in force.
    let old = app
        .get_authorize(&app.authorize_params(&client.client_id, &[]))
        .await;
    let page = assert_error_page(old, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("is not registered for this client"), "{page}");
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
        let response = app.update_client(&uri, &token, &body).await;
        assert_oauth_error(response, StatusCode::BAD_REQUEST, error).await;
    }
    // Metadata is JSON (RFC 7592 §2.2), as at registration.
    let response = app
        .management_request(reqwest::Method::PUT, &uri, &token)
        .header("content-type", "text/plain")
        .body(json!({"client_id": client.client_id, "redirect_uris": [CALLBACK]}).to_string())
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
    // A refused update retires nothing: the token still reads the client.
    information(app.read_client(&uri, &token).await).await;
}

/// The `WWW-Authenticate` header of a response.
fn challenge(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// OPT-3 (RFC 7592 §2.1, RFC 6750 §3.1): GET, PUT and DELETE without any bearer token get
/// a 401 whose challenge names only the scheme, no error code; with a wrong token, the
/// challenge says invalid_token. Neither changes or deletes anything.
async fn opt_3_requests_without_a_token_or_with_a_wrong_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let (uri, token) = client.management();
    let update = json!({
        "client_id": client.client_id,
        "client_name": "Hijacked",
        "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "none"
    });
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let request = || app.http.request(method.clone(), &uri).json(&update);
        // No Authorization header, and one with a scheme other than Bearer: no credentials
        // this endpoint understands.
        for response in [
            request().send().await.unwrap(),
            request().basic_auth("x", Some("y")).send().await.unwrap(),
        ] {
            assert_eq!(
                challenge(&response),
                r#"Bearer realm="tollgate""#,
                "{method}"
            );
            let description =
                assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
            assert!(
                description.contains("carries no registration access token")
                    && description.contains("Authorization: Bearer"),
                "{method}: {description}"
            );
        }
        let response = request().bearer_auth("wrong").send().await.unwrap();
        assert_eq!(
            challenge(&response),
            r#"Bearer error="invalid_token""#,
            "{method}"
        );
        let description =
            assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert!(
            description.contains("registration access token is not valid for this client"),
            "{method}: {description}"
        );
    }
    // Nothing was updated or deleted, and the token was not retired.
    let (body, _) = information(app.read_client(&uri, &token).await).await;
    assert_eq!(body["client_name"], "Test MCP Client");
}

/// OPT-3 (RFC 7592 §2.2): "The updated client metadata fields request MUST NOT include the
/// registration_access_token, registration_client_uri, client_secret_expires_at, or
/// client_id_issued_at fields". Each is refused with invalid_client_metadata naming it,
/// even with the very value the server issued, and the refused update changes nothing.
async fn opt_3_update_refuses_each_server_owned_member(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.confidential_client("client_secret_basic").await;
    let (uri, token) = client.management();
    for member in [
        "registration_access_token",
        "registration_client_uri",
        "client_secret_expires_at",
        "client_id_issued_at",
    ] {
        let issued = client.body[member].clone();
        assert!(!issued.is_null(), "the registration response has {member}");
        let mut update = json!({
            "client_id": client.client_id,
            "client_name": "Renamed",
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "client_secret_basic"
        });
        update[member] = issued;
        let response = app.update_client(&uri, &token, &update).await;
        let description =
            assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
        assert!(
            description.contains(&format!(
                "'{member}' is set by the server and must not be sent in an update"
            )),
            "{member}: {description}"
        );
    }
    let (body, _) = information(app.read_client(&uri, &token).await).await;
    assert_eq!(
        body["client_name"], "Confidential Client",
        "no refused update changed the client"
    );
}

/// OPT-3 (RFC 7592 §2.2): the update's client_id must be this client's. A missing one and
/// a different one are refused with invalid_request, saying what was sent and what was
/// expected; the other client is not touched.
async fn opt_3_update_with_a_missing_or_wrong_client_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let other = app.public_client().await;
    let (uri, token) = client.management();
    let update = |client_id: Option<&str>| {
        let mut body = json!({
            "client_name": "Renamed",
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "none"
        });
        if let Some(client_id) = client_id {
            body["client_id"] = json!(client_id);
        }
        body
    };
    let response = app
        .update_client(&uri, &token, &update(Some(&other.client_id)))
        .await;
    let description =
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(
        description.contains(&format!(
            "the update's client_id is '{}', but this is client '{}'",
            other.client_id, client.client_id
        )),
        "{description}"
    );
    let response = app.update_client(&uri, &token, &update(None)).await;
    let description =
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(
        description.contains(&format!(
            "an update must include this client's client_id, '{}'",
            client.client_id
        )),
        "{description}"
    );
    for registered in [&client, &other] {
        let (uri, token) = registered.management();
        let (body, _) = information(app.read_client(&uri, &token).await).await;
        assert_eq!(body["client_name"], "Test MCP Client", "unchanged");
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
    let (uri, token) = client.management();
    let tokens = app.tokens(&client.client_id).await;
    let response = app.delete_client(&uri, &token).await;
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
    let read = app.read_client(&uri, &token).await;
    assert_oauth_error(read, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let page = app
        .get_authorize(&app.authorize_params(&client.client_id, &[]))
        .await;
    let page = assert_error_page(page, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("no client with client_id"), "{page}");

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
    let (uri, token) = machine.management();
    let response = app.delete_client(&uri, &token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(&resource_server, access).await["active"],
        false
    );
}

/// OPT-3: the authentication scheme is case-insensitive (RFC 9110 §11.1).
async fn opt_3_the_bearer_scheme_is_case_insensitive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let (uri, mut token) = client.management();
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        let response = app
            .http
            .get(&uri)
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
        token = information(response).await.1;
    }
}

/// OPT-3 (RFC 7592 §2.2): a confidential client may send its current client_secret in an
/// update, and keeps it; a different secret is refused and changes nothing.
async fn opt_3_update_of_a_confidential_client_with_its_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.confidential_client("client_secret_basic").await;
    let (uri, token) = client.management();
    let secret = client.client_secret.clone().unwrap();
    let update = |secret: &str, name: &str| {
        json!({
            "client_id": client.client_id,
            "client_secret": secret,
            "client_name": name,
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "client_secret_basic"
        })
    };
    let response = app
        .update_client(&uri, &token, &update(&secret, "Renamed"))
        .await;
    let (body, token) = information(response).await;
    assert_eq!(body["client_name"], "Renamed");
    assert!(
        body.get("client_secret").is_none(),
        "the secret is not shown again"
    );

    let response = app
        .update_client(&uri, &token, &update("not-the-secret", "Hijacked"))
        .await;
    let description =
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
    assert!(description.contains("does not match"), "{description}");
    let (body, _) = information(app.read_client(&uri, &token).await).await;
    assert_eq!(
        body["client_name"], "Renamed",
        "the refused update changed nothing"
    );
    // The secret still authenticates the client.
    assert_eq!(app.introspect(&client, "abc").await["active"], false);
}

/// OPT-3, MD-10: closing registration stops new registrations, not the management of
/// clients registered while it was open.
async fn opt_3_management_outlives_closed_registration(backend: Backend) {
    let db = TestDb::new(backend).await;
    let open = TestApp::builder(backend).on_db(db.clone()).spawn().await;
    let client = open.public_client().await;
    let (uri, token) = client.management();
    let open_uri = open.url(&format!("/register/{}", client.client_id));
    open.stop().await;

    let closed = TestApp::builder(backend)
        .on_db(db)
        .config(|c| c.registration.open = false)
        .spawn()
        .await;
    assert!(
        closed
            .metadata()
            .await
            .get("registration_endpoint")
            .is_none()
    );
    let response = closed.register(&json!({"redirect_uris": [CALLBACK]})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // The same client configuration URI on the restarted server (a new port).
    assert_eq!(uri, open_uri);
    let uri = closed.url(&format!("/register/{}", client.client_id));
    let (_, token) = information(closed.read_client(&uri, &token).await).await;
    let update = json!({
        "client_id": client.client_id,
        "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "none"
    });
    let (_, token) = information(closed.update_client(&uri, &token, &update).await).await;
    let response = closed.delete_client(&uri, &token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

/// OPT-3: a client id in the path that no client can have (control characters, which
/// PostgreSQL text cannot even hold, or bytes that are not UTF-8) gets the RFC 7592 401,
/// never a 500 or a plain-text 400.
async fn opt_3_impossible_client_ids_in_the_path(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in [
        "/register/%00",
        "/register/a%0Ab",
        "/register/%7F",
        "/register/%FF",
    ] {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let response = app
                .management_request(method.clone(), &app.url(path), "x")
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let description =
                assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
            assert!(
                description.contains("not valid"),
                "{method} {path}: {description}"
            );
        }
    }
}

/// OPT-3: a registration access token is used once (RFC 7592 §5 rotation): of concurrent
/// reads with one token, exactly one gets the client and the next token.
async fn opt_3_concurrent_reads_with_one_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let (uri, token) = client.management();
    let mut reads = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let read = app
            .management_request(reqwest::Method::GET, &uri, &token)
            .send();
        reads.spawn(async move { read.await.unwrap().status() });
    }
    let statuses = reads.join_all().await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!((ok, refused), (1, 7), "{statuses:?}");
}

on_both_backends!(
    opt_3_concurrent_reads_with_one_token,
    opt_3_requests_without_a_token_or_with_a_wrong_one,
    opt_3_update_refuses_each_server_owned_member,
    opt_3_update_with_a_missing_or_wrong_client_id,
    opt_3_the_bearer_scheme_is_case_insensitive,
    opt_3_update_of_a_confidential_client_with_its_secret,
    opt_3_management_outlives_closed_registration,
    opt_3_impossible_client_ids_in_the_path,
    opt_3_read_with_the_registration_access_token,
    opt_3_update_replaces_the_metadata,
    opt_3_delete_revokes_the_clients_grants,
);
