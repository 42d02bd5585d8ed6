//! The client credentials grant (TK-20) and brute-force protection of client secrets (SEC-2).

use crate::helpers::{
    Backend, RESOURCE, RegisteredClient, TestApp, assert_oauth_error, jwt_payload,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

async fn machine_client(app: &TestApp, method: &str) -> RegisteredClient {
    app.register_ok(&json!({
        "client_name": "CI job",
        "grant_types": ["client_credentials"],
        "response_types": [],
        "token_endpoint_auth_method": method
    }))
    .await
}

async fn client_credentials(
    app: &TestApp,
    client: &RegisteredClient,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    app.client_credentials(&client.client_id, client.client_secret.as_deref(), extra)
        .await
}

/// TK-20: a confidential client gets a token for itself, for the resource and scope asked,
/// with no refresh token.
async fn tk_20_client_credentials_for_confidential_clients(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = machine_client(&app, "client_secret_basic").await;
    let response = client_credentials(
        &app,
        &client,
        &[("resource", RESOURCE), ("scope", "mcp:tools")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["scope"], "mcp:tools");
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["sub"], client.client_id,
        "RFC 9068 §2.2: the client is the subject"
    );
    assert_eq!(claims["client_id"], client.client_id);
    assert_eq!(claims["aud"], RESOURCE);
    // The token is recorded: introspection knows it.
    let answer = app
        .introspect(&client, body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(answer["active"], true);

    // client_secret_post works the same.
    let post = machine_client(&app, "client_secret_post").await;
    let response = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &post.client_id),
            ("client_secret", post.client_secret.as_deref().unwrap()),
            ("resource", RESOURCE),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// TK-20: public clients cannot use (or register) client_credentials.
async fn tk_20_public_clients_cannot_use_client_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .register(&json!({
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
    let public = app.public_client().await;
    let response = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &public.client_id),
        ])
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    // A confidential client that did not register the grant.
    let web = app.confidential_client("client_secret_basic").await;
    let response = client_credentials(&app, &web, &[]).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "unauthorized_client").await;
}

/// TK-20, SEC-4: the grant handler's own check that the client is confidential. No client
/// this version stores can reach it (registration, updates, the configuration file and
/// `clients add` all refuse client_credentials for a public client or a native app, and
/// the grant-type check answers first), so the row is written as an older version could:
/// a native app with a secret and the grant. Its secret still authenticates it; the grant
/// is refused.
async fn tk_20_a_stored_native_app_cannot_use_client_credentials(backend: Backend) {
    use sqlx::Connection;
    let app = TestApp::spawn(backend).await;
    let client = machine_client(&app, "client_secret_basic").await;
    assert_eq!(
        client_credentials(&app, &client, &[]).await.status(),
        StatusCode::OK
    );
    let mut metadata = client.body.clone();
    for member in [
        "client_id",
        "client_secret",
        "client_id_issued_at",
        "client_secret_expires_at",
        "registration_access_token",
        "registration_client_uri",
    ] {
        metadata.as_object_mut().unwrap().remove(member);
    }
    metadata["application_type"] = json!("native");
    const SQL: &str = "UPDATE clients SET metadata = $1 WHERE client_id = $2";
    let (metadata, url) = (metadata.to_string(), app.database_url());
    let updated = if url.starts_with("sqlite:") {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        let query = sqlx::query(SQL).bind(&metadata).bind(&client.client_id);
        query.execute(&mut db).await.unwrap().rows_affected()
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        let query = sqlx::query(SQL).bind(&metadata).bind(&client.client_id);
        query.execute(&mut db).await.unwrap().rows_affected()
    };
    assert_eq!(updated, 1);

    let response = client_credentials(&app, &client, &[]).await;
    let description =
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    assert!(
        description.contains("client_credentials is for confidential clients only"),
        "{description}"
    );
}

/// Resource and scope are checked as in the code flow.
async fn client_credentials_honours_resource_and_scope_rules(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.resources = vec![tollgate::oauth::resource::Resource {
                default: true,
                ..tollgate::oauth::resource::Resource::with_scopes(RESOURCE, &["mcp:tools"])
            }]
        })
        .spawn()
        .await;
    let client = machine_client(&app, "client_secret_basic").await;
    let response = client_credentials(
        &app,
        &client,
        &[("resource", "http://127.0.0.1:8001/other")],
    )
    .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_target").await;
    let response = client_credentials(&app, &client, &[("resource", "not-absolute")]).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_target").await;
    let response = client_credentials(&app, &client, &[("scope", "mcp:admin")]).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_scope").await;
    // Scopes about a user's session mean nothing without a user or a refresh token.
    for (scope, why) in [
        ("openid", "ID token"),
        ("mcp:tools offline_access", "refresh token"),
    ] {
        let response = client_credentials(&app, &client, &[("scope", scope)]).await;
        let description =
            assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_scope").await;
        assert!(description.contains(why), "{scope}: {description}");
    }
    // No resource: the default one.
    let body: Value = client_credentials(&app, &client, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["aud"],
        RESOURCE
    );
}

/// SEC-2: after the budget of failed authentications, even the right secret is refused
/// for a while, so secrets cannot be guessed quickly; other clients are unaffected.
async fn sec_2_failed_client_authentication_is_throttled(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.client_auth_failures_per_minute = 5)
        .spawn()
        .await;
    let client = machine_client(&app, "client_secret_basic").await;
    let mut wrong = client.clone();
    wrong.client_secret = Some("guess".to_owned());
    for _ in 0..5 {
        let response = client_credentials(&app, &wrong, &[]).await;
        assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    let response = client_credentials(&app, &client, &[]).await;
    assert!(response.headers().get("retry-after").is_some());
    assert_oauth_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    )
    .await;
    let other = machine_client(&app, "client_secret_basic").await;
    assert_eq!(
        client_credentials(&app, &other, &[]).await.status(),
        StatusCode::OK
    );
}

/// SEC-2 under parallel guessing: a chosen secret is checked with argon2, which is slow, so
/// guesses sent all at once must still be counted before any of them is verified; at most
/// the budget of them gets an answer other than 429.
async fn sec_2_parallel_guesses_share_one_budget(backend: Backend) {
    const BUDGET: u32 = 5;
    let app = Arc::new(
        TestApp::builder(backend)
            .config(|c| {
                c.client_auth_failures_per_minute = BUDGET;
                c.clients = vec![tollgate::config::DeclaredClient::confidential(
                    "chosen-secret",
                    "correct horse battery",
                )];
            })
            .spawn()
            .await,
    );
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40 {
        let app = Arc::clone(&app);
        set.spawn(async move {
            let guess = format!("guess {i}");
            app.client_credentials("chosen-secret", Some(&guess), &[])
                .await
                .status()
        });
    }
    let statuses = set.join_all().await;
    let verified = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(verified, BUDGET as usize, "{statuses:?}");
    assert_eq!(throttled, 40 - BUDGET as usize, "{statuses:?}");
}

/// TK-10: the parts of HTTP Basic client credentials are form-urlencoded before base64
/// (RFC 6749 §2.3.1). A chosen secret with '+', '%', ':' and a space works when encoded;
/// sent as is, it is refused, and the error says that encoding may be what went wrong (the
/// official TypeScript SDK, for one, does not encode).
async fn tk_10_basic_credentials_are_form_urlencoded(backend: Backend) {
    const SECRET: &str = "p+ss%word: 100%";
    let app = TestApp::builder(backend)
        .config(|c| {
            c.clients = vec![tollgate::config::DeclaredClient::confidential(
                "encoding-client",
                SECRET,
            )];
        })
        .spawn()
        .await;
    let encoded: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
    assert_eq!(encoded, "p%2Bss%25word%3A+100%25");
    let ok = app
        .client_credentials("encoding-client", Some(&encoded), &[])
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["client_id"],
        "encoding-client"
    );

    let unencoded = app
        .client_credentials("encoding-client", Some(SECRET), &[])
        .await;
    let description =
        assert_oauth_error(unencoded, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(
        description.contains("if the secret is right as sent") && description.contains("%2B"),
        "{description}"
    );
    // A wrong secret that decoding changes gets the same answer: telling the two apart
    // would take a second argon2 verification per guess (issue 20, item 9).
    let wrong = app
        .client_credentials("encoding-client", Some("p+ss%word: 99%"), &[])
        .await;
    let same = assert_oauth_error(wrong, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(same, description);
    // A wrong secret that decoding leaves alone gets the plain answer.
    let wrong = app
        .client_credentials("encoding-client", Some("password"), &[])
        .await;
    let description = assert_oauth_error(wrong, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(
        description,
        "client authentication failed: wrong client secret"
    );
}

on_both_backends!(
    tk_10_basic_credentials_are_form_urlencoded,
    tk_20_client_credentials_for_confidential_clients,
    tk_20_public_clients_cannot_use_client_credentials,
    tk_20_a_stored_native_app_cannot_use_client_credentials,
    client_credentials_honours_resource_and_scope_rules,
    sec_2_failed_client_authentication_is_throttled,
    sec_2_parallel_guesses_share_one_budget,
);
